#!/usr/bin/env python3
"""Black-box test of `stateline gen population` and `stateline store`: a generated file
answers every look-up form through the CLI, options are checked, exit codes are as
documented (docs/records.md §1), and the same seed gives the same rows."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

BIN = os.environ.get("STATELINE", "stateline")
passed = failed = 0


def run(*args, timeout=120):
    p = subprocess.run([BIN, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def main():
    tmp = tempfile.mkdtemp(prefix="sl-store-it-")
    try:
        db = os.path.join(tmp, "wa.db")
        gen = ["gen", "population", "--state", "WA", "--drivers", "2000", "--seed", "9",
               "--as-of", "2026-11-26", "--out", db, "--quiet"]
        rc, out, err = run(*gen)
        check("gen ok", rc == 0 and os.path.exists(db), err)
        check("gen summary", b"2000 drivers" in out, out)
        check("no tmp left", not os.path.exists(db + ".tmp"))
        rc, _, err = run(*gen)
        check("refuses to replace", rc == 1 and "exists" in err, err)
        rc, _, err = run("gen", "population", "--state", "ZZ", "--drivers", "5", "--out", db)
        check("bad state", rc == 2 and "unknown state" in err, err)
        rc, _, err = run("gen", "population", "--state", "WA", "--drivers", "-5", "--out", db)
        check("bad count", rc == 2, err)
        rc, _, err = run("gen", "population", "--state", "WA", "--drivers", "5", "--out", db,
                         "--as-of", "2026-02-30")
        check("bad date", rc == 2 and "as-of" in err, err)
        rc, _, err = run("gen", "population", "--state", "WA")
        check("missing options", rc == 2, err)
        rc, out, _ = run("gen", "population", "--help")
        check("help", rc == 0 and b"--drivers" in out)

        con = sqlite3.connect(db)
        rows = con.execute("SELECT id, oln, last, first, middle, dob, sex FROM driver "
                           "WHERE id % 97 = 0").fetchall()
        vrows = con.execute("SELECT v.id, plate, plate_year, plate_type, vin, d.last, d.first "
                            "FROM vehicle v JOIN owner o ON o.vehicle_id = v.id AND o.seq = 0 "
                            "JOIN driver d ON d.id = o.driver_id WHERE v.id % 89 = 0").fetchall()
        con.close()
        check("sampled", len(rows) > 15 and len(vrows) > 15)

        for (i, oln, last, first, middle, dob, sex) in rows:
            rc, out, err = run("store", "get", "--db", db, "--oln", oln.lower())
            check("oln", rc == 0 and json.loads(out.splitlines()[0])["id"] == i, err)
            mmddyy = f"{dob // 100 % 100:02d}{dob % 100:02d}{dob // 10000 % 100:02d}"
            rc, out, err = run("store", "get", "--db", db, "--name", f"{first} {last}",
                               "--dob", mmddyy, "--sex", sex)
            ids = [json.loads(l)["id"] for l in out.splitlines()]
            check("name dob sex", rc == 0 and i in ids, err)
            rc, out, err = run("store", "get", "--db", db, "--history", oln)
            check("history", rc == 0 and "history" in json.loads(out), err)
        for (vid, plate, liy, lit, vin, last, first) in vrows:
            rc, out, err = run("store", "get", "--db", db, "--plate", plate, "--year", str(liy),
                               "--type", lit)
            rec = json.loads(out.splitlines()[0]) if out else {}
            check("plate", rc == 0 and rec.get("id") == vid and rec.get("match") == 3, err)
            check("owner attached", rec.get("owners", [{}])[0].get("last") == last)
            rc, out, err = run("store", "get", "--db", db, "--vin", vin[9:])
            check("vin8", rc == 0 and vid in [json.loads(l)["id"] for l in out.splitlines()], err)
            rc, out, err = run("store", "get", "--db", db, "--owner", f"{last},{first}",
                               "--cap", "100")
            check("owner", rc == 0 and vid in [json.loads(l)["id"] for l in out.splitlines()], err)
            rc, out, err = run("store", "get", "--db", db, "--partial", plate[:3] + "*",
                               "--cap", "500")
            check("partial", rc == 0 and vid in [json.loads(l)["id"] for l in out.splitlines()],
                  err)

        rc, _, err = run("store", "get", "--db", db, "--oln", "NOPE")
        check("not on file", rc == 1 and "NOT ON FILE" in err, err)
        rc, _, err = run("store", "get", "--db", db, "--partial", "A*")
        check("bad pattern", rc == 2 and "3 consecutive" in err, err)
        rc, _, err = run("store", "get", "--db", db, "--name", "SMITH", "--dob", "010180")
        check("bad name", rc == 2, err)
        rc, out, _ = run("store", "get", "--db", db, "--photo", rows[0][1])
        check("photo", rc == 0 and out.startswith(b"P5\n64 80\n255\n") and len(out) == 13 + 64 * 80)
        rc, _, err = run("store", "get", "--db", os.path.join(tmp, "none.db"), "--oln", "X")
        check("missing db", rc == 1, err)
        rc, out, err = run("store", "bench", "--db", db, "--n", "200", "--json")
        b = json.loads(out) if rc == 0 else {}
        check("bench", rc == 0 and len(b.get("forms", [])) == 11 and
              all(f["found"] == 200 for f in b["forms"]), err)
        # The documented shape (docs/records.md "store bench --json"): `stateline bench
        # lookup` reads these keys.
        check("bench json top", b.get("db") == db and b.get("drivers") == 2000 and
              isinstance(b.get("vehicles"), int) and b.get("samples") == 200, b)
        fkeys = {"form", "p50_us", "p90_us", "p99_us", "max_us", "found", "n"}
        check("bench json forms", all(fkeys <= set(f) and f["n"] == 200 and
                                      f["p50_us"] <= f["p90_us"] <= f["p99_us"] <= f["max_us"]
                                      for f in b.get("forms", [])), b)
        check("bench json form names", [f["form"] for f in b.get("forms", [])][:2] ==
              ["DQ OLN", "DQ NAM+DOB+SEX"], b)

        # A state without RPQ: no partial-plate index, the rest unchanged.
        db3 = os.path.join(tmp, "norpq.db")
        rc, _, err = run(*[a if a != db else db3 for a in gen], "--no-partial-plate-index")
        check("gen no rpq", rc == 0, err)
        rc, out, err = run("store", "get", "--db", db3, "--oln", rows[0][1])
        check("no rpq oln", rc == 0, err)
        rc, out, err = run("store", "get", "--db", db3, "--partial", "ABC*")
        check("no rpq partial", rc == 1, err)
        rc, out, err = run("store", "bench", "--db", db3, "--n", "50", "--json")
        check("no rpq bench", rc == 0 and len(json.loads(out)["forms"]) == 10, err)

        # Same seed and as-of: the same rows, byte for byte in every table.
        db2 = os.path.join(tmp, "wa2.db")
        rc, _, err = run(*[a if a != db else db2 for a in gen])
        check("regen", rc == 0, err)
        a, b2 = sqlite3.connect(db), sqlite3.connect(db2)
        for t in ("driver", "history", "vehicle", "owner"):
            check("same " + t, a.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() ==
                  b2.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall())
        a.close()
        b2.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
