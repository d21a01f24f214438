#!/usr/bin/env python3
"""Smoke test of `stateline bench switch`: a 3-second fixed-rate run at 2,000 queries/s.

It starts its own hub and responder, so this checks the whole harness: the JSON report
parses, every query sent was answered (through the hub, directly, and through nats-server
when it is installed), no errors, and the temporary directory and child processes are gone
afterwards.  Then a run interrupted with SIGINT (Ctrl-C): exit 130, and again nothing left
behind.  No timing assertions.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

STATELINE = os.environ.get("STATELINE", "build/stateline")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def main():
    tmp = tempfile.mkdtemp(prefix="sl-bench-")
    env = dict(os.environ, TMPDIR=tmp)
    r = subprocess.run([STATELINE, "bench", "switch", "--rate", "2000", "--duration", "3",
                        "--json"], capture_output=True, text=True, timeout=120, env=env)
    check("exit 0", r.returncode == 0, r.stderr[-3000:])
    try:
        rep = json.loads(r.stdout)
    except ValueError as e:
        check("JSON parses", False, f"{e}: {r.stdout[-2000:]}")
        return
    check("JSON parses", True)
    check("fixed mode", rep.get("mode") == "fixed" and rep.get("scenario") == "switch", r.stdout)
    for side in ("hub", "direct"):
        s = rep.get(side, {})
        check(f"{side}: sent 6000", s.get("sent") == 6000, json.dumps(s))
        check(f"{side}: sent == received", s.get("sent") == s.get("received"), json.dumps(s))
        check(f"{side}: no errors, no loss, not overloaded",
              s.get("errors") == 0 and s.get("lost") == 0 and s.get("overload") is False,
              json.dumps(s))
        lat = s.get("latency_us", {})
        check(f"{side}: percentiles ordered",
              0 <= lat.get("p50", -1) <= lat.get("p90", -1) <= lat.get("p99", -1)
              <= lat.get("p99.9", -1) <= lat.get("max", -1), json.dumps(lat))
    peer = rep.get("peer")
    if peer is not None:  # nats-server is installed: the peer ran the same traffic
        check("peer: sent == received == 6000",
              peer.get("sent") == 6000 and peer.get("received") == 6000, json.dumps(peer))
        check("peer: no errors, no loss", peer.get("errors") == 0 and peer.get("lost") == 0,
              json.dumps(peer))
        check("peer: latency ratios", set(peer.get("latency_vs_hub", {})) ==
              {"p50", "p90", "p99", "p99.9"}, json.dumps(peer))
    else:
        print("(no peer: nats-server is not installed)")
    check("hub_added_us present", set(rep.get("hub_added_us", {})) == {"p50", "p90", "p99",
                                                                        "p99.9"}, r.stdout)
    stray = stray_processes(tmp)
    check("no child process left", not stray, str(stray))
    left = glob.glob(os.path.join(tmp, "stateline-bench-*"))
    check("temporary directory removed", not left, str(left))
    os.rmdir(tmp)


def stray_processes(tmp):
    found = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                if tmp.encode() in f.read():
                    found.append(cmdline)
        except OSError:
            pass
    return found


def interrupted():
    """Ctrl-C in the middle of a run: exit 130, children stopped, folder removed."""
    import signal
    import time
    tmp = tempfile.mkdtemp(prefix="sl-bench-int-")
    env = dict(os.environ, TMPDIR=tmp)
    p = subprocess.Popen([STATELINE, "bench", "switch", "--rate", "500", "--duration", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # wait until the hub and the responder run (their command lines name the folder)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(stray_processes(tmp)) < 2:
        time.sleep(0.1)
    time.sleep(1)  # into the measurement
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check("SIGINT: exit 130", p.returncode == 130, f"{p.returncode} {err[-2000:]}")
    check("SIGINT: says so", "interrupted" in err, err[-2000:])
    time.sleep(0.2)
    check("SIGINT: no child process left", not stray_processes(tmp), str(stray_processes(tmp)))
    left = glob.glob(os.path.join(tmp, "stateline-bench-*"))
    check("SIGINT: temporary directory removed", not left, str(left))
    os.rmdir(tmp)


def policy_scenario():
    """`stateline bench policy` runs the policy engine's benchmark (F-3)."""
    p = subprocess.run([STATELINE, "bench", "policy", "--rules", "100"], capture_output=True,
                       text=True, timeout=120)
    check("policy: exit 0", p.returncode == 0, p.stderr[-2000:])
    check("policy: 100 rules measured", "100 rules" in p.stdout and "median" in p.stdout,
          p.stdout[-2000:])


if __name__ == "__main__":
    try:
        main()
        interrupted()
        policy_scenario()
    except Exception as e:
        failed += 1
        print(f"FAIL unexpected: {e!r}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
