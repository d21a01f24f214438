"""Black-box tests of rule drafts on the oversight desk (docs/http-api.md §9): every draft
endpoint's roles, CSRF and Origin, bad input answered 4xx with a reason; a broken draft
saved with `policy check`'s diagnostics (the CLI's own messages, line and column) and
refused at submit with its line; the simulation of a "forbid all of DHS" draft against
the gateway's own log, equal to `stateline policy simulate`; submit and approval putting
the draft in force, checked by a query through a real hub line; a loosening draft that
needs a second approver other than the author and the first; a stale draft refused; the
rule history with its diff; and the audit entries (policy-change with author, approvers
and legal basis; draft-* actions)."""
import json
import os
import re
import subprocess
import time
import urllib.parse

import slharness as h
import test_http as th

# the accounts of these tests (test_http's Desk reads its module's USERS)
th.USERS = [("olivia", "official"), ("rita", "reviewer"), ("alice", "author"),
            ("amos", "author"), ("april", "approver"), ("bert", "approver"),
            ("audrey", "auditor")]

FORBID_DHS = th.WA_POLICY + """
rule no-dhs "Test: no Washington driver data for any part of DHS"
  forbid when requester.parent under "DHS"
"""

# line 5 has the typo; the CLI says where and what
BROKEN = """state WA
default permit

rule typo "a typo in the field name"
  forbid when requestor.type = FE
"""

D = []
S = {}


def desk():
    if not D:
        D.append(th.Desk())
    return D[0]


def session(name):
    """One session per account for the whole run (a TOTP step is accepted once)."""
    if name not in S:
        d = desk()
        S[name] = d.login(name, code=name not in ("olivia", "audrey"))
    return S[name]


def api(method, path, user=None, form=None, csrf=True, headers=None):
    d = desk()
    ck = tok = None
    if user:
        ck, tok = session(user)
    form = dict(form or {})
    hd = dict(headers or {})
    if method == "POST" and user and csrf is True:
        hd["X-CSRF-Token"] = tok
    return d.req(method, path, form if method == "POST" else None, cookie=ck, headers=hd)


def save(user, name, text, **extra):
    form = {"name": name, "text": text}
    form.update(extra)
    r, j = api("POST", "/api/drafts/save", user, form)
    assert r.status == 200, (r.status, j)
    return j


def multipart(fields, boundary="----slboundary7MA4YWxk"):
    out = []
    for name, value, filename in fields:
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        out.append("--%s\r\nContent-Disposition: %s\r\n%s\r\n%s\r\n" % (
            boundary, disp, "Content-Type: text/plain\r\n" if filename else "", value))
    out.append("--%s--\r\n" % boundary)
    return "".join(out).encode(), "multipart/form-data; boundary=" + boundary


def ask(line, text):
    """A query through the hub; the gateway's reply."""
    ask.n = getattr(ask, "n", 0) + 1
    c = "D-%08d" % ask.n
    head, _, body = text.partition(".TXT")
    return h.ask(line, "%s.%s.TXT\n%s" % (head, c, body.lstrip(" ")), c)


# ---- tests -----------------------------------------------------------------------------

