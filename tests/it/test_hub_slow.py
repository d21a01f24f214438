"""Backpressure through the real hub: an answering line that does not read while 10,000
messages are sent to it costs the other lines nothing (another pair completes its
exchange), the hub holds no more for it than out_cap, every one of the 10,000 is either
delivered once the reader reads or refused with an SM .04. (nothing lost silently), and
a slow line that stays away is closed by nobody: it is simply not read from."""
import re
import threading
import time

from slharness import Network, run_tests

SLOW_N = 10000
PAIR_N = 2000


def test_slow_reader_costs_the_others_nothing():
    # Plain lines (token AUTH): WA is read by a thread while the main thread writes to it,
    # which a kernel socket allows and one TLS connection does not (concurrent SSL_read and
    # SSL_write on one SSL object; under load it ended the line).  Backpressure is the
    # same with TLS; test_hub_load covers TLS lines under load.
    with Network(tls=False, plain=True, out_cap="4m") as net:
        slow = net.line("CA", "answer", rcvbuf=4096)
        net.wait_bound("CA")
        idl = net.answer_line("ID")
        wa = net.line("WA")
        orl = net.line("OR")
        refused = []
        errors = []

        def wa_reader():
            # the SMs for what the full line refused
            try:
                while len(refused) < SLOW_N:
                    p = wa.recv_frame(15)
                    if p is None:
                        return
                    # backpressure: its output buffer is full, or it has as many queries
                    # unanswered as the switch keeps track of (both SM .04.)
                    if b".04. USER OUT OF SERVICE" in p and (
                            b"QUEUE IS FULL" in p or b"TOO MANY QUERIES WAITING" in p):
                        m = re.search(rb"OLN/S(\d{7})", p)
                        refused.append(int(m.group(1)))
                    else:
                        errors.append(p[:200])
            except Exception as e:  # noqa: BLE001 - reported by the assertions below
                errors.append(repr(e))

        t = threading.Thread(target=wa_reader, daemon=True)
        t.start()
        payload = b"".join(
            __import__("struct").pack(">I", len(m)) + m for m in
            (("DQ.WATEST000.CA.TXTOLN/S%07d" % i).encode() for i in range(SLOW_N)))
        wa.send_raw(payload)

        # meanwhile the other pair: OR asks ID, ID answers, OR gets every answer
        def id_responder():
            try:
                for _ in range(PAIR_N):
                    q = idl.recv(30)
                    m = re.search(r"OLN/P(\d{7})", q.body)
                    idl.send("DR.IDTEST000.ORTEST000.TXTOLN/P%s VALID" % m.group(1))
            except Exception as e:  # noqa: BLE001
                errors.append("ID: %r" % e)

        r = threading.Thread(target=id_responder, daemon=True)
        r.start()
        t0 = time.monotonic()
        orl.send_raw(b"".join(
            __import__("struct").pack(">I", len(m)) + m for m in
            (("DQ.ORTEST000.ID.TXTOLN/P%07d" % i).encode() for i in range(PAIR_N))))
        got = set()
        while len(got) < PAIR_N:
            a = orl.recv(30)
            assert a.key == "DR", a
            got.add(int(re.search(r"OLN/P(\d{7})", a.body).group(1)))
        pair_s = time.monotonic() - t0
        r.join(10)
        assert got == set(range(PAIR_N)), len(got)
        # the hub holds at most out_cap (plus one message) for the slow line
        st = net.ctl_cmd("lines")
        ca = [ln for ln in st["lines"] if ln["member"] == "CA"][0]
        assert ca["out_pending"] <= 4 * 1024 * 1024 + 4096, ca
        # now the slow line reads: what the hub held arrives, in order, once
        delivered = []
        deadline = time.monotonic() + 60
        while len(delivered) + len(refused) < SLOW_N and time.monotonic() < deadline:
            p = slow.recv_frame(2)
            if p is None:
                continue
            delivered.append(int(re.search(rb"OLN/S(\d{7})", p).group(1)))
        t.join(5)
        assert not errors, errors[:5]
        assert len(delivered) + len(refused) == SLOW_N, (len(delivered), len(refused))
        assert sorted(delivered + refused) == list(range(SLOW_N))
        assert delivered == sorted(delivered)
        print("slow line: %d delivered, %d refused; pair of %d exchanges in %.2f s" %
              (len(delivered), len(refused), PAIR_N, pair_s))
        slow.expect_nothing(0.3)


if __name__ == "__main__":
    run_tests([test_slow_reader_costs_the_others_nothing])
