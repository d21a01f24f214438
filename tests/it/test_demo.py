"""Black-box tests of `stateline demo` (docs/demo.md): the whole network end to end.

One temporary folder serves every test, in order: a first run builds everything, a second
run reuses it, a third stays up, is queried by hand and stopped.  After each run no
process may be left that runs from the folder.
"""
import http.client
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import tempfile
import urllib.parse

from slharness import STATELINE, run, run_tests

TMP = tempfile.mkdtemp(prefix="sl-demo-")
DIR = os.path.join(TMP, "demo")

CLASSES = ["in_state", "out_of_state_police", "fbi", "ice_ero", "ice_hsi", "cbp",
           "other_federal"]
OUTCOMES = ["released", "redacted", "held", "denied", "not_on_file", "no_answer_or_error"]
STATES = ["WA", "NY", "IL", "CA", "AZ", "TX"]


def procs_in_dir():
    """Processes whose command line names the demo folder (none may outlive a run)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("latin-1")
        except OSError:
            continue
        if DIR in cmd and int(pid) != os.getpid():
            found.append((int(pid), cmd))
    return found


def demo(*args, timeout=600):
    p = subprocess.run([STATELINE, "demo", "--dir", DIR] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    return p


def check_tables(j, queries, minimums=True):
    assert j["queries_sent"] == queries, j["queries_sent"]
    total_sent = 0
    for st in STATES:
        s = j["states"][st]
        total_sent += s["sent"]
        assert sum(s["sent_by_class"].values()) == s["sent"], st
        for side in ("log", "replies"):
            t = s[side]
            # every class row: its outcomes add up to its total, and to what was sent
            for c in CLASSES:
                row = t["by_class"][c]
                assert sum(row[o] for o in OUTCOMES) == row["total"], (st, side, c, row)
                assert row["total"] == s["sent_by_class"][c], (st, side, c, row,
                                                               s["sent_by_class"][c])
            tot = t["totals"]
            assert sum(tot[o] for o in OUTCOMES) == tot["total"], (st, side, tot)
            assert tot["total"] == s["sent"], (st, side, tot, s["sent"])
        assert s["log"]["queries"] == s["sent"], (st, s["log"]["queries"], s["sent"])
        # the report library's totals, the log's class table and the replies agree
        assert s["report"]["queries"] == s["sent"], (st, s["report"])
        assert s["report"]["denied"] == s["log"]["totals"]["denied"], (st, s["report"])
        assert s["report"]["held"] == s["log"]["totals"]["held"], (st, s["report"])
        assert s["agree"] is True, (st, s["differences"])
        assert s["differences"] == [], (st, s["differences"])
        assert s["log_intact"] is True, (st, s["verify"])
        assert s["verify"]["problems"] == 0 and s["verify"]["entries"] > 0, (st, s["verify"])
        # the minimum-count rule: every class appears in every state (600 queries give
        # the smallest state, Arizona, 37: enough for 7 classes x 3)
        for c in CLASSES:
            if minimums:
                assert s["sent_by_class"][c] >= 3, (st, c, s["sent_by_class"])
    assert total_sent == queries
    # the switch's own log (docs/audit-format.md §11): intact, and a hub-route entry for at
    # least every query it routed
    h = j["hub_log"]
    assert h["intact"] is True and h["problems"] == 0, h
    assert h["entries"] > queries and h["checkpoints"] > 0, (h, queries)
    assert j["all_agree"] is True and j["all_logs_intact"] is True
    # Washington's stance: ICE ERO is denied, every time
    wa = j["states"]["WA"]
    ero = wa["sent_by_class"]["ice_ero"]
    assert ero >= 3
    assert wa["log"]["by_class"]["ice_ero"]["denied"] == ero, wa["log"]["by_class"]["ice_ero"]
    assert wa["replies"]["by_class"]["ice_ero"]["denied"] == ero
    # Arizona (permissive) denies nothing
    assert j["states"]["AZ"]["log"]["totals"]["denied"] == 0
    # the review desk step: every held request was decided, and each approval that a
    # `notify` rule covers left a notice and a letter (New York's court-order rule)
    held = sum(j["states"][s]["log"]["totals"]["held"] for s in STATES)
    rv = [j["states"][s]["review_desk"] for s in STATES]
    assert sum(r["approved"] + r["denied"] + r["refused"] for r in rv) == held, (held, rv)
    assert all(r["all_sent"] for r in rv), rv
    ny = j["states"]["NY"]["review_desk"]
    assert ny["notices"] == ny["letters"], ny
    if ny["approved"]:
        assert ny["notices"] >= 1 and os.path.isdir(ny["outbox"]), ny
        assert any(f.endswith(".txt") for f in os.listdir(ny["outbox"])), ny
    # most queries find a record somewhere
    hits = sum(j["states"][s]["log"]["totals"]["released"] +
               j["states"][s]["log"]["totals"]["redacted"] for s in STATES)
    assert hits > queries // 2, hits


def test_first_run():
    p = demo("--drivers", "2000", "--queries", "600", "--json")
    assert p.returncode == 0, (p.returncode, p.stderr[-3000:])
    j = json.loads(p.stdout)
    check_tables(j, 600)
    assert "generating" in p.stderr, p.stderr[:2000]
    assert procs_in_dir() == [], procs_in_dir()
    for st in STATES:
        assert os.path.exists(os.path.join(DIR, st, "records.db"))
        # the command-line verifier agrees with the demo's "log intact"
        v = run(["audit", "verify", os.path.join(DIR, st, "audit"), "--key",
                 os.path.join(DIR, st, "audit.pub")], check=False)
        assert v.returncode == 0 and "OK" in v.stdout, (st, v.stdout, v.stderr)
    assert not os.path.exists(os.path.join(DIR, "demo.pids"))


def test_second_run_reuses():
    p = demo("--drivers", "2000", "--queries", "300", "--seed", "1", "--json")
    assert p.returncode == 0, (p.returncode, p.stderr[-3000:])
    err = p.stderr
    assert "directory: reusing" in err, err[:2000]
    assert "certificates: checked and reused" in err, err[:2000]
    assert "audit keys: reusing" in err, err[:2000]
    for st in STATES:
        assert "population %s: reusing" % st in err, err[:2000]
    assert "populations: generating" not in err
    assert "desk accounts: %s/accounts.txt (0 made, 48 kept" % DIR in err, err[:3000]
    # the logs grew, but this run's table counts this run only
    check_tables(json.loads(p.stdout), 300, minimums=False)
    assert procs_in_dir() == [], procs_in_dir()


def test_stay_query_by_hand_and_stop():
    p = demo("--drivers", "2000", "--queries", "60", "--stay", "--json")
    try:
        assert p.returncode == 0, (p.returncode, p.stderr[-3000:])
        j = json.loads(p.stdout)
        stay = j["stay"]
        assert len(procs_in_dir()) == 7, procs_in_dir()  # hub + six gateways
        # the printed command, as printed, answers with Washington's record
        q = subprocess.run(shlex.split(stay["query"]) + ["--json"], capture_output=True,
                           text=True, timeout=60)
        assert q.returncode == 0, (stay["query"], q.stdout, q.stderr)
        reply = json.loads(q.stdout.strip().splitlines()[-1])
        assert reply["key"] == "DR", reply
        assert "NOT ON FILE" not in reply["text"], reply
        # each state's desk over HTTPS: Python accepts its certificate (the demo CA, name
        # 127.0.0.1); a demo account logs on with the code the printed command gives
        assert sorted(stay["desks"]) == sorted(STATES), stay
        acc = stay["accounts_file"]
        assert os.stat(acc).st_mode & 0o077 == 0, oct(os.stat(acc).st_mode)
        rows = [l.split() for l in open(acc) if l.strip() and not l.startswith("#")]
        assert len(rows) == 8 * len(STATES), rows  # 6 roles + a 2nd reviewer and approver
        pw = [r[3] for r in rows if r[1] == "wa-reviewer"][0]
        ctx = ssl.create_default_context(cafile=stay["ca_certificate"])
        port = int(stay["desks"]["WA"].rstrip("/").rsplit(":", 1)[1])
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        c.request("GET", "/")
        assert c.getresponse().status == 200
        code = subprocess.run(shlex.split(stay["desk_code"]), capture_output=True, text=True,
                              timeout=60).stdout.strip()
        assert len(code) == 6 and code.isdigit(), code
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        c.request("POST", "/api/login", body=urllib.parse.urlencode(
            {"user": "wa-reviewer", "password": pw, "code": code}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        lj = json.loads(r.read())
        assert r.status == 200 and lj["role"] == "reviewer", lj
        cookie = r.getheader("Set-Cookie").split(";")[0]
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        c.request("GET", "/api/review", headers={"Cookie": cookie})
        r = c.getresponse()
        assert r.status == 200 and "held" in json.loads(r.read())
        # a second demo in the same folder refuses to start beside it
        p2 = demo("--drivers", "2000", "--queries", "10")
        assert p2.returncode != 0 and "already running" in p2.stderr, p2.stderr[-2000:]
    finally:
        s = run(["demo", "stop", "--dir", DIR], check=False)
    assert s.returncode == 0, s.stderr
    assert "stopped hub" in s.stdout, s.stdout
    assert procs_in_dir() == [], procs_in_dir()


def test_interrupt_stops_everything():
    """Ctrl-C while the traffic runs: the demo stops the network and exits non-zero."""
    p = subprocess.Popen([STATELINE, "demo", "--dir", DIR, "--drivers", "2000",
                          "--queries", "100000", "--rate", "50"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in p.stdout:
            seen.append(line)
            if line.startswith("traffic:"):
                break
        assert any(l.startswith("traffic:") for l in seen), "".join(seen)[-2000:]
        assert len(procs_in_dir()) >= 7, procs_in_dir()
        p.send_signal(signal.SIGINT)
        rest, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # it stops the network, then ends by the signal it was sent, as a shell expects
    assert p.returncode == -signal.SIGINT, (p.returncode, rest[-2000:])
    assert "interrupted" in rest, rest[-2000:]
    assert procs_in_dir() == [], procs_in_dir()
    assert not os.path.exists(os.path.join(DIR, "demo.pids"))


def test_usage_errors():
    p = run(["demo", "--queries", "5", "--duration", "2"], check=False)
    assert p.returncode == 2 and "exclude" in p.stderr, p.stderr
    p = run(["demo", "--rate", "zero"], check=False)
    assert p.returncode == 2 and "--rate" in p.stderr, p.stderr
    p = run(["demo", "--bogus"], check=False)
    assert p.returncode == 2, p.stderr
    deep = os.path.join(TMP, "d" * 120)
    p = run(["demo", "--dir", deep, "--queries", "1"], check=False)
    assert p.returncode == 1 and "too long" in p.stderr, p.stderr


if __name__ == "__main__":
    try:
        run_tests([test_first_run, test_second_run_reuses, test_stay_query_by_hand_and_stop,
                   test_interrupt_stops_everything, test_usage_errors], per_test_timeout=600)
    finally:
        for pid, _ in procs_in_dir():
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        shutil.rmtree(TMP, ignore_errors=True)
