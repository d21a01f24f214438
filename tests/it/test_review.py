"""Black-box tests of the review desk, notices to the person and the rule authors' tools
(docs/review.md), with a real hub, gateway and generated population (WA, seed 7):

- holds: approved (the reply carries the policy's and the reviewer's redactions), denied
  (denial text), timed out (a 1-minute deadline: `then permit` releases, `then forbid`
  denies, both say TIMED OUT), self-approval refused (ATN/ and reviewer_links), the
  two-person rule, a reviewer identity and reason required, the review audit entries;
- a decision recorded while the gateway is stopped: sent once after the restart, not again
  after a second restart;
- notices: due date over holidays and a weekend, listed, sent as text + HTML letters into
  a 0700 outbox (a readable outbox refused), marked sent, audit entries;
- `policy apply`: a good file takes effect and its author is in the policy-change entry;
  a broken one is refused and the old one stays;
- `audit personal`: a read of personal data is recorded and logged (P-18);
- retention: done reviews and sent notices deleted after retention_days, the rest kept,
  a system entry, no copy of the licence number left in the file;
- `policy simulate`: the numbers of a known traffic mix."""
import datetime
import json
import os
import re
import shutil
import sqlite3
import stat
import time

import slharness as h

POLICY = """state WA
default permit

rule task-force-review "Task forces that include ICE are read by a reviewer first"
  hold when requester.tags has immigration-enforcement
  deadline 72h, then forbid
  redact ssn
  notify subject within 3 business days

rule cbp-review "CBP requests need two reviewers"
  hold when requester.parent under "DHS/CBP"
  deadline 72h, then forbid

rule oregon-quick "Test: Oregon requests wait one minute, then are released"
  hold when requester.state = OR
  deadline 1m, then permit
  redact photo

rule idaho-quick "Test: this Idaho agency's requests wait one minute, then are denied"
  hold when requester.ori = IDTEST000
  deadline 1m, then forbid
"""

ORIS = [
    ("WATF00100", "WA", "Test immigration task force", "LE", "ACDZ", "A", "",
     "immigration-enforcement task-force", 0),
    ("IDCBP0100", "DH", "Test CBP Eastport", "FE", "ACDZ", "A", "DHS/CBP/OFO", "border", 0),
]

EXTRA = "two_person = cbp-review\nreviewer_links = carol=WATF00100\nreview_poll_ms = 50\n"

CTL = [0]


def ctl():
    CTL[0] += 1
    return "R-%08d" % CTL[0]


def setup(policy=POLICY, extra=EXTRA):
    net = h.Network(start=False)
    try:
        net.add_oris(ORIS)
        net.start()
        gw = h.Gateway(net, "WA", policy=policy, extra=extra)
    except BaseException:
        net.close()
        raise
    return net, gw


def close(net, gw, ok):
    try:
        if ok and gw.proc and gw.proc.poll() is None:
            gw.stop()
    finally:
        gw.close()
        net.close(check=ok)


def send(line, head, body):
    """Send head (KEY.ORI.DEST) with a fresh control field; returns the control field."""
    c = ctl()
    line.send("%s.%s.TXT\n%s" % (head, c, body))
    return c


