"""API tests of the review desk, the notices and the decisions pages (docs/http-api.md
§9, §10), against a real hub, a WA gateway with its desk over HTTPS (the member's desk
certificate, verified by chain and name), and terminal lines that receive the replies:

- roles: reviewer and admin use the desk; official, auditor, author get 403; no session
  401 (API) or 303 to /login (page); the decisions page is for every role;
- every POST refused without the CSRF token, with a wrong one, and from another Origin;
- bad input of every field answered 400 with the field named; unknown review 404; a
  decision on a request no longer held 409;
- approve with redaction: the requester receives the reply with the reviewer's
  redaction; deny with a reason: the requester receives the reason; self-approval (by
  reviewer_links) refused; the two-person rule (the first approval recorded and shown,
  the same reviewer twice refused, the second releases);
- notices: listed, the letter read before and after `send`, letters written and marked
  sent;
- decisions: which rule denied a query (by control field), filters, links to the
  briefing's rule text, no personal data;
- `stateline gateway users code` gives the code the account's app would show, and it
  logs on;
- the audit log has the review entries (actor = the account), the reads and the actions,
  and verifies."""
import os
import re
import time

import slharness as h
from deskenv import Desk, PASSWORD, totp

D = []


def desk():
    if not D:
        D.append(Desk())
        d = D[0]
        d.sessions = {}
        for name in ("rita", "rob", "carol", "olivia", "adam", "audrey", "arthur"):
            d.sessions[name] = d.login(name)
    return D[0]


def api(d, who, method, path, body=None, csrf=True, headers=None):
    ck, tok = d.sessions[who]
    hd = dict(headers or {})
    if method == "POST" and csrf:
        hd["X-CSRF-Token"] = tok
    return d.req(method, path, body, cookie=ck, headers=hd)


def test_roles():
    d = desk()
    _, rid = d.hold_task_force(3)
    for path in ("/api/review", "/api/review/item?id=" + rid, "/api/review/notices",
                 "/api/review/letter?id=WA-N1"):
        r, j = d.req("GET", path)
        assert r.status == 401 and "log-on" in j["error"], (path, j)
        for who in ("olivia", "audrey", "arthur"):
            r, j = api(d, who, "GET", path)
            assert r.status == 403 and "role" in j["error"], (path, who, j)
    for path in ("/api/review/decide", "/api/review/notices/send"):
        r, j = d.req("POST", path, {"id": rid, "action": "deny", "reason": "x"})
        assert r.status == 401, (path, j)
        r, j = api(d, "olivia", "POST", path, {"id": rid, "action": "deny", "reason": "x"})
        assert r.status == 403, (path, j)
    r, _ = d.req("GET", "/review")
    assert r.status == 303 and r.getheader("Location") == "/login"
    for who in ("rita", "adam"):
        r, j = api(d, who, "GET", "/api/review")
        assert r.status == 200 and any(x["id"] == rid for x in j["held"]), (who, j)
    for who in ("olivia", "audrey", "arthur", "rita"):
        r, j = api(d, who, "GET", "/api/decisions")
        assert r.status == 200 and "decisions" in j, (who, j)
    r, j = d.req("GET", "/api/decisions")
    assert r.status == 401, j
    # the navigation shows the desk to those who may use it
    r, page = api(d, "rita", "GET", "/briefing")
    assert 'href="/review"' in page and 'href="/decisions"' in page
    r, page = api(d, "olivia", "GET", "/briefing")
    assert 'href="/review"' not in page and 'href="/decisions"' in page


