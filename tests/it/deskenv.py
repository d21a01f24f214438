"""The set-up the review desk's tests share (test_desk.py: the API; test_desk_browser.py:
chromium): a network, a WA gateway with its oversight desk over HTTPS (the member's desk
certificate from `stateline gen certs`, WA-desk.crt, checked against the network CA by
name and chain), accounts of every role, and helpers to send queries that the policy
holds, denies or releases."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import sqlite3
import ssl
import struct
import subprocess
import time
import urllib.parse

import slharness as h

POLICY = """state WA
title "Washington DOL (desk tests)"
default permit

rule no-civil-immigration "Keep Washington Working Act: no DOL data for civil immigration enforcement"
  forbid when requester.parent under ("DHS/ICE/ERO", "DHS/ICE/HSI")

rule task-force-review "Task forces that include ICE are read by a reviewer first"
  hold when requester.tags has immigration-enforcement
  deadline 72h, then forbid
  redact ssn
  notify subject within 3 business days

rule cbp-review "CBP requests need two reviewers"
  hold when requester.parent under "DHS/CBP"
  deadline 72h, then forbid

rule photos-stay-home "Licence photos and SSNs go only to Washington agencies"
  permit when not in-state
  redact photo, ssn
"""

ORIS = [
    ("WATF00100", "WA", "Test immigration task force", "LE", "ACDZ", "A", "",
     "immigration-enforcement task-force", 0),
    ("IDCBP0100", "DH", "Test CBP Eastport", "FE", "ACDZ", "A", "DHS/CBP/OFO", "border", 0),
    ("WAERO0100", "DH", "Test ICE ERO Seattle", "FE", "ACDZ", "A", "DHS/ICE/ERO",
     "immigration-enforcement", 0),
]

PASSWORD = "correct horse battery"
USERS = [("rita", "reviewer"), ("rob", "reviewer"), ("carol", "reviewer"),
         ("olivia", "official"), ("adam", "admin"), ("audrey", "auditor"),
         ("arthur", "author")]
EXTRA = ("two_person = cbp-review\nreviewer_links = carol=WATF00100\nreview_poll_ms = 50\n"
         "http_listen = 127.0.0.1:0\nhttp_session_minutes = 10\n")


def totp(secret, t):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 1000000)


class Desk:
    def __init__(self):
        self.net = h.Network(start=False)
        self.gw = None
        self.ctl = 0
        self.used = set()
        try:
            self.net.add_oris(ORIS)
            self.net.start()
            crt, key = self.net.cert_paths("WA", "desk")
            assert os.path.exists(crt), "gen certs made no WA-desk.crt"
            self.gw = h.Gateway(self.net, "WA", policy=POLICY, start=False,
                                extra=EXTRA + "http_cert = %s\nhttp_key = %s\n" % (crt, key))
            self.secrets = {}
            for name, role in USERS:
                p = subprocess.run([h.STATELINE, "gateway", "users", "--config", self.gw.conf,
                                    "add", name, "--role", role, "--password-stdin"],
                                   input=PASSWORD + "\n", capture_output=True, text=True,
                                   timeout=60)
                assert p.returncode == 0, p.stderr
                m = re.search(r"otpauth://totp/[^?]+\?secret=([A-Z2-7]+)&", p.stdout)
                assert m, p.stdout
                self.secrets[name] = m.group(1)
            self.gw.start()
            out = self.gw.stdout
            for _ in range(3):
                m = re.search(r"oversight desk: https://127\.0\.0\.1:(\d+)/", out)
                if m:
                    break
                out = self.gw.proc.stdout.readline().decode()
            assert m, "no desk address on stdout: %r" % out
            self.port = int(m.group(1))
            self.base = "https://127.0.0.1:%d" % self.port
            # the desk certificate is checked like a browser would: chain and name
            self.ctx = ssl.create_default_context(cafile=self.net.ca_path())
            con = sqlite3.connect("file:%s?mode=ro" % self.gw.records, uri=True)
            self.olns = [r[0] for r in con.execute("SELECT oln FROM driver ORDER BY id "
                                                   "LIMIT 20")]
            con.close()
            self.wa = self.net.line("WA")
            self.dh = self.net.line("DH")
            self.orl = self.net.line("OR")
        except BaseException:
            self.close(False)
            raise

    # ---- queries ----
    def next_ctl(self):
        self.ctl += 1
        return "D-%08d" % self.ctl

    def ask(self, line, head, body):
        """Send KEY.ORI.DEST with a fresh control field; (control, reply body)."""
        c = self.next_ctl()
        m = h.ask(line, "%s.%s.TXT\n%s" % (head, c, body), c)
        return c, m.body

    def send(self, line, head, body):
        c = self.next_ctl()
        line.send("%s.%s.TXT\n%s" % (head, c, body))
        return c

    def wait_ctl(self, line, c, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no message with control field %s in %s s" % (c, timeout))
            m = line.recv(left)
            if m.ctl == c:
                return m

    def hold_task_force(self, n=0, cas="24-0001"):
        """A task-force request held by task-force-review; (control, review id)."""
        c, body = self.ask(self.wa, "DQ.WATF00100.WA",
                           "OLN/%s.CAS/%s.RSN/I.PUR/C" % (self.olns[n], cas))
        m = re.search(r"REVIEW NO\. (WA-R\d+)", body)
        assert body.startswith("HELD FOR REVIEW BY WA POLICY") and m, body
        return c, m.group(1)

    def hold_cbp(self, n=1):
        c, body = self.ask(self.dh, "DQ.IDCBP0100.WA", "OLN/%s" % self.olns[n])
        m = re.search(r"REVIEW NO\. (WA-R\d+)", body)
        assert body.startswith("HELD FOR REVIEW") and m, body
        return c, m.group(1)

    def deny_ero(self, n=2):
        c, body = self.ask(self.dh, "DQ.WAERO0100.WA", "OLN/%s" % self.olns[n])
        assert body.startswith("DENIED BY WA POLICY"), body
        return c

    # ---- HTTP ----
    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                           timeout=30)

    def req(self, method, path, body=None, cookie=None, headers=None, raw=False):
        c = self.conn()
        hd = dict(headers or {})
        if cookie:
            hd["Cookie"] = "sl_session=" + cookie
        if body is not None and not isinstance(body, (bytes, str)):
            body = urllib.parse.urlencode(body)
        if body is not None:
            hd.setdefault("Content-Type", "application/x-www-form-urlencoded")
        c.request(method, path, body=body, headers=hd)
        r = c.getresponse()
        data = r.read()
        c.close()
        if raw:
            return r, data
        if r.getheader("Content-Type", "").startswith("application/json"):
            return r, json.loads(data)
        return r, data.decode("utf-8")

    def fresh_code(self, name):
        """A code of a 30-second step not used yet by this account (a code works once)."""
        while True:
            step = int(time.time()) // 30
            if (name, step) not in self.used:
                self.used.add((name, step))
                return totp(self.secrets[name], step * 30)
            time.sleep(1)

    def login(self, name):
        """Log on through the API; (session cookie, csrf)."""
        r, j = self.req("POST", "/api/login", {"user": name, "password": PASSWORD,
                                               "code": self.fresh_code(name)})
        assert r.status == 200, (r.status, j)
        m = re.match(r"sl_session=([0-9a-f]{64});", r.getheader("Set-Cookie"))
        return m.group(1), j["csrf"]

    def review_cli(self, *args):
        return h.run(["review", "--config", self.gw.conf] + list(args))

    def audit_entries(self):
        """The gateway's audit log, decoded (stateline audit show --json)."""
        p = h.run(["audit", "show", self.gw.audit, "--json"])
        return [json.loads(x) for x in p.stdout.splitlines() if x.strip()]

    def close(self, ok):
        try:
            if ok and self.gw and self.gw.proc:
                self.gw.stop()
        finally:
            if self.gw:
                self.gw.close()
            self.net.close(check=ok)
