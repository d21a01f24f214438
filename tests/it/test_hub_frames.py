"""Framing abuse against the real hub: an oversized frame (ER, then the line is closed), a
frame cut off by the peer (nothing delivered, hub fine), garbage bytes of every kind (an
answer each, never a crash or a stall)."""
import random
import socket
import struct
import time

from slharness import Closed, Network, run_tests


def assert_hub_routes(net, ca):
    """The hub is alive and still routes: a fresh WA line's DQ reaches CA."""
    assert net.alive(), "hub died:\n" + "\n".join(net.log[-30:])
    wa = net.line("WA")
    wa.send("DQ.WATEST000.CA.TXTOLN/STILLOK1")
    q = ca.recv()
    assert "OLN/STILLOK1" in q.body, q
    wa.close()


def test_oversized_frame():
    with Network(max_frame="4k") as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        # announce 100,000 bytes: the hub must not wait for them nor allocate them
        wa.send_raw(struct.pack(">I", 100000) + b"DQ.WATEST000.CA.TXTOLN/" + b"A" * 200)
        frames = wa.expect_closed()
        assert len(frames) == 1, frames
        from slharness import Out
        er = Out(frames[0])
        assert er.key == "ER" and er.ori == "NL0000000", er
        assert "FRAME OF 100000 BYTES EXCEEDS THE MAXIMUM OF 4096" in er.body, er.body
        assert "ORIGINAL MESSAGE" in er.body and "DQ.WATEST000.CA.TXT" in er.body, er.body
        net.wait_log(r"frame of 100000 bytes over max_frame 4096")
        ca.expect_nothing()
        # exactly max_frame is fine (it is refused for its content, not its size)
        wa2 = net.line("WA")
        wa2.send("X" * 4096)
        er2 = wa2.recv()
        assert er2.key == "ER", er2
        assert_hub_routes(net, ca)


def test_truncated_frame():
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        msg = b"DQ.WATEST000.CA.TXTOLN/CUTOFF1"
        wa.send_raw(struct.pack(">I", len(msg) + 50) + msg)
        time.sleep(0.2)
        wa.close()
        net.wait_log(r"line down: WA terminal .*line closed inside a frame \(\d+ bytes of it\)")
        ca.expect_nothing(0.5)
        # header itself cut in two
        wa2 = net.line("WA")
        wa2.send_raw(b"\x00\x00")
        wa2.close()
        assert_hub_routes(net, ca)


def test_garbage():
    rnd = random.Random(1)
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA")
        samples = [
            b"", b".", b"..........", b"TXT", b"DQ", b"DQ.", b"DQ.WATEST000", b"DQ.WATEST000.",
            b"DQ.WATEST000.CA.", b"DQ.WATEST000.CA.TXT", b"\x00" * 64, b"\xff" * 300,
            # (valid-looking ones go to ZZ, not a member: each must come back as an ER)
            b"DQ.WATEST000.ZZ.TXT\x00\x01\x02OLN/\x7f\x80\xff", b"DQ.WATEST000." + b"CA." * 40,
            b"ZZZZ.WATEST000.CA.TXTOLN/A1", b"dq.watest000.ca.txtoln/a1",
            b"DQ.WATEST000.ZZ.TXT" + b"OLN/A1." * 500, b"AM.WATEST000.ZZ.TXT" + bytes(range(256)),
        ]
        for _ in range(200):
            n = rnd.randrange(0, 300)
            samples.append(bytes(rnd.randrange(256) for _ in range(n)))
        answered = 0
        for s in samples:
            wa.send(s)
            if not s:
                continue  # an empty frame is a keep-alive: no answer
            out = wa.recv(10)
            assert out.key == "ER" and out.ori == "NL0000000", out
            assert "ORIGINAL MESSAGE" in out.body, out.body
            answered += 1
        assert answered == len([s for s in samples if s])
        ca.expect_nothing(0.2)
        # raw garbage that is not even framed: the hub reads a huge length, answers, closes
        g = net.line("WA")
        g.send_raw(b"\xde\xad\xbe\xef" + bytes(rnd.randrange(256) for _ in range(5000)))
        try:
            frames = g.expect_closed()
        except Closed:
            frames = []
        assert len(frames) <= 1
        # plain TCP bytes at a TLS listener
        s = socket.create_connection(("127.0.0.1", net.port), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"\x00" * 100)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        net.wait_log(r"line refused: 127\.0\.0\.1:\d+")
        assert_hub_routes(net, ca)


if __name__ == "__main__":
    run_tests([test_oversized_frame, test_truncated_frame, test_garbage])
