"""slharness - black-box test harness for stateline (Python 3 standard library only).

A `Network` is a temporary folder with a test network's credentials (`stateline gen
certs`), an ORI directory (`stateline gen directory --seed 1`, plus crafted ORIs), a
hub.conf, and the hub process.  A `Line` is one member line: TLS with a member
certificate (or plain TCP with a token), 4-byte big-endian framed messages, and a parser
for the hub's output header.  `run_tests` runs test functions, each bounded in time, and
prints "N passed, N failed" last.

Everything started is stopped, and the folder removed, when the Network closes (also on
failure); `kill9` and `restart` crash and restart the hub on the same folder (its queue
and archive databases stay).  Nothing here reads /work/shared.
"""
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

STATELINE = os.environ.get("STATELINE", "stateline")

# Crafted ORIs added to every test directory (CSV of docs/directory.md):
#   ori,member,name,type,categories,status,parent,tags,rand
CRAFTED = [
    # an inactive Washington ORI
    ("WAINACT00", "WA", "Test inactive agency", "PD", "ACDZ", "I", "", "", 0),
    # a Washington ORI without the D category (may not run DMV keys)
    ("WANODMV00", "WA", "Test agency without DMV access", "PD", "ACZ", "A", "", "", 0),
    # a plain Washington terminal ORI with every category
    ("WATEST000", "WA", "Test police department", "PD", "ACDZ", "A", "", "test", 0),
    # California's test answering ORI (its DMV)
    ("CATEST000", "CA", "Test California DMV", "NJ", "ADZ", "A", "", "", 0),
    # an Idaho ORI
    ("IDTEST000", "ID", "Test Idaho agency", "PD", "ACDZ", "A", "", "", 0),
    # an Oregon ORI
    ("ORTEST000", "OR", "Test Oregon agency", "PD", "ACDZ", "A", "", "", 0),
    # a federal ORI (DOJ line DJ) in Virginia, with a parent agency and tags
    ("VATEST0F0", "DJ", "Test federal office", "FE", "ACDZ", "A", "DOJ/FBI",
     "task-force", 0),
]


class Closed(Exception):
    """The hub closed the line."""


