"""Black-box tests of `stateline gateway` with a real hub, a real gateway and a generated
population (WA, 2000 drivers, seed 7): every key against records whose answers are read
from the SQLite file here, NOT ON FILE, the control field echoed, the WA policy's forbid,
hold and redactions in both layouts, a policy change mid-traffic, a broken policy refused,
no policy at all (fail closed), the gateway killed with kill -9 under traffic and
restarted, the hub restarted, and `stateline audit verify` on the gateway's log."""
import json
import os
import random
import re
import sqlite3
import threading
import time

import slharness as h

# The WA policy of examples/policies/wa.policy (copied: tests read nothing outside tests/).
WA_POLICY = """state WA
title "Washington DOL: who may read Washington driver and vehicle records"
default permit

rule no-civil-immigration "Keep Washington Working Act: no DOL data for civil immigration enforcement (ICE ERO, and HSI since its data reached ERO)"
  forbid when requester.parent under ("DHS/ICE/ERO", "DHS/ICE/HSI")

rule immigration-task-forces "Task forces that include ICE may query only with a case number, so that a reviewer can see the end user (P-27)"
  hold when requester.tags has immigration-enforcement and not requester.parent under "DHS/CBP"
  deadline 72h, then forbid

rule cbp-border-duties "CBP keeps access for border duties, with photo and address withheld and a re-dissemination mark"
  permit when requester.parent under "DHS/CBP"
  redact photo, address, owner-address
  mark "WA DOL: NOT FOR CIVIL IMMIGRATION ENFORCEMENT (RCW 43.17.425)"

rule broad-search-out-of-state "Name-only and partial-plate searches are for Washington agencies only (P-10)"
  forbid when not in-state and key in (DNQ, RNQ, RPQ)

rule photos-stay-home "Licence photos and SSNs go only to Washington agencies (P-9)"
  permit when not in-state
  redact photo, ssn
  mark "WA DOL: NOT FOR CIVIL IMMIGRATION ENFORCEMENT (RCW 43.17.425)"
"""

NO_OREGON = """
rule no-oregon "Test: Oregon requesters are cut off"
  forbid when requester.state = OR
"""

# Requesters added to the test directory (CSV columns of docs/directory.md).
ORIS = [
    ("WAERO0100", "DH", "Test ICE ERO Seattle", "FE", "ACDZ", "A", "DHS/ICE/ERO",
     "immigration-enforcement", 0),
    ("IDCBP0100", "DH", "Test CBP Eastport", "FE", "ACDZ", "A", "DHS/CBP/OFO", "border", 0),
    ("WATF00100", "WA", "Test immigration task force", "LE", "ACDZ", "A", "",
     "immigration-enforcement task-force", 0),
]

CTL = [0]


def ctl():
    """A fresh control field: 10 characters with a '-', never read as a destination."""
    CTL[0] += 1
    return "T-%08d" % CTL[0]


# WA's answering line takes the regional forms too (the hub's default list has no DQG/RQG).
MEMBERS = "[member WA]\ntakes = DQ DQG DNQ KQ RQ RQG RNQ RPQ AM\n"


def setup(extra="", policy=WA_POLICY, default=None, start_gw=True):
    net = h.Network(start=False, members_conf=MEMBERS)
    try:
        net.add_oris(ORIS)
        net.start()
        gw = h.Gateway(net, "WA", policy=policy, default=default, extra=extra,
                       start=start_gw)
    except BaseException:
        net.close()
        raise
    return net, gw


def close(net, gw, ok):
    """Stop everything; with ok (the test body passed) the gateway and the hub must stop
    cleanly."""
    try:
        if ok:
            gw.stop()
    finally:
        gw.close()
        net.close(check=ok)


def q(line, text, timeout=15):
    """Send text (with a fresh control field before TXT) and return the answer (Out)."""
    c = ctl()
    head, _, body = text.partition(".TXT")
    msg = "%s.%s.TXT\n%s" % (head, c, body.lstrip(" "))
    m = h.ask(line, msg, c, timeout)
    assert m.ctl == c, m
    return m


def db(gw):
    con = sqlite3.connect("file:%s?mode=ro" % gw.records, uri=True)
    return con


