"""A small Chrome DevTools Protocol client, Python 3 standard library only, for the browser
tests (tests/it/test_desk_browser.py and others).

It launches Debian's chromium headless with its own temporary profile, reads the port the
browser chose from DevToolsActivePort, opens a page target and talks to it over a minimal
RFC 6455 websocket (text frames, masking, fragmentation, ping/pong, close).

    from cdp import Browser
    with Browser(ignore_cert_errors=True) as b:
        p = b.page(width=1280, height=800)
        p.navigate("https://127.0.0.1:8443/login")
        p.fill("#user", "rita")
        p.click("button[type=submit]")          # waits for the navigation it starts
        p.wait_for("document.title.includes('Review')")
        p.screenshot("/tmp/x.png")
        p.evaluate("document.querySelector('h1').textContent")

Why not Playwright or Selenium: both pull a driver and a package manager into the test
environment; the protocol subset the tests need (navigate, evaluate, screenshot, viewport)
is a few hundred lines of the standard library.

Every wait is bounded (`timeout` seconds, default 20) and raises CDPError with what it was
waiting for.  `Browser.close()` ends chromium (its process group) and removes the profile.
"""
import base64
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

CHROMIUM = os.environ.get("SL_CHROMIUM", "/usr/bin/chromium")


class CDPError(Exception):
    pass


def available():
    """True when the chromium binary exists (tests skip with a message otherwise)."""
    return os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


# ---- RFC 6455 websocket client (the subset a CDP target speaks) ----

