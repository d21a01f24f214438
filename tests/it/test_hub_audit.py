"""The hub's own audit log (docs/audit-format.md §11): a hub with audit_dir set routes
traffic between lines over mutual TLS; `stateline audit verify` accepts its log with the
key; every message a line received has its hub entry (the leg names the line and the
output sequence number); ER, SM .02., line events and operator commands are logged; the
hub killed with SIGKILL under load and restarted: the log verifies and every reply
received has its entry (durable before forward); a changed byte is found and located;
`stateline report` gives the switch's tables and no query counts; a bad configuration is
refused."""
import json
import os
import re
import struct
import threading
import time

from slharness import Closed, Network, run, run_tests


def audit_network(start=True, extra=""):
    net = Network(start=False)
    try:
        r = run(["audit", "keygen", "--name", "hub.test/audit", "--out",
                 os.path.join(net.dir, "hubaudit")])
        assert r.returncode == 0, r.stderr
        net.write_conf(extra="audit_dir = audit\naudit_key = hubaudit.key\n"
                       "audit_checkpoint_ms = 100\n" + extra)
        if start:
            net.start()
    except BaseException:
        net.close()
        raise
    return net


def log_dir(net):
    return os.path.join(net.dir, "audit")


def verify(net):
    r = run(["audit", "verify", log_dir(net), "--key", os.path.join(net.dir, "hubaudit.pub"),
             "--json"], check=False)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else None, r


def entries(net):
    r = run(["audit", "show", log_dir(net), "--json"])
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def routes(es, key=None, ctl=None):
    return [e for e in es if e["type"] == "hub-route" and (key is None or e.get("key") == key)
            and (ctl is None or e.get("control") == ctl)]


def leg_to(e, key, member, role, tx_seq, mid=None):
    """Does the entry name a frame of `key` written to member's line with this output
    sequence number (the header shows it mod 100000) and switch message id?"""
    for leg in e.get("legs", []):
        m = re.match(r"^([A-Z]+)>([A-Z0-9]+)/([at])#(\d+)(?: MID/(\d+))?$", leg)
        if m and m.group(1) == key and m.group(2) == member and m.group(3) == role and \
                int(m.group(4)) % 100000 == tx_seq and \
                (mid is None or int(m.group(5) or 0) == mid):
            return True
    return False