def run(args, check=True, timeout=120, **kw):
    """Run the binary with args; returns CompletedProcess (text)."""
    p = subprocess.run([STATELINE] + list(args), capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("stateline %s exited %d\nstdout: %s\nstderr: %s" %
                             (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def raise_nofile(n):
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else max(n, soft)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        return 1024


# ---- output header -------------------------------------------------------------------

class Out:
    """A message as the hub delivers it (docs/protocol.md §4)."""

    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("latin-1")
        self.text = text
        head, sep, body = text.partition("\nTXT\n")
        if not sep:
            raise ValueError("no TXT line in output: %r" % text[:200])
        self.body = body
        lines = head.split("\n")
        m = re.match(r"^([A-Z]{2,3})\.([A-Z0-9]{9})$", lines[0])
        if not m:
            raise ValueError("bad first header line %r" % lines[0])
        self.key, self.ori = m.group(1), m.group(2)
        m = re.match(r"^(\d\d:\d\d \d\d/\d\d/\d{4}) (\d{5})$", lines[1])
        if not m:
            raise ValueError("bad receive stamp line %r" % lines[1])
        self.rx_stamp, self.rx_seq = m.group(1), int(m.group(2))
        m = re.match(r"^(\d\d:\d\d \d\d/\d\d/\d{4}) (\d{5}) ([A-Z0-9]{2,9})$", lines[2])
        if not m:
            raise ValueError("bad send stamp line %r" % lines[2])
        self.tx_stamp, self.tx_seq, self.dest = m.group(1), int(m.group(2)), m.group(3)
        self.ctl = ""
        self.mid = 0
        self.vrq = None
        for extra in lines[3:]:
            if extra.startswith("CTL/"):
                self.ctl = extra[4:]
            elif extra.startswith("MID/"):
                self.mid = int(extra[4:])
            elif extra.startswith("VRQ/"):
                self.vrq = {}
                for item in extra[4:].split(";"):
                    k, _, v = item.partition("=")
                    self.vrq[k] = urllib.parse.unquote(v)
            else:
                raise ValueError("unknown header line %r" % extra)

    def requester(self):
        """The verified requester ({} when the header has none)."""
        if self.vrq is None:
            return {}
        v = self.vrq
        return {"ori": v["ORI"], "member": v["MBR"], "type": v["TYP"], "cats": v["CAT"],
                "parent": v["PAR"], "tags": v["TAG"], "state": v["ORI"][:2]}

    def __repr__(self):
        return "<Out %s.%s -> %s %r>" % (self.key, self.ori, self.dest, self.body[:80])


# ---- a member line -------------------------------------------------------------------

class Line:
    """One member line to the hub.  Blocking socket with timeouts."""

    def __init__(self, net, member, role="terminal", cert=None, plain_token=None,
                 connect=True, ca=None, nocert=False, rcvbuf=None):
        self.net = net
        self.member = member
        self.role = role
        self.sock = None
        self.inbuf = b""
        if connect:
            self.connect(cert=cert, plain_token=plain_token, ca=ca, nocert=nocert,
                         rcvbuf=rcvbuf)

    def connect(self, cert=None, plain_token=None, ca=None, nocert=False, rcvbuf=None):
        """rcvbuf: a small receive buffer (set before connecting, so the TCP window stays
        small) makes a line that does not read push back on the hub quickly."""
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", self.net.port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.net.tls:
            ctx = self.net.client_context(self.member, self.role, cert=cert, ca=ca,
                                          nocert=nocert)
            self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
            # TLS 1.3: the server checks our certificate after the handshake; a refusal
            # shows on the first read.
        else:
            self.sock = raw
            tok = plain_token if plain_token is not None else \
                self.net.token(self.member, self.role)
            self.send("AUTH %s %s %s" % (self.member, self.role, tok))
            self.sock.settimeout(10)
            reply = self.recv_frame(10)
            if reply != b"AUTH OK":
                raise Closed("AUTH refused: %r" % reply)
        self.sock.settimeout(10)
        return self

    def send(self, msg):
        if isinstance(msg, str):
            msg = msg.encode("latin-1")
        self.sock.sendall(struct.pack(">I", len(msg)) + msg)

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                return False
            except ssl.SSLError as e:
                raise Closed("TLS error: %s" % e)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("closed by the hub")
            self.inbuf += chunk
            return True

    def recv_frame(self, timeout=10):
        """The next frame's payload (bytes), or None on timeout; Closed on EOF."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.inbuf) >= 4:
                n = struct.unpack(">I", self.inbuf[:4])[0]
                if len(self.inbuf) >= 4 + n:
                    p = self.inbuf[4:4 + n]
                    self.inbuf = self.inbuf[4 + n:]
                    return p
            if not self._fill(deadline):
                return None

    def recv(self, timeout=10):
        """The next delivered message, parsed (Out); AssertionError on timeout."""
        p = self.recv_frame(timeout)
        if p is None:
            raise AssertionError("%s %s: nothing received in %s s" %
                                 (self.member, self.role, timeout))
        return Out(p)

    def expect_nothing(self, timeout=0.5):
        p = self.recv_frame(timeout)
        if p is not None:
            raise AssertionError("%s %s: unexpected message %r" %
                                 (self.member, self.role, p[:200]))

    def expect_closed(self, timeout=10):
        """Read until the hub closes the line; returns the frames received before."""
        frames = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                p = self.recv_frame(deadline - time.monotonic())
                if p is None:
                    break
                frames.append(p)
        except Closed:
            return frames
        raise AssertionError("%s %s: line still open after %s s" %
                             (self.member, self.role, timeout))

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


# ---- the network ---------------------------------------------------------------------

_BASE = []


def _base_network():
    """Credentials and directory made once per test program (they take seconds), copied
    into each Network's own folder; removed when the program exits."""
    if not _BASE:
        import atexit
        d = tempfile.mkdtemp(prefix="sl-it-base-")
        atexit.register(shutil.rmtree, d, True)
        run(["gen", "certs", "--out", os.path.join(d, "certs"), "--all"])
        db = os.path.join(d, "dir.db")
        run(["gen", "directory", "--seed", "1", "--out", db, "--csv",
             os.path.join(d, "dir.csv"), "--quiet"])
        _import_csv(db, os.path.join(d, "crafted.csv"), CRAFTED)
        _BASE.append(d)
    return _BASE[0]


def _import_csv(db, path, rows):
    with open(path, "w") as f:
        f.write("ori,member,name,type,categories,status,parent,tags,rand\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    run(["dir", "import", "--db", db, path])


SANITIZER = r"AddressSanitizer|LeakSanitizer|runtime error:"


def stop_checked(child, what, timeout):
    """SIGTERM child's process (a Network's hub or a Gateway) and check that it stopped
    cleanly: exit 0 within timeout, and no sanitizer report in its log."""
    proc = child.proc
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise AssertionError("%s did not stop in %s s after SIGTERM" % (what, timeout))
    if proc:
        if child.reader:
            child.reader.join(5)
        bad = child.find_log(SANITIZER)
        if bad or proc.returncode != 0:
            raise AssertionError("%s exited %s%s:\n%s" % (
                what, proc.returncode, " with a sanitizer report" if bad else "",
                "\n".join(child.log[-60:])))


class Network:
    """A temporary test network: credentials, directory, config and a running hub."""

    def __init__(self, tls=True, plain=False, listen="127.0.0.1:0", extra_conf="",
                 members_conf="", start=True, max_frame=None, out_cap=None):
        self.dir = tempfile.mkdtemp(prefix="sl-it-")
        self.tls = tls
        self.proc = None
        self.port = None
        self.log = []
        self.log_lock = threading.Lock()
        self.lines = []
        try:
            base = _base_network()
            self.certs = os.path.join(self.dir, "certs")
            shutil.copytree(os.path.join(base, "certs"), self.certs)
            self.db = os.path.join(self.dir, "dir.db")
            shutil.copyfile(os.path.join(base, "dir.db"), self.db)
            if os.path.exists(os.path.join(base, "dir.db-wal")):
                shutil.copyfile(os.path.join(base, "dir.db-wal"), self.db + "-wal")
            self.conf = os.path.join(self.dir, "hub.conf")
            self.ctl = os.path.join(self.dir, "hub.sock")
            self.write_conf(tls=tls, plain=plain, listen=listen, extra=extra_conf,
                            members=members_conf, max_frame=max_frame, out_cap=out_cap)
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    # credentials --------------------------------------------------------------------
    def cert_paths(self, member, role):
        base = os.path.join(self.certs, "%s-%s" % (member, role))
        return base + ".crt", base + ".key"

    def ca_path(self):
        return os.path.join(self.certs, "ca.crt")

    def token(self, member, role):
        with open(os.path.join(self.certs, "tokens")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0] == member and parts[1] == role:
                    return parts[2]
        raise KeyError("no token for %s %s" % (member, role))

    def client_context(self, member, role, cert=None, ca=None, nocert=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca or self.ca_path())
        if not nocert:
            c, k = cert if cert else self.cert_paths(member, role)
            ctx.load_cert_chain(c, k)
        return ctx

    # directory ----------------------------------------------------------------------
    def add_oris(self, rows):
        """Add or replace ORIs (tuples in CSV column order) in this network's directory."""
        _import_csv(self.db, os.path.join(self.dir, "add-%d.csv" % len(os.listdir(self.dir))),
                    rows)

    def generated_oris(self):
        """Every ORI of the generated directory (`gen directory --csv`), as dicts with the
        CSV's column names (the crafted ORIs are not in it)."""
        import csv
        with open(os.path.join(_base_network(), "dir.csv"), newline="") as f:
            return list(csv.DictReader(f))

    # config and process -------------------------------------------------------------
    def write_conf(self, tls=True, plain=False, listen="127.0.0.1:0", extra="", members="",
                   max_frame=None, out_cap=None):
        c = ["[hub]", "listen = %s" % listen, "tls = %s" % ("yes" if tls else "no"),
             "plain = %s" % ("yes" if plain else "no"),
             "cert = certs/hub.crt", "key = certs/hub.key", "ca = certs/ca.crt",
             "tokens = certs/tokens", "directory = dir.db", "ctl = hub.sock",
             "ori = NL0000000"]
        if max_frame:
            c.append("max_frame = %s" % max_frame)
        if out_cap:
            c.append("out_cap = %s" % out_cap)
        c.append(extra)
        c.append(members)
        with open(self.conf, "w") as f:
            f.write("\n".join(c) + "\n")

    def _reader(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_lock:
                self.log.append(line)
            if os.environ.get("SL_IT_VERBOSE"):
                sys.stderr.write("hub| %s\n" % line)

    def start(self, timeout=20, expect_fail=False):
        self.reader = None
        env = dict(os.environ)
        env.setdefault("STATELINE_LOG", "debug")
        self.log = []
        self.proc = subprocess.Popen([STATELINE, "hub", "--config", self.conf],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     cwd=self.dir, env=env)
        t = threading.Thread(target=self._reader, args=(self.proc.stderr,), daemon=True)
        t.start()
        self.reader = t
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.find_log(r"listening on [^ ]*:(\d+)")
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                t.join(2)
                if expect_fail:
                    return self
                raise AssertionError("hub exited %d at start:\n%s" %
                                     (self.proc.returncode, "\n".join(self.log)))
            time.sleep(0.02)
        raise AssertionError("hub did not listen in %s s:\n%s" % (timeout, "\n".join(self.log)))

    def find_log(self, pattern):
        with self.log_lock:
            for line in self.log:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.find_log(pattern)
            if m:
                return m
            time.sleep(0.02)
        raise AssertionError("no log line matching %r in %s s; log:\n%s" %
                             (pattern, timeout, "\n".join(self.log[-50:])))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill9(self):
        """SIGKILL the hub (a crash: nothing flushed, nothing closed)."""
        self.proc.kill()
        self.proc.wait(10)
        if self.reader:
            self.reader.join(5)
        if self.proc.stderr:
            self.proc.stderr.close()

    def restart(self, timeout=20):
        """Start the hub again on the same folder (a new port: lines reconnect)."""
        if self.proc and self.proc.poll() is None:
            self.stop()
        return self.start(timeout)

    def wait_exit(self, timeout=20):
        return self.proc.wait(timeout)

    def ctl_cmd(self, cmd):
        import json
        p = run(["hub", "ctl", "--socket", self.ctl, cmd], check=False)
        return json.loads(p.stdout) if p.stdout.strip() else None

    def line(self, member, role="terminal", **kw):
        ln = Line(self, member, role, **kw)
        self.lines.append(ln)
        return ln

    def answer_line(self, member):
        """Connect an answering line and wait until the hub has bound it."""
        ln = self.line(member, "answer")
        self.wait_bound(member)
        return ln

    def wait_bound(self, member, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.ctl_cmd("lines")
            if st and any(l["member"] == member and l["answering"] for l in st["lines"]):
                return
            time.sleep(0.02)
        raise AssertionError("answering line of %s not bound" % member)

    def wait_open_lines(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.ctl_cmd("stats")
            if st and st["lines_open"] >= n:
                return st
            time.sleep(0.02)
        raise AssertionError("expected %d open lines, stats %r" % (n, st))

    def stop(self, timeout=20):
        """SIGTERM the hub and check that it stopped cleanly: exit 0, and no sanitizer
        report in its log (ASan/UBSan builds)."""
        stop_checked(self, "hub", timeout)

    def close(self, check=False):
        """Stop everything and remove the folder.  check: the hub must stop cleanly."""
        for ln in self.lines:
            ln.close()
        try:
            if check:
                self.stop()
            elif self.proc and self.proc.poll() is not None:
                # the test failed and the hub had already ended: say how, since that may be
                # why (a crash, a sanitizer report)
                if self.reader:
                    self.reader.join(5)
                bad = self.find_log(SANITIZER)
                sys.stderr.write("hub had exited %s%s; its log ends:\n%s\n" % (
                    self.proc.returncode, " with a sanitizer report" if bad else "",
                    "\n".join(self.log[-60:])))
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            if self.proc and self.proc.stderr:
                self.proc.stderr.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(check=exc_type is None)


# ---- running tests -------------------------------------------------------------------

class _Timeout(Exception):
    pass


def run_tests(tests, per_test_timeout=120):
    """Run each test function (no arguments) with a time bound; print a summary last;
    exit non-zero if any failed."""
    passed = failed = 0
    only = os.environ.get("SL_IT_ONLY")

    def on_alarm(signo, frame):
        raise _Timeout("test took longer than %d s" % per_test_timeout)

    old = signal.signal(signal.SIGALRM, on_alarm)
    for t in tests:
        if only and only not in t.__name__:
            continue
        t0 = time.monotonic()
        signal.alarm(per_test_timeout)
        try:
            t()
            signal.alarm(0)
            passed += 1
            print("ok   %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except BaseException as e:  # noqa: B902 - report everything, keep going
            signal.alarm(0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
            traceback.print_exc()
    signal.signal(signal.SIGALRM, old)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)


# ---- a state's gateway -----------------------------------------------------------------

_POPULATIONS = {}


def population(state, drivers, seed):
    """Path of a generated population (`stateline gen population`), made once per test
    program for each (state, drivers, seed) and copied by whoever needs to change it."""
    k = (state, drivers, seed)
    if k not in _POPULATIONS:
        import atexit
        d = tempfile.mkdtemp(prefix="sl-it-pop-")
        atexit.register(shutil.rmtree, d, True)
        path = os.path.join(d, "%s.db" % state.lower())
        run(["gen", "population", "--state", state, "--drivers", str(drivers), "--seed",
             str(seed), "--out", path])
        _POPULATIONS[k] = path
    return _POPULATIONS[k]


class Gateway:
    """`stateline gateway` for one state on a Network: its own folder with a copy of a
    generated population, an audit signing key, a policy file (or a default) and a
    config; the process with its stderr collected (docs/gateway.md)."""

    def __init__(self, net, state="WA", ori=None, policy=None, default=None, extra="",
                 drivers=2000, seed=7, start=True):
        self.net = net
        self.state = state
        self.ori = ori or "%sOLN0000" % state
        self.dir = os.path.join(net.dir, "gw-%s" % state)
        os.makedirs(self.dir, exist_ok=True)
        self.records = os.path.join(self.dir, "%s.db" % state.lower())
        shutil.copyfile(population(state, drivers, seed), self.records)
        self.audit = os.path.join(self.dir, "audit")
        run(["audit", "keygen", "--name", "%s-gateway" % state.lower(), "--out",
             os.path.join(self.dir, "audit")])
        self.policy_path = os.path.join(self.dir, "%s.policy" % state.lower())
        if policy is not None:
            self.write_policy(policy)
        self.default = default
        self.extra = extra
        self.conf = os.path.join(self.dir, "gateway.conf")
        self.proc = None
        self.log = []
        self.log_lock = threading.Lock()
        self.stdout = ""
        self.write_conf()
        if start:
            self.start()

    def write_policy(self, text):
        """Replace the policy file atomically (as an editor or `policy apply` would)."""
        tmp = self.policy_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.policy_path)

    def write_conf(self):
        n = self.net
        c = ["[gateway]", "state = %s" % self.state, "ori = %s" % self.ori,
             "hub = 127.0.0.1:%d" % n.port if n.port else "hub = 127.0.0.1:1",
             "records = %s.db" % self.state.lower(), "audit = audit",
             "audit_key = audit.key", "data = data", "policy_poll_ms = 100",
             "reconnect_max_ms = 500"]
        if n.tls:
            crt, key = n.cert_paths(self.state, "answer")
            c += ["tls = yes", "cert = %s" % crt, "key = %s" % key, "ca = %s" % n.ca_path()]
        else:
            c += ["tls = no", "tokens = %s" % os.path.join(n.certs, "tokens")]
        if self.default:
            c.append("default = %s" % self.default)
        else:
            c.append("policy = %s" % os.path.basename(self.policy_path))
        c.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(c) + "\n")

    def _reader(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_lock:
                self.log.append(line)
            if os.environ.get("SL_IT_VERBOSE"):
                sys.stderr.write("gw| %s\n" % line)

    def start(self, timeout=20, wait_line=True):
        """Start the gateway; wait until its answering line is bound at the hub."""
        env = dict(os.environ)
        env.setdefault("STATELINE_LOG", "debug")
        self.log = []
        self.proc = subprocess.Popen([STATELINE, "gateway", "--config", self.conf],
                                     stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                                     cwd=self.dir, env=env)
        self.reader = threading.Thread(target=self._reader, args=(self.proc.stderr,),
                                       daemon=True)
        self.reader.start()
        self.stdout = self.proc.stdout.readline().decode("utf-8", "replace")
        if wait_line:
            self.wait_log(r"answering line for %s up" % self.state, timeout)
            self.net.wait_bound(self.state, timeout)
        return self

    def find_log(self, pattern):
        with self.log_lock:
            for line in self.log:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def count_log(self, pattern):
        with self.log_lock:
            return sum(1 for line in self.log if re.search(pattern, line))

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.find_log(pattern)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("gateway: no log line matching %r in %s s; log:\n%s" %
                             (pattern, timeout, "\n".join(self.log[-40:])))

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.reader.join(5)

    def stop(self, timeout=20):
        """SIGTERM; the gateway must exit 0 without a sanitizer report."""
        stop_checked(self, "gateway", timeout)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for s in (self.proc.stderr, self.proc.stdout) if self.proc else ():
            if s:
                s.close()


def ask(line, text, ctl, timeout=15):
    """Send one message on a terminal line and return the first delivered message whose
    control field is ctl (an Out); AssertionError when none arrives in time."""
    line.send(text)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no answer to %r in %s s" % (text, timeout))
        m = line.recv(left)
        if m.ctl == ctl:
            return m