def test_queue_and_item():
    d = desk()
    c1, r1 = d.hold_task_force(4, cas="24-0444")
    c2, r2 = d.hold_cbp(5)
    r, j = api(d, "rita", "GET", "/api/review")
    assert r.status == 200, j
    ids = [x["id"] for x in j["held"]]
    assert r1 in ids and r2 in ids, ids
    dl = [x["deadline_us"] for x in j["held"]]
    assert dl == sorted(dl), "the queue is sorted by deadline"
    assert all(x["overdue"] is False and x["time_left"] for x in j["held"]), j["held"]
    assert j["two_person"] == "cbp-review" and "notices" in j
    r, o = api(d, "rita", "GET", "/api/review/item?id=" + r1)
    assert r.status == 200, o
    assert o["ori"] == "WATF00100" and o["type"] == "LE" and o["state"] == "WA", o
    assert o["key"] == "DQ" and o["CAS"] == "24-0444" and o["RSN"] == "I" and o["PUR"] == "C"
    assert o["rules"] == ["task-force-review"] and o["status"] == "held", o
    assert "ssn" in o["policy_withholds"] and "ssn" not in o["would_release"], o
    assert "identity" in o["would_release"] and "address" in o["would_release"], o
    assert o["control"] == c1 and d.olns[4] in o["request_text"], o
    assert o["two_person"] is False and o["in_state"] is True, o
    r, o = api(d, "rita", "GET", "/api/review/item?id=" + r2.split("-R")[1])
    assert r.status == 200 and o["id"] == r2 and o["parent"] == "DHS/CBP/OFO", o
    assert o["two_person"] is True and o["first_approval_by"] is None, o
    # the pages: plain HTML with the form, its labels and the CSRF token, no script
    r, page = api(d, "rita", "GET", "/review")
    assert r.status == 200 and r1 in page and "<script" not in page, page[:300]
    assert page.index(r1) < page.index(r2) or dl[0] != min(dl), "order on the page"
    r, page = api(d, "rita", "GET", "/review/item?id=" + r1)
    assert r.status == 200 and 'action="/review/decide"' in page, page[:300]
    assert '<label for="reason">' in page and 'name="redact_address"' in page
    assert d.sessions["rita"][1] in page and "24-0444" in page
    assert 'href="/briefing#rule-task-force-review"' in page


def test_bad_input():
    d = desk()
    _, rid = d.hold_task_force(6)
    bad_get = [("/api/review/item", "id"), ("/api/review/item?id=abc", "id"),
               ("/api/review/item?id=WA-N3", "id"), ("/api/review/item?id=OR-R3", "id"),
               ("/api/review/notices?which=soon", "which"),
               ("/api/review/letter?id=", "id"), ("/api/review/letter?id=WA-R1", "id"),
               ("/api/decisions?outcome=noticed", "outcome"),
               ("/api/decisions?outcome=maybe", "outcome"),
               ("/api/decisions?limit=0", "limit"), ("/api/decisions?limit=x", "limit"),
               ("/api/decisions?rule=a%20b", "rule"), ("/api/decisions?q=a%3Cb", "q"),
               ("/api/decisions?from=2026-02-30", "from"),
               ("/api/decisions?key=ZZ", "key")]
    for path, fieldname in bad_get:
        r, j = api(d, "rita", "GET", path)
        assert r.status == 400 and j["error"].startswith(fieldname), (path, r.status, j)
    r, j = api(d, "rita", "GET", "/api/review/item?id=WA-R99999")
    assert r.status == 404 and "no review" in j["error"], j
    r, j = api(d, "rita", "GET", "/api/review/letter?id=WA-N99999")
    assert r.status == 404 and "no notice" in j["error"], j
    r, page = api(d, "rita", "GET", "/review/item?id=zzz")
    assert r.status == 400 and "review number" in page
    ok = {"id": rid, "action": "deny", "reason": "test"}
    bad_post = [({"action": "deny", "reason": "x"}, "id"),
                ({"id": "WA-X1", "action": "deny", "reason": "x"}, "id"),
                ({"id": rid, "reason": "x"}, "action"),
                ({"id": rid, "action": "maybe", "reason": "x"}, "action"),
                ({"id": rid, "action": "deny"}, "reason"),
                ({"id": rid, "action": "deny", "reason": "  \n "}, "reason"),
                ({"id": rid, "action": "deny", "reason": "x" * 1001}, "reason"),
                ({"id": rid, "action": "approve", "reason": "x", "redact": "fingerprints"},
                 "redact"),
                ({"id": rid, "action": "approve", "reason": "x", "redact_photo": "maybe"},
                 "redact_photo"),
                ({"id": rid, "action": "deny", "reason": "x", "redact": "photo"}, "redact")]
    for form, fieldname in bad_post:
        r, j = api(d, "rita", "POST", "/api/review/decide", form)
        assert r.status == 400 and j["error"].startswith(fieldname), (form, r.status, j)
    r, j = api(d, "rita", "POST", "/api/review/decide",
               "id=%s&id=%s&action=deny&reason=x" % (rid, rid))
    assert r.status == 400 and "id" in j["error"], j
    r, j = api(d, "rita", "POST", "/api/review/decide", ok, csrf=False)
    assert r.status == 403 and "CSRF" in j["error"], j
    r, j = api(d, "rita", "POST", "/api/review/decide", ok, csrf=False,
               headers={"X-CSRF-Token": "0" * 64})
    assert r.status == 403 and "CSRF" in j["error"], j
    r, j = api(d, "rita", "POST", "/api/review/decide", ok,
               headers={"Origin": "https://evil.example"})
    assert r.status == 403 and "Origin" in j["error"], j
    # the CSRF token of another session does not do
    r, j = api(d, "rita", "POST", "/api/review/decide", ok, csrf=False,
               headers={"X-CSRF-Token": d.sessions["rob"][1]})
    assert r.status == 403, j
    r, j = api(d, "rita", "POST", "/api/review/notices/send", {}, csrf=False)
    assert r.status == 403 and "CSRF" in j["error"], j
    r, j = api(d, "rita", "GET", "/api/review/decide")
    assert r.status == 405 and r.getheader("Allow"), j
    r, j = api(d, "rita", "POST", "/api/review", {})
    assert r.status == 405, j
    # nothing above decided anything
    r, o = api(d, "rita", "GET", "/api/review/item?id=" + rid)
    assert o["status"] == "held", o


