"""Black-box test of `stateline gen certs`: files, modes, the summary, idempotence, and
clear refusals of bad arguments.  Python standard library only; runs the real binary."""
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile

STATELINE = os.environ.get("STATELINE", "stateline")
passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def run(*args):
    return subprocess.run([STATELINE, "gen", "certs", *args], capture_output=True, text=True,
                          timeout=120)


tmp = tempfile.mkdtemp(prefix="sl-it-certs-")
try:
    out = os.path.join(tmp, "net")
    r = run("--out", out, "--members", "WA,CA,DJ", "--hub-host", "hub.test")
    check("exit 0", r.returncode == 0, r.stderr)
    check("summary", "6 line certificates written" in r.stdout, r.stdout)
    for m in ("WA", "CA", "DJ"):
        for role in ("answer", "terminal"):
            key = os.path.join(out, f"{m}-{role}.key")
            check(f"{m}-{role}.key", os.path.exists(key))
            if os.path.exists(key):
                check(f"{m}-{role}.key mode", stat.S_IMODE(os.stat(key).st_mode) == 0o600)
    check("tokens mode", stat.S_IMODE(os.stat(os.path.join(out, "tokens")).st_mode) == 0o600)
    lines = [l.split() for l in open(os.path.join(out, "tokens")) if not l.startswith("#")]
    check("tokens lines", len(lines) == 6 and all(len(l) == 3 and len(l[2]) == 64 for l in lines),
          str(lines))

    # Python's ssl module accepts the files: a client context with a line certificate.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(out, "ca.crt"))
    ctx.load_cert_chain(os.path.join(out, "WA-terminal.crt"), os.path.join(out, "WA-terminal.key"))
    check("python ssl loads", True)

    r2 = run("--out", out, "--members", "WA,CA,DJ", "--hub-host", "hub.test")
    check("second run", r2.returncode == 0 and "0 line certificates written, 6 kept" in r2.stdout,
          r2.stdout)

    for bad, why in ((["--out", out, "--members", "wa"], "member code"),
                     (["--out", out, "--days", "0"], "--days"),
                     (["--members", "WA"], "--out"),
                     (["--out", out, "--bogus"], "unknown"),
                     (["--out", out, "--all", "--members", "WA"], "exclude")):
        rb = run(*bad)
        check(f"refuses {bad}", rb.returncode in (1, 2) and why in rb.stderr,
              f"{rb.returncode} {rb.stderr}")
    rh = subprocess.run([STATELINE, "gen", "certs", "--help"], capture_output=True, text=True)
    check("help", rh.returncode == 0 and "--hub-host" in rh.stdout)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
