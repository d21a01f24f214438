#!/usr/bin/env python3
"""Black-box tests of `stateline gen directory` and `stateline dir ...` (the real binary).

Each check runs the binary in a temporary directory that is removed at the end.  The last
line printed is "N passed, N failed"; the exit status is non-zero when anything failed.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

STATELINE = os.environ.get("STATELINE", "stateline")
passed = 0
failed = 0


def run(*args, stdin=None, timeout=60):
    p = subprocess.run([STATELINE, *args], input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def main():
    tmp = tempfile.mkdtemp(prefix="sl_dir_it_")
    try:
        db = os.path.join(tmp, "dir.db")
        csvpath = os.path.join(tmp, "dir.csv")
        rc, out, err = run("gen", "directory", "--seed", "7", "--out", db, "--csv", csvpath)
        check("gen rc", rc == 0, err)
        check("gen summary", "18000 ORIs" in out and "by type" in out, out[:200])
        check("gen progress", "WA Washington" in err, err[:200])
        rc, out, err = run("gen", "directory", "--seed", "7", "--out", db)
        check("gen refuses existing", rc == 1 and "exists" in err, err)
        rc, out, err = run("gen", "directory", "--seed", "x", "--out", db)
        check("gen bad seed", rc == 2, err)
        rc, out, err = run("gen", "directory", "--seed", "1", "--out", db, "--count", "10")
        check("gen bad count", rc == 2, err)

        with open(csvpath, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        check("csv header", rows[0] == ["ori", "member", "name", "type", "categories",
                                        "status", "parent", "tags", "rand"], rows[0])
        check("csv rows", len(rows) == 18001, len(rows))
        oris = [r[0] for r in rows[1:]]
        check("csv unique", len(set(oris)) == len(oris))

        # stats --json
        rc, out, err = run("dir", "stats", "--json", "--db", db)
        check("stats rc", rc == 0, err)
        st = json.loads(out) if rc == 0 else {}
        check("stats total", st.get("total") == 18000, st.get("total"))
        check("stats kinds", set(st.get("by_kind", {})) == {"S", "F", "I", "N"}, st.get("by_kind"))
        check("stats parent", "DHS/ICE/ERO" in st.get("by_parent", {}))
        check("stats member", st.get("by_member", {}).get("DH", 0) > 500)

        # show
        rc, out, err = run("dir", "show", "WAERO0000", "--json", "--db", db)
        j = json.loads(out) if rc == 0 else {}
        check("show json", j.get("parent") == "DHS/ICE/ERO" and
              "immigration-enforcement" in j.get("tags", []), out)
        rc, out, err = run("dir", "show", "ZZ0000000", "--db", db)
        check("show missing", rc == 1 and "not in" in err, err)

        # put / ownership
        rc, out, err = run("dir", "put", "--db", db, "--ori", "WA9990000", "--name",
                           "Test Police Department", "--type", "PD", "--as", "WA")
        check("put new as owner", rc == 0 and "added" in out, err)
        rc, out, err = run("dir", "put", "--db", db, "--ori", "WA9990000", "--cats", "AC",
                           "--as", "OR")
        check("put refused for another member", rc == 1 and "belongs to member WA" in err, err)
        rc, out, err = run("dir", "put", "--db", db, "--ori", "WA9990000", "--member", "DH",
                           "--as", "WA")
        check("put refused moving away", rc == 1 and "may not give" in err, err)
        rc, out, err = run("dir", "put", "--db", db, "--ori", "WA9990000", "--type", "XX")
        check("put bad type", rc == 1 and "type" in err, err)
        rc, out, err = run("dir", "put", "--db", db, "--ori", "WA9990000", "--status", "I")
        check("put change as operator", rc == 0 and "changed" in out, err)
        rc, out, err = run("dir", "show", "WA9990000", "--json", "--db", db)
        j = json.loads(out) if rc == 0 else {}
        check("put kept fields", j.get("status") == "I" and j.get("name") ==
              "Test Police Department", out)
        rc, out, err = run("dir", "delete", "WA9990000", "--as", "OR", "--db", db)
        check("delete refused", rc == 1, err)
        rc, out, err = run("dir", "delete", "WA9990000", "--as", "WA", "--db", db)
        check("delete", rc == 0, err)

        # export -> import into a new database -> export: same bytes
        rc, exp1, err = run("dir", "export", "--db", db)
        check("export rc", rc == 0, err)
        with open(csvpath, encoding="utf-8") as f:
            check("export equals gen csv", exp1 == f.read())
        db2 = os.path.join(tmp, "two.db")
        rc, out, err = run("dir", "import", "-", "--db", db2, stdin=exp1)
        check("import rc", rc == 0 and "imported 18000" in out, err)
        rc, exp2, err = run("dir", "export", "--db", db2)
        check("round trip", exp1 == exp2)

        # member export and import as that member
        rc, wa, err = run("dir", "export", "--member", "WA", "--db", db)
        check("export member", rc == 0 and all(r[1] == "WA" for r in
              list(csv.reader(io.StringIO(wa)))[1:]), err)
        db3 = os.path.join(tmp, "three.db")
        rc, out, err = run("dir", "import", "-", "--as", "WA", "--db", db3, stdin=wa)
        check("import as owner", rc == 0, err)
        rc, out, err = run("dir", "import", "-", "--as", "OR", "--db", db3, stdin=wa)
        check("import as another member", rc == 1 and "line 2:" in err and
              "nothing imported" in err, err)

        # bad CSV: the line number is reported and nothing is imported
        bad = ("ori,member,name,type,categories,status,parent,tags,rand\n"
               "WA9990001,WA,One,PD,ACDZ,A,,,0\n"
               "WA9990002,WA,Two,PD,ACDZ,A,,,0\n"
               "WA9990003,WA,\"Three,PD,ACDZ,A,,,0\n")
        rc, out, err = run("dir", "import", "-", "--db", db3, stdin=bad)
        check("bad csv line", rc == 1 and "line 4:" in err, err)
        rc, out, err = run("dir", "show", "WA9990001", "--db", db3)
        check("bad csv imported nothing", rc == 1, out)

        rc, out, err = run("dir", "check", "--json", "--db", db)
        j = json.loads(out) if rc == 0 else {}
        check("check", j.get("ok") is True and j.get("oris") == 18000 and
              j.get("invalid") == 0, out + err)

        rc, out, err = run("dir", "members", "--json", "--db", db)
        m = json.loads(out) if rc == 0 else []
        check("members", {x["code"] for x in m} >= {"WA", "DH", "DJ", "TR", "DI", "DD", "CN",
                                                    "NL", "PR", "GU", "VI", "DC"}, out[:200])
        rc, out, err = run("dir", "bogus", "--db", db)
        check("unknown subcommand", rc == 2, err)
        rc, out, err = run("dir", "show", "WAERO0000", "--db", os.path.join(tmp, "none.db"))
        check("missing db", rc == 1 and "none.db" in err, err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