def test_roles_csrf_and_origin():
    d = desk()
    r, j = d.req("GET", "/api/drafts")
    assert r.status == 401, j
    r, page = d.req("GET", "/drafts")
    assert r.status == 303 and r.getheader("Location") == "/login", r.status
    for who in ("olivia", "rita"):
        r, j = api("GET", "/api/drafts", who)
        assert r.status == 403 and "role" in j["error"], (who, j)
        r, j = api("GET", "/api/drafts/simulate?id=1", who)
        assert r.status == 403, (who, j)
    for who in ("alice", "april", "audrey"):
        r, j = api("GET", "/api/drafts", who)
        assert r.status == 200 and "in_force" in j and "drafts" in j, (who, j)
    r, j = api("GET", "/api/drafts", "alice")
    assert j["in_force"]["text"] == th.WA_POLICY, j["in_force"]
    # only authors save; only approvers decide; approvers and authors may check
    for who in ("april", "audrey", "olivia", "rita"):
        r, j = api("POST", "/api/drafts/save", who, {"name": "x", "text": th.WA_POLICY})
        assert r.status == 403, (who, r.status, j)
    for who in ("alice", "audrey", "rita"):
        r, j = api("POST", "/api/drafts/approve", who, {"id": "1", "reason": "r"})
        assert r.status == 403, (who, r.status, j)
        r, j = api("POST", "/api/drafts/reject", who, {"id": "1", "reason": "r"})
        assert r.status == 403, (who, r.status, j)
    r, j = api("POST", "/api/drafts/check", "april", {"text": th.WA_POLICY})
    assert r.status == 200 and j["errors"] == 0, j
    # CSRF: missing, wrong; a foreign Origin
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "x", "text": th.WA_POLICY},
               csrf=False)
    assert r.status == 403 and "CSRF" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "x", "text": th.WA_POLICY},
               csrf=False, headers={"X-CSRF-Token": "0" * 64})
    assert r.status == 403 and "CSRF" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "x", "text": th.WA_POLICY},
               headers={"Origin": "https://evil.example"})
    assert r.status == 403 and "Origin" in j["error"], j
    body, ctype = multipart([("name", "up", None), ("file", th.WA_POLICY, "wa.policy")])
    ck, _ = session("alice")
    r, j = d.req("POST", "/api/drafts/upload", body, cookie=ck,
                 headers={"Content-Type": ctype})
    assert r.status == 403 and "CSRF" in j["error"], j
    for path in ("/api/drafts/submit", "/api/drafts/approve", "/api/drafts/check"):
        who = "april" if "approve" in path else "alice"
        r, j = api("POST", path, who, {"id": "1", "reason": "r", "text": "x"}, csrf=False)
        assert r.status == 403 and "CSRF" in j["error"], (path, j)
    r, j = api("GET", "/api/drafts/save", "alice")
    assert r.status == 405, j
    # the history is for every role
    for who in ("olivia", "rita", "audrey"):
        r, j = api("GET", "/api/rules/history", who)
        assert r.status == 200 and "changes" in j, (who, j)
    # the pages: forms for the author, none for the approver
    ck, tok = session("alice")
    r, page = d.req("GET", "/drafts", cookie=ck)
    assert r.status == 200 and 'action="/drafts/save"' in page and tok in page, page[:300]
    assert 'enctype="multipart/form-data"' in page and "<script" not in page
    ck, _ = session("april")
    r, page = d.req("GET", "/drafts", cookie=ck)
    assert r.status == 200 and 'action="/drafts/save"' not in page


