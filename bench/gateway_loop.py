"""gateway_loop.py - queries/s end to end through a hub and a gateway (docs/performance.md).

A real hub (TLS) and a real WA gateway (wa.policy of the black-box test, a generated
population), K terminal lines in threads, each sending DQ by a random licence number of the
population and waiting for its DR before the next (closed loop).  Prints queries/s and the
round-trip p50/p99.  Then times N runs of the `stateline query` command (one process, one TLS
line and one query each).  Python standard library only; uses tests/it/slharness.py.

    STATELINE=build/stateline python3 bench/gateway_loop.py [--drivers N] [--lines K]
        [--seconds S] [--commands N]
"""
import argparse
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "it"))
import slharness as h  # noqa: E402
import test_gateway as tg  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drivers", type=int, default=100000)
    ap.add_argument("--lines", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--commands", type=int, default=50)
    a = ap.parse_args()
    net = h.Network(start=False, members_conf=tg.MEMBERS)
    gw = None
    try:
        net.add_oris(tg.ORIS)
        net.start()
        os.environ["STATELINE_LOG"] = "info"
        gw = h.Gateway(net, "WA", policy=tg.WA_POLICY, drivers=a.drivers, seed=7)
        con = sqlite3.connect(gw.records)
        olns = [r[0] for r in con.execute("SELECT oln FROM driver ORDER BY random() LIMIT 5000")]
        con.close()
        lat = []
        lock = threading.Lock()
        stop = time.monotonic() + a.seconds
        members = [("WA", "WATEST000"), ("OR", "ORTEST000"), ("CA", "CATEST000"),
                   ("ID", "IDTEST000")]

        def worker(i):
            member, ori = members[i % len(members)]
            line = net.line(member)
            rnd = random.Random(i)
            mine = []
            n = 0
            while time.monotonic() < stop:
                n += 1
                c = "B%d-%d" % (i, n)
                c = c[:10]
                t0 = time.monotonic()
                m = h.ask(line, "DQ.%s.WA.%s.TXT\nOLN/%s" % (ori, c, rnd.choice(olns)), c)
                assert m.key == "DR", m
                mine.append(time.monotonic() - t0)
            with lock:
                lat.extend(mine)

        ths = [threading.Thread(target=worker, args=(i,)) for i in range(a.lines)]
        t0 = time.monotonic()
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        el = time.monotonic() - t0
        lat.sort()
        print("closed loop: %d lines, %d drivers: %d queries in %.1f s = %.0f queries/s; "
              "round trip p50 %.2f ms, p99 %.2f ms" % (
                  a.lines, a.drivers, len(lat), el, len(lat) / el,
                  1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.99)]))
        t0 = time.monotonic()
        for i in range(a.commands):
            p = subprocess.run([h.STATELINE, "query", "--hub", "127.0.0.1:%d" % net.port,
                                "--certs", net.certs, "--line", "WA", "--as", "WATEST000",
                                "--wait", "10", "dq", "--to", "WA", "--oln", olns[i]],
                               capture_output=True, text=True)
            assert p.returncode == 0 and "DR (driver" in p.stdout, p.stdout + p.stderr
        el = time.monotonic() - t0
        print("`stateline query` loop: %d commands in %.1f s = %.1f queries/s (%.1f ms each: "
              "process start, TLS handshake, one query)" % (
                  a.commands, el, a.commands / el, 1000 * el / a.commands))
    finally:
        if gw:
            gw.stop()
            gw.close()
        net.close()


if __name__ == "__main__":
    main()