class WebSocket:
    def __init__(self, url, timeout=20.0):
        u = urllib.parse.urlparse(url)
        if u.scheme != "ws":
            raise CDPError("only ws:// is supported: %s" % url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        self.sock.settimeout(timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, u.hostname, u.port or 80, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CDPError("websocket handshake: connection closed")
            head += chunk
        head, self.rest = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise CDPError("websocket handshake refused: %r" % status)
        import hashlib
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if want not in head:
            raise CDPError("websocket handshake: bad Sec-WebSocket-Accept")

    def _frame(self):
        """One whole frame from the buffer, (fin, opcode, payload), or None when it is not
        all there yet.  Nothing is consumed until the frame is whole, so a timeout between
        reads loses nothing."""
        b = self.rest
        if len(b) < 2:
            return None
        fin, opcode, n, pos = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack(">H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack(">Q", b[2:10])[0], 10
        mask = None
        if b[1] & 0x80:  # a server must not mask, but unmask if it does
            if len(b) < pos + 4:
                return None
            mask, pos = b[pos:pos + 4], pos + 4
        if len(b) < pos + n:
            return None
        data = b[pos:pos + n]
        self.rest = b[pos + n:]
        if mask:
            data = bytes(x ^ mask[i & 3] for i, x in enumerate(data))
        return fin, opcode, data

    def _send_frame(self, opcode, payload):
        hdr = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            hdr.append(0x80 | n)
        elif n < 65536:
            hdr.append(0x80 | 126)
            hdr += struct.pack(">H", n)
        else:
            hdr.append(0x80 | 127)
            hdr += struct.pack(">Q", n)
        mask = os.urandom(4)
        hdr += mask
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(bytes(hdr) + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self):
        """The next text message (fragments joined; pings answered).  Raises on close;
        socket.timeout when nothing whole arrives within the socket's timeout."""
        parts = []
        while True:
            f = self._frame()
            if f is None:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise CDPError("websocket closed by the browser")
                self.rest += chunk
                continue
            fin, opcode, data = f
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                raise CDPError("websocket closed by the browser")
            parts.append(data)
            if fin:
                return b"".join(parts).decode("utf-8")

    def close(self):
        try:
            self._send_frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the browser ----

class Browser:
    def __init__(self, ignore_cert_errors=False, timeout=20.0, extra_args=()):
        if not available():
            raise CDPError("%s is not installed (apt-get install chromium)" % CHROMIUM)
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sl-chromium-")
        args = [CHROMIUM, "--headless=new", "--remote-debugging-port=0",
                "--user-data-dir=" + self.profile, "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--mute-audio",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                "--password-store=basic", "--use-mock-keychain"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # chromium refuses to run as root with the sandbox
        if ignore_cert_errors:
            args.append("--ignore-certificate-errors")
        args += list(extra_args)
        args.append("about:blank")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        self.port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:]
                self._cleanup()
                raise CDPError("chromium exited (%d): %s" % (self.proc.returncode, err))
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if lines and lines[0].strip():
                    self.port = int(lines[0])
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        if self.port is None:
            self.close()
            raise CDPError("chromium did not write DevToolsActivePort within %gs" % timeout)
        self.pages = []

    def _http(self, method, path):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise CDPError("%s %s: %d %s" % (method, path, r.status, body[:200]))
            return json.loads(body)
        finally:
            c.close()

    def page(self, width=1280, height=800, mobile=False, scale=1):
        """A new tab with the given viewport.  mobile=True also sets touch and a phone UA."""
        t = self._http("PUT", "/json/new?about:blank")
        p = Page(self, t["webSocketDebuggerUrl"], t["id"])
        p.set_viewport(width, height, mobile=mobile, scale=scale)
        self.pages.append(p)
        return p

    def _cleanup(self):
        shutil.rmtree(self.profile, ignore_errors=True)

    def close(self):
        for p in getattr(self, "pages", []):
            p.ws.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, 9)
                except OSError:
                    pass
                self.proc.wait(timeout=10)
        if self.proc.stderr:
            self.proc.stderr.close()
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    def __init__(self, browser, ws_url, target_id):
        self.browser = browser
        self.timeout = browser.timeout
        self.target_id = target_id
        self.ws = WebSocket(ws_url, timeout=self.timeout)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Network.enable")

    # -- protocol --
    def call(self, method, _timeout=None, **params):
        """Send a command and return its result (events that arrive meanwhile are kept).
        _timeout: seconds to wait for the answer (default: the browser's timeout)."""
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        wait = _timeout or self.timeout
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.ws.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                m = json.loads(self.ws.recv())
            except socket.timeout:
                break
            finally:
                self.ws.sock.settimeout(self.timeout)
            if m.get("id") == mid:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"].get("message", m["error"])))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)
        raise CDPError("%s: no answer within %gs" % (method, wait))

    def wait_event(self, name, pred=None, timeout=None):
        """The first event `name` (kept or new) for which pred(params) holds; removes it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == name and (pred is None or pred(ev.get("params", {}))):
                    del self.events[i]
                    return ev.get("params", {})
            if time.monotonic() > deadline:
                raise CDPError("no %s event within %gs" % (name, timeout or self.timeout))
            self.ws.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                m = json.loads(self.ws.recv())
            except socket.timeout:
                continue
            finally:
                self.ws.sock.settimeout(self.timeout)
            if "method" in m:
                self.events.append(m)

    # -- viewport --
    def set_viewport(self, width, height, mobile=False, scale=1):
        self.width, self.height = width, height
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=scale, mobile=mobile)
        if mobile:
            self.call("Emulation.setTouchEmulationEnabled", enabled=True)

    # -- navigation --
    def navigate(self, url):
        """Go to url and wait for its load event.  Returns the main document's HTTP status
        (None for about:, file: or when the browser did not report one)."""
        self.events.clear()
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))
        self.wait_event("Page.loadEventFired")
        return self._document_status(r.get("loaderId"))

    def _document_status(self, loader_id):
        status = None
        for ev in self.events:
            if ev["method"] == "Network.responseReceived":
                p = ev["params"]
                if p.get("type") == "Document" and (loader_id is None or
                                                   p.get("loaderId") == loader_id):
                    status = p["response"]["status"]
        return status

    def wait_for(self, js_condition, timeout=None):
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                v = self.evaluate(js_condition)
            except CDPError:
                v = None  # e.g. the page is navigating
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError("waited %gs for: %s" % (timeout or self.timeout, js_condition))
            time.sleep(0.1)

    def wait_load(self, timeout=None):
        """Wait for the next load event (after a click that submits a form)."""
        return self.wait_event("Page.loadEventFired", timeout=timeout)

    # -- the page's content --
    def evaluate(self, expression):
        """Evaluate JavaScript in the page and return its value (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if r.get("exceptionDetails"):
            d = r["exceptionDetails"]
            msg = d.get("exception", {}).get("description") or d.get("text")
            raise CDPError("evaluate %r: %s" % (expression[:80], msg))
        return r.get("result", {}).get("value")

    def text(self, selector="body"):
        return self.evaluate("(function(){var e=document.querySelector(%s);"
                             "return e?e.innerText:null})()" % json.dumps(selector))

    def url(self):
        return self.evaluate("location.href")

    def exists(self, selector):
        return bool(self.evaluate("!!document.querySelector(%s)" % json.dumps(selector)))

    def fill(self, selector, value):
        """Set an input's, textarea's or select's value (as typing would, events fired)."""
        ok = self.evaluate(
            "(function(){var e=document.querySelector(%s); if(!e) return false;"
            "e.focus(); e.value=%s;"
            "e.dispatchEvent(new Event('input',{bubbles:true}));"
            "e.dispatchEvent(new Event('change',{bubbles:true})); return true})()"
            % (json.dumps(selector), json.dumps(value)))
        if not ok:
            raise CDPError("fill: no element %s" % selector)

    def check(self, selector, on=True):
        ok = self.evaluate(
            "(function(){var e=document.querySelector(%s); if(!e) return false;"
            "e.checked=%s; e.dispatchEvent(new Event('change',{bubbles:true}));"
            "return true})()" % (json.dumps(selector), "true" if on else "false"))
        if not ok:
            raise CDPError("check: no element %s" % selector)

    def click(self, selector, navigates=True, timeout=None):
        """Click the element with a real mouse event at its centre (so the browser does what
        a person's click does: submit buttons submit, with their name=value).  With
        navigates=True wait for the page that the click loads."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        self.call("Page.bringToFront")  # input goes to the tab in front
        box = self.evaluate(
            "(function(){var e=document.querySelector(%s); if(!e) return null;"
            "e.scrollIntoView({block:'center'}); var r=e.getBoundingClientRect();"
            "return [r.left+r.width/2, r.top+r.height/2, r.width, r.height]})()"
            % json.dumps(selector))
        if not box:
            raise CDPError("click: no element %s" % selector)
        if box[2] <= 0 or box[3] <= 0:
            raise CDPError("click: %s is not visible" % selector)
        x, y = box[0], box[1]
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1 if kind != "mouseMoved" else 0)
        if navigates:
            self.wait_load(timeout)
            return self._document_status(None)
        return None

    def press(self, key="Enter"):
        """A key press (Enter, Tab, Escape, Space) at the focused element."""
        codes = {"Enter": 13, "Tab": 9, "Escape": 27, "Space": 32}
        text = {"Enter": "\r", "Space": " "}.get(key, "")
        self.call("Page.bringToFront")
        for kind in ("keyDown", "keyUp"):
            params = {"type": kind, "key": " " if key == "Space" else key, "code": key,
                      "windowsVirtualKeyCode": codes.get(key, 0)}
            if kind == "keyDown" and text:
                params["text"] = text
            self.call("Input.dispatchKeyEvent", **params)

    def screenshot(self, path, full_page=True):
        """A PNG of the page (full_page: the whole document, at the viewport's width)."""
        # a tab in the background renders no frames, and the capture would wait for one
        self.call("Page.bringToFront")
        params = {"format": "png"}
        if full_page:
            m = self.call("Page.getLayoutMetrics")
            cs = m.get("cssContentSize") or m.get("contentSize")
            h = max(self.height, int(cs["height"]))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": min(h, 16000),
                              "scale": 1}
            params["captureBeyondViewport"] = True
        # a tall page rendered in software on a busy machine can take a while
        r = self.call("Page.captureScreenshot", _timeout=max(90, self.timeout), **params)
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def allow_downloads(self, directory):
        """Save downloads (a link with Content-Disposition: attachment) into directory."""
        os.makedirs(directory, exist_ok=True)
        try:
            self.call("Browser.setDownloadBehavior", behavior="allow",
                      downloadPath=os.path.abspath(directory), eventsEnabled=True)
        except CDPError:
            self.call("Page.setDownloadBehavior", behavior="allow",
                      downloadPath=os.path.abspath(directory))
        self.download_dir = directory
        self.downloads_seen = set(os.listdir(directory))

    def wait_download(self, timeout=None):
        """The path of the next finished download in the allow_downloads directory (one
        not returned before)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            now = set(os.listdir(self.download_dir)) - self.downloads_seen
            done = [f for f in now if not f.endswith(".crdownload")]
            if done:
                f = sorted(done)[0]
                self.downloads_seen.add(f)
                return os.path.join(self.download_dir, f)
            time.sleep(0.1)
        raise CDPError("no download finished within %gs" % (timeout or self.timeout))

    def cookies(self):
        return self.call("Network.getCookies").get("cookies", [])

    def fetch(self, url, method="GET", body=None, headers=None):
        """fetch() from the page (its cookies go along).  Returns {status, text, headers}.
        A page whose Content-Security-Policy allows no connect-src (the oversight desk's
        pages) refuses it: open the URL in a tab of its own and read document.body."""
        opts = {"method": method, "credentials": "same-origin", "redirect": "manual"}
        if body is not None:
            opts["body"] = body
        if headers:
            opts["headers"] = headers
        return self.evaluate(
            "fetch(%s, %s).then(async r => ({status: r.status, text: await r.text(),"
            "headers: Object.fromEntries(r.headers.entries())}))"
            % (json.dumps(url), json.dumps(opts)))


def _selftest():
    """python3 cdp.py: a smoke test against a data: URL."""
    with Browser() as b:
        p = b.page(390, 844, mobile=True)
        p.navigate("data:text/html,<title>t</title><form><input id=a>"
                   "<button id=b type=button onclick=\"document.title='clicked '+"
                   "document.getElementById('a').value\">go</button></form>")
        p.fill("#a", "x" * random.randint(1, 5))
        p.click("#b", navigates=False)
        print(p.wait_for("document.title.startsWith('clicked') && document.title"))
        print(p.evaluate("window.innerWidth"), p.screenshot(os.path.join(
            tempfile.gettempdir(), "cdp-selftest.png")))


if __name__ == "__main__":
    _selftest()