def wait_ctl(line, c, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no message with control field %s in %s s" % (c, timeout))
        m = line.recv(left)
        if m.ctl == c:
            return m


def review(gw, *args, check=True):
    return h.run(["review", "--config", gw.conf] + list(args), check=check)


def held(line, head, body):
    c = send(line, head, body)
    m = wait_ctl(line, c)
    r = re.search(r"REVIEW NO\. (WA-R\d+)", m.body)
    assert m.body.startswith("HELD FOR REVIEW BY WA POLICY") and r, m.body
    return c, r.group(1)


def driver(gw, n=0):
    con = sqlite3.connect("file:%s?mode=ro" % gw.records, uri=True)
    row = con.execute("SELECT oln, ssn, street, first, last FROM driver ORDER BY id"
                      " LIMIT 1 OFFSET ?", (n,)).fetchone()
    con.close()
    return row


def entries(gw):
    p = h.run(["audit", "show", gw.audit, "--json"])
    return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def verify_log(gw):
    p = h.run(["audit", "verify", gw.audit, "--key", os.path.join(gw.dir, "audit.pub")],
              check=False)
    assert p.returncode == 0, "audit verify failed:\n%s\n%s" % (p.stdout, p.stderr)


def test_holds():
    ok = False
    net, gw = setup()
    try:
        oln, ssn, street, first, last = driver(gw)
        wa, dh = net.line("WA"), net.line("DH")
        orl, idl = net.line("OR"), net.line("ID")
        # the two short deadlines run while the rest is tested
        c_or, r_or = held(orl, "DQ.ORTEST000.WA", "OLN/%s" % oln)
        c_id, r_id = held(idl, "DQ.IDTEST000.WA", "OLN/%s" % oln)

        # approved, with an extra redaction by the reviewer
        c1, r1 = held(wa, "DQ.WATF00100.WA", "OLN/%s.CAS/24-0001.ATN/ALICE JONES" % oln)
        p = review(gw, "list")
        assert r1 in p.stdout and "task-force-review" in p.stdout, p.stdout
        p = review(gw, "show", r1, "--json")
        s = json.loads(p.stdout)
        assert s["ori"] == "WATF00100" and s["member"] == "WA" and s["type"] == "LE", s
        assert s["ATN"] == "ALICE JONES" and s["CAS"] == "24-0001" and s["status"] == "held", s
        assert s["rules"] == ["task-force-review"] and "ssn" not in s["would_release"], s
        assert "identity" in s["would_release"] and s["policy_withholds"] == ["ssn"], s
        assert s["deadline_us"] - s["received_us"] == 72 * 3600 * 1000000, s
        assert oln in s["request_text"], s
        p = review(gw, "show", r1)
        assert "Requester:  WATF00100" in p.stdout and "CAS/ case number" in p.stdout, p.stdout
        # no identity, no reason: refused
        p = review(gw, "approve", r1, "--reason", "ok", check=False)
        assert p.returncode != 0 and "reviewer identity is required" in p.stderr, p.stderr
        p = review(gw, "approve", r1, "--reviewer", "bob", check=False)
        assert p.returncode != 0 and "written reason is required" in p.stderr, p.stderr
        # the requester's own officer (ATN/), and a reviewer linked to the ORI
        p = review(gw, "approve", r1, "--reviewer", "Alice Jones", "--reason", "ok",
                   check=False)
        assert p.returncode != 0 and "cannot approve their own request" in p.stderr, p.stderr
        p = review(gw, "approve", r1, "--reviewer", "carol", "--reason", "ok", check=False)
        assert p.returncode != 0 and "linked to the requesting ORI WATF00100" in p.stderr, \
            p.stderr
        p = review(gw, "approve", r1, "--reviewer", "bob", "--redact", "nonsense",
                   "--reason", "ok", check=False)
        assert p.returncode != 0 and "unknown data class 'nonsense'" in p.stderr, p.stderr
        p = review(gw, "approve", r1, "--reviewer", "bob", "--redact", "address",
                   "--reason", "case 24-0001 checked with the task force lead")
        assert "approved by bob, also withholding address" in p.stdout, p.stdout
        m = wait_ctl(wa, c1)
        assert m.key == "DR" and m.body.startswith(
            "RELEASED AFTER REVIEW BY WA: REVIEW NO. %s" % r1), m.body
        assert "OLN: %s" % oln in m.body and "ADDRESS: WITHHELD" in m.body, m.body
        assert "SSN: WITHHELD" in m.body and ssn not in m.body and street not in m.body, m.body
        assert "ssn (task-force-review)" in m.body and "address (review %s)" % r1 in m.body, \
            m.body
        p = review(gw, "deny", r1, "--reviewer", "dave", "--reason", "late", check=False)
        assert p.returncode != 0 and "no longer held: approved by bob" in p.stderr, p.stderr

        # denied
        c2, r2 = held(wa, "DQ.WATF00100.WA", "OLN/%s" % oln)
        p = review(gw, "deny", r2, "--reviewer", "bob", "--reason", "no case number given")
        m = wait_ctl(wa, c2)
        assert m.body.startswith("DENIED AFTER REVIEW BY WA: REVIEW NO. %s" % r2), m.body
        assert "REASON: no case number given" in m.body and oln not in m.body, m.body

        # two-person rule
        c3, r3 = held(dh, "DQ.IDCBP0100.WA", "OLN/%s" % oln)
        p = review(gw, "approve", r3, "--reviewer", "bob", "--reason", "port of entry check")
        assert "first approval recorded (bob)" in p.stdout, p.stdout
        dh.expect_nothing(0.5)
        p = review(gw, "approve", r3, "--reviewer", "BOB", "--reason", "again", check=False)
        assert p.returncode != 0 and "second, different reviewer" in p.stderr, p.stderr
        s = json.loads(review(gw, "show", r3, "--json").stdout)
        assert s["status"] == "held" and s["two_person"] and s["first_approval_by"] == "bob", s
        review(gw, "approve", r3, "--reviewer", "dave", "--redact", "photo",
               "--reason", "agree")
        m = wait_ctl(dh, c3)
        assert m.body.startswith("RELEASED AFTER REVIEW BY WA") and "OLN: %s" % oln in m.body, \
            m.body
        s = json.loads(review(gw, "show", r3, "--json").stdout)
        assert s["status"] == "approved" and s["decided_by"] == "bob, dave", s

        # deadlines: then permit -> released (photo withheld), then forbid -> denied
        m = wait_ctl(orl, c_or, timeout=90)
        assert m.body.startswith("REVIEW NO. %s TIMED OUT: RELEASED BY WA POLICY (TIMEOUT" %
                                 r_or), m.body
        assert "OLN: %s" % oln in m.body and "photo (oregon-quick)" in m.body, m.body
        m = wait_ctl(idl, c_id, timeout=30)
        assert m.body.startswith("REVIEW NO. %s TIMED OUT: DENIED BY WA POLICY (TIMEOUT" %
                                 r_id), m.body
        assert oln not in m.body, m.body
        p = review(gw, "approve", r_id, "--reviewer", "bob", "--reason", "late", check=False)
        assert p.returncode != 0 and "timed-out" in p.stderr, p.stderr
        p = review(gw, "list")
        assert p.stdout.strip().endswith("0 held for review"), p.stdout
        p = review(gw, "list", "--all", "--json")
        st = {x["id"]: x["status"] for x in json.loads(p.stdout)}
        assert st == {r_or: "timed-out", r_id: "timed-out", r1: "approved", r2: "denied",
                      r3: "approved"}, st
        gw.wait_log(r"review %s: timed out, denied" % r_id)
        time.sleep(0.5)
        gw.stop()
        verify_log(gw)
        es = entries(gw)
        rv = [(e.get("actor"), e.get("action"), e.get("notice_id")) for e in es
              if e.get("type") == "review"]
        for want in [("bob", "approve-redact", r1), ("bob", "deny", r2),
                     ("bob", "approve-1of2", r3), ("dave", "approve-redact", r3),
                     ("(deadline)", "timeout", r_or), ("(deadline)", "timeout", r_id)]:
            assert want in rv, (want, rv)
        assert len(rv) == 6, rv
        # one counted outcome per query (docs/audit-format.md §9): held on the hold entry,
        # the result on the review entry; the reply after review is "ok"
        outc = {(e.get("action"), e.get("notice_id")): e.get("outcome") for e in es
                if e.get("type") == "review"}
        assert outc[("approve-redact", r1)] == "redacted", outc
        assert outc[("deny", r2)] == "denied" and outc[("timeout", r_id)] == "timed-out"
        assert outc[("approve-1of2", r3)] == "ok", outc
        rel = [e for e in es if e.get("type") == "release" and e.get("notice_id") == r1]
        assert len(rel) == 1 and rel[0].get("outcome") == "ok", rel
        assert "address" in rel[0].get("withheld", []), rel
        assert oln not in json.dumps(es), "personal data in the clear in the log"
        ok = True
    finally:
        close(net, gw, ok)


def test_decision_while_stopped_sent_once():
    ok = False
    net, gw = setup()
    try:
        oln = driver(gw, 3)[0]
        wa = net.line("WA")
        c, r = held(wa, "DQ.WATF00100.WA", "OLN/%s" % oln)
        gw.stop()
        p = review(gw, "approve", r, "--reviewer", "bob", "--reason", "checked")
        assert "approved by bob" in p.stdout, p.stdout
        gw.start()
        m = wait_ctl(wa, c)
        assert m.body.startswith("RELEASED AFTER REVIEW BY WA: REVIEW NO. %s" % r), m.body
        wa.expect_nothing(1.5)
        gw.wait_log(r"review %s: approved; reply queued" % r)
        # wait until the hub's TCP has acknowledged it (sent_us set)
        dbp = os.path.join(gw.dir, "data", "gateway.db")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            con = sqlite3.connect(dbp)
            sent = con.execute("SELECT sent_us FROM review WHERE id = ?",
                               (int(r.split("R")[1]),)).fetchone()[0]
            con.close()
            if sent:
                break
            time.sleep(0.05)
        assert sent, "reply never marked sent"
        gw.stop()
        gw.start()
        wa.expect_nothing(1.5)
        assert gw.count_log(r"review %s" % r) == 0, gw.log
        gw.stop()
        verify_log(gw)
        es = entries(gw)
        assert len([e for e in es if e.get("type") == "review"]) == 1, es
        ok = True
    finally:
        close(net, gw, ok)


def expected_due(days, holidays):
    d = datetime.date.fromtimestamp(time.time())
    n = 0
    while n < days:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            n += 1
    return d


def test_notices():
    ok = False
    today = datetime.date.fromtimestamp(time.time())
    # the next two weekdays are holidays: 5 business days then span a weekend and both
    hol = []
    d = today
    while len(hol) < 2:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5:
            hol.append(d)
    policy = POLICY + """
rule fbi-notice "Test: FBI requests are answered and the person is told"
  permit when requester.parent under "DOJ/FBI"
  redact ssn
  notify subject within 5 business days
"""
    extra = EXTRA + "holidays = %s\n" % " ".join(x.isoformat() for x in hol)
    net, gw = setup(policy, extra)
    try:
        oln, ssn, street, first, last = driver(gw, 5)
        fbi = net.line("DJ")
        c = send(fbi, "DQ.VATEST0F0.WA", "OLN/%s" % oln)
        m = wait_ctl(fbi, c)
        assert "OLN: %s" % oln in m.body and "SSN: WITHHELD" in m.body, m.body
        p = review(gw, "notices", "--json")
        ns = json.loads(p.stdout)
        assert len(ns) == 1, ns
        n = ns[0]
        due = expected_due(5, hol)
        assert (due - today).days >= 7, (due, today)  # a weekend and two holidays
        assert n["due"] == due.isoformat() and n["status"] == "due", (n, due)
        assert n["ori"] == "VATEST0F0" and n["parent"] == "DOJ/FBI" and n["type"] == "FE", n
        assert n["rule"] == "fbi-notice" and n["days"] == 5 and n["business"], n
        assert "license" in n["released"] and "ssn" not in n["released"], n
        assert oln not in p.stdout and last not in p.stdout, "personal data in the list"
        assert json.loads(review(gw, "notices", "--overdue", "--json").stdout) == []
        assert len(json.loads(review(gw, "notices", "--due", "--json").stdout)) == 1
        p = review(gw, "notices")
        assert n["id"] in p.stdout and "1 notice" in p.stdout, p.stdout

        # a readable outbox is refused; nothing is marked sent
        bad = os.path.join(gw.dir, "open-outbox")
        os.mkdir(bad, 0o755)
        os.chmod(bad, 0o755)
        p = review(gw, "notices", "send", "--outbox", bad, check=False)
        assert p.returncode != 0 and "readable by its owner only" in p.stderr, p.stderr
        assert os.listdir(bad) == []
        box = os.path.join(gw.dir, "outbox")
        p = review(gw, "notices", "send", "--outbox", box, "--sender", "WA DOL Privacy Office")
        assert "1 letter written" in p.stdout, p.stdout
        assert stat.S_IMODE(os.stat(box).st_mode) == 0o700
        assert sorted(os.listdir(box)) == ["%s.html" % n["id"], "%s.txt" % n["id"]], \
            os.listdir(box)
        txt = open(os.path.join(box, "%s.txt" % n["id"])).read()
        html = open(os.path.join(box, "%s.html" % n["id"])).read()
        assert first in txt and last in txt and street in txt, txt
        assert "VATEST0F0" in txt and "DOJ/FBI" in txt and "WA DOL Privacy Office" in txt, txt
        assert "your licence number" in txt and "Social Security" not in txt, txt
        assert ssn not in txt and oln not in txt, txt
        assert html.startswith("<!DOCTYPE html>") and last in html and "<address>" in html, html
        assert json.loads(review(gw, "notices", "--json").stdout) == []
        alln = json.loads(review(gw, "notices", "--all", "--json").stdout)
        assert len(alln) == 1 and alln[0]["status"] == "sent", alln
        p = review(gw, "notices", "send", "--outbox", box)
        assert "0 letters written" in p.stdout, p.stdout
        # the gateway writes the notice-sent entry
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            con = sqlite3.connect(os.path.join(gw.dir, "data", "gateway.db"))
            a = con.execute("SELECT audited_sent FROM notice").fetchone()[0]
            con.close()
            if a:
                break
            time.sleep(0.05)
        assert a == 1
        gw.stop()
        # nothing lost across a restart
        gw.start()
        alln = json.loads(review(gw, "notices", "--all", "--json").stdout)
        assert len(alln) == 1 and alln[0]["status"] == "sent", alln
        gw.stop()
        verify_log(gw)
        es = entries(gw)
        cr = [e for e in es if e.get("type") == "notice-created"]
        se = [e for e in es if e.get("type") == "notice-sent"]
        assert len(cr) == 1 and cr[0].get("notice_id") == n["id"], cr
        assert len(se) == 1 and se[0].get("actor") == "WA DOL Privacy Office", se
        assert "outcome" not in cr[0] and se[0].get("outcome") == "noticed", (cr, se)
        assert cr[0].get("rules") == ["fbi-notice"] and cr[0].get("ori") == "VATEST0F0", cr
        assert oln not in json.dumps(es) and last not in json.dumps(es)
        ok = True
    finally:
        close(net, gw, ok)


def test_retention():
    """A-3, P-19: gateway.db keeps a request and a notice only for retention_days after
    they are done; then the gateway deletes them (the held request and anything not yet
    in the audit log stay), says so in a system entry, and the file keeps no copy of the
    licence number.  Time is moved by back-dating the rows while the gateway is stopped."""
    ok = False
    policy = POLICY + """
rule fbi-notice "Test: FBI requests are answered and the person is told"
  permit when requester.parent under "DOJ/FBI"
  notify subject within 5 business days
"""
    net, gw = setup(policy, EXTRA + "retention_days = 30\n")
    dbp = os.path.join(gw.dir, "data", "gateway.db")

    def rows(sql):
        con = sqlite3.connect(dbp)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    try:
        oln, ssn, street, first, last = driver(gw, 3)
        oln2 = driver(gw, 4)[0]
        wa, dh, fbi = net.line("WA"), net.line("DH"), net.line("DJ")
        # a review approved and answered, one still held, a notice sent
        c1, r1 = held(wa, "DQ.WATF00100.WA", "OLN/%s.CAS/24-0001" % oln)
        review(gw, "approve", r1, "--reviewer", "bob", "--reason", "case checked")
        wait_ctl(wa, c1)
        held(dh, "DQ.IDCBP0100.WA", "OLN/%s" % oln2)
        c = send(fbi, "DQ.VATEST0F0.WA", "OLN/%s" % oln)
        wait_ctl(fbi, c)
        review(gw, "notices", "send", "--outbox", os.path.join(gw.dir, "outbox"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = rows("SELECT (SELECT count(*) FROM review WHERE sent_us IS NOT NULL),"
                        " (SELECT count(*) FROM notice WHERE audited_sent = 1),"
                        " (SELECT count(*) FROM review_action WHERE audited = 0)")[0]
            if done == (1, 2, 0):   # the approval's notice and the FBI one, both sent
                break
            time.sleep(0.05)
        assert done == (1, 2, 0), done
        gw.stop()
        # nothing is old enough yet: a restart deletes nothing
        gw.start()
        time.sleep(0.5)
        gw.stop()
        assert rows("SELECT count(*) FROM review")[0][0] == 2
        assert gw.count_log(r"retention:") == 0
        # 31 days pass for everything (the held request too: it is not done, so it stays)
        day = 86400 * 1000000
        con = sqlite3.connect(dbp)
        con.execute("UPDATE review SET received_us = received_us - 31 * ?,"
                    " decided_us = decided_us - 31 * ?, sent_us = sent_us - 31 * ?",
                    (day, day, day))
        con.execute("UPDATE notice SET created_us = created_us - 31 * ?,"
                    " sent_us = sent_us - 31 * ?", (day, day))
        # and 1,200 more such notices: more than one pass (500 rows) deletes
        cols = [r[1] for r in con.execute("PRAGMA table_info(notice)") if r[1] != "id"]
        con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                    " WHERE i < 600) INSERT INTO notice(%s) SELECT %s FROM notice, n"
                    % (", ".join(cols), ", ".join(cols)))
        con.commit()
        con.close()
        assert rows("SELECT count(*) FROM notice")[0][0] == 1202
        gw.start()
        gw.wait_log(r"retention: 1 review and 1202 notices done more than 30 days ago deleted")
        gw.stop()
        assert rows("SELECT status FROM review") == [("held",)], rows("SELECT * FROM review")
        assert rows("SELECT count(*) FROM notice")[0][0] == 0
        assert rows("SELECT count(*) FROM review_action")[0][0] == 0
        # the approved request's licence number is gone from the file, not only unlinked
        # (the held one's, oln2, is still there: the check can fail)
        with open(dbp, "rb") as f:
            raw = f.read()
        assert oln2.encode() in raw
        assert oln.encode() not in raw, "a deleted row's licence number is still in the file"
        verify_log(gw)
        es = [e for e in entries(gw) if e.get("type") == "system" and
              e.get("action") == "retention"]
        assert len(es) == 1 and "1 review and 1202 notices" in es[0].get("text", ""), es
        ok = True
    finally:
        close(net, gw, ok)


OPEN = "state WA\ndefault permit\n"
NO_OREGON = OPEN + """
rule no-oregon "Test: Oregon requesters are cut off"
  forbid when requester.state = OR
"""


def test_policy_apply():
    ok = False
    net, gw = setup(OPEN, "")
    try:
        oln = driver(gw)[0]
        orl, wa = net.line("OR"), net.line("WA")
        m = wait_ctl(orl, send(orl, "DQ.ORTEST000.WA", "OLN/%s" % oln))
        assert "OLN: %s" % oln in m.body, m.body
        good = os.path.join(net.dir, "draft.policy")
        with open(good, "w") as f:
            f.write(NO_OREGON)
        p = h.run(["policy", "apply", good, "--config", gw.conf, "--author", "alice"])
        assert "author alice" in p.stdout, p.stdout
        assert open(gw.policy_path).read() == NO_OREGON
        gw.wait_log(r"policy .* in force: 1 rules", 5)
        m = wait_ctl(orl, send(orl, "DQ.ORTEST000.WA", "OLN/%s" % oln))
        assert m.body.startswith("DENIED BY WA POLICY no-oregon"), m.body
        # a broken file is refused; the file and the policy in force stay
        broken = os.path.join(net.dir, "broken.policy")
        with open(broken, "w") as f:
            f.write(OPEN + "\nrule x \"oops\"\n  forbid when requestor.state = OR\n")
        p = h.run(["policy", "apply", broken, "--config", gw.conf, "--author", "mallory"],
                  check=False)
        assert p.returncode != 0 and "NOT applied" in p.stderr, p.stderr
        assert re.search(r"broken\.policy:5:\d+: error", p.stderr), p.stderr
        assert open(gw.policy_path).read() == NO_OREGON
        other = os.path.join(net.dir, "or.policy")
        with open(other, "w") as f:
            f.write("state OR\ndefault permit\n")
        p = h.run(["policy", "apply", other, "--config", gw.conf], check=False)
        assert p.returncode != 0 and "is for state OR" in p.stderr, p.stderr
        time.sleep(0.5)
        m = wait_ctl(orl, send(orl, "DQ.ORTEST000.WA", "OLN/%s" % oln))
        assert m.body.startswith("DENIED BY WA POLICY no-oregon"), m.body
        m = wait_ctl(wa, send(wa, "DQ.WATEST000.WA", "OLN/%s" % oln))
        assert "OLN: %s" % oln in m.body, m.body
        gw.stop()
        es = entries(gw)
        pc = [e for e in es if e.get("type") == "policy-change"]
        assert len(pc) == 1 and pc[0].get("actor") == "alice", pc
        # both refusals are in the log (P-33: an attempt at another state's rules too)
        rf = [e for e in es if e.get("type") == "admin" and
              e.get("action") == "policy-apply-refused"]
        assert len(rf) == 2 and all(e.get("outcome") == "failed" for e in rf), rf
        assert rf[0].get("actor") == "mallory" and "does not check" in rf[0]["text"], rf
        assert rf[1].get("actor") == (os.environ.get("USER") or "unknown"), rf  # no --author
        assert "rules for state OR" in rf[1]["text"] and "answers for WA" in rf[1]["text"], rf
        ok = True
    finally:
        close(net, gw, ok)


def test_personal_read_is_logged():
    """P-18: reading an entry's personal data (`audit personal`) is itself in the log: the
    tool records the read (reader, reason) in gateway.db before it decrypts anything, and
    the gateway writes it as an admin entry; without --config it refuses, unless the
    reader says the copy is away from its gateway (--unrecorded)."""
    ok = False
    net, gw = setup(OPEN, "")
    try:
        oln = driver(gw)[0]
        wa = net.line("WA")
        m = wait_ctl(wa, send(wa, "DQ.WATEST000.WA", "OLN/%s" % oln))
        assert "OLN: %s" % oln in m.body, m.body
        q = [e for e in entries(gw) if e.get("type") == "query" and "personal_hash" in e]
        assert q, entries(gw)
        idx = str(q[-1]["index"])
        p = h.run(["audit", "personal", gw.audit, "--index", idx], check=False)
        assert p.returncode == 2 and "--config" in p.stderr and oln not in p.stdout, p
        p = h.run(["audit", "personal", gw.audit, "--index", idx, "--config", gw.conf],
                  check=False)
        assert p.returncode == 2 and "written reason is required" in p.stderr, p.stderr
        other = os.path.join(net.dir, "copy-of-log")
        shutil.copytree(gw.audit, other)
        p = h.run(["audit", "personal", other, "--index", idx, "--config", gw.conf,
                   "--reason", "x"], check=False)
        assert p.returncode == 1 and "is not the audit log of the gateway" in p.stderr, p
        assert oln not in p.stdout
        p = h.run(["audit", "personal", other, "--index", idx, "--unrecorded"])
        assert oln in p.stdout and "recorded nowhere" in p.stderr, p
        p = h.run(["audit", "personal", gw.audit, "--index", idx, "--config", gw.conf,
                   "--reader", "alice", "--reason", "subject access request 2026-114"])
        assert oln in p.stdout, p.stdout
        deadline = time.monotonic() + 10
        rd = []
        while time.monotonic() < deadline and not rd:
            rd = [e for e in entries(gw) if e.get("type") == "admin" and
                  e.get("action") == "personal-read"]
            time.sleep(0.1)
        assert len(rd) == 1 and rd[0].get("actor") == "alice", rd
        assert rd[0].get("outcome") == "ok" and "entry %s" % idx in rd[0]["text"], rd
        assert "subject access request 2026-114" in rd[0]["text"], rd
        assert oln not in json.dumps(rd), "the licence number in the log's entry"
        gw.stop()
        verify_log(gw)
        ok = True
    finally:
        close(net, gw, ok)


def test_policy_simulate():
    ok = False
    net, gw = setup(OPEN, "")
    try:
        oln = driver(gw)[0]
        dh, orl, wa, dj = net.line("DH"), net.line("OR"), net.line("WA"), net.line("DJ")
        mix = [(dh, "DQ.IDCBP0100.WA")] * 3 + [(orl, "DQ.ORTEST000.WA")] * 2 + \
              [(wa, "DQ.WATEST000.WA")] * 4 + [(dj, "DQ.VATEST0F0.WA")]
        for line, head in mix:
            m = wait_ctl(line, send(line, head, "OLN/%s.RSN/I" % oln))
            assert "OLN: %s" % oln in m.body, m.body
        gw.stop()
        draft = os.path.join(net.dir, "draft.policy")
        with open(draft, "w") as f:
            f.write(OPEN + """
rule no-cbp "Test: no CBP"
  forbid when requester.parent under "DHS/CBP"

rule oregon-review "Test: Oregon is reviewed"
  hold when requester.state = OR
  deadline 72h, then forbid

rule out-of-state "Test: no SSN out of state"
  permit when not in-state
  redact ssn

rule fbi "Test: the person is told of FBI requests with a reason code"
  permit when requester.parent under "DOJ/FBI" and RSN = I
  notify subject within 3 business days
""")
        today = datetime.datetime.now(datetime.timezone.utc).date()
        frm = (today - datetime.timedelta(days=1)).isoformat()
        to = (today + datetime.timedelta(days=1)).isoformat()
        p = h.run(["policy", "simulate", draft, "--against", gw.audit, "--from", frm, "--to",
                   to, "--config", gw.conf, "--minutes-per-review", "30", "--json"])
        r = json.loads(p.stdout)
        assert r["queries"] == 10 and r["changed"] == 6, r
        assert r["all"]["in_force"] == {"released": 10, "denied": 0, "held": 0,
                                        "redacted": 0, "noticed": 0}, r
        assert r["all"]["draft"] == {"released": 5, "denied": 3, "held": 2, "redacted": 1,
                                     "noticed": 1}, r
        bp = r["by_parent"]
        assert bp["DHS/CBP/OFO"]["draft"]["denied"] == 3, bp
        assert bp["DOJ/FBI"]["draft"] == {"released": 1, "denied": 0, "held": 0,
                                          "redacted": 1, "noticed": 1}, bp
        assert bp["(none)"]["draft"]["released"] == 4 and bp["(none)"]["draft"]["held"] == 2
        bt = r["by_type"]
        assert bt["FE"]["draft"]["denied"] == 3 and bt["PD"]["draft"]["released"] == 4, bt
        pl = r["by_place"]
        assert pl["in-state"]["draft"]["released"] == 4, pl
        assert pl["out-of-state"]["draft"]["held"] == 2, pl
        # 2 held x 30 min over 3 days (3/7 week) = 2.33 h a week; none now
        hw = r["review_hours_per_week"]
        assert abs(hw["draft"] - 2 * 0.5 / (3 / 7)) < 0.01 and hw["in_force"] == 0, hw
        # outside the window: nothing
        p = h.run(["policy", "simulate", draft, "--against", gw.audit, "--from", "2020-01-01",
                   "--to", "2020-01-31", "--current", gw.policy_path, "--json"])
        assert json.loads(p.stdout)["queries"] == 0
        p = h.run(["policy", "simulate", draft, "--against", gw.audit, "--from", frm, "--to",
                   to, "--config", gw.conf])
        assert "Review desk: 0.0 hours a week now, 1.2 with the draft" in p.stdout, p.stdout
        assert "DHS/CBP/OFO" in p.stdout, p.stdout
        # a rate rule (P-22): the simulator counts the logged queries as the gateway does,
        # so Washington's third and fourth queries of the hour are the ones held
        rate = os.path.join(net.dir, "rate.policy")
        with open(rate, "w") as f:
            f.write(OPEN + """
rule wa-bulk "Test: more than 2 queries an hour from one Washington ORI go to a person"
  hold when requester.ori = WATEST000 and requester.queries per hour > 2
  deadline 72h, then forbid
""")
        p = h.run(["policy", "simulate", rate, "--against", gw.audit, "--from", frm, "--to",
                   to, "--config", gw.conf, "--json"])
        r = json.loads(p.stdout)
        assert r["queries"] == 10 and r["changed"] == 2, r
        assert r["all"]["draft"]["held"] == 2 and r["all"]["draft"]["released"] == 8, r
        ok = True
    finally:
        close(net, gw, ok)


if __name__ == "__main__":
    h.run_tests([test_holds, test_decision_while_stopped_sent_once, test_notices,
                 test_retention, test_policy_apply, test_personal_read_is_logged,
                 test_policy_simulate],
                per_test_timeout=240)
