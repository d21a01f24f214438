#!/usr/bin/env python3
"""Black-box tests of `stateline policy check | explain | test | bench`.

Runs the built binary ($STATELINE) on the example policies in examples/policies and on
broken files written to a temporary directory; checks exit codes and output.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("STATELINE", "build/stateline")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "policies")
STATES = ["wa", "ny", "il", "ca", "az", "tx"]

passed = 0
failed = 0


def run(*args, timeout=60):
    return subprocess.run([BIN, "policy", *args], capture_output=True, text=True, timeout=timeout)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}\n{detail}", file=sys.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="sl-policy-")
    try:
        for s in STATES:
            pol = os.path.join(EX, s + ".policy")
            r = run("check", "--strict", pol)
            check(f"check {s}", r.returncode == 0 and "0 warnings" in r.stdout and "sha256 " in r.stdout,
                  r.stdout + r.stderr)
            r = run("test", pol, os.path.join(EX, s + ".cases"))
            last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
            n = last.split("rule coverage ")[-1] if "rule coverage" in last else "?"
            a, _, b = n.partition("/")
            check(f"test {s}", r.returncode == 0 and " 0 failed" in last and a == b, r.stdout + r.stderr)

        # show: the policy in words.
        r = run("show", os.path.join(EX, "wa.policy"))
        check("show", r.returncode == 0 and "1. no-civil-immigration (line 14)" in r.stdout
              and "DENY when: requester.parent under (\"DHS/ICE/ERO\", \"DHS/ICE/HSI\")" in r.stdout
              and "If no reviewer decides within 72 hours: DENY" in r.stdout
              and "Withheld: photo, ssn" in r.stdout, r.stdout + r.stderr)

        # A broken file: errors with file, line, column and a hint; exit 1.
        bad = os.path.join(tmp, "bad.policy")
        with open(bad, "w") as f:
            f.write('state WA\ndefault permit\nrule a "r"\n  forbid when requestor.type = FE\n'
                    'rule b "r"\n  permit\n  redact face\n')
        r = run("check", bad)
        check("broken exit 1", r.returncode == 1, r.stdout + r.stderr)
        check("broken first error",
              bad + ":4:15: error: unknown field 'requestor' \u2014 did you mean 'requester'?" in r.stderr,
              r.stderr)
        check("broken second error", ":7:10: error: unknown data class 'face'" in r.stderr, r.stderr)
        check("broken caret", "\n                ^\n" in r.stderr, r.stderr)
        check("broken summary", "2 errors" in r.stdout and "not usable" in r.stdout, r.stdout)
        r = run("test", bad, os.path.join(EX, "wa.cases"))
        check("test refuses broken policy", r.returncode == 1, r.stdout + r.stderr)
        r = run("explain", bad, "--request", "DQ.WA0000000.WA.TXT OLN/1")
        check("explain refuses broken policy", r.returncode == 1, r.stdout + r.stderr)
        r = run("show", bad)
        check("show refuses broken policy", r.returncode == 1 and "unknown field" in r.stderr, r.stdout + r.stderr)

        # Warnings do not fail check, unless --strict.
        warn = os.path.join(tmp, "warn.policy")
        with open(warn, "w") as f:
            f.write('state WA\ndefault permit\n'
                    'rule ice "r" forbid when requester.parent under "DHS/ICE"\n'
                    'rule ero "r" permit when requester.parent = "DHS/ICE/ERO"\n  redact photo\n')
        r = run("check", warn)
        check("warning exit 0", r.returncode == 0 and "1 warning" in r.stdout, r.stdout + r.stderr)
        check("shadow warning", "warn.policy:4:1: warning: permit rule 'ero' never takes effect" in r.stderr,
              r.stderr)
        r = run("check", "--strict", warn)
        check("strict exit 1", r.returncode == 1, r.stdout)

        # A directory (CSV export): unknown parent agencies and tags; requester look-up.
        csv = os.path.join(tmp, "dir.csv")
        with open(csv, "w") as f:
            f.write("ori,member,name,type,categories,status,parent,tags,rand\n"
                    "DCICE0100,DH,ICE ERO Seattle,FE,DZ,A,DHS/ICE/ERO,immigration-enforcement,0\n"
                    "DCCBP0300,DH,\"CBP Blaine, WA\",FE,DZ,A,DHS/CBP,,0\n"
                    "WA0170100,WA,Seattle PD,PD,ACDZ,A,,,0\n")
        r = run("check", os.path.join(EX, "wa.policy"), "--directory", csv)
        check("directory warnings",
              r.returncode == 0 and "no ORI in the directory has parent agency 'DHS/ICE/HSI'" in r.stderr
              and "immigration-enforcement" not in r.stderr, r.stdout + r.stderr)
        r = run("explain", os.path.join(EX, "wa.policy"), "--request", "DQ.DCICE0100.WA.TXT OLN/WDL1",
                "--directory", csv, "--time", "2026-11-26 10:00")
        check("explain via directory",
              r.returncode == 0 and "DENY" in r.stdout and "no-civil-immigration" in r.stdout
              and "parent DHS/ICE/ERO" in r.stdout, r.stdout + r.stderr)

        # explain in words.
        r = run("explain", os.path.join(EX, "ny.policy"), "--request",
                "DQ.DCICE0100.NY.TXT OLN/1.LGP/25-CR-1", "--requester",
                "ORI=DCICE0100,TYPE=FE,MEMBER=DH,PARENT=DHS/ICE/ERO", "--time", "2026-11-26 10:00")
        check("explain hold", r.returncode == 0 and "HOLD for review" in r.stdout
              and "within 72 hours, it is denied" in r.stdout
              and "notified within 3 days" in r.stdout, r.stdout + r.stderr)
        r = run("explain", os.path.join(EX, "wa.policy"), "--request", "DQ.ZZ9990000.WA.TXT OLN/1",
                "--time", "2026-11-26 10:00")
        check("explain fail closed", r.returncode == 0 and "fail closed" in r.stdout
              and "not in the directory" in r.stdout, r.stdout + r.stderr)
        r = run("explain", os.path.join(EX, "ny.policy"), "--request",
                "DQ.DCICE0100.NY.TXT OLN/1.LGP/25-CR-1", "--requester",
                "ORI=DCICE0100,TYPE=FE,MEMBER=DH,PARENT=DHS/ICE/ERO", "--json")
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = {}
        check("explain json", r.returncode == 0 and j.get("effect") == "hold"
              and j.get("rules") == ["immigration-court-order-review"]
              and j.get("notices") == [{"days": 3, "business": False, "rule": "immigration-court-order-review"}]
              and j.get("hold") == {"deadline_s": 259200, "then": "forbid"}
              and len(j.get("policy_sha256", "")) == 64, r.stdout + r.stderr)
        r = run("explain", os.path.join(EX, "wa.policy"), "--request", "garbage")
        check("explain bad request", r.returncode == 2 and "not a valid message" in r.stderr, r.stderr)

        # A failing case, an uncovered rule, a CASES syntax error.
        cases = os.path.join(tmp, "wa.cases")
        with open(cases, "w") as f:
            f.write("case wrong\n  requester ORI=WA0170100,TYPE=PD\n"
                    "  request DQ.WA0170100.WA.TXT OLN/1\n  expect forbid\n")
        r = run("test", os.path.join(EX, "wa.policy"), cases)
        check("failing case", r.returncode == 1 and "wa.cases:1: FAIL wrong: expected forbid, got permit" in r.stdout
              and "uncovered: rule 'no-civil-immigration'" in r.stdout
              and "1 cases: 0 passed, 1 failed; rule coverage 0/5" in r.stdout, r.stdout)
        with open(cases, "w") as f:
            f.write("case x\n  requester ORI=WA0170100,TYPE=PD\n  expectation permit\n")
        r = run("test", os.path.join(EX, "wa.policy"), cases)
        check("cases syntax error", r.returncode == 1 and "wa.cases:3: error: unknown line 'expectation'" in r.stdout,
              r.stdout)
        with open(cases, "w") as f:
            f.write("case x\n  requester ORI=WA0170100,TYPE=PD\n  request DQ.WA0170100.WA.TXT OLN/1\n"
                    "  expect permit\n  rules no-such-rule\n")
        r = run("test", os.path.join(EX, "wa.policy"), cases)
        check("cases unknown rule", r.returncode == 1 and "the policy has no rule 'no-such-rule'" in r.stdout, r.stdout)

        # Rate rules (P-22): explain --queries, the cases' `queries` line, bad counts.
        rate = os.path.join(tmp, "rate.policy")
        with open(rate, "w") as f:
            f.write('state WA\ndefault permit\n'
                    'rule bulk "Test: more than 50 an hour from a federal ORI is read first"\n'
                    '  hold when requester.type = FE and requester.queries per hour > 50\n'
                    '  deadline 72h, then forbid\n'
                    'rule person "Test: one person, 20 a minute"\n'
                    '  forbid when user.queries per minute > 20\n')
        r = run("check", rate)
        check("rate policy checks, with the no-user warning",
              r.returncode == 0 and "1 warning" in r.stdout
              and "names no user (no ATN/)" in r.stderr, r.stdout + r.stderr)
        fe = ("--request", "DQ.DCICE0100.WA.TXT OLN/WDL1.ATN/J DOE", "--requester",
              "ORI=DCICE0100,TYPE=FE")
        r = run("explain", rate, *fe)
        check("explain counts 1 by default", r.returncode == 0 and "RELEASE" in r.stdout
              and "in the last minute, hour, day: 1, 1, 1" in r.stdout, r.stdout)
        r = run("explain", rate, *fe, "--queries", "hour=51", "--json")
        check("explain --queries hour=51: held",
              r.returncode == 0 and json.loads(r.stdout)["rules"] == ["bulk"], r.stdout)
        r = run("explain", rate, *fe, "--queries", "user-minute=21", "--json")
        check("explain --queries user-minute=21: denied",
              r.returncode == 0 and json.loads(r.stdout)["effect"] == "forbid", r.stdout)
        r = run("explain", rate, *fe, "--queries", "fortnight=3")
        check("explain --queries bad window: exit 2",
              r.returncode == 2 and "unknown window 'fortnight'" in r.stderr, r.stderr)
        with open(cases, "w") as f:
            f.write("case within\n  requester ORI=DCICE0100,TYPE=FE\n"
                    "  request DQ.DCICE0100.WA.TXT OLN/1.ATN/J DOE\n  queries hour=50\n"
                    "  expect permit\n"
                    "case over\n  requester ORI=DCICE0100,TYPE=FE\n"
                    "  request DQ.DCICE0100.WA.TXT OLN/1.ATN/J DOE\n  queries hour=51\n"
                    "  expect hold\n  rules bulk\n  deadline 72h then forbid\n"
                    "case person\n  requester ORI=WA0170100,TYPE=PD\n"
                    "  request DQ.WA0170100.WA.TXT OLN/1.ATN/J DOE\n  queries user-minute=21\n"
                    "  expect forbid\n  rules person\n")
        r = run("test", rate, cases)
        check("cases with queries", r.returncode == 0
              and "3 cases: 3 passed, 0 failed; rule coverage 2/2" in r.stdout, r.stdout)
        with open(cases, "w") as f:
            f.write("case x\n  requester ORI=WA0170100,TYPE=PD\n  queries hour=0\n")
        r = run("test", rate, cases)
        check("cases bad queries line", r.returncode == 1 and "wa.cases:3: error: queries:"
              in r.stdout, r.stdout)

        # Usage errors.
        check("no subcommand", run().returncode == 2)
        check("unknown subcommand", run("frobnicate").returncode == 2)
        check("check without file", run("check").returncode == 2)
        r = run("check", os.path.join(tmp, "missing.policy"))
        check("missing file", r.returncode == 1 and "missing.policy" in r.stderr, r.stderr)

        # bench runs and reports.
        r = run("bench", "--rules", "100", "--decisions", "20000", timeout=120)
        check("bench", r.returncode == 0 and "decisions/s" in r.stdout and "median" in r.stdout, r.stdout + r.stderr)
        r = run("bench", os.path.join(EX, "wa.policy"), "--decisions", "20000", timeout=120)
        check("bench file", r.returncode == 0 and "wa.policy" in r.stdout, r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
