#!/usr/bin/env python3
"""Benchmark: a 50-state multi-state query's time to the merged reply (docs/performance.md).

A hub over mutual TLS (a temporary network made by tests/it/slharness.py), 50 states each
answered by its own `stateline query listen --reply` process on its own TLS answering line
(so each answer goes through a real gateway-like client: parse, reply with the control field
echoed), and one terminal line here that sends DQ.<ORI>.NL and waits for the merged DR.
Every state answers, so the reply goes out when the 50th answer arrives (not at the timeout).

    STATELINE=build/stateline python3 bench/hub_msq.py [--queries N]
        [--hits K] [--concurrent C]

--hits K: K of the 50 states answer with a record (a hit), the others NOT ON FILE.
--concurrent C: C queries in flight at once (default 1: the latency of one query).
Prints p50/p90/p99/max of the time from the send to the merged reply, and queries per second.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "it"))
from slharness import STATELINE, Network  # noqa: E402

STATES = ("AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC "
          "ND NE NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY GU PR VI").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hits", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=1)
    a = ap.parse_args()
    answer = STATES[:50]
    others = STATES[50:]
    members = "".join("[member %s]\ntakes = AM\n" % m for m in others)  # exactly 50 queried
    procs = []
    with Network(members_conf=members, extra_conf="msq_timeout = 60\n") as net:
        try:
            for i, m in enumerate(answer):
                reply = ("OLN/B1234567 NAM/DOE,JANE DOB/19800101 STATUS/VALID CLASS/C"
                         if i < a.hits else "NOT ON FILE")
                procs.append(subprocess.Popen(
                    [STATELINE, "query", "--hub", "127.0.0.1:%d" % net.port, "--certs",
                     net.certs, "--line", "%s:answer" % m, "listen", "--reply", reply,
                     "--wait", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for m in answer:
                net.wait_bound(m, 30)
            wa = net.line("WA")
            lat = []
            sent = {}
            t_all = time.monotonic()
            nsent = ndone = 0
            while ndone < a.queries:
                while nsent < a.queries and nsent - ndone < a.concurrent:
                    ctl = "B%07d" % nsent
                    sent[ctl] = time.monotonic()
                    wa.send("DQ.WATEST000.NL.%s.TXTOLN/A%07d" % (ctl, nsent))
                    nsent += 1
                r = wa.recv(120)
                assert r.key == "DR" and r.ori == "NL0000000", r
                m = re.match(r"MULTI-STATE QUERY DQ - 50 STATES QUERIED, (\d+) HIT", r.body)
                assert m and int(m.group(1)) == a.hits, r.body[:200]
                lat.append(time.monotonic() - sent.pop(r.ctl))
                ndone += 1
            total = time.monotonic() - t_all
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(10)
    lat.sort()
    ms = [x * 1000 for x in lat]

    def pct(p):
        return ms[min(len(ms) - 1, int(len(ms) * p))]

    print("50-state multi-state query (DQ to NL), %d queries, %d in flight, %d hits each, "
          "TLS, 50 `stateline query listen` responders" % (a.queries, a.concurrent, a.hits))
    print("time to merged reply: p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  "
          "mean %.2f ms" % (pct(0.5), pct(0.9), pct(0.99), ms[-1], statistics.mean(ms)))
    print("throughput: %.0f multi-state queries/s (%.0f state answers/s)" %
          (a.queries / total, a.queries * 50 / total))


if __name__ == "__main__":
    main()
