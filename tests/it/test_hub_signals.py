"""Life cycle of the real hub: SIGHUP reloads the directory and config with lines up (they
stay up; a new ORI is accepted at once), a bad config on reload keeps the running one,
the control socket, SIGTERM flushes and exits 0."""
import signal
import time

from slharness import Network, run, run_tests


def test_sighup_reload_keeps_lines():
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        wa.send("DQ.WANEWORI0.CA.TXTOLN/A1234567")
        er = wa.recv()
        assert er.key == "ER" and "SENDER ORI WANEWORI0 NOT IN DIRECTORY" in er.body, er.body
        net.add_oris([("WANEWORI0", "WA", "New agency", "SO", "ACDZ", "A", "", "", 0)])
        net.signal(signal.SIGHUP)
        net.wait_log(r"reloaded .*hub\.conf")
        # the same lines, still up, and the new ORI passes
        wa.send("DQ.WANEWORI0.CA.TXTOLN/A1234567")
        q = ca.recv()
        assert q.ori == "WANEWORI0" and q.requester()["type"] == "SO", q
        st = net.ctl_cmd("stats")
        assert st["reloads"] == 1 and st["lines_open"] == 2, st
        assert not net.find_log(r"line down")

        # a takes change applies too: CA stops taking DQ
        with open(net.conf, "a") as f:
            f.write("[member CA]\ntakes = AM\n")
        r = net.ctl_cmd("reload")
        assert r == {"ok": True}, r
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        er = wa.recv()
        assert er.key == "ER" and ".02." in er.body, er.body
        ca.expect_nothing(0.2)


def test_bad_reload_keeps_running_config():
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        good = open(net.conf).read()
        with open(net.conf, "w") as f:
            f.write(good + "[member CA]\ntakes = NOPE\n")
        net.signal(signal.SIGHUP)
        net.wait_log(r"reload refused, the running configuration stays: .*unknown message key")
        p = run(["hub", "ctl", "--socket", net.ctl, "reload"], check=False)
        assert p.returncode == 1 and '"ok":false' in p.stdout, p
        # a directory that cannot be opened is refused too
        with open(net.conf, "w") as f:
            f.write(good.replace("directory = dir.db", "directory = gone.db"))
        r = net.ctl_cmd("reload")
        assert r["ok"] is False and "gone.db" in r["error"], r
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        assert ca.recv().key == "DQ"
        assert net.alive()


def test_ctl():
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        ca.recv()
        wa.send("DQ.WAZZZZZZ9.CA.TXTOLN/A1234567")
        wa.recv()
        lines = net.ctl_cmd("lines")["lines"]
        by = {(l["member"], l["role"]): l for l in lines}
        w, c = by[("WA", "terminal")], by[("CA", "answer")]
        assert w["frames_in"] == 2 and w["errors"] == 1 and w["frames_out"] == 1, w
        assert w["in_seq"] == 2 and w["out_seq"] == 1 and w["transport"] == "tls", w
        assert c["answering"] and c["frames_out"] == 1 and c["out_seq"] == 1, c
        st = net.ctl_cmd("stats")
        assert st["routed"] == 1 and st["er"] == 1 and st["lines_open"] == 2, st
        p = run(["hub", "ctl", "--socket", net.ctl, "frobnicate"], check=False)
        assert p.returncode == 1 and "unknown command" in p.stdout, p
        p = run(["hub", "ctl", "--socket", net.ctl + ".nope", "stats"], check=False)
        assert p.returncode == 1 and p.stderr, p
        # a second hub with the same control socket does not take it over
        p = run(["hub", "--config", net.conf], check=False, timeout=20)
        assert p.returncode == 1 and "another hub is running" in p.stderr, p.stderr
        assert net.ctl_cmd("stats")["lines_open"] == 2


def test_sigterm_flushes_and_exits_0():
    with Network(out_cap="64m") as net:
        ca = net.answer_line("CA")  # does not read until the hub is told to stop
        wa = net.line("WA")
        n, pad = 4000, "X" * 600
        for i in range(n):
            wa.send("AM.WATEST000.CA.TXTT%05d %s" % (i, pad))
        deadline = time.monotonic() + 30
        while net.ctl_cmd("stats")["frames_in"] < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert net.ctl_cmd("stats")["frames_in"] == n
        net.signal(signal.SIGTERM)
        # everything the hub had taken is delivered before it closes the line
        for i in range(n):
            assert ("T%05d " % i) in ca.recv(20).body
        ca.expect_closed()
        wa.expect_closed()
        assert net.wait_exit(20) == 0, "\n".join(net.log)
        net.wait_log(r"stopped: \d+ frames in")


if __name__ == "__main__":
    run_tests([test_sighup_reload_keeps_lines, test_bad_reload_keeps_running_config, test_ctl,
               test_sigterm_flushes_and_exits_0])
