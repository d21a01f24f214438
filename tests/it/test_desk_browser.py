"""Browser tests of the oversight desk with Debian's chromium, headless, driven over the
DevTools protocol by tests/it/cdp.py (no JavaScript of ours runs in the pages: the
browser submits the forms as a person would):

- log on with the password and the TOTP code computed here;
- approve a held request with a redaction (check box, reason, button) and see the
  requester - a real terminal line on the hub - receive the reply, and the figures change;
- deny one with a written reason, which the requester receives;
- look up which rule denied a query (by its control field) and follow the rule's link to
  its text on the briefing;
- download the CSV (a real download) and check it against `stateline report`;
- every page: labels on every control, no script, no horizontal scrolling on a phone;
  screenshots at 1280x800 and 390x844 in BUILD/screenshots/ (kept by CI).

The browser accepts the desk's certificate by its public key only
(--ignore-certificate-errors-spki-list with the SPKI hash of WA-desk.crt); the Python
side checks the same certificate by chain and name (deskenv.py)."""
import base64
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

import cdp
import slharness as h
from deskenv import Desk, PASSWORD, totp

OUT = os.path.join(os.path.dirname(os.path.abspath(h.STATELINE)), "screenshots")
SIZES = [("desktop", 1280, 800, False), ("phone", 390, 844, True)]

S = {}


def spki_hash(cert_path):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, for chromium's
    --ignore-certificate-errors-spki-list."""
    pem = open(cert_path).read()
    der = ssl.PEM_cert_to_DER_cert(pem)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"],
                       input=der, capture_output=True, check=True)
    p2 = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=p.stdout,
                        capture_output=True, check=True)
    return base64.b64encode(hashlib.sha256(p2.stdout).digest()).decode()


def env():
    if not S:
        d = Desk()
        try:
            crt, _ = d.net.cert_paths("WA", "desk")
            b = cdp.Browser(extra_args=["--ignore-certificate-errors-spki-list=" +
                                        spki_hash(crt)])
        except BaseException:
            d.close(False)
            raise
        S.update(d=d, b=b, pages={})
        S["dl"] = tempfile.mkdtemp(prefix="sl-dl-")
    return S["d"], S["b"]


def page(kind="desktop"):
    d, b = env()
    if kind not in S["pages"]:
        for name, w, hgt, mobile in SIZES:
            if name == kind:
                S["pages"][kind] = b.page(w, hgt, mobile=mobile)
    return S["pages"][kind]


def check_page(p, what):
    """What every page must be: no script, every control labelled, nothing wider than a
    phone's screen outside the scrolling tables."""
    assert p.evaluate("document.scripts.length") == 0, what
    unlabelled = p.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]),select,textarea')]"
        ".filter(e => !e.labels || !e.labels.length).map(e => e.name || e.id)")
    assert unlabelled == [], (what, unlabelled)
    assert p.evaluate("document.documentElement.lang") == "en", what
    wide = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, "%s: the page is %d px wider than the window" % (what, wide)


def shoot(name, url=None):
    """Screenshots of a page at both sizes (the desktop page stays where it was)."""
    where = url or page("desktop").url()[len(S["d"].base):]
    for kind, w, hgt, _ in SIZES:
        p = page(kind)
        if kind != "desktop" or url:
            st = p.navigate(S["d"].base + where)
            assert st == 200, (name, kind, st)
        check_page(p, "%s (%s)" % (name, kind))
        p.screenshot(os.path.join(OUT, "desk-%s-%dx%d.png" % (name, w, hgt)))


