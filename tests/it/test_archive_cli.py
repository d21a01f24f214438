#!/usr/bin/env python3
"""Black-box tests of `stateline archive bench | fetch | search | gaps | expire`.

A small archive is written by the benchmark (3,000 messages over 30 days, real writer
thread), then read back: fetch of message 1, a search for a word of it that must list it,
the same search as a directory ORI without the rand flag (refused) and with it, bad
input (ER text, exit 1; usage, exit 2), and expiry with a 1-day retention that must delete
the older rows and make message 1 NOT ON FILE; `bench --from` replays the archive into a
second one that answers alike.  Everything runs in a temporary directory
that is removed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("STATELINE", "build/stateline")

passed = 0
failed = 0


def run(*args, timeout=120):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s\n%s" % (name, detail), file=sys.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="sl-archive-")
    try:
        db = os.path.join(tmp, "archive.db")
        r = run("archive", "bench", "--db", db, "--messages", "3000", "--searches", "2",
                "--days", "30")
        check("bench runs", r.returncode == 0, r.stdout + r.stderr)
        check("bench reports the insert rate",
              re.search(r"inserted 3000 messages .* messages/s", r.stdout), r.stdout)
        check("bench reports every search form", "NFQ fetch by sequence number" in r.stdout
              and "p99 ms" in r.stdout, r.stdout)
        r = run("archive", "bench", "--db", db, "--messages", "3000")
        check("bench refuses an existing file", r.returncode == 1 and "exists" in r.stderr,
              r.stderr)

        r = run("archive", "fetch", "--db", db, "1")
        check("fetch 1", r.returncode == 0 and r.stdout.startswith("SEQ/1\nDATE/")
              and "\nTXT\n" in r.stdout, r.stdout + r.stderr)
        body = r.stdout.split("\nTXT\n", 1)[1] if "\nTXT\n" in r.stdout else ""
        key = re.search(r"^KEY/(\w+)$", r.stdout, re.M)
        key = key.group(1) if key else "DQ"
        # a word of message 1 that is long enough to be specific
        words = [w for w in re.findall(r"[A-Z0-9]+", body) if len(w) >= 5]
        check("message 1 has words", words, body)
        word = words[0] if words else "XXXXX"
        date = re.search(r"^DATE/(\d{8})@", r.stdout, re.M)
        date = date.group(1) if date else "20000101"

        q = "TYP/%s.BEG/%s.END/%s.FND/%s" % (key, date, date, word)
        r = run("archive", "search", "--db", db, q)
        check("search finds message 1", r.returncode == 0
              and re.search(r"^1 +%s " % date, r.stdout, re.M)
              and "SEARCH OF ARCHIVE (TIMES UTC)" in r.stdout, q + "\n" + r.stdout + r.stderr)

        # the write path alone: replaying the archive gives the same messages and answers
        db2 = os.path.join(tmp, "replay.db")
        r = run("archive", "bench", "--db", db2, "--from", db, "--batch", "100")
        check("bench --from replays every message", r.returncode == 0
              and re.search(r"replayed 3000 messages of .*\n  writer thread CPU: [0-9.]+ us "
                            r"per message, 30 transactions, 100 messages per transaction",
                            r.stdout), r.stdout + r.stderr)
        r2 = run("archive", "search", "--db", db2, q)
        r1 = run("archive", "search", "--db", db, q)
        check("the replay answers alike", r2.returncode == 0 and r2.stdout == r1.stdout,
              r1.stdout + "\n---\n" + r2.stdout + r2.stderr)
        r = run("archive", "fetch", "--db", db2, "1")
        check("the replay keeps message 1", r.stdout.split("\nTXT\n", 1)[-1] == body,
              r.stdout + r.stderr)
        r = run("archive", "bench", "--db", db2, "--from", db)
        check("bench --from refuses an existing file", r.returncode == 1
              and "exists" in r.stderr, r.stderr)
        r = run("archive", "bench", "--db", os.path.join(tmp, "x.db"), "--from",
                os.path.join(tmp, "none.db"))
        check("bench --from a missing archive: exit 1", r.returncode == 1
              and "none.db" in r.stderr, r.stderr)

        # gaps: none in a benchmark's archive (it retries a full queue); bad input
        r = run("archive", "gaps", "--db", db)
        check("gaps: none recorded", r.returncode == 0 and r.stdout.startswith(
            "no gaps recorded in "), r.stdout + r.stderr)
        r = run("archive", "gaps", "--db", db, "--limit", "0")
        check("gaps --limit 0: exit 2", r.returncode == 2 and "--limit" in r.stderr, r.stderr)
        r = run("archive", "gaps")
        check("gaps without --db: exit 2", r.returncode == 2, r.stderr)
        r = run("archive", "gaps", "--db", os.path.join(tmp, "none.db"))
        check("gaps of a missing database: exit 1", r.returncode == 1
              and "cannot open" in r.stderr, r.stderr)

        r = run("archive", "search", "--db", db,
                "TYP/ALL.BEG/20260101.END/20260102.NAM/ZZQXJW")
        check("NOT ON FILE", r.returncode == 0 and r.stdout.endswith("NOT ON FILE\n"),
              r.stdout + r.stderr)

        # as a directory ORI: without and with the rand flag
        d = os.path.join(tmp, "dir.db")
        for ori, rand in (("WATEST000", "0"), ("WATEST001", "1")):
            r = run("dir", "put", "--db", d, "--ori", ori, "--member", "WA", "--name",
                    "Test agency", "--type", "PD", "--cats", "ACDZ", "--status", "A",
                    "--rand", rand)
            check("dir put " + ori, r.returncode == 0, r.stdout + r.stderr)
        r = run("archive", "search", "--db", db, "--dir", d, "--as", "WATEST000", q)
        check("no rand flag: refused", r.returncode == 0 and r.stdout ==
              "SEARCH REFUSED - ORI WATEST000 IS NOT AUTHORIZED TO SEARCH THE ARCHIVE\n",
              r.stdout + r.stderr)
        r = run("archive", "search", "--db", db, "--dir", d, "--as", "WATEST001", q)
        check("rand flag: found", re.search(r"^1 +%s " % date, r.stdout, re.M),
              r.stdout + r.stderr)

        # bad input
        r = run("archive", "search", "--db", db, "TYP/ALL.BEG/20261301.END/20261126.NAM/X")
        check("bad date: ER .10.", r.returncode == 1 and "ER .10." in r.stderr, r.stderr)
        r = run("archive", "search", "--db", db,
                "TYP/ALL.BEG/20260101.END/20260102.NAM/SM*TH")
        check("bad wildcard: ER .22.", r.returncode == 1 and "ER .22." in r.stderr
              and "WILDCARD" in r.stderr, r.stderr)
        r = run("archive", "search", "--db", os.path.join(tmp, "none.db"),
                "TYP/ALL.BEG/20260101.END/20260102.NAM/X")
        check("missing database: exit 1", r.returncode == 1 and "cannot open" in r.stderr,
              r.stderr)
        r = run("archive", "search")
        check("usage: exit 2", r.returncode == 2, r.stderr)
        r = run("archive", "--help")
        check("--help", r.returncode == 0 and "stateline archive" in r.stdout + r.stderr)

        # expiry: keep one day; message 1 is from the first of 30 days
        r = run("archive", "expire", "--db", db, "--retention-days", "1")
        m = re.search(r"deleted (\d+) messages older than 1 days; (\d+) remain", r.stdout)
        check("expire", r.returncode == 0 and m and int(m.group(1)) > 2500
              and int(m.group(1)) + int(m.group(2)) == 3000, r.stdout + r.stderr)
        r = run("archive", "fetch", "--db", db, "1")
        check("expired: NOT ON FILE", r.returncode == 0 and r.stdout == "NOT ON FILE\n",
              r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