def test_routes_logged():
    with audit_network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        got = []
        for i in range(5):
            wa.send("DQ.WATEST000.CA.AUD%d.TXTOLN/A123456%d" % (i, i))
            q = ca.recv()
            assert q.mid > 0, q.text
            # the gateway echoes the switch message id as its reply's first body line
            ca.send("DR.CATEST000.WATEST000.AUD%d.TXTMID/%d\nNO RECORD" % (i, q.mid))
            r = wa.recv()
            got.append((q, r))
        # SM .02.: Idaho has no answering line, the DQ is kept
        wa.send("DQ.WATEST000.ID.KEPT1.TXTOLN/A1234567")
        sm = wa.recv()
        assert sm.key == "SM" and ".02." in sm.body, sm
        # ER: an unknown destination
        wa.send("DQ.WATEST000.ZZ.BAD1.TXTOLN/A1234567")
        er = wa.recv()
        assert er.key == "ER", er
        ernum = int(re.match(r"^\.(\d\d)\.", er.body).group(1))
        # Idaho comes up: the kept DQ is delivered (outside any message: hub-deliver)
        idl = net.answer_line("ID")
        kept = idl.recv()
        assert kept.ctl == "KEPT1", kept
        # an operator command
        res = net.ctl_cmd("line OR down")
        assert res.get("ok"), res
        net.stop()

        rc, v, raw = verify(net)
        assert rc == 0 and v["ok"], raw.stdout + raw.stderr
        es = entries(net)
        assert v["entries"] == len(es), (v, len(es))
        for q, r in got:
            dq = routes(es, "DQ", q.ctl)
            assert len(dq) == 1, (q.ctl, dq)
            e = dq[0]
            assert e["member"] == "WA" and e["ori"] == "WATEST000" and e["line"] == "terminal", e
            assert e["destinations"] == ["CA"] and e["outcome"] == "routed", e
            # the verified requester from the directory, never the body
            assert e["agency_type"] == "PD" and e["requester_state"] == "WA", e
            assert leg_to(e, "DQ", "CA", "a", q.tx_seq, q.mid), (e, q.tx_seq, q.mid)
            assert e["line_seq"] % 100000 == q.rx_seq, (e, q.rx_seq)
            assert "A123456" not in json.dumps(e), e
            dr = routes(es, "DR", r.ctl)
            assert len(dr) == 1, dr
            e = dr[0]
            assert e["member"] == "CA" and e["line"] == "answer" and e["outcome"] == "routed", e
            assert leg_to(e, "DR", "WA", "t", r.tx_seq), (e, r.tx_seq)
            assert e["mid"] == q.mid, (e, q.mid)  # the reply names the query it answers
        k = routes(es, "DQ", "KEPT1")
        assert len(k) == 1 and k[0]["outcome"] == "queued", k
        assert "ID:queued" in k[0]["legs"] and leg_to(k[0], "SM", "WA", "t", sm.tx_seq), k
        d = [e for e in es if e["type"] == "hub-deliver" and e.get("control") == "KEPT1"]
        assert len(d) == 1 and d[0]["member"] == "ID" and d[0]["line"] == "answer", d
        assert d[0]["ref"] == k[0]["ref"], (d, k)  # the kept message's route entry
        assert d[0]["line_seq"] % 100000 == kept.tx_seq, (d, kept.tx_seq)
        assert kept.mid > 0 and d[0]["mid"] == kept.mid, (d, kept.mid)
        b = routes(es, "DQ", "BAD1")
        assert len(b) == 1 and b[0]["outcome"] == "rejected" and b[0]["error"] == ernum, b
        assert leg_to(b[0], "ER", "WA", "t", er.tx_seq), b
        ups = [e for e in es if e["type"] == "hub-line" and e["action"] == "up"]
        assert {(e["member"], e["line"]) for e in ups} == \
            {("CA", "answer"), ("WA", "terminal"), ("ID", "answer")}, ups
        adm = [e for e in es if e["type"] == "admin"]
        assert len(adm) == 1 and adm[0]["action"] == "line" and adm[0]["member"] == "OR", adm
        assert adm[0]["outcome"] == "ok" and adm[0]["actor"].startswith("ctl uid"), adm
        # the status message the command sent to every open line is one of its legs
        assert any(l.startswith("SM>") for l in adm[0]["legs"]), adm
        sysact = [e["action"] for e in es if e["type"] == "system"]
        assert sysact == ["start", "stop"], sysact

        # the report: the switch's tables, no query counts
        day = time.strftime("%Y-%m-%d", time.gmtime())
        r = run(["report", "--log", log_dir(net), "--from", day, "--to", day,
                 "--format", "json"])
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        nroutes = len(routes(es))
        assert rep["queries"] == 0 and rep["hub_messages"] == nroutes, rep
        assert sum(rep["hub_outcomes"].values()) == nroutes, rep
        assert rep["hub_messages_by_key"]["DR"] == 5 and rep["hub_messages_by_key"]["DQ"] == 7
        assert rep["hub_errors"] == {".%02d." % ernum: 1}, rep
        assert rep["hub_frames_by_member"]["CA"] >= 5, rep
        r = run(["report", "--log", log_dir(net), "--from", day, "--to", day])
        assert "messages read from lines" in r.stdout, r.stdout