def test_bad_input():
    r, j = api("POST", "/api/drafts/save", "alice", {"text": th.WA_POLICY})
    assert r.status == 400 and "name" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "x"})
    assert r.status == 400 and "text" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "", "text": "state WA"})
    assert r.status == 400 and "name" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice", {"name": "n" * 65, "text": "state WA"})
    assert r.status == 400 and "64" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice",
               {"name": "x", "text": th.WA_POLICY, "id": "abc"})
    assert r.status == 400 and "id" in j["error"], j
    r, j = api("POST", "/api/drafts/save", "alice",
               {"name": "x", "text": th.WA_POLICY, "id": "999999"})
    assert r.status == 404, j
    d = desk()
    ck, tok = session("alice")
    r, j = d.req("POST", "/api/drafts/save", "name=a&name=b&text=x", cookie=ck,
                 headers={"X-CSRF-Token": tok})
    assert r.status == 400, j
    r, j = d.req("POST", "/api/drafts/save", "name=a&text=state%20WA%FF%FE", cookie=ck,
                 headers={"X-CSRF-Token": tok})
    assert r.status == 400 and "UTF-8" in j["error"], j
    r, j = d.req("POST", "/api/drafts/save", "name=a&text=state%00WA", cookie=ck,
                 headers={"X-CSRF-Token": tok})
    assert r.status == 400, j
    for q in ("", "?id=", "?id=0", "?id=-1", "?id=1x"):
        r, j = api("GET", "/api/drafts/view" + q, "alice")
        assert r.status == 400 and "id" in j["error"], (q, j)
    r, j = api("GET", "/api/drafts/view?id=999999", "alice")
    assert r.status == 404 and "no such draft" in j["error"], j
    r, j = api("POST", "/api/drafts/check", "alice", {})
    assert r.status == 400 and "text" in j["error"], j
    # uploads: not multipart, no boundary, malformed, a field twice
    for ctype, body in (("text/plain", b"state WA"),
                        ("multipart/form-data", b"--x\r\n"),
                        ("multipart/form-data; boundary=zz", b"garbage"),
                        ("multipart/form-data; boundary=zz",
                         b"--zz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\na\r\n"
                         b"--zz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nb\r\n"
                         b"--zz--\r\n")):
        r, j = d.req("POST", "/api/drafts/upload", body, cookie=ck,
                     headers={"Content-Type": ctype, "X-CSRF-Token": tok})
        assert r.status == 400, (ctype, body, j)
    j = save("alice", "for bad input", FORBID_DHS)
    for form, word in (({"id": str(j["id"])}, "basis"),
                       ({"id": str(j["id"]), "basis": "x" * 257}, "basis"),
                       ({"basis": "b"}, "id")):
        r, e = api("POST", "/api/drafts/submit", "alice", form)
        assert r.status == 400 and word in e["error"], (form, e)
    r, e = api("POST", "/api/drafts/approve", "april", {"id": str(j["id"])})
    assert r.status == 400 and "reason" in e["error"], e
    r, e = api("POST", "/api/drafts/approve", "april", {"id": str(j["id"]), "reason": "ok"})
    assert r.status == 409 and "not waiting" in e["error"], e
    # another author may not submit or overwrite it
    r, e = api("POST", "/api/drafts/submit", "amos", {"id": str(j["id"]), "basis": "b"})
    assert r.status == 403, e
    r, e = api("POST", "/api/drafts/save", "amos",
               {"id": str(j["id"]), "name": "mine", "text": th.WA_POLICY})
    assert r.status == 403, e
    # the policy in force itself changes nothing
    s2 = save("alice", "no change", th.WA_POLICY)
    r, e = api("POST", "/api/drafts/submit", "alice", {"id": str(s2["id"]), "basis": "b"})
    assert r.status == 409 and "nothing would change" in e["error"], e


def test_broken_draft():
    d = desk()
    j = save("alice", "broken", BROKEN)
    assert j["errors"] >= 1, j
    e = [x for x in j["diagnostics"] if x["level"] == "error"][0]
    assert e["line"] == 5 and e["column"] == 15, e
    # the same message as `stateline policy check`
    path = os.path.join(d.net.dir, "draft")
    with open(path, "w") as f:
        f.write(BROKEN)
    p = h.run(["policy", "check", path], check=False)
    assert p.returncode == 1 and e["text"] in p.stderr, (e["text"], p.stderr)
    r, v = api("GET", "/api/drafts/view?id=%d" % j["id"], "alice")
    assert r.status == 200 and v["draft"]["text"] == BROKEN and v["draft"]["errors"] >= 1, v
    ck, _ = session("alice")
    r, page = d.req("GET", "/drafts/view?id=%d" % j["id"], cookie=ck)
    assert r.status == 200 and 'id="L5" class="flag"' in page, page
    assert "draft:5:15: error: unknown field" in page and "can be saved but not submitted" in page
    r, e2 = api("POST", "/api/drafts/submit", "alice", {"id": str(j["id"]), "basis": "test"})
    assert r.status == 422 and "draft:5:15: error" in e2["error"], e2
    r, e2 = api("GET", "/api/drafts/simulate?id=%d" % j["id"], "alice")
    assert r.status == 422 and "draft:5:15" in e2["error"], e2
    # the same through the upload form (multipart), and the check endpoint
    ck, tok = session("alice")
    body, ctype = multipart([("csrf", tok, None), ("name", "broken upload", None),
                             ("file", BROKEN, "broken.policy")])
    r, u = d.req("POST", "/drafts/upload", body, cookie=ck, headers={"Content-Type": ctype})
    assert r.status == 303, (r.status, u)
    m = re.match(r"/drafts/view\?id=(\d+)$", r.getheader("Location"))
    assert m, r.getheader("Location")
    r, v = api("GET", "/api/drafts/view?id=" + m.group(1), "alice")
    assert v["draft"]["text"] == BROKEN and v["draft"]["name"] == "broken upload", v
    # CRLF line ends (a browser's textarea) are stored as LF: the same text, the same hash
    k = save("alice", "crlf", BROKEN.replace("\n", "\r\n"))
    r, v = api("GET", "/api/drafts/view?id=%d" % k["id"], "alice")
    assert v["draft"]["text"] == BROKEN and k["sha256"] == j["sha256"], (k, j)
    r, c = api("POST", "/api/drafts/check", "alice", {"text": BROKEN})
    assert r.status == 200 and c["diagnostics"][0]["text"] == e["text"], c


