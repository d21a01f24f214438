#!/usr/bin/env python3
"""Black-box test of `stateline query` against a real hub over mutual TLS.

A test network (slharness: gen certs, gen directory --seed 1 plus crafted ORIs, the hub),
California's answering line played by `stateline query listen --reply ... --count 1`,
and a Washington terminal `stateline query ... dq`: the DR comes back with the control
field (exit 0); an invalid query gets the switch's ER (exit 1); --json output parses;
raw text from stdin; usage errors exit 2; nobody answering gives exit 1.
"""
import json
import subprocess

from slharness import Network, STATELINE, run_tests


def query(net, *args, stdin=None, timeout=60):
    """Run `stateline query` on the network's hub; returns CompletedProcess."""
    common = ["--hub", "127.0.0.1:%d" % net.port, "--certs", net.certs]
    return subprocess.run([STATELINE, "query"] + common + list(args), capture_output=True,
                          text=True, timeout=timeout, input=stdin)


class Listener:
    """CA's answering line as `stateline query listen`, bound at the hub when returned."""

    def __init__(self, net, *extra):
        self.p = subprocess.Popen(
            [STATELINE, "query", "--hub", "127.0.0.1:%d" % net.port, "--certs", net.certs,
             "--line", "CA:answer", "listen", "--count", "1", "--wait", "30"] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.banner = self.p.stderr.readline()
        assert "listening on line CA answer" in self.banner, self.banner
        net.wait_bound("CA")

    def finish(self, timeout=30):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise AssertionError("listen did not stop after --count 1: %s %s" % (out, err))
        return self.p.returncode, out, err


def test_dq_reply_with_control_field():
    with Network() as net:
        lis = Listener(net, "--reply", "NOT ON FILE")
        q = query(net, "--line", "WA", "--as", "WASP00000", "--wait", "20",
                  "dq", "--to", "CA", "--oln", "A1234567", "--ctl", "TOUR1")
        rc, out, err = lis.finish()
        assert q.returncode == 0, q.stdout + q.stderr
        assert "DR (driver licence reply)" in q.stdout, q.stdout
        assert "control field TOUR1" in q.stdout and "NOT ON FILE" in q.stdout, q.stdout
        # without --as, listen replies from the state's driver licence bureau (Nlets generic)
        assert "from CAOLN0000 to WASP00000" in q.stdout, q.stdout
        assert "sent DQ.WASP00000.CA.TOUR1.TXT OLN/A1234567" in q.stderr, q.stderr
        # the answering side saw the query, with the requester the hub verified
        assert rc == 0, (rc, out, err)
        assert "DQ (driver licence query) from WASP00000 to CA" in out, out
        assert "OLN/A1234567" in out and "requester (verified by the switch): WASP00000" in out
        assert "-> replied DR from CAOLN0000 to WASP00000 control TOUR1" in out, out


def test_several_keys_answered_with_their_reply_key():
    with Network() as net:
        for args, rkey in ((["kq", "--to", "CA", "--name", "DOE,JANE", "--dob", "19800102",
                             "--sex", "F", "--pur", "C", "--ctl", "K-1"], "KR"),
                           (["rq", "--to", "CA", "--lic", "ABC123", "--liy", "2026", "--lit",
                             "PC", "--ctl", "R-1"], "RR")):
            lis = Listener(net, "--reply", "NO RECORD", "--as", "CATEST000", "--json")
            q = query(net, "--line", "WA", "--as", "WATEST000", "--json", "--wait", "20", *args)
            rc, out, err = lis.finish()
            assert q.returncode == 0, q.stdout + q.stderr
            msgs = [json.loads(x) for x in q.stdout.splitlines()]
            assert len(msgs) == 1 and msgs[0]["key"] == rkey, msgs
            assert msgs[0]["from"] == "CATEST000" and msgs[0]["control"] == args[-1], msgs
            seen = [json.loads(x) for x in out.splitlines()]
            assert len(seen) == 1 and seen[0]["requester"]["ori"] == "WATEST000", seen


def test_invalid_queries_get_er_exit_1():
    with Network() as net:
        # a DOB that is not a date: .05.
        q = query(net, "--line", "WA", "--as", "WASP00000", "--wait", "20", "dq", "--to",
                  "CA", "--name", "DOE,JANE", "--dob", "19991399", "--sex", "F")
        assert q.returncode == 1, q.stdout + q.stderr
        assert "ER (ERROR from the switch) from NL0000000" in q.stdout and ".05." in q.stdout
        # another member's ORI on a WA line: .01.
        q = query(net, "--line", "WA", "--as", "CATEST000", "--wait", "20", "dq", "--to",
                  "CA", "--oln", "X1")
        assert q.returncode == 1 and ".01." in q.stdout, q.stdout + q.stderr
        assert "DOES NOT BELONG TO LINE WA" in q.stdout, q.stdout
        # an ORI without the D category: .01. as JSON
        q = query(net, "--line", "WA", "--as", "WANODMV00", "--json", "--wait", "20", "dq",
                  "--to", "CA", "--oln", "X1")
        msgs = [json.loads(x) for x in q.stdout.splitlines()]
        assert q.returncode == 1 and msgs and msgs[0]["key"] == "ER", q.stdout + q.stderr
        assert msgs[0]["from"] == "NL0000000" and msgs[0]["to"] == "WANODMV00", msgs


def test_raw_from_stdin_and_json():
    with Network() as net:
        lis = Listener(net, "--reply", "NOT ON FILE", "--json")
        q = query(net, "--line", "WA", "--json", "--wait", "20", "raw", "-",
                  stdin="DQ.WASP00000.CA.J-2.TXT\nOLN/B7654321\n")
        rc, out, err = lis.finish()
        assert q.returncode == 0, q.stdout + q.stderr
        msgs = [json.loads(x) for x in q.stdout.splitlines()]
        assert len(msgs) == 1, msgs
        m = msgs[0]
        assert m["key"] == "DR" and m["control"] == "J-2" and m["to"] == "WASP00000", m
        assert m["text"] == "NOT ON FILE" and m["sent_seq"] >= 1 and m["received"], m
        seen = [json.loads(x) for x in out.splitlines()]
        assert len(seen) == 1 and seen[0]["key"] == "DQ", seen
        r = seen[0]["requester"]
        assert r["ori"] == "WASP00000" and r["member"] == "WA", r
        assert "OLN/B7654321" in seen[0]["text"], seen


def test_reply_file_and_am():
    with Network() as net:
        import os
        path = os.path.join(net.dir, "reply.txt")
        with open(path, "w") as f:
            f.write("NAM/DOE,JANE\nSTATUS/VALID\n")
        lis = Listener(net, "--reply-file", path, "--json")
        q = query(net, "--line", "WA", "--as", "WASP00000", "--json", "--wait", "20", "dq",
                  "--to", "CA", "--oln", "A7", "--ctl", "F-1")
        rc, out, err = lis.finish()
        assert q.returncode == 0, q.stdout + q.stderr
        m = json.loads(q.stdout.splitlines()[0])
        assert m["key"] == "DR" and "NAM/DOE,JANE" in m["text"], m
        assert "STATUS/VALID" in m["text"], m  # the reply keeps its lines
        # An AM has no answer: delivered to CA's answering line, exit 0 without a reply.
        lis = Listener(net)
        q = query(net, "--line", "WA", "--as", "WASP00000", "--wait", "20", "am", "--to", "CA",
                  "--text", "ROAD CLOSED ON I-5")
        rc, out, err = lis.finish()
        assert q.returncode == 0, q.stdout + q.stderr
        assert "AM (administrative message) from WASP00000 to CA" in out, out
        assert "ROAD CLOSED ON I-5" in out and "replied" not in out, out


def test_no_answer_and_usage():
    with Network() as net:
        # CA's answering line is not connected: the switch says so (SM), exit 1
        q = query(net, "--line", "WA", "--as", "WASP00000", "--wait", "5", "dq", "--to", "CA",
                  "--oln", "A1")
        assert q.returncode == 1, q.stdout + q.stderr
        assert "SM" in q.stdout, q.stdout
        # usage errors: exit 2 and say what to give
        q = query(net, "--line", "WA", "dq", "--to", "CA", "--oln", "A1")
        assert q.returncode == 2 and "--as" in q.stderr, q.stderr
        q = query(net, "--line", "ZZ", "--as", "WASP00000", "dq", "--to", "CA", "--oln", "A1")
        assert q.returncode == 2 and "gen certs" in q.stderr, q.stderr
        q = subprocess.run([STATELINE, "query", "--line", "WA", "--as", "WASP00000", "dq",
                            "--to", "CA", "--oln", "A1"], capture_output=True, text=True)
        assert q.returncode == 2 and "--hub" in q.stderr, q.stderr
        q = query(net, "--line", "WA", "--as", "WASP00000", "dq", "--to", "CA")
        assert q.returncode == 2 and "--oln, or --name --dob --sex" in q.stderr, q.stderr


def test_plain_line_with_token():
    with Network(tls=False, plain=True) as net:
        lis = subprocess.Popen(
            [STATELINE, "query", "--hub", "127.0.0.1:%d" % net.port, "--plain", "--tokens",
             net.certs + "/tokens", "--line", "CA:answer", "listen", "--reply", "OK",
             "--count", "1", "--wait", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "listening" in lis.stderr.readline()
        net.wait_bound("CA")
        q = subprocess.run(
            [STATELINE, "query", "--hub", "127.0.0.1:%d" % net.port, "--plain", "--certs",
             net.certs, "--line", "WA", "--as", "WASP00000", "--wait", "20", "dq", "--to",
             "CA", "--oln", "A1", "--ctl", "P-1"], capture_output=True, text=True, timeout=60)
        out, _ = lis.communicate(timeout=30)
        assert q.returncode == 0 and "control field P-1" in q.stdout, q.stdout + q.stderr
        assert lis.returncode == 0, out


if __name__ == "__main__":
    run_tests([test_dq_reply_with_control_field, test_several_keys_answered_with_their_reply_key,
               test_invalid_queries_get_er_exit_1, test_raw_from_stdin_and_json,
               test_reply_file_and_am, test_no_answer_and_usage, test_plain_line_with_token])