def test_kill9_under_load():
    with audit_network() as net:
        received_dr = []  # control fields of the replies WA received
        received_dq = []  # (ctl, tx_seq) of the queries CA received
        for rnd in range(3):
            ca = net.answer_line("CA")
            wa = net.line("WA")
            stop = threading.Event()

            def responder():
                try:
                    while not stop.is_set():
                        p = ca.recv_frame(0.2)
                        if p is None:
                            continue
                        ctl = re.search(rb"\nCTL/(\S+)\n", p).group(1).decode()
                        seq = int(p.split(b"\n")[2].split()[2])
                        received_dq.append((ctl, seq))
                        ca.send("DR.CATEST000.WATEST000.%s.TXTNO RECORD" % ctl)
                except (Closed, OSError):
                    pass

            th = threading.Thread(target=responder, daemon=True)
            th.start()
            killer = threading.Timer(1.0, net.kill9)
            killer.start()
            n = 0
            try:
                while net.alive():
                    for _ in range(20):
                        wa.send("DQ.WATEST000.CA.R%dN%d.TXTOLN/A1234567" % (rnd, n))
                        n += 1
                    while True:
                        p = wa.recv_frame(0.02)
                        if p is None:
                            break
                        m = re.search(rb"\nCTL/(\S+)\n", p)
                        if p.startswith(b"DR.") and m:
                            received_dr.append(m.group(1).decode())
            except (Closed, OSError):
                pass
            # whatever was already in the socket buffers when the hub died was sent
            try:
                while True:
                    p = wa.recv_frame(0.2)
                    if p is None:
                        break
                    m = re.search(rb"\nCTL/(\S+)\n", p)
                    if p.startswith(b"DR.") and m:
                        received_dr.append(m.group(1).decode())
            except (Closed, OSError):
                pass
            killer.join()
            stop.set()
            th.join(5)
            for ln in (ca, wa):
                ln.close()
            net.lines = []
            assert n > 0
            net.start()  # recovery: the torn tail (if any) is cut, the tree rebuilt
        net.stop()
        rc, v, raw = verify(net)
        assert rc == 0 and v["ok"], raw.stdout + raw.stderr
        es = entries(net)
        dr = {e["control"] for e in routes(es, "DR")}
        missing = [c for c in received_dr if c not in dr]
        assert received_dr and not missing, (len(received_dr), missing[:10])
        dq = {}
        for e in routes(es, "DQ"):
            dq[e["control"]] = e
        for ctl, seq in received_dq:
            assert ctl in dq and leg_to(dq[ctl], "DQ", "CA", "a", seq), (ctl, seq, dq.get(ctl))
        starts = [e for e in es if e["type"] == "system" and e.get("action") == "start"]
        assert len(starts) == 4, len(starts)
        print("kill -9 x3: %d replies received, every one logged; %d entries" %
              (len(received_dr), len(es)))


def test_region_legs():
    """A DQ to region H1 with two of its states connected: a leg per frame (the copies and
    the SM .02. back) and a queued leg for each state that was kept, named VIA the region."""
    with audit_network() as net:
        ca, orl = net.answer_line("CA"), net.answer_line("OR")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.H1.REG1.TXTNAM/DOE,JANE.DOB/19800101.SEX/F")
        qa, qo = ca.recv(), orl.recv()
        sms = [wa.recv() for _ in range(4)]  # AK, GU, HI and WA (no answering line) are kept
        assert all(m.key == "SM" and ".02." in m.body for m in sms), sms
        net.stop()
        assert verify(net)[0] == 0
        e = routes(entries(net), "DQ", "REG1")
        assert len(e) == 1 and e[0]["outcome"] == "queued", e
        e = e[0]
        assert e["destinations"] == ["H1"], e
        assert leg_to(e, "DQ", "CA", "a", qa.tx_seq) and leg_to(e, "DQ", "OR", "a", qo.tx_seq), e
        for m in sms:
            assert leg_to(e, "SM", "WA", "t", m.tx_seq), (e, m.tx_seq)
        queued = sorted(l for l in e["legs"] if l.endswith(":queued"))
        assert queued == ["AK VIA H1:queued", "GU VIA H1:queued", "HI VIA H1:queued",
                          "WA VIA H1:queued"], e


STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
          "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()


def test_fanout_over_32_legs():
    """A multi-state query to 40 connected states: its legs do not fit one entry, so the
    message is two hub-route entries with one ref, the first marked continued; the report
    counts one message; the merged reply at the deadline is a hub-deliver entry."""
    with audit_network(extra="msq_timeout = 1\n") as net:
        members = {o["member"] for o in net.generated_oris()}
        states = [m for m in STATES if m in members and m != "WA"][:40]
        assert len(states) == 40, states
        lines = [net.line(m, "answer") for m in states]
        wa = net.line("WA")
        net.wait_open_lines(41)
        wa.send("DQ.WATEST000.NL.FAN1.TXTOLN/A1234567")
        for ln in lines:
            q = ln.recv()
            assert q.key == "DQ" and q.dest == "NL", q
        r = wa.recv(15)  # nobody answers: the merged reply after msq_timeout
        assert r.key == "DR" and r.ctl == "FAN1", r
        net.stop()
        assert verify(net)[0] == 0
        es = entries(net)
        parts = routes(es, "DQ", "FAN1")
        assert len(parts) == 2, parts
        assert parts[0]["text"] == "continued" and "text" not in parts[1], parts
        assert parts[0]["ref"] == parts[1]["ref"], parts
        assert len(parts[0]["legs"]) == 32, parts[0]
        legs = parts[0]["legs"] + parts[1]["legs"]
        got = sorted(re.match(r"^DQ>([A-Z]+)/a#1 MID/\d+$", l).group(1) for l in legs)
        assert got == sorted(states), (got, states)
        d = [e for e in es if e["type"] == "hub-deliver" and e.get("control") == "FAN1"]
        assert len(d) == 1 and d[0]["member"] == "WA" and d[0]["key"] == "DR", d
        day = time.strftime("%Y-%m-%d", time.gmtime())
        rep = json.loads(run(["report", "--log", log_dir(net), "--from", day, "--to", day,
                              "--format", "json"]).stdout)
        assert rep["hub_messages"] == len(routes(es)) - 1, rep
        assert rep["hub_messages_by_key"] == {"DQ": 1}, rep


def records(path):
    """(offset of the entry bytes, length) of each record of a segment file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i + 8 <= len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append((i + 8, n))
        i += 8 + n
    return out


def test_changed_byte_found():
    with audit_network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        for i in range(20):
            wa.send("DQ.WATEST000.CA.TC%d.TXTOLN/A1234567" % i)
            ca.recv()
        net.stop()
        assert verify(net)[0] == 0
        seg = os.path.join(log_dir(net), "seg-00000001.log")
        recs = records(seg)
        idx = len(recs) // 2
        off, n = recs[idx]
        with open(seg, "r+b") as f:
            f.seek(off + n - 2)
            b = f.read(1)
            f.seek(off + n - 2)
            f.write(bytes([b[0] ^ 0x01]))
        rc, v, raw = verify(net)
        assert rc == 1 and not v["ok"], raw.stdout
        assert any(p["index"] == idx for p in v["problems"]), (idx, v["problems"])


def test_config_refused():
    net = Network(start=False)
    try:
        net.write_conf(extra="audit_dir = audit\n")
        net.start(expect_fail=True)
        net.wait_exit(10)
        assert net.proc.returncode != 0
        assert net.find_log(r"audit_key"), net.log
        # a key that is not a signer key
        with open(os.path.join(net.dir, "bad.key"), "w") as f:
            f.write("not a key\n")
        net.write_conf(extra="audit_dir = audit\naudit_key = bad.key\n")
        net.start(expect_fail=True)
        net.wait_exit(10)
        assert net.proc.returncode != 0 and net.find_log(r"audit"), net.log
    finally:
        net.close()


if __name__ == "__main__":
    run_tests([test_routes_logged, test_region_legs, test_kill9_under_load,
               test_fanout_over_32_legs,
               test_changed_byte_found, test_config_refused])
