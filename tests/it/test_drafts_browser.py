"""Rule drafts in a real browser (Debian's chromium, headless, driven over the DevTools
protocol by tests/it/cdp.py): a rule author logs on with password and TOTP (computed
here), uploads a broken policy file through the file input and sees the error under its
line; writes a "forbid all of DHS" draft in the textarea and sees, on the simulation page,
the DHS rows move to denied; submits it; an approver logs on and approves it; a query
through the hub is then denied by the new rule, and the rule history shows the change.
Screenshots at 1280x800 and 390x844 go to BUILD/screenshots/drafts-*.png.

Skipped (with a message) when /usr/bin/chromium is not installed."""
import os
import re

import cdp
import slharness as h
import test_http as th

th.USERS = [("alice", "author"), ("april", "approver")]

FORBID_DHS = th.WA_POLICY + """
rule no-dhs "Block all of DHS (browser test)"
  forbid when requester.parent under "DHS"
"""

BROKEN = """state WA
default permit

rule typo "a typo in the field name"
  forbid when requestor.type = FE
"""

SHOTS = os.path.join(os.path.dirname(os.path.abspath(h.STATELINE)), "screenshots")


def shoot(b, page, name):
    """The page at 1280x800, then the same URL at 390x844 as a phone (the same tab: a
    background tab may never paint, so a screenshot of it would wait forever)."""
    url = page.url()
    page.screenshot(os.path.join(SHOTS, "drafts-%s-desktop.png" % name))
    page.set_viewport(390, 844, mobile=True)
    page.navigate(url)
    page.screenshot(os.path.join(SHOTS, "drafts-%s-phone.png" % name))
    # readable on a phone: no sideways scrolling of the page (wide tables scroll inside
    # their own box); every field has a label; no script
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 391, (name, wide, page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => "
        "e.getBoundingClientRect().right > 392).slice(0, 8).map(e => e.tagName + '.' + "
        "e.className + ':' + Math.round(e.getBoundingClientRect().right))"))
    unlabelled = page.evaluate(
        "Array.from(document.querySelectorAll('input:not([type=hidden]),textarea,select'))"
        ".filter(e => !(e.labels && e.labels.length)).map(e => e.name)")
    assert unlabelled == [], (name, unlabelled)
    assert not page.exists("script"), name
    page.set_viewport(1280, 800)
    page.navigate(url)


def log_on(p, base, d, name):
    assert p.navigate(base + "/login") == 200
    p.fill("#user", name)
    p.fill("#password", th.PASSWORD)
    p.fill("#code", d.fresh_code(name))
    p.click("form[action='/login'] button[type=submit]")
    assert p.url().endswith("/briefing"), (p.url(), p.text())


def test_drafts_in_the_browser():
    if not cdp.available():
        print("SKIP browser test: /usr/bin/chromium is not installed (apt-get install "
              "chromium)", flush=True)
        return
    d = th.Desk()
    ok = False
    tmp = os.path.join(d.net.dir, "broken.policy")
    with open(tmp, "w") as f:
        f.write(BROKEN)
    base = "https://127.0.0.1:%d" % d.port
    try:
        with cdp.Browser(ignore_cert_errors=True) as b:
            p = b.page(width=1280, height=800)
            log_on(p, base, d, "alice")
            assert p.navigate(base + "/drafts") == 200
            assert "Rule drafts" in p.text("h1")
            shoot(b, p, "list")
            # upload the broken file through the file input
            doc = p.call("DOM.getDocument")
            node = p.call("DOM.querySelector", nodeId=doc["root"]["nodeId"],
                          selector="form[action='/drafts/upload'] input[type=file]")
            p.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[tmp])
            p.fill("form[action='/drafts/upload'] input[name=name]", "broken upload")
            p.click("form[action='/drafts/upload'] button[type=submit]")
            assert re.search(r"/drafts/view\?id=\d+$", p.url()), p.url()
            assert p.exists("#L5.flag"), p.text()
            err = p.text("tr.diag-e")
            assert "draft:5:15: error: unknown field 'requestor'" in err, err
            assert "can be saved but not submitted" in p.text()
            shoot(b, p, "broken")
            # a "forbid all of DHS" draft in the textarea
            assert p.navigate(base + "/drafts") == 200
            p.fill("form[action='/drafts/save'] input[name=name]", "block all of DHS")
            p.fill("form[action='/drafts/save'] textarea[name=text]", FORBID_DHS)
            p.click("form[action='/drafts/save'] button[type=submit]")
            view = p.url()
            # no error; one warning: the CBP permit never takes effect under the new forbid
            t = p.text()
            assert "policy check: 0 errors, 1 warning" in t and "cbp-border-duties' never " \
                "takes effect" in t, t
            # the textarea's CRLF line ends are stored as LF: the diff from the policy in
            # force shows only the new rule
            added = p.evaluate("Array.from(document.querySelectorAll('figure.diff ins'))"
                               ".map(e => e.innerText)")
            assert added and all(("no-dhs" in a or "requester.parent under \"DHS\"" in a
                                  or a.strip() == "+") for a in added), added
            assert not p.exists("figure.diff del"), p.text("figure.diff")
            p.click("a[href^='/drafts/simulate']")
            page = p.text()
            assert "What draft" in page and "does not loosen access" in page, page
            assert p.exists("svg[role=img]")
            row = p.evaluate("Array.from(document.querySelectorAll('table.sim tr'))"
                             ".map(r => r.innerText).filter(t => t.startsWith('DHS/CBP/OFO'))")
            # DHS/CBP/OFO: released 1 -> 0, redacted 1 -> 0, denied 0 -> 1
            assert row and re.sub(r"\s+", " ", row[0]).startswith(
                "DHS/CBP/OFO (changes) 1 0 1 0 0 0 0 0 0 1"), row
            shoot(b, p, "simulation")
            # submit with a legal basis
            assert p.navigate(view) == 200
            p.fill("form[action='/drafts/submit'] input[name=basis]", "Executive order 26-4")
            p.click("form[action='/drafts/submit'] button[type=submit]")
            assert "Status: submitted" in p.text(), p.text()
            p.click("form[action='/logout'] button[type=submit]")
            # the approver
            log_on(p, base, d, "april")
            assert p.navigate(view) == 200
            shoot(b, p, "to-approve")
            p.fill("form[action='/drafts/approve'] input[name=reason]",
                   "checked against the order with counsel")
            p.click("form[action='/drafts/approve'] button[type=submit]")
            assert "Status: approved" in p.text(), p.text()
            # in force: a CBP query through the hub is now denied by the new rule
            m = th.h.ask(d.net.line("DH"), "DQ.IDCBP0100.WA.B-000001.TXT\nOLN/%s" % d.oln,
                         "B-000001")
            assert m.body.startswith("DENIED") and "no-dhs" in m.body, m.body
            assert p.navigate(base + "/rules/history") == 200
            t = p.text()
            assert "april" in t and "alice" in t and "Executive order 26-4" in t, t
            assert "rule no-dhs" in p.text("figure.diff")
            shoot(b, p, "history")
        print("screenshots in %s" % SHOTS, flush=True)
        ok = True
    finally:
        d.close(ok)


if __name__ == "__main__":
    h.run_tests([test_drafts_in_the_browser], per_test_timeout=300)