def verify_log(gw):
    p = h.run(["audit", "verify", gw.audit, "--key", os.path.join(gw.dir, "audit.pub")],
              check=False)
    assert p.returncode == 0, "audit verify failed:\n%s\n%s" % (p.stdout, p.stderr)
    return p.stdout


def entries(gw):
    p = h.run(["audit", "show", gw.audit, "--json"])
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


# ---- tests -----------------------------------------------------------------------------

def test_every_key():
    ok = False
    net, gw = setup(extra="answer = DQ DNQ KQ RQ RNQ RPQ")
    try:
        assert "policy" in gw.stdout and "5 rules" in gw.stdout, gw.stdout
        t = net.line("WA")
        con = db(gw)
        # a driver with a history, whose name + DOB + sex is unique
        oln, last, first, dob, sex, status, did = con.execute(
            "SELECT oln, last, first, dob, sex, status, id FROM driver d WHERE"
            " EXISTS (SELECT 1 FROM history WHERE driver_id = d.id) AND"
            " (SELECT count(*) FROM driver e WHERE e.pair_key = d.pair_key AND"
            "  e.dob = d.dob AND e.sex = d.sex) = 1 ORDER BY id LIMIT 1").fetchone()
        name = "%s,%s" % (last, first)
        mmddyy = "%02d%02d%02d" % (dob // 100 % 100, dob % 100, dob // 10000 % 100)

        m = q(t, "DQ.WATEST000.WA.TXT OLN/%s" % oln)
        assert m.key == "DR" and m.ori == "WAOLN0000" and m.dest == "WATEST000", m
        assert "OLN: %s" % oln in m.body and "STATUS: %s" % status in m.body, m.body
        assert "%s, %s" % (last, first) in m.body, m.body

        m = q(t, "DQ.WATEST000.WA.TXT NAM/%s.DOB/%s.SEX/%s" % (name, mmddyy, sex))
        assert m.key == "DR" and "OLN: %s" % oln in m.body, m.body
        m = q(t, "DQ.WATEST000.WA.TXT NAM/%s.DOB/%d.SEX/%s.IMQ/Y" % (name, dob, sex))
        assert "IMAGE: AVAILABLE IN XML ONLY" in m.body, m.body

        m = q(t, "DQG.WATEST000.WA.TXT NAM/%s.DOB/%d.SEX/%s" % (name, dob, sex))
        assert m.key == "DR" and "OLN: %s" % oln in m.body, m.body

        m = q(t, "DNQ.WATEST000.WA.TXT NAM/%s" % name)
        assert m.key == "DNR" and oln in m.body, m.body
        n_same = con.execute("SELECT count(*) FROM driver WHERE pair_key ="
                             " (SELECT pair_key FROM driver WHERE id = ?)", (did,)).fetchone()[0]
        assert "%d ON FILE" % n_same in m.body, (n_same, m.body)

        hist = con.execute("SELECT text FROM history WHERE driver_id = ? ORDER BY seq",
                           (did,)).fetchall()
        m = q(t, "KQ.WATEST000.WA.TXT OLN/%s.PUR/C" % oln)
        assert m.key == "KR", m
        assert "HISTORY: %d EVENT" % len(hist) in m.body, m.body
        for (text,) in hist:
            assert text in m.body, (text, m.body)

        plate, liy, lit, vin, vid = con.execute(
            "SELECT plate, plate_year, plate_type, vin, id FROM vehicle v WHERE"
            " (SELECT count(*) FROM vehicle w WHERE w.plate = v.plate) = 1"
            " ORDER BY id LIMIT 1").fetchone()
        olast, ofirst = con.execute(
            "SELECT d.last, d.first FROM owner o JOIN driver d ON d.id = o.driver_id"
            " WHERE o.vehicle_id = ? AND o.seq = 0", (vid,)).fetchone()
        m = q(t, "RQ.WATEST000.WA.TXT LIC/%s.LIY/%d.LIT/%s" % (plate, liy, lit))
        assert m.key == "RR" and "VIN: %s" % vin in m.body, m.body
        assert "OWNER: %s, %s" % (olast, ofirst) in m.body, m.body
        m = q(t, "RQ.WATEST000.WA.TXT LIC/%s.LIY/%d.LIT/%s" % (plate, liy + 1, lit))
        assert "VIN: %s" % vin in m.body, m.body
        assert "NOTE: PLATE ON FILE, BUT LIY DIFFERS FROM THE QUERY" in m.body, m.body
        m = q(t, "RQ.WATEST000.WA.TXT VIN/%s" % vin)
        assert m.key == "RR" and "LIC: %s" % plate in m.body, m.body
        m = q(t, "RQG.WATEST000.WA.TXT VIN/%s" % vin)
        assert m.key == "RR" and "LIC: %s" % plate in m.body, m.body

        m = q(t, "RNQ.WATEST000.WA.TXT NAM/%s,%s" % (olast, ofirst))
        assert m.key == "RNR" and plate in m.body, m.body

        m = q(t, "RPQ.WATEST000.WA.TXT LIC/%s*" % plate[:4])
        assert m.key == "RPR" and plate in m.body, m.body
        n_like = con.execute("SELECT count(*) FROM vehicle WHERE plate LIKE ?",
                             (plate[:4] + "%",)).fetchone()[0]
        assert "%d ON FILE" % n_like in m.body, (n_like, m.body)

        # non-record answers
        m = q(t, "DQ.WATEST000.WA.TXT OLN/NOSUCH12345")
        assert m.key == "DR" and m.body.startswith("NOT ON FILE"), m.body
        assert "SEARCHED: OLN/NOSUCH12345" in m.body, m.body
        m = q(t, "RQ.WATEST000.WA.TXT LIC/ZZZ9Z9Z.LIY/2026.LIT/PC")
        assert m.key == "RR" and m.body.startswith("NOT ON FILE"), m.body
        m = q(t, "KQ.WATEST000.WA.TXT NAM/%s.DOB/%d.SEX/%s" %
              (name, dob, "F" if sex == "M" else "M"))
        assert m.body.startswith("NOT ON FILE"), m.body
        con.close()
        gw.stop()
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)