def test_simulate_forbid_all_dhs():
    d = desk()
    j = save("alice", "forbid all of DHS", FORBID_DHS)
    assert j["errors"] == 0, j
    r, s = api("GET", "/api/drafts/simulate?id=%d" % j["id"], "alice")
    assert r.status == 200, s
    sim = s["simulation"]
    assert sim["queries"] >= d.sent, sim
    cbp = sim["by_parent"]["DHS/CBP/OFO"]
    assert cbp["in_force"]["released"] == 1 and cbp["in_force"]["redacted"] == 1, cbp
    assert cbp["draft"]["denied"] == 1 and cbp["draft"]["released"] == 0, cbp
    ero = sim["by_parent"]["DHS/ICE/ERO"]
    assert ero["in_force"]["denied"] == 2 and ero["draft"]["denied"] == 2, ero
    assert sim["changed"] == 1 and sim["loosened"] == 0, sim
    assert s["loosens"] is False and s["loosens_because"] == [], s
    cells = {(c["row"], c["class"]): c for c in s["who_can_see_what_changes"]}
    assert cells[("cbp", "identity")]["draft"] == "denied", cells
    assert not any(c["opens"] for c in cells.values()), cells
    # the same numbers as `stateline policy simulate` on the same log
    path = os.path.join(d.net.dir, "forbid-dhs.policy")
    with open(path, "w") as f:
        f.write(FORBID_DHS)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    p = h.run(["policy", "simulate", path, "--against", d.gw.audit, "--from", today, "--to",
               today, "--config", d.gw.conf, "--json"])
    cli = json.loads(p.stdout)
    assert cli["by_parent"] == sim["by_parent"] and cli["all"] == sim["all"], (cli, sim)
    ck, _ = session("alice")
    r, page = d.req("GET", "/drafts/simulate?id=%d" % j["id"], cookie=ck)
    assert r.status == 200 and "<svg" in page and "DHS/CBP/OFO" in page, page[:500]
    assert "hours a week now" in page and "does not loosen access" in page