def test_approve_with_redaction():
    d = desk()
    c, rid = d.hold_task_force(7)
    r, j = api(d, "rita", "POST", "/api/review/decide",
               {"id": rid, "action": "approve", "reason": "case 24-0001 checked with the lead",
                "redact": "address"})
    assert r.status == 200 and j["result"] == "approved" and j["final"] is True, j
    m = d.wait_ctl(d.wa, c)
    assert m.body.startswith("RELEASED AFTER REVIEW BY WA: REVIEW NO. %s" % rid), m.body
    assert "address (review %s)" % rid in m.body and "ssn (task-force-review)" in m.body, m.body
    r, o = api(d, "rita", "GET", "/api/review/item?id=" + rid)
    assert o["status"] == "approved" and o["decided_by"] == "rita", o
    assert o["extra_redact"] == ["address"], o
    # a decision again: 409, the request is no longer held
    r, j = api(d, "rob", "POST", "/api/review/decide",
               {"id": rid, "action": "deny", "reason": "too late"})
    assert r.status == 409 and "no longer held" in j["error"], j
    d.approved = (c, rid)
    # the HTML form: the check boxes and the buttons, 303 back to the request
    c2, rid2 = d.hold_task_force(8)
    r, _ = api(d, "adam", "POST", "/review/decide",
               {"id": rid2, "action": "approve", "reason": "checked", "redact_photo": "on",
                "redact_dob": "on", "csrf": d.sessions["adam"][1]}, csrf=False)
    assert r.status == 303 and r.getheader("Location") == "/review/item?id=" + rid2
    m = d.wait_ctl(d.wa, c2)
    assert m.body.startswith("RELEASED AFTER REVIEW") and "dob" in m.body, m.body
    r, page = api(d, "adam", "GET", "/review/item?id=" + rid2)
    assert "Decided by adam" in page and 'action="/review/decide"' not in page


def test_deny_with_reason_and_self_approval():
    d = desk()
    c, rid = d.hold_task_force(9)
    r, j = api(d, "carol", "POST", "/api/review/decide",
               {"id": rid, "action": "approve", "reason": "fine"})
    assert r.status == 409 and "linked to the requesting ORI" in j["error"], j
    r, page = api(d, "carol", "POST", "/review/decide",
                  {"id": rid, "action": "approve", "reason": "fine",
                   "csrf": d.sessions["carol"][1]}, csrf=False)
    assert r.status == 409 and "linked to the requesting ORI" in page and rid in page
    r, j = api(d, "rob", "POST", "/api/review/decide",
               {"id": rid, "action": "deny", "reason": "no case number given"})
    assert r.status == 200 and j["result"] == "denied", j
    m = d.wait_ctl(d.wa, c)
    assert m.body.startswith("DENIED AFTER REVIEW BY WA: REVIEW NO. %s" % rid), m.body
    assert "REASON: no case number given" in m.body, m.body
    r, j = api(d, "rob", "GET", "/api/review")
    dec = [x for x in j["decided"] if x["id"] == rid]
    assert dec and dec[0]["status"] == "denied" and dec[0]["decided_by"] == "rob", j["decided"]