def test_rpq_not_opted_in_and_store_missing():
    ok = False
    net, gw = setup()
    try:
        t = net.line("WA")
        m = q(t, "RPQ.WATEST000.WA.TXT LIC/ABC*")
        assert m.key == "RPR" and "WA DOES NOT ANSWER RPQ" in m.body, m.body
        # the records file is overwritten in place (disk trouble): the query in hand gets
        # TEMPORARILY UNAVAILABLE, the store is reopened, and from then on it is not a
        # store: FILE NOT AVAILABLE; the gateway keeps answering
        con = db(gw)
        olns = [r[0] for r in con.execute("SELECT oln FROM driver ORDER BY id LIMIT 40")]
        con.close()
        assert "OLN: %s" % olns[0] in q(t, "DQ.WATEST000.WA.TXT OLN/%s" % olns[0]).body
        with open(gw.records, "r+b") as f:
            f.write(b"\0" * os.path.getsize(gw.records))
        m = q(t, "DQ.WATEST000.WA.TXT OLN/%s" % olns[39])
        assert m.key == "DR" and m.body.startswith("TEMPORARILY UNAVAILABLE"), m.body
        m = q(t, "DQ.WATEST000.WA.TXT OLN/%s" % olns[20])
        assert m.key == "DR" and m.body.startswith("FILE NOT AVAILABLE"), m.body
        # the records file goes away: FILE NOT AVAILABLE, the gateway keeps answering
        gw.stop()
        gw.close()
        os.rename(gw.records, gw.records + ".away")
        gw.start()
        assert gw.find_log(r"answering FILE NOT AVAILABLE")
        m = q(t, "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.key == "DR" and m.body.startswith("FILE NOT AVAILABLE"), m.body
        gw.stop()
        ok = True
    finally:
        close(net, gw, ok)



def test_policy_decisions_and_layouts():
    ok = False
    net, gw = setup(extra="standard_for = CA")
    try:
        con = db(gw)
        oln, ssn, street = con.execute(
            "SELECT oln, ssn, street FROM driver ORDER BY id LIMIT 1").fetchone()
        con.close()
        ice = net.line("DH")
        m = q(ice, "DQ.WAERO0100.WA.TXT OLN/%s" % oln)
        assert m.key == "DR" and m.body.startswith(
            "DENIED BY WA POLICY no-civil-immigration: Keep Washington Working Act"), m.body
        assert oln not in m.body and ssn not in m.body, m.body

        cbp = q(ice, "DQ.IDCBP0100.WA.TXT OLN/%s" % oln)
        assert "ADDRESS: WITHHELD" in cbp.body and street not in cbp.body, cbp.body
        assert "SSN: WITHHELD" in cbp.body and ssn not in cbp.body, cbp.body
        assert "MARK: WA DOL: NOT FOR CIVIL IMMIGRATION ENFORCEMENT" in cbp.body, cbp.body
        assert re.search(r"WITHHELD UNDER WA POLICY: .*\(cbp-border-duties\)", cbp.body)

        tf = net.line("WA")
        c = ctl()
        m = h.ask(tf, "DQ.WATF00100.WA.%s.TXT\nOLN/%s.CAS/24-0001" % (c, oln), c)
        assert m.body.startswith("HELD FOR REVIEW BY WA POLICY immigration-task-forces"), \
            m.body
        rid = re.search(r"REVIEW NO\. WA-R(\d+)", m.body)
        assert rid, m.body
        assert oln not in m.body.split("\n", 1)[1], m.body

        # redaction in the text layout (Oregon) and the standard layout (California)
        m = q(net.line("OR"), "DQ.ORTEST000.WA.TXT OLN/%s" % oln)
        assert "OLN: %s" % oln in m.body and "SSN: WITHHELD" in m.body, m.body
        assert ssn not in m.body, m.body
        m = q(net.line("CA"), "DQ.CATEST000.WA.TXT OLN/%s" % oln)
        assert "RESPONSE: DRIVER STATUS" in m.body and "DL-NUMBER: %s" % oln in m.body, m.body
        assert "SSN: WITHHELD" in m.body and ssn not in m.body, m.body
        assert "WITHHELD-CLASSES: photo, ssn" in m.body, m.body
        assert "DISSEMINATION: WA DOL: NOT FOR CIVIL" in m.body, m.body
        # Oregon may not search by name only (forbid beats permit)
        m = q(net.line("OR"), "DNQ.ORTEST000.WA.TXT NAM/SMITH,JOHN")
        assert m.key == "DNR" and "broad-search-out-of-state" in m.body, m.body
        # in-state: everything
        m = q(tf, "DQ.WATEST000.WA.TXT OLN/%s" % oln)
        assert "SSN: %s" % ssn in m.body and "WITHHELD" not in m.body, m.body
        gw.stop()
        # the hold is in the review queue, with its control field and deadline
        con = sqlite3.connect(os.path.join(gw.dir, "data", "gateway.db"))
        row = con.execute("SELECT ori, key, ctl, rules, status, deadline_us - received_us FROM"
                          " review WHERE id = ?", (int(rid.group(1)),)).fetchone()
        con.close()
        assert row[:5] == ("WATF00100", "DQ", c, "immigration-task-forces", "held"), row
        assert row[5] == 72 * 3600 * 1000000, row
        verify_log(gw)
        es = entries(gw)
        dec = [e for e in es if e.get("type") == "decision" and
               "no-civil-immigration" in e.get("rules", [])]
        assert dec and dec[0].get("effect") == "forbid", dec
        assert any(e.get("type") == "hold" for e in es), es
        rel = [e for e in es if e.get("type") == "release" and e.get("outcome") == "redacted"]
        assert len(rel) >= 3, rel
        # personal data only as the keyed hash
        raw = json.dumps(es)
        assert oln not in raw and ssn not in raw, "personal data in the clear in the log"
        ok = True
    finally:
        close(net, gw, ok)



def test_policy_change_mid_traffic_and_broken_file():
    ok = False
    net, gw = setup()
    try:
        con = db(gw)
        oln = con.execute("SELECT oln FROM driver ORDER BY id LIMIT 1").fetchone()[0]
        con.close()
        orl = net.line("OR")
        results = []
        stop = threading.Event()
        errors = []

        def traffic():
            try:
                while not stop.is_set():
                    t0 = time.monotonic()
                    m = q(orl, "DQ.ORTEST000.WA.TXT OLN/%s" % oln)
                    results.append((t0, m.body))
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)

        th = threading.Thread(target=traffic, daemon=True)
        th.start()
        time.sleep(0.5)
        t_write = time.monotonic()
        gw.write_policy(WA_POLICY + NO_OREGON)
        time.sleep(2.0)
        # a broken file: refused, the rules in force stay
        gw.write_policy(WA_POLICY + NO_OREGON + "\nrule broken \"x\"\n  frobnicate when\n")
        gw.wait_log(r"does not check")
        time.sleep(1.0)
        stop.set()
        th.join(30)
        assert not errors, errors
        before = [b for t0, b in results if t0 < t_write]
        after = [b for t0, b in results if t0 > t_write + 1.0]
        assert before and all("OLN: %s" % oln in b for b in before), before[:3]
        assert after and all(b.startswith("DENIED BY WA POLICY no-oregon") for b in after), \
            [b for b in after if "no-oregon" not in b][:3]
        # every query sent got its one answer (q() raises otherwise); none extra arrived
        orl.expect_nothing(0.5)
        assert gw.find_log(r"policy .* in force: 6 rules")
        assert gw.find_log(r"error: ")
        gw.stop()
        verify_log(gw)
        es = entries(gw)
        ch = [e for e in es if e.get("type") == "policy-change"]
        assert len(ch) == 1 and ch[0].get("policy_before") and ch[0].get("policy_after"), ch
        assert any(e.get("type") == "admin" and e.get("action") == "policy-refused" for e in es)
        ok = True
    finally:
        close(net, gw, ok)



