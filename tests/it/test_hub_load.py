"""Load shapes (not speed: speed is in the benchmarks): a line that stops reading while
another pair exchanges 5,000 messages; 1,000 lines connecting at once, all served."""
import os
import select
import socket
import ssl
import struct
import threading
import time

from slharness import Network, Out, raise_nofile, run_tests


def test_slow_reader_does_not_stall_others():
    # a small out_cap so that the stuck line fills it quickly
    with Network(out_cap="64k") as net:
        stuck = net.answer_line("CA")   # never reads
        orl = net.answer_line("OR")
        wa = net.line("WA")
        flooder = net.line("ID")
        flood = {"sent": 0, "sm_full": 0, "other": 0, "stop": False, "err": None}

        def flood_ca():
            try:
                i = 0
                while not flood["stop"]:
                    for _ in range(50):
                        flooder.send("DQ.IDTEST000.CA.TXTOLN/F%07d" % i)
                        i += 1
                        flood["sent"] += 1
                    while True:
                        p = flooder.recv_frame(0.01)
                        if p is None:
                            break
                        o = Out(p)
                        if o.key == "SM" and "NOT ACCEPTING TRAFFIC" in o.body:
                            flood["sm_full"] += 1
                        else:
                            flood["other"] += 1
            except Exception as e:  # reported by the main thread
                flood["err"] = e

        t = threading.Thread(target=flood_ca, daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        while flood["sm_full"] == 0 and time.monotonic() < deadline and not flood["err"]:
            time.sleep(0.05)
        assert flood["err"] is None, flood["err"]
        assert flood["sm_full"] > 0, flood

        # the WA/OR pair keeps going: 5,000 queries and 5,000 replies, pipelined
        n, window = 5000, 100
        got = 0
        for base in range(0, n, window):
            for i in range(base, base + window):
                wa.send("DQ.WATEST000.OR.TXTOLN/P%07d" % i)
            for i in range(base, base + window):
                q = orl.recv(20)
                assert q.key == "DQ" and ("OLN/P%07d" % i) in q.body, q
                orl.send("DR.ORTEST000.WATEST000.TXTREPLY %07d" % i)
            for i in range(base, base + window):
                r = wa.recv(20)
                assert r.key == "DR" and ("REPLY %07d" % i) in r.body, r
                got += 1
        assert got == n
        flood["stop"] = True
        t.join(10)
        assert flood["err"] is None, flood["err"]
        # nothing was dropped silently: every flood message was delivered, or answered
        # with an SM (or is still on its way to the flooder)
        while flooder.recv_frame(0.5) is not None:
            pass  # take the last SMs, so the hub keeps reading the flooder
        deadline = time.monotonic() + 20
        while True:
            lines = net.ctl_cmd("lines")["lines"]
            ca_line = [l for l in lines if l["member"] == "CA"][0]
            id_line = [l for l in lines if l["member"] == "ID"][0]
            if id_line["frames_in"] == flood["sent"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert id_line["frames_in"] == flood["sent"], (id_line, flood)
        assert ca_line["frames_out"] + id_line["refused"] == id_line["frames_in"], \
            (ca_line, id_line)
        assert id_line["errors"] == 0, id_line
        assert ca_line["out_pending"] <= 64 * 1024 + 4096, ca_line
        assert net.alive()
        stuck.close()


def test_sender_that_does_not_read_is_paused():
    """A line that sends and never reads its answers: the hub stops reading it once its
    output reaches out_cap (TCP pushes back on the sender), serves the others meanwhile,
    and loses none of its answers."""
    n = 60000
    # Plain lines: this test writes and reads one line from two threads at once, which an
    # OpenSSL connection does not allow (Python's SSLSocket is one SSL object); what it
    # tests, the pause on unread output, is the same with or without TLS.  The socket is
    # blocking for both threads (a send that timed out half-way would cut a frame, and the
    # hub would rightly close the line); the reader waits with select() instead.
    with Network(tls=False, plain=True, out_cap="64k") as net:
        ca = net.answer_line("CA")
        # A receive buffer of 256 KiB, fixed (no autotuning): far less than the 16 MB of
        # answers, so the hub's output must back up, yet each read takes many answers.
        # With 4 KiB the read-back went one small TCP window at a time (about 3,300 of
        # them), and since this socket also sends, its kernel may hold each window update
        # back as a delayed ACK (40-200 ms): on one CI machine that took longer than 300 s.
        bad = net.line("WA", rcvbuf=262144)
        bad.sock.settimeout(None)
        done = {"sent": 0, "err": None}
        pad = b"X" * 1000

        def send_all():
            try:
                for i in range(n):
                    # each gets an ER (unknown ORI, checked before the fields); the
                    # padding makes 60,000 of them (60 MB) far more than the socket
                    # buffers on both sides can hold, so TCP must push back
                    msg = b"DQ.WAZZZZ999.CA.TXTOLN/B%07d.NAM/%s" % (i, pad)
                    bad.sock.sendall(struct.pack(">I", len(msg)) + msg)
                    done["sent"] += 1
            except Exception as e:  # reported by the main thread
                done["err"] = e

        def read_frame(timeout):
            deadline = time.monotonic() + timeout
            while True:
                if len(bad.inbuf) >= 4:
                    k = struct.unpack(">I", bad.inbuf[:4])[0]
                    if len(bad.inbuf) >= 4 + k:
                        p, bad.inbuf = bad.inbuf[4:4 + k], bad.inbuf[4 + k:]
                        return Out(p)
                left = deadline - time.monotonic()
                assert left > 0, "nothing received in %s s (after %d sent, %d read): %r" % (
                    timeout, done["sent"], got["n"], wa_state())
                if select.select([bad.sock], [], [], left)[0]:
                    chunk = bad.sock.recv(262144)
                    assert chunk, "closed by the hub"
                    bad.inbuf += chunk

        got = {"n": 0}

        def wa_state():
            lines = net.ctl_cmd("lines")["lines"]
            return [l for l in lines if l["member"] == "WA"]

        t = threading.Thread(target=send_all, daemon=True)
        t.start()
        deadline = time.monotonic() + 30
        paused = None
        while time.monotonic() < deadline:
            lines = net.ctl_cmd("lines")["lines"]
            w = [l for l in lines if l["member"] == "WA"]
            if w and w[0]["paused"]:
                paused = w[0]
                break
            time.sleep(0.05)
        assert paused, "the line that does not read was never paused"
        assert paused["out_pending"] <= 64 * 1024 + 2048, paused
        assert done["sent"] < n, done  # its sends are held back by TCP
        # the others are served meanwhile
        wa2 = net.line("WA")
        wa2.send("DQ.WATEST000.CA.TXTOLN/OTHER01")
        assert "OLN/OTHER01" in ca.recv().body
        # it reads at last: every answer arrives, in order, and steadily (a read-back
        # slower than 2 minutes says where it stands instead of running into the alarm)
        t0 = time.monotonic()
        for i in range(n):
            er = read_frame(30)
            assert er.key == "ER" and ("OLN/B%07d" % i) in er.body, (i, er)
            got["n"] = i + 1
            if i % 1000 == 999:
                assert time.monotonic() - t0 < 120, (
                    "read-back too slow: %d of %d answers in %.0f s, %d sent; %r" % (
                        i + 1, n, time.monotonic() - t0, done["sent"], wa_state()))
        t.join(30)
        assert done["err"] is None and done["sent"] == n, done


def test_thousand_lines_at_once():
    want = 1000
    limit = raise_nofile(want + 200)
    assert limit >= want + 100, "RLIMIT_NOFILE %d too low for this test" % limit
    # 1,000 TLS handshakes at once take the hub seconds of CPU (more under ASan on a busy
    # machine): a generous handshake_timeout, so that this measures service, not speed
    with Network(extra_conf="handshake_timeout = 120") as net:
        # 1,000 distinct active ORIs with the D category, outside CA, each on a terminal line
        # of its own member, so that every DR must find its own line
        oris = [o for o in net.generated_oris()
                if o["status"] == "A" and "D" in o["categories"] and o["member"] != "CA"
                and len(o["member"]) == 2]
        members = sorted({o["member"] for o in oris})
        picked, per = [], {}
        for o in oris:
            if len(picked) == want:
                break
            if per.get(o["member"], 0) < 40:
                per[o["member"]] = per.get(o["member"], 0) + 1
                picked.append(o)
        assert len(picked) == want, (len(picked), members)
        ca = net.answer_line("CA")
        ctxs = {}
        socks = []
        for o in picked:
            m = o["member"]
            if m not in ctxs:
                ctxs[m] = net.client_context(m, "terminal")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", net.port))
            socks.append(ctxs[m].wrap_socket(s, server_hostname="localhost",
                                             do_handshake_on_connect=False))
        # every handshake concurrently (poll: select() stops at descriptor 1023)
        pending = set(range(want))
        deadline = time.monotonic() + 90
        while pending and time.monotonic() < deadline:
            poller = select.poll()
            for i in list(pending):
                try:
                    socks[i].do_handshake()
                    pending.discard(i)
                except ssl.SSLWantReadError:
                    poller.register(socks[i].fileno(), select.POLLIN)
                except ssl.SSLWantWriteError:
                    poller.register(socks[i].fileno(), select.POLLOUT)
                except OSError as e:
                    if getattr(e, "errno", None) in (11, 115, 107):  # not connected yet
                        poller.register(socks[i].fileno(), select.POLLOUT)
                    else:
                        raise
            if pending:
                poller.poll(200)
        assert not pending, "%d handshakes did not finish" % len(pending)
        for i, s in enumerate(socks):
            s.setblocking(True)
            s.settimeout(30)
            msg = ("DQ.%s.CA.TXTOLN/N%05d" % (picked[i]["ori"], i)).encode()
            s.sendall(struct.pack(">I", len(msg)) + msg)
        # the CA responder answers each query to its requester ORI
        seen = set()
        while len(seen) < want:
            try:
                q = ca.recv(60)
            except AssertionError:
                gone = [l for l in net.log if "line refused" in l or "line down" in l]
                raise AssertionError("CA got %d of %d queries; lines refused or down: %d %s"
                                     % (len(seen), want, len(gone), gone[:5]))
            assert q.key == "DQ", q
            idx = int(q.body.split("OLN/N")[1][:5])
            assert q.requester()["ori"] == picked[idx]["ori"], (q.text, picked[idx])
            seen.add(idx)
            ca.send("DR.CATEST000.%s.TXTANSWER %05d" % (q.ori, idx))
        # each line gets its own answer
        for i, s in enumerate(socks):
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                chunk = s.recv(65536)
                assert chunk, "line %d closed" % i
                buf += chunk
            o = Out(buf[4:4 + struct.unpack(">I", buf[:4])[0]])
            assert o.key == "DR" and ("ANSWER %05d" % i) in o.body, (i, o)
        st = net.ctl_cmd("stats")
        assert st["lines_open"] == want + 1 and st["refused_lines"] == 0, st
        for s in socks:
            s.close()


if __name__ == "__main__":
    run_tests([test_slow_reader_does_not_stall_others, test_sender_that_does_not_read_is_paused,
               test_thousand_lines_at_once],
              per_test_timeout=300)