def test_submit_approve_in_force():
    d = desk()
    j = save("alice", "forbid all of DHS, to approve", FORBID_DHS)
    r, s = api("POST", "/api/drafts/submit", "alice",
               {"id": str(j["id"]), "basis": "Test order 2026-1: no data for DHS"})
    assert r.status == 200 and s["status"] == "submitted" and s["loosens"] is False, s
    line = d.net.line("DH")
    assert "ADDRESS: WITHHELD" in ask(line, "DQ.IDCBP0100.WA.TXT OLN/%s" % d.oln).body
    r, a = api("POST", "/api/drafts/approve", "april",
               {"id": str(j["id"]), "reason": "read with the AG's office"})
    assert r.status == 200 and a["status"] == "approved" and a["approvers"] == "april", a
    # the answer comes when the gateway has it in force; the claim is "within a second"
    assert a["in_force"] is True and a["in_force_after_ms"] >= 0, a
    m = ask(line, "DQ.IDCBP0100.WA.TXT OLN/%s" % d.oln)
    assert m.body.startswith("DENIED") and "no-dhs" in m.body, m.body
    with open(d.gw.policy_path) as f:
        assert f.read() == FORBID_DHS
    r, v = api("GET", "/api/drafts/view?id=%d" % j["id"], "april")
    assert v["draft"]["status"] == "approved" and "applied" in v["draft"], v["draft"]
    assert [x["action"] for x in v["actions"]] == ["save", "submit", "approve"], v["actions"]
    r, e = api("POST", "/api/drafts/approve", "bert", {"id": str(j["id"]), "reason": "again"})
    assert r.status == 409, e
    r, e = api("POST", "/api/drafts/save", "alice",
               {"id": str(j["id"]), "name": "x", "text": th.WA_POLICY})
    assert r.status == 409, e


def test_loosening_needs_a_second_approver():
    d = desk()
    # back to the WA policy without the civil-immigration rule: loosens (ICE ERO released)
    loose = th.WA_POLICY.replace(
        'rule no-civil-immigration "Keep Washington Working Act: no DOL data for civil '
        'immigration enforcement"\n  forbid when requester.parent under ("DHS/ICE/ERO", '
        '"DHS/ICE/HSI")\n', "")
    assert loose != th.WA_POLICY
    j = save("amos", "loosen", loose)
    r, s = api("POST", "/api/drafts/submit", "amos", {"id": str(j["id"]), "basis": "Test 2"})
    assert r.status == 200 and s["loosens"] is True, s
    why = s["loosens_because"]
    assert "forbid rule no-civil-immigration is removed" in why and "forbid rule no-dhs is " \
        "removed" in why and "who can see what" in why and "more openly" in why, why
    r, a = api("POST", "/api/drafts/approve", "april", {"id": str(j["id"]), "reason": "one"})
    assert r.status == 200 and a["status"] == "approved-1of2", a
    line = d.net.line("DH")
    assert ask(line, "DQ.WAERO0100.WA.TXT OLN/%s" % d.oln).body.startswith("DENIED")
    r, e = api("POST", "/api/drafts/approve", "april", {"id": str(j["id"]), "reason": "two"})
    assert r.status == 403 and "another approver" in e["error"], e
    r, a = api("POST", "/api/drafts/approve", "bert", {"id": str(j["id"]), "reason": "two"})
    assert r.status == 200 and a["status"] == "approved" and a["approvers"] == "april, bert", a
    assert a["in_force"] is True, a
    # no longer denied: the task-force rule (its directory tag) now holds it for review
    m = ask(line, "DQ.WAERO0100.WA.TXT OLN/%s" % d.oln)
    assert m.body.startswith("HELD FOR REVIEW BY WA POLICY immigration-task-forces"), m.body


def test_reject_and_stale():
    j = save("alice", "reject me", FORBID_DHS)
    k = save("alice", "stale", FORBID_DHS + "\n# another\n")
    for x in (j, k):
        r, s = api("POST", "/api/drafts/submit", "alice", {"id": str(x["id"]), "basis": "b"})
        assert r.status == 200, s
    r, e = api("POST", "/api/drafts/reject", "april", {"id": str(j["id"])})
    assert r.status == 400 and "reason" in e["error"], e
    r, e = api("POST", "/api/drafts/reject", "april", {"id": str(j["id"]), "reason": "no"})
    assert r.status == 200 and e["status"] == "rejected", e
    r, v = api("GET", "/api/drafts/view?id=%d" % j["id"], "alice")
    assert v["draft"]["status"] == "rejected" and v["actions"][-1]["reason"] == "no", v
    # j can be resubmitted; once it is in force, k (submitted over the old policy) is stale
    r, s = api("POST", "/api/drafts/submit", "alice", {"id": str(j["id"]), "basis": "b2"})
    assert r.status == 200, s
    r, a = api("POST", "/api/drafts/approve", "bert", {"id": str(j["id"]), "reason": "fine"})
    assert r.status == 200 and a["status"] == "approved", a
    r, e = api("POST", "/api/drafts/approve", "april", {"id": str(k["id"]), "reason": "ok"})
    assert r.status == 409 and "changed since" in e["error"], e