def figures_outcomes(p):
    """Today's outcomes as the logged-on browser reads them: the JSON API in a tab of
    its own (the pages' Content-Security-Policy allows no fetch() from a page)."""
    d = S["d"]
    if "api" not in S["pages"]:
        S["pages"]["api"] = S["b"].page(800, 600)
    a = S["pages"]["api"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert a.navigate(d.base + "/api/figures?from=%s&to=%s" % (today, today)) == 200
    return json.loads(a.evaluate("document.body.innerText"))["report"]["outcomes"]


def test_login_with_totp():
    d, b = env()
    p = page()
    assert p.navigate(d.base + "/review") == 200  # after the 303 to /login
    assert p.url().endswith("/login"), p.url()
    shoot("login")
    p.fill("#user", "rita")
    p.fill("#password", PASSWORD)
    p.fill("#code", d.fresh_code("rita"))
    st = p.click("button[type=submit]")
    assert st == 200 and p.url().endswith("/briefing"), (st, p.url(), p.text("main"))
    assert "rita (reviewer)" in p.text("header"), p.text("header")
    shoot("briefing")
    # the phone tab shares the cookie
    pp = page("phone")
    assert pp.navigate(d.base + "/review") == 200 and pp.url().endswith("/review")


def test_approve_and_the_requester_receives_it():
    d, b = env()
    p = page()
    c, rid = d.hold_task_force(13)
    before = figures_outcomes(p)
    assert p.navigate(d.base + "/review") == 200
    assert rid in p.text("main"), p.text("main")
    shoot("review")
    p.click('a[href="/review/item?id=%s"]' % rid)
    assert "Review " + rid in p.text("h1"), p.text("h1")
    shoot("review-item")
    p.fill("#reason", "case checked with the task force lead")
    p.check('input[name="redact_address"]')
    # the keyboard reaches every control of the form in order: reason, boxes, buttons
    seen = []
    for _ in range(20):
        p.press("Tab")
        seen.append(p.evaluate("document.activeElement.name || document.activeElement.id"))
        if seen[-1] == "action":
            break
    assert "redact_address" in seen and seen[-1] == "action", seen
    assert p.evaluate("document.activeElement.id") == "approve", seen
    st = p.click("#approve")
    assert st == 200 and "Decided by rita" in p.text("main"), (st, p.text("main"))
    m = d.wait_ctl(d.wa, c)
    assert m.body.startswith("RELEASED AFTER REVIEW BY WA: REVIEW NO. %s" % rid), m.body
    assert "address (review %s)" % rid in m.body, m.body
    # the figures change: one more query redacted (the review's result), read by the browser
    deadline = time.monotonic() + 10
    while True:
        after = figures_outcomes(p)
        if after.get("redacted", 0) == before.get("redacted", 0) + 1:
            break
        assert time.monotonic() < deadline, (before, after)
        time.sleep(0.3)
    assert p.navigate(d.base + "/review/item?id=" + rid) == 200
    assert "The reply has been sent" in p.text("main") or "sends the reply" in p.text("main")
    S["approved"] = rid


def test_deny_with_a_reason():
    d, b = env()
    p = page()
    c, rid = d.hold_task_force(14)
    assert p.navigate(d.base + "/review/item?id=" + rid) == 200
    # no reason: the browser does not send the form (required field), nothing decided
    p.click("#deny", navigates=False)
    time.sleep(0.3)
    assert p.url().endswith("/review/item?id=" + rid) and "Decided by" not in p.text("main")
    p.fill("#reason", "no case number or legal process given")
    st = p.click("#deny")
    assert st == 200 and "Decided by rita" in p.text("main"), p.text("main")
    m = d.wait_ctl(d.wa, c)
    assert m.body.startswith("DENIED AFTER REVIEW BY WA: REVIEW NO. %s" % rid), m.body
    assert "REASON: no case number or legal process given" in m.body, m.body


def test_which_rule_denied_a_query():
    d, b = env()
    p = page()
    c = d.deny_ero(15)
    time.sleep(1.2)  # durable in the log
    assert p.navigate(d.base + "/decisions") == 200
    shoot("decisions")
    p.fill("#q", c)
    p.click('form.filters button[type=submit]')
    rows = p.evaluate("[...document.querySelectorAll('table.decisions tr')].slice(1)"
                      ".map(r => r.innerText)")
    assert len(rows) == 1 and "WAERO0100" in rows[0] and "denied" in rows[0], rows
    assert "no-civil-immigration" in rows[0], rows
    shoot("decisions-one")
    p.click('a[href="/briefing#rule-no-civil-immigration"]')
    assert p.url().endswith("/briefing#rule-no-civil-immigration"), p.url()
    rule = p.text("#rule-no-civil-immigration")
    assert "Keep Washington Working Act" in rule and "Denied" in rule, rule


def test_notices_and_letter():
    d, b = env()
    p = page()
    assert p.navigate(d.base + "/review/notices") == 200
    shoot("notices")
    links = p.evaluate("[...document.querySelectorAll('a[href^=\"/review/letter\"]')]"
                       ".map(a => a.getAttribute('href'))")
    assert links, p.text("main")
    assert p.navigate(d.base + links[0]) == 200
    assert "NOTICE OF A RELEASE OF YOUR RECORD" in p.text("pre.letter")
    shoot("letter")
    assert p.navigate(d.base + "/review/notices") == 200
    st = p.click("#send")
    assert st == 200 and p.url().endswith("/review/notices?which=all"), p.url()
    assert "sent" in p.text("main")


def test_csv_download_matches_report():
    d, b = env()
    p = page()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert p.navigate(d.base + "/figures?from=2025-01-01&to=" + today) == 200
    shoot("figures")
    p.allow_downloads(S["dl"])
    p.click('a[href^="/figures.csv"]', navigates=False)
    path = p.wait_download()
    assert path.endswith(".csv"), path
    data = open(path).read()
    rep = h.run(["report", "--log", d.gw.audit, "--from", "2025-01-01", "--to", today,
                 "--format", "csv"])

    # page reads add log-read entries between the two: compare everything else
    def rows(text):
        return sorted(x for x in text.splitlines()
                      if not re.match(r"(by_event,|total,entries|monthly_entries)", x))
    assert rows(data) == rows(rep.stdout), (data, rep.stdout)
    assert "outcomes,redacted," in data and "outcomes,denied," in data, data


def test_other_pages():
    d, b = env()
    for name, url in (("health", "/health"), ("public", "/")):
        shoot(name, url)
    # log off: the desk is closed again
    p = page()
    assert p.navigate(d.base + "/review") == 200
    p.click('header form button[type=submit]')
    assert p.navigate(d.base + "/review") == 200 and p.url().endswith("/login")
    print("screenshots in %s" % OUT, flush=True)


def test_zz_close():
    if not S:
        return
    d, b, dl = S["d"], S["b"], S["dl"]
    S.clear()
    try:
        b.close()
        shutil.rmtree(dl, ignore_errors=True)
        d.gw.stop()
        v = h.run(["audit", "verify", d.gw.audit, "--key",
                   os.path.join(d.gw.dir, "audit.pub")], check=False)
        assert v.returncode == 0, v.stdout + v.stderr
        d.close(True)
    except BaseException:
        d.close(False)
        raise


if __name__ == "__main__":
    if not cdp.available():
        print("SKIP test_desk_browser: %s is not installed (apt-get install chromium; "
              "scripts/setup installs it)" % cdp.CHROMIUM, flush=True)
        print("0 passed, 0 failed")
        sys.exit(0)
    h.run_tests([test_login_with_totp, test_approve_and_the_requester_receives_it,
                 test_deny_with_a_reason, test_which_rule_denied_a_query,
                 test_notices_and_letter, test_csv_download_matches_report, test_other_pages,
                 test_zz_close], per_test_timeout=240)