def test_two_person_rule():
    d = desk()
    c, rid = d.hold_cbp(10)
    r, j = api(d, "rita", "POST", "/api/review/decide",
               {"id": rid, "action": "approve", "reason": "border duty", "redact": "address"})
    assert r.status == 200 and j["result"] == "first-approval" and j["final"] is False, j
    assert j["review"]["first_approval_by"] == "rita" and j["review"]["status"] == "held", j
    r, page = api(d, "rob", "GET", "/review/item?id=" + rid)
    assert "First approval by rita" in page, page
    r, page = api(d, "rob", "GET", "/review")
    assert "first: rita" in page
    r, j = api(d, "rita", "POST", "/api/review/decide",
               {"id": rid, "action": "approve", "reason": "again"})
    assert r.status == 409 and "already approved" in j["error"], j
    d.dh.expect_nothing(0.3)
    r, j = api(d, "rob", "POST", "/api/review/decide",
               {"id": rid, "action": "approve", "reason": "agreed"})
    assert r.status == 200 and j["result"] == "approved", j
    m = d.wait_ctl(d.dh, c)
    assert m.body.startswith("RELEASED AFTER REVIEW BY WA"), m.body
    # the first reviewer's redaction applies too
    assert "address (review %s)" % rid in m.body, m.body
    r, o = api(d, "rob", "GET", "/api/review/item?id=" + rid)
    assert o["decided_by"] == "rita, rob", o


def test_notices_and_letters():
    d = desk()
    if not hasattr(d, "approved"):
        test_approve_with_redaction()
    r, j = api(d, "rita", "GET", "/api/review/notices")
    assert r.status == 200 and j["which"] == "unsent", j
    ns = [n for n in j["notices"] if n["rule"] == "task-force-review"]
    assert ns and all(n["status"] in ("due", "OVERDUE") for n in ns), j
    assert all("letter" not in n for n in j["notices"])
    nid = ns[0]["id"]
    r, page = api(d, "rita", "GET", "/review/notices")
    assert r.status == 200 and nid in page and 'href="/review/letter?id=%s"' % nid in page
    r, l1 = api(d, "rita", "GET", "/api/review/letter?id=" + nid)
    assert r.status == 200 and l1["sent"] is False and "NOTICE OF A RELEASE" in l1["text"], l1
    assert "WATF00100" in l1["text"] and "task-force-review" in l1["text"], l1
    r, out = api(d, "rita", "POST", "/api/review/notices/send", {})
    assert r.status == 200 and out["letters"] >= 1 and nid in out["output"], out
    r, l2 = api(d, "rita", "GET", "/api/review/letter?id=" + nid)
    assert r.status == 200 and l2["sent"] is True, l2
    # the letter sent is the one the preview showed (same notice, same person)
    strip = lambda t: [x for x in t.splitlines()[3:] if x.strip()]
    assert strip(l1["text"]) == strip(l2["text"]), (l1["text"], l2["text"])
    outbox = os.path.join(d.gw.dir, "data", "outbox")
    assert os.path.exists(os.path.join(outbox, nid + ".txt"))
    assert os.stat(outbox).st_mode & 0o077 == 0
    r, j = api(d, "rita", "GET", "/api/review/notices?which=all")
    assert [n["status"] for n in j["notices"] if n["id"] == nid] == ["sent"], j
    r, j = api(d, "rita", "GET", "/api/review/notices")
    assert nid not in [n["id"] for n in j["notices"]], j
    r, page = api(d, "rita", "POST", "/review/notices/send",
                  {"csrf": d.sessions["rita"][1]}, csrf=False)
    assert r.status == 303 and r.getheader("Location").startswith("/review/notices")