def test_fail_closed_without_policy():
    ok = False
    net, gw = setup(policy="state WA\ndefault permit\nrule x \"x\"\n  frobnicate\n")
    try:
        assert "NO POLICY IN FORCE" in gw.stdout, gw.stdout
        m = q(net.line("OR"), "DQ.ORTEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("DENIED BY WA: NO WA POLICY IS IN FORCE"), m.body
        t = net.line("WA")
        m = q(t, "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("NOT ON FILE"), m.body  # in-state: deny-external
        gw.write_policy(WA_POLICY)
        gw.wait_log(r"policy .* in force: 5 rules")
        m = q(net.line("OR"), "DQ.ORTEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("NOT ON FILE"), m.body
        gw.stop()
        es = entries(gw)
        assert any(e.get("type") == "system" and e.get("action") == "fail-closed" for e in es)
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)



def test_default_decision():
    ok = False
    net, gw = setup(default="forbid")
    try:
        assert "default forbid" in gw.stdout, gw.stdout
        p = h.run(["gateway", "check", "--config", gw.conf])
        assert "ok (state WA, ori WAOLN0000" in p.stdout, p.stdout
        with open(gw.conf, "a") as f:
            f.write("layout = fancy\n")
        p = h.run(["gateway", "check", "--config", gw.conf], check=False)
        assert p.returncode == 1 and "layout = fancy: text or standard" in p.stderr, p.stderr
        m = q(net.line("WA"), "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("DENIED BY WA POLICY NO RULE RELEASES"), m.body
        gw.stop()
        ok = True
    finally:
        close(net, gw, ok)



RATE_POLICY = """state WA
default permit

rule oregon-bulk "Test (P-22): more than 3 queries an hour from one Oregon ORI go to a person"
  hold when requester.state = OR and requester.queries per hour > 3
  deadline 72h, then forbid

rule one-person "Test (P-22): one person may ask twice a day"
  forbid when ATN present and user.queries per day > 2
"""


def test_rate_limits():
    """P-22: past a rate rule's limit, further queries are held (or denied); the counts are
    the gateway's, per ORI and per person (ATN/), and other requesters are not touched."""
    ok = False
    net, gw = setup(policy=RATE_POLICY)
    try:
        orl, wa = net.line("OR"), net.line("WA")
        for i in range(3):
            m = q(orl, "DQ.ORTEST000.WA.TXT OLN/WDL0000000")
            assert m.body.startswith("NOT ON FILE"), (i, m.body)
        for i in range(2):   # the fourth and fifth of the hour
            m = q(orl, "DQ.ORTEST000.WA.TXT OLN/WDL0000000")
            assert m.body.startswith("HELD FOR REVIEW BY WA POLICY oregon-bulk"), (i, m.body)
        # Washington's own agencies are not limited by it; the person asking is, by name
        for i in range(2):
            m = q(wa, "DQ.WATEST000.WA.TXT OLN/WDL0000000.ATN/DET SMITH")
            assert m.body.startswith("NOT ON FILE"), (i, m.body)
        m = q(wa, "DQ.WATEST000.WA.TXT OLN/WDL0000000.ATN/DET SMITH")
        assert m.key == "DR" and m.body.startswith("DENIED BY WA POLICY one-person"), m.body
        m = q(wa, "DQ.WATEST000.WA.TXT OLN/WDL0000000.ATN/DET JONES")
        assert m.body.startswith("NOT ON FILE"), m.body
        m = q(wa, "DQ.WATEST000.WA.TXT OLN/WDL0000000")   # nobody named: the rule's guard
        assert m.body.startswith("NOT ON FILE"), m.body
        gw.stop()
        es = entries(gw)
        held = [e for e in es if e.get("type") == "decision" and
                "oregon-bulk" in e.get("rules", [])]
        assert len(held) == 2 and all(e.get("effect") == "hold" for e in held), held
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)


def test_kill9_under_traffic():
    """The gateway killed with kill -9 while queries flow, restarted while the hub keeps
    running, three times: no query is lost and none is answered twice.  Each query gets its
    DR, or first an SM .02. (the gateway was down, or its line dropped before it answered:
    the hub keeps the query and delivers it again with the same message id) and then its DR;
    the gateway answers a query it had read before the kill once (from its inbox), and a
    repeat of an id it has read gets no second decision.  Every answer has its entries in
    the log (which verifies)."""
    ok = False
    net, gw = setup()
    try:
        con = db(gw)
        olns = [r[0] for r in con.execute("SELECT oln FROM driver ORDER BY id LIMIT 50")]
        con.close()
        stop = threading.Event()
        sent = []                 # control fields of the queries sent
        frames = {}               # control field -> keys of what came back for it
        lock = threading.Lock()
        lines = []

        def note(p):
            o = h.Out(p)
            with lock:
                frames.setdefault(o.ctl, []).append((o.key, o.body))
            return o

        def traffic(member, ori, seed):
            rnd = random.Random(seed)
            line = net.line(member)
            lines.append(line)
            while not stop.is_set():
                c = ctl()
                with lock:
                    sent.append(c)
                line.send("DQ.%s.WA.%s.TXT\nOLN/%s" % (ori, c, rnd.choice(olns)))
                # wait for its DR (an SM .02. first is fine: the DR follows)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    p = line.recv_frame(max(0.01, deadline - time.monotonic()))
                    if p is None:
                        continue
                    o = note(p)
                    if o.ctl == c and o.key != "SM":
                        break

        ths = [threading.Thread(target=traffic, args=a, daemon=True) for a in
               (("WA", "WATEST000", 1), ("OR", "ORTEST000", 2), ("CA", "CATEST000", 3))]
        probe = net.line("WA")
        lines.append(probe)
        for th in ths:
            th.start()
        probes = []
        for cycle in range(3):
            time.sleep(0.7 + 0.3 * cycle)
            gw.kill9()
            # while it is down the switch answers for it and keeps the query
            # (another ORI than the traffic's: replies go to the line an ORI last used)
            c = ctl()
            probe.send("DQ.WA0010200.WA.%s.TXT\nOLN/WDL0000000" % c)
            probes.append(c)
            m = None
            deadline = time.monotonic() + 15
            while m is None and time.monotonic() < deadline:
                p = probe.recv_frame(max(0.01, deadline - time.monotonic()))
                if p is not None:
                    o = note(p)      # an earlier probe's DR may come first
                    m = o if o.ctl == c else None
            assert m is not None and m.key == "SM" and ".02." in m.body, m
            time.sleep(0.3)
            gw.start()
        time.sleep(1.0)
        stop.set()
        for th in ths:
            th.join(40)
        # late frames: the probes' DRs, and any duplicate
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = False
            for ln in lines:
                p = ln.recv_frame(0.05)
                if p is not None:
                    note(p)
                    got = True
            if not got and all(any(k == "DR" for k, _ in frames.get(c, []))
                               for c in probes):
                break
        dr = {c: sum(1 for k, _ in frames.get(c, []) if k == "DR") for c in sent + probes}
        lost = [c for c, n in dr.items() if n == 0]
        twice = [c for c, n in dr.items() if n > 1]
        sm02 = [c for c in sent if any(k == "SM" and ".02." in b for k, b in frames.get(c, []))]
        other = [(c, k) for c in sent for k, b in frames.get(c, [])
                 if k not in ("DR", "SM") or (k == "SM" and ".02." not in b)]
        assert not other, other[:5]
        assert not lost, "never answered: %s" % [(c, frames.get(c)) for c in lost[:10]]
        assert not twice, "answered twice: %s" % [(c, frames[c]) for c in twice[:3]]
        assert len(sent) > 30, len(sent)
        print("kill -9 x3: %d queries, each answered once; %d of them got SM .02. first "
              "(%d dropped in flight, kept again by the hub); %d repeats recognised by the "
              "gateway's last run" % (len(sent), len(sm02),
                           sum(int(m.group(1)) for m in
                               (re.search(r"(\d+) queries it had not answered are kept",
                                          ln) for ln in net.log) if m),
                           gw.count_log(r"delivered again")))
        gw.stop()
        verify_log(gw)
        # every answer the terminals received has its query entry in the log
        logged = {e.get("control") for e in entries(gw) if e.get("type") == "query"}
        missing = [c for c in sent if c not in logged]
        assert not missing, "answers without a query entry: %s" % missing[:5]
        gw.start()
        assert q(net.line("WA"), "DQ.WATEST000.WA.TXT OLN/WDL0000000").body.startswith(
            "NOT ON FILE")
        ok = True
    finally:
        close(net, gw, ok)



def test_inbox_log_after_kill():
    """The inbox's log (DATA/inbox/, docs/gateway.md §5.1) after a kill -9: a torn record
    at the end of its last segment (what a write cut short leaves) is written over and the
    gateway answers as before, and the log says what it found (so does `stateline inbox`,
    read only, before the start); gateway.db holds no inbox table."""
    ok = False
    net, gw = setup()
    try:
        line = net.line("WA")
        first = q(line, "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert first.body.startswith("NOT ON FILE"), first.body
        time.sleep(0.5)   # the hub's acknowledgement seen (checked every 10 ms): answered
        gw.kill9()
        inbox = os.path.join(gw.dir, "data", "inbox")
        segs = sorted(f for f in os.listdir(inbox) if f.startswith("seg-"))
        assert segs, os.listdir(inbox)
        p = h.run(["inbox", os.path.join(gw.dir, "data")])
        assert "rows open (read, not all answered; the gateway answers them at start): 0" \
            in p.stdout and p.stdout.rstrip().endswith("ok"), p.stdout
        answered = re.search(r"answered ids in the log: (\d+)", p.stdout)
        assert answered and int(answered.group(1)) >= 1, p.stdout
        with open(os.path.join(inbox, segs[-1]), "ab") as f:
            f.write(b"\x00\x00\x01\x00" + b"\xa5" * 57)   # a record's start, cut short
        # `stateline inbox` tells the engineer what the start will do with it
        p = h.run(["inbox", os.path.join(gw.dir, "data"), "--records"])
        assert "written over at the next start" in p.stdout, p.stdout
        assert "BATCH" in p.stdout and "READ" in p.stdout, p.stdout
        gw.start()
        m = q(net.line("WA"), "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("NOT ON FILE"), m.body
        assert gw.count_log(r"inbox: .*seg-\d+\.log ends at byte") >= 1
        con = sqlite3.connect(os.path.join(gw.dir, "data", "gateway.db"))
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        con.close()
        assert not tables & {"inbox", "answered", "inbox_read", "answered_batch"}, tables
        gw.stop()
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)


def test_repeated_message_id_answered_once():
    """The gateway against a switch played by the test (plain line on loopback): a query
    delivered again with a switch message id the gateway has answered gets the very reply it
    made, byte for byte, and no second decision (one query entry in the log); a repeat that
    arrives while the first is still in the inbox gets nothing more; a new id is a new
    query.  Every reply echoes the id as its first body line (docs/gateway.md §5)."""
    import socket
    import struct
    ok = False
    net = h.Network(tls=False, plain=True, start=False, members_conf=MEMBERS)
    gw = None
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        net.add_oris(ORIS)
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(20)
        net.port = srv.getsockname()[1]      # the gateway dials the test, not a hub
        gw = h.Gateway(net, "WA", policy=WA_POLICY, start=False)
        gw.start(wait_line=False)

        def frame(sock):
            head = b""
            while len(head) < 4:
                chunk = sock.recv(4 - len(head))
                assert chunk, "the gateway closed the line"
                head += chunk
            (n,) = struct.unpack(">I", head)
            body = b""
            while len(body) < n:
                chunk = sock.recv(n - len(body))
                assert chunk, "the gateway closed the line"
                body += chunk
            return body

        def accept():
            c, _ = srv.accept()
            c.settimeout(20)
            auth = frame(c)
            assert auth.startswith(b"AUTH WA answer "), auth
            c.sendall(struct.pack(">I", 7) + b"AUTH OK")
            return c

        def query(mid, c_field, seq):
            text = ("DQ.WATEST000\n14:25 11/26/2026 %05d\n14:25 11/26/2026 %05d WA\n"
                    "CTL/%s\nMID/%d\nVRQ/ORI=WATEST000;MBR=WA;TYP=PD;CAT=ACDZ;PAR=;TAG=test\n"
                    "TXT\nOLN/WDL0000000" % (seq, seq, c_field, mid)).encode()
            return struct.pack(">I", len(text)) + text

        c = accept()
        c.sendall(query(777, "Q1", 1))
        r1 = frame(c)
        assert r1.startswith(b"DR.WAOLN0000.WATEST000.Q1.TXT\nMID/777\n"), r1
        assert b"NOT ON FILE" in r1, r1
        # the switch's TCP has it; the gateway sees the acknowledgement (10 ms timer)
        time.sleep(0.5)
        c.close()
        # the line comes back; the switch did not see the answer and writes it again
        c = accept()
        c.sendall(query(777, "Q1", 2))
        r2 = frame(c)
        assert r2 == r1, (r1, r2)
        gw.wait_log(r"MID 777 delivered again: answered before, the same reply sent again")
        # two copies of a new id in one read: the second is a repeat of one in the inbox
        c.sendall(query(778, "Q2", 3) + query(778, "Q2", 4))
        r3 = frame(c)
        assert r3.startswith(b"DR.WAOLN0000.WATEST000.Q2.TXT\nMID/778\n"), r3
        c.settimeout(1.0)
        try:
            extra = frame(c)
            raise AssertionError("a second reply to MID 778: %r" % extra[:120])
        except socket.timeout:
            pass
        gw.wait_log(r"MID 778 delivered again: read before")
        c.close()
        gw.stop()
        es = [e for e in entries(gw) if e.get("type") == "query"]
        assert sorted(e.get("control") for e in es) == ["Q1", "Q2"], es
        # each query entry keeps the switch message id it came with (the key to the
        # switch's own log of the delivery, docs/audit-format.md §11)
        assert sorted((e.get("control"), e.get("mid")) for e in es) == \
            [("Q1", 777), ("Q2", 778)], es
        verify_log(gw)
        ok = True
    finally:
        srv.close()
        if gw:
            gw.close()
        net.close(check=ok)


def test_hub_restart():
    ok = False
    net, gw = setup()
    try:
        m = q(net.line("WA"), "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("NOT ON FILE"), m.body
        port = net.port
        net.stop()
        for ln in net.lines:
            ln.close()
        net.lines = []
        gw.wait_log(r"answering line down")
        net.write_conf(listen="127.0.0.1:%d" % port, members=MEMBERS)
        net.start()
        assert net.port == port
        net.wait_bound("WA", 15)
        assert gw.count_log(r"answering line for WA up") >= 2
        m = q(net.line("WA"), "DQ.WATEST000.WA.TXT OLN/WDL0000000")
        assert m.body.startswith("NOT ON FILE"), m.body
        gw.stop()
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)


if __name__ == "__main__":
    h.run_tests([test_every_key, test_rpq_not_opted_in_and_store_missing,
                 test_policy_decisions_and_layouts,
                 test_policy_change_mid_traffic_and_broken_file,
                 test_fail_closed_without_policy, test_default_decision, test_rate_limits,
                 test_kill9_under_traffic, test_inbox_log_after_kill,
                 test_repeated_message_id_answered_once,
                 test_hub_restart], per_test_timeout=150)