def test_rule_history():
    d = desk()
    # three approvals so far; the gateway writes each policy-change entry as it swaps
    for _ in range(50):
        r, j = api("GET", "/api/rules/history", "olivia")
        assert r.status == 200, j
        ch = j["changes"]
        if len(ch) >= 3:
            break
        time.sleep(0.1)
    assert len(ch) == 3, ch
    first = ch[-1]  # oldest: forbid all of DHS, approved by april
    assert first["author"] == "alice" and first["approver"] == "april", first
    assert first["basis"] == "Test order 2026-1: no data for DHS", first
    assert first["texts_kept"] is True, first
    plus = [x["line"] for x in first["diff"] if x["op"] == "+"]
    assert 'rule no-dhs "Test: no Washington driver data for any part of DHS"' in plus, plus
    loosen = [c for c in ch if c["approver"] == "april, bert"]
    assert loosen and loosen[0]["author"] == "amos", ch
    minus = [x["line"] for x in loosen[0]["diff"] if x["op"] == "-"]
    assert any("no-civil-immigration" in x for x in minus), minus
    # the briefing's rule history has the approvers and the basis too
    r, b = api("GET", "/api/briefing", "olivia")
    assert any(x["approver"] == "april" and x["basis"] == "Test order 2026-1: no data for DHS"
               for x in b["rule_history"]), b["rule_history"]
    ck, _ = session("olivia")
    r, page = d.req("GET", "/briefing", cookie=ck)
    assert 'href="/rules/history"' in page
    r, page = d.req("GET", "/rules/history", cookie=ck)
    assert r.status == 200 and "Rule history" in page and "<ins>+ rule no-dhs" in page, page
    assert "april, bert" in page


def test_zz_stop_and_audit_entries():
    d = desk()
    D.clear()
    gw = d.gw
    try:
        gw.stop()
        p = h.run(["audit", "show", gw.audit, "--json"])
        es = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        pc = [e for e in es if e["type"] == "policy-change"]
        assert any(e["actor"] == "alice" and e.get("approver") == "april" and
                   e.get("legal_basis") == "Test order 2026-1: no data for DHS" for e in pc), pc
        assert any(e["actor"] == "amos" and e.get("approver") == "april, bert" for e in pc), pc
        assert all(e.get("policy_before") and e.get("policy_after") for e in pc), pc
        admin = [e for e in es if e["type"] == "admin"]
        acts = {e.get("action") for e in admin}
        assert {"draft-save", "draft-submit", "draft-approve", "draft-approve-1of2",
                "draft-reject"} <= acts, acts
        assert any(e.get("action") == "draft-approve" and e["actor"] == "bert" and
                   "loosens access" in e.get("text", "") for e in admin), admin
        v = h.run(["audit", "verify", gw.audit, "--key", os.path.join(gw.dir, "audit.pub")],
                  check=False)
        assert v.returncode == 0, v.stdout + v.stderr
        d.close(True)
    except BaseException:
        d.close(False)
        raise


if __name__ == "__main__":
    h.run_tests([test_roles_csrf_and_origin, test_bad_input, test_broken_draft,
                 test_simulate_forbid_all_dhs, test_submit_approve_in_force,
                 test_loosening_needs_a_second_approver, test_reject_and_stale,
                 test_rule_history, test_zz_stop_and_audit_entries], per_test_timeout=240)