def test_decisions():
    d = desk()
    c = d.deny_ero(11)
    c_or, body = d.ask(d.orl, "DQ.ORTEST000.WA", "OLN/%s" % d.olns[12])
    assert "WITHHELD" in body, body
    time.sleep(1.2)  # the log's reader sees what the last batch made durable
    r, j = api(d, "olivia", "GET", "/api/decisions?q=" + c)
    assert r.status == 200 and len(j["decisions"]) == 1, j
    row = j["decisions"][0]
    assert row["rules"] == ["no-civil-immigration"] and row["outcome"] == "denied", row
    assert row["ori"] == "WAERO0100" and row["parent"] == "DHS/ICE/ERO", row
    assert row["effect"] == "forbid" and row["key"] == "DQ" and row["control"] == c, row
    assert "no-civil-immigration" in j["rules_in_force"], j
    r, j = api(d, "olivia", "GET", "/api/decisions?outcome=denied&agency=DHS/ICE")
    assert r.status == 200 and j["decisions"], j
    assert all(x["outcome"] == "denied" and x["parent"].startswith("DHS/ICE/")
               for x in j["decisions"]), j
    r, j = api(d, "olivia", "GET", "/api/decisions?agency=WAERO0100&limit=1")
    assert len(j["decisions"]) == 1 and j["decisions"][0]["ori"] == "WAERO0100", j
    r, j = api(d, "olivia", "GET", "/api/decisions?q=" + c_or)
    row = j["decisions"][0]
    assert row["outcome"] == "redacted" and row["rules"] == ["photos-stay-home"], row
    r, j = api(d, "olivia", "GET", "/api/decisions?rule=photos-stay-home&key=DQ")
    assert j["decisions"] and all("photos-stay-home" in x["rules"] for x in j["decisions"])
    if hasattr(d, "approved"):
        r, j = api(d, "olivia", "GET", "/api/decisions?q=" + d.approved[0])
        row = j["decisions"][0]
        assert row["outcome"] == "redacted" and row["decided_at_first"] == "held", row
        assert row["review"] == d.approved[1], row
        r, j = api(d, "olivia", "GET", "/api/decisions?outcome=held")
        assert d.approved[0] not in [x["control"] for x in j["decisions"]]
    # no personal data: no licence number, no case number, no officer
    r, raw = api(d, "rita", "GET", "/api/decisions?limit=1000")
    text = str(raw)
    assert not any(o in text for o in d.olns), "a licence number on the decisions page"
    assert "24-0001" not in text and "CAS" not in text
    # the page: each rule links to its text on the briefing, which has the anchor
    r, page = api(d, "olivia", "GET", "/decisions?q=" + c)
    assert r.status == 200 and 'href="/briefing#rule-no-civil-immigration"' in page, page
    assert "<script" not in page and '<label for="outcome">' in page
    r, page = api(d, "olivia", "GET", "/briefing")
    assert 'id="rule-no-civil-immigration"' in page
    r, page = api(d, "olivia", "GET", "/decisions?q=NOSUCH-1")
    assert r.status == 200 and "No decision matches" in page


def test_users_code_cli():
    d = desk()
    # a fresh account, so that no code of its was used yet
    p = h.run(["gateway", "users", "--config", d.gw.conf, "add", "rachel", "--role",
               "reviewer", "--password-stdin"], input=PASSWORD + "\n")
    secret = re.search(r"secret=([A-Z2-7]+)&", p.stdout).group(1)
    t0 = time.time()
    p = h.run(["gateway", "users", "--config", d.gw.conf, "code", "rachel"])
    t1 = time.time()
    code = p.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), p.stdout
    assert code in (totp(secret, t0), totp(secret, t1)), code
    r, j = d.req("POST", "/api/login", {"user": "rachel", "password": PASSWORD, "code": code})
    assert r.status == 200 and j["role"] == "reviewer", j
    p = h.run(["gateway", "users", "--config", d.gw.conf, "code", "nobody"], check=False)
    assert p.returncode == 1 and "no account nobody" in p.stderr, p.stderr
    p = h.run(["gateway", "users", "--config", d.gw.conf, "code"], check=False)
    assert p.returncode == 2 and "NAME is required" in p.stderr, p.stderr


def test_zz_audit_entries():
    d = desk()
    D.clear()
    try:
        d.gw.stop()
        es = d.audit_entries()
        rev = [e for e in es if e["type"] == "review"]
        acts = {(e["actor"], e["action"]) for e in rev}
        for want in (("rita", "approve-redact"), ("rob", "deny"), ("rita", "approve-1of2"),
                     ("rob", "approve"), ("adam", "approve-redact")):
            assert want in acts, (want, acts)
        reads = [e for e in es if e["type"] == "log-read"]
        assert any(e["action"] == "GET /api/review" for e in reads)
        assert any(e["action"] == "GET /api/review/letter" and "letter of notice" in
                   e.get("text", "") for e in reads)
        assert any(e["action"] == "GET /api/decisions" for e in reads)
        admin = [e for e in es if e["type"] == "admin"]
        dec = [e for e in admin if e.get("action") == "review-decide"]
        assert any(e["actor"] == "carol" and e["outcome"] == "failed" for e in dec), dec
        assert any(e.get("action") == "notices-send" and e["actor"] == "rita" for e in admin)
        assert any(e["type"] == "notice-sent" for e in es)
        v = h.run(["audit", "verify", d.gw.audit, "--key",
                   os.path.join(d.gw.dir, "audit.pub")], check=False)
        assert v.returncode == 0, v.stdout + v.stderr
        d.close(True)
    except BaseException:
        d.close(False)
        raise


if __name__ == "__main__":
    h.run_tests([test_roles, test_queue_and_item, test_bad_input, test_approve_with_redaction,
                 test_deny_with_reason_and_self_approval, test_two_person_rule,
                 test_notices_and_letters, test_decisions, test_users_code_cli,
                 test_zz_audit_entries], per_test_timeout=240)
