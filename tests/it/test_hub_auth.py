"""Who may be a line: a client without a certificate or with one from another CA is
refused; plain TCP is refused off loopback and needs the right token on loopback; a bad
configuration stops the hub before it starts."""
import os
import shutil
import socket
import ssl
import struct
import tempfile
import time

from slharness import Closed, Line, Network, run, run_tests


def refused(net, **kw):
    """Connect a WA terminal line with kw; True when the hub refuses it."""
    try:
        ln = Line(net, "WA", "terminal", **kw)
    except (Closed, ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    try:
        ln.send("DQ.WATEST000.ZZ.TXTOLN/A1")
        ln.expect_closed(10)
        return True
    except (Closed, ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    finally:
        ln.close()


def test_tls_without_certificate():
    with Network() as net:
        assert refused(net, nocert=True)
        net.wait_log(r"line refused: 127\.0\.0\.1:\d+")
        st = net.ctl_cmd("stats")
        assert st["refused_lines"] >= 1 and st["lines"] == 0, st


def test_tls_other_ca():
    other = tempfile.mkdtemp(prefix="sl-it-other-")
    try:
        run(["gen", "certs", "--out", other, "--all"])
        with Network() as net:
            cert = (os.path.join(other, "WA-terminal.crt"), os.path.join(other, "WA-terminal.key"))
            assert refused(net, cert=cert)
            net.wait_log(r"line refused: 127\.0\.0\.1:\d+")
            # and a client that trusts another CA does not accept the hub either
            try:
                Line(net, "WA", "terminal", ca=os.path.join(other, "ca.crt"))
                assert False, "client accepted a hub certificate from another CA"
            except ssl.SSLError:
                pass
            # a good line still works
            ca = net.answer_line("CA")
            wa = net.line("WA")
            wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
            assert ca.recv().key == "DQ"
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_plain_refused_off_loopback():
    with Network(tls=False, plain=True, listen="0.0.0.0:0", start=False) as net:
        p = run(["hub", "--config", net.conf], check=False, timeout=20)
        assert p.returncode != 0, p
        assert "loopback" in p.stderr, p.stderr
        p = run(["hub", "check", "--config", net.conf], check=False)
        assert p.returncode == 1 and "loopback" in p.stderr, p.stderr
    with Network(tls=False, plain=False, start=False) as net:
        p = run(["hub", "--config", net.conf], check=False, timeout=20)
        assert p.returncode != 0 and "plain = yes" in p.stderr, p.stderr


def test_plain_on_loopback_needs_token():
    with Network(tls=False, plain=True) as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        q = ca.recv()
        assert q.key == "DQ" and q.requester()["member"] == "WA", q
        # wrong token, another line's token, no AUTH at all
        for tok in ("00" * 16, net.token("OR", "terminal")):
            try:
                Line(net, "WA", "terminal", plain_token=tok)
                assert False, "plain line with a wrong token accepted"
            except Closed as e:
                assert "AUTH refused" in str(e), e
        s = socket.create_connection(("127.0.0.1", net.port), timeout=5)
        m = b"DQ.WATEST000.CA.TXTOLN/A1234"
        s.sendall(struct.pack(">I", len(m)) + m)
        s.settimeout(10)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        assert b"AUTH ERR" in data, data
        ca.expect_nothing(0.3)
        net.wait_log(r"line refused: .*plain AUTH refused")


def test_handshake_timeout():
    with Network(extra_conf="handshake_timeout = 1") as net:
        s = socket.create_connection(("127.0.0.1", net.port), timeout=10)
        t0 = time.monotonic()
        assert s.recv(100) == b""  # the hub closes a line that never authenticates
        assert time.monotonic() - t0 < 9
        s.close()
        net.wait_log(r"line refused: 127\.0\.0\.1:\d+: did not authenticate in time")


def test_bad_configs():
    with Network(start=False) as net:
        cases = [
            ("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\nbogus = 1\n", "unknown setting"),
            ("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\ncert = c\nkey = k\nca = a\n"
             "[member CA]\ntakes = DQ XQ\n", "unknown message key 'XQ'"),
            ("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\ncert = c\nkey = k\nca = a\n"
             "[member CA]\ntakes = ER\n", "sent only by the switch"),
            ("[hub]\nlisten = nowhere\ndirectory = dir.db\n", "not a host:port"),
            ("[hub]\nlisten = 127.0.0.1:0\n", "directory is missing"),
            ("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\n", "needs cert, key and ca"),
            ("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\nmax_frame = 12q\n", "max_frame"),
            ("[nothub]\nx = 1\n", "unknown section"),
        ]
        path = os.path.join(net.dir, "bad.conf")
        for text, want in cases:
            with open(path, "w") as f:
                f.write(text)
            p = run(["hub", "check", "--config", path], check=False)
            assert p.returncode == 1 and want in p.stderr, (text, p.stderr)
        p = run(["hub", "check", "--config", net.conf], check=False)
        assert p.returncode == 0, p.stderr
        # a directory that does not exist: the hub does not start
        with open(path, "w") as f:
            f.write("[hub]\nlisten = 127.0.0.1:0\ndirectory = nope.db\ntls = no\nplain = yes\n"
                    "tokens = certs/tokens\n")
        p = run(["hub", "--config", path], check=False, timeout=20)
        assert p.returncode == 1 and "nope.db" in p.stderr, p.stderr
        # plain lines without a readable tokens file: the hub does not start
        with open(path, "w") as f:
            f.write("[hub]\nlisten = 127.0.0.1:0\ndirectory = dir.db\ntls = no\nplain = yes\n"
                    "tokens = no-such-tokens\n")
        p = run(["hub", "--config", path], check=False, timeout=20)
        assert p.returncode == 1 and "no-such-tokens" in p.stderr, p.stderr


if __name__ == "__main__":
    run_tests([test_tls_without_certificate, test_tls_other_ca, test_plain_refused_off_loopback,
               test_plain_on_loopback_needs_token, test_handshake_timeout, test_bad_configs])
