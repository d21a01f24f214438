#!/usr/bin/env python3
"""Black-box tests of the audit log through the `stateline` binary.

- An independent RFC 6962 implementation (hashlib) and an independent reader of the
  segment format (with its own CRC32C) recompute the roots of a log written by
  `stateline audit bench` and compare them with every signed checkpoint; the key id of
  each signature is recomputed from the verifier key.
- Inclusion and consistency proofs printed by `prove`/`consistency` verify in Python and
  with `check-proof`; a mutated proof is refused.
- `verify` catches a changed, a removed, an inserted and a swapped record: exit 1, index
  named.
- kill -9 of `stateline audit bench` mid-run, 4 times: after each restart the log verifies
  and every index the bench reported durable is still there, byte for byte.
- `stateline report` totals equal the entries of the period counted from `show --json`.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STATELINE = os.environ.get("STATELINE", "stateline")
PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what, flush=True)


def run(*args, timeout=120, env=None):
    e = dict(os.environ)
    e["STATELINE_LOG"] = "error"
    if env:
        e.update(env)
    return subprocess.run([STATELINE, *args], capture_output=True, text=True, timeout=timeout,
                          env=e)


# ---- an independent implementation ------------------------------------------------------

def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def read_records(logdir):
    """[(segment, offset, entry bytes)] in order, checking length and CRC32C."""
    out = []
    segs = sorted(f for f in os.listdir(logdir) if f.startswith("seg-") and f.endswith(".log"))
    for s in segs:
        data = open(os.path.join(logdir, s), "rb").read()
        o = 0
        while o < len(data):
            n = int.from_bytes(data[o:o + 4], "big")
            crc = int.from_bytes(data[o + 4:o + 8], "big")
            e = data[o + 8:o + 8 + n]
            assert len(e) == n, "short record"
            assert crc32c(e) == crc, "crc"
            out.append((s, o, e))
            o += 8 + n
    return out


def leaf_hash(e):
    return hashlib.sha256(b"\x00" + e).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, r1, r2, proof):
    if m == n:
        return not proof and r1 == r2
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:
        proof = [r1] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == r1 and sr == r2 and sn == 0


def parse_checkpoints(path):
    """[(origin, size, root, [(name, keyid, sig)])] from a checkpoints history file."""
    text = open(path, "rb").read().decode()
    out = []
    # each note is "text\n" "\n" "signature lines" then one blank separator line
    i = 0
    while i < len(text):
        j = text.index("\n\n", i)
        body = text[i:j + 1]
        k = j + 2
        sigs = []
        while text.startswith("\u2014 ", k):
            e = text.index("\n", k)
            _, name, b64 = text[k:e].split(" ")
            raw = base64.b64decode(b64)
            sigs.append((name, raw[:4], raw[4:]))
            k = e + 1
        assert text[k] == "\n", "separator"
        lines = body.split("\n")
        out.append((lines[0], int(lines[1]), base64.b64decode(lines[2]), sigs, body))
        i = k + 1
    return out


def key_id(vkey_line):
    name, hexid, b64 = vkey_line.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33
    h = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert h.hex() == hexid
    return name, h


# ---- the tests -----------------------------------------------------------------------------

def test_independent_roots(tmp):
    log = os.path.join(tmp, "log")
    r = run("audit", "bench", log, "--entries", "3000", "--checkpoint-every", "250")
    check(r.returncode == 0, "bench: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
    recs = read_records(log)
    check(len(recs) == 3000, "3000 records, got %d" % len(recs))
    leaves = [leaf_hash(e) for _, _, e in recs]
    for i, (_, _, e) in enumerate(recs):
        if int.from_bytes(e[2:10], "big") != i or e[0] != 1:
            check(False, "entry %d header" % i)
            break
    cps = parse_checkpoints(os.path.join(log, "checkpoints"))
    check(len(cps) >= 1, "checkpoints present")
    name, kid = key_id(open(os.path.join(log, "bench.pub")).read())
    prev = 0
    for origin, size, root, sigs, body in cps:
        check(origin == name, "origin %s" % origin)
        check(size >= prev, "sizes non-decreasing")
        prev = size
        check(root == mth(leaves[:size]), "root of checkpoint size %d" % size)
        check(any(s[0] == name and s[1] == kid and len(s[2]) == 64 for s in sigs),
              "signature line with key id")
    check(cps[-1][1] == 3000, "last checkpoint covers the log")
    latest = open(os.path.join(log, "checkpoint")).read()
    check(latest == cps[-1][4] + "\n" + "\u2014" + latest.split("\u2014", 1)[1],
          "checkpoint file is the latest note")

    # proofs: printed by stateline, verified here and by check-proof
    for index, size in [(0, 1), (5, 8), (1234, 2999), (2999, 3000), (17, 1000)]:
        r = run("audit", "prove", log, "--index", str(index), "--size", str(size))
        check(r.returncode == 0, "prove")
        lines = r.stdout.splitlines()
        proof = [bytes.fromhex(l) for l in lines if not l.startswith("#")]
        root = mth(leaves[:size])
        check(("# root " + root.hex()) in lines, "prove prints the root")
        check(verify_inclusion(index, size, leaves[index], proof, root),
              "python verifies inclusion %d/%d" % (index, size))
        pf = os.path.join(tmp, "proof.txt")
        open(pf, "w").write(r.stdout)
        r2 = run("audit", "check-proof", "--leaf-hash", leaves[index].hex(), "--index",
                 str(index), "--size", str(size), "--root", root.hex(), "--proof", pf)
        check(r2.returncode == 0, "check-proof inclusion: " + r2.stdout + r2.stderr)
        if proof:
            bad = bytearray(proof[0])
            bad[0] ^= 1
            open(pf, "w").write("\n".join([bad.hex()] + [p.hex() for p in proof[1:]]) + "\n")
            r3 = run("audit", "check-proof", "--leaf-hash", leaves[index].hex(), "--index",
                     str(index), "--size", str(size), "--root", root.hex(), "--proof", pf)
            check(r3.returncode == 1, "mutated inclusion proof refused")
    # an offline receipt (c2sp.org/tlog-proof@v1) against the latest checkpoint
    r = run("audit", "prove", log, "--index", "2222", "--tlog-proof")
    check(r.returncode == 0, "tlog-proof")
    head, note = r.stdout.split("\n\n", 1)
    lines = head.split("\n")
    check(lines[0] == "c2sp.org/tlog-proof@v1" and lines[1] == "index 2222", "tlog-proof header")
    nl = note.split("\n")
    check(verify_inclusion(2222, int(nl[1]), leaves[2222],
                           [base64.b64decode(x) for x in lines[2:]], base64.b64decode(nl[2])),
          "tlog-proof verifies against its checkpoint")
    for m, n in [(1, 3000), (250, 3000), (1000, 1024), (3000, 3000), (7, 1500)]:
        r = run("audit", "consistency", log, "--from", str(m), "--to", str(n))
        check(r.returncode == 0, "consistency")
        proof = [bytes.fromhex(l) for l in r.stdout.splitlines() if not l.startswith("#")]
        check(verify_consistency(m, n, mth(leaves[:m]), mth(leaves[:n]), proof),
              "python verifies consistency %d->%d" % (m, n))
        pf = os.path.join(tmp, "cproof.txt")
        open(pf, "w").write(r.stdout)
        r2 = run("audit", "check-proof", "--consistency", "--from", str(m), "--to", str(n),
                 "--old-root", mth(leaves[:m]).hex(), "--root", mth(leaves[:n]).hex(),
                 "--proof", pf)
        check(r2.returncode == 0, "check-proof consistency")
    r = run("audit", "verify", log, "--key", os.path.join(log, "bench.pub"))
    check(r.returncode == 0 and "OK" in r.stdout, "verify with key: " + r.stdout)
    return log, recs


def rewrite(logdir, recs):
    """Write records back as one segment (fixing the CRC of each)."""
    for f in os.listdir(logdir):
        if f.startswith("seg-"):
            os.unlink(os.path.join(logdir, f))
    with open(os.path.join(logdir, "seg-00000001.log"), "wb") as out:
        for e in recs:
            out.write(len(e).to_bytes(4, "big") + crc32c(e).to_bytes(4, "big") + e)


def test_tampering(tmp, log, recs):
    entries = [e for _, _, e in recs]
    pub = os.path.join(log, "bench.pub")

    def tampered(name, fn, expect_index):
        d = os.path.join(tmp, name)
        shutil.copytree(log, d)
        fn(d)
        r = run("audit", "verify", d, "--key", pub)
        check(r.returncode == 1, "%s: exit 1 (got %d)" % (name, r.returncode))
        check(("entry %d:" % expect_index) in r.stdout,
              "%s: names entry %d: %s" % (name, expect_index, r.stdout[:400]))
        check("FAILED" in r.stdout, name + ": says FAILED")

    def changed(d):  # one byte of entry 1500, checksum left as it was
        seg, off, e = recs[1500]
        with open(os.path.join(d, seg), "r+b") as f:
            f.seek(off + 8 + 25)
            b = f.read(1)
            f.seek(off + 8 + 25)
            f.write(bytes([b[0] ^ 0x20]))

    def removed(d):
        rewrite(d, entries[:700] + entries[701:])

    def inserted(d):
        rewrite(d, entries[:900] + [entries[100]] + entries[900:])

    def swapped(d):
        rewrite(d, entries[:2000] + [entries[2001], entries[2000]] + entries[2002:])

    d = os.path.join(tmp, "changed-json")
    shutil.copytree(log, d)
    changed(d)
    r = run("audit", "verify", d, "--key", pub, "--json")
    j = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check(r.returncode == 1 and j.get("ok") is False and j.get("entries") == 3000 and
          any(p["index"] == 1500 for p in j.get("problems", [])), "verify --json names entry 1500")
    tampered("changed", changed, 1500)
    tampered("removed", removed, 700)
    tampered("inserted", inserted, 900)
    tampered("swapped", swapped, 2000)

    # a change that also fixes the checksum is caught by the checkpoints
    d = os.path.join(tmp, "resealed")
    shutil.copytree(log, d)
    e = bytearray(entries[1600])
    e[25] ^= 0x01
    rewrite(d, entries[:1600] + [bytes(e)] + entries[1601:])
    r = run("audit", "verify", d, "--key", pub)
    bounded = False
    for line in r.stdout.splitlines():
        if "root does not match" in line and "[" in line:
            a, b = line.split("[", 1)[1].split(")")[0].split(", ")
            bounded = int(a) <= 1600 < int(b)
            break
    check(r.returncode == 1 and bounded, "resealed change bounded by checkpoints: " + r.stdout[:400])
    # a truncated log: the checkpoints say entries are missing
    d = os.path.join(tmp, "truncated")
    shutil.copytree(log, d)
    rewrite(d, entries[:2900])
    r = run("audit", "verify", d, "--key", pub)
    check(r.returncode == 1 and "entries were removed" in r.stdout, "truncation found")
    # a checkpoint signed by someone else
    d = os.path.join(tmp, "wrongkey")
    shutil.copytree(log, d)
    r = run("audit", "keygen", "--name", "bench.stateline.test/audit", "--out",
            os.path.join(tmp, "other"))
    check(r.returncode == 0, "keygen")
    r = run("audit", "verify", d, "--key", os.path.join(tmp, "other.pub"))
    check(r.returncode == 1 and "no valid signature" in r.stdout, "wrong key refused")


def tile_path(n):
    groups = []
    while True:
        groups.append("%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def test_tiles(tmp, log, recs):
    www = os.path.join(tmp, "www")
    r = run("audit", "tiles", log, "--out", www)
    check(r.returncode == 0, "tiles: " + r.stderr)
    entries = [e for _, _, e in recs]
    leaves = [leaf_hash(e) for e in entries]
    n = len(leaves)  # 3000: level 0 has 11 full tiles and one of 184; level 1 one of 11
    check(open(os.path.join(www, "checkpoint")).read() ==
          open(os.path.join(log, "checkpoint")).read(), "tiles: checkpoint copied")
    for t in range(n // 256):
        data = open(os.path.join(www, "tile", "0", tile_path(t)), "rb").read()
        check(data == b"".join(leaves[t * 256:(t + 1) * 256]), "level-0 tile %d" % t)
        bundle = open(os.path.join(www, "tile", "entries", tile_path(t)), "rb").read()
        got, o = [], 0
        while o < len(bundle):
            ln = int.from_bytes(bundle[o:o + 2], "big")
            got.append(bundle[o + 2:o + 2 + ln])
            o += 2 + ln
        check(got == entries[t * 256:(t + 1) * 256], "entry bundle %d" % t)
    w = n % 256
    data = open(os.path.join(www, "tile", "0", tile_path(n // 256) + ".p", str(w)), "rb").read()
    check(data == b"".join(leaves[n - w:]), "partial level-0 tile")
    lvl1 = [mth(leaves[i * 256:(i + 1) * 256]) for i in range(n // 256)]
    data = open(os.path.join(www, "tile", "1", "000.p", str(len(lvl1))), "rb").read()
    check(data == b"".join(lvl1), "level-1 tile holds the roots of full level-0 tiles")
    check(tile_path(1234067) == "x001/x234/067" and tile_path(5) == "005", "tile index paths")


def test_kill9(tmp):
    log = os.path.join(tmp, "crash")
    acked = 0
    for round_ in range(4):
        p = subprocess.Popen([STATELINE, "audit", "bench", log, "--entries", "50000000",
                              "--checkpoint-every", "20000", "--no-verify"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, STATELINE_LOG="error"))
        start = None
        seen = 0
        deadline = time.time() + 30
        kill_after = 3 + round_ * 2
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            w = line.split()
            if w[0] == "start":
                start = int(w[1])
            elif w[0] == "durable":
                acked = max(acked, int(w[1]))
                seen += 1
                if seen >= kill_after:
                    break
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        p.stdout.close()
        check(start is not None and (round_ == 0 or start >= prev_acked),
              "round %d: restart kept every acknowledged entry (start %s, acked %d)"
              % (round_, start, prev_acked if round_ else 0))
        # the acknowledged prefix, as it is on disk now
        recs = read_records_prefix(log, acked)
        check(len(recs) == acked, "round %d: %d acknowledged records readable" % (round_, acked))
        prefix = hashlib.sha256(b"".join(recs)).hexdigest()
        # restart: open (repairs a torn tail), append a little, close; then verify
        r = run("audit", "bench", log, "--entries", "100", "--no-verify")
        check(r.returncode == 0, "round %d: restart: %s" % (round_, r.stderr[-300:]))
        first = r.stdout.split("\n")[0].split()
        check(first[0] == "start" and int(first[1]) >= acked,
              "round %d: log has all %d acknowledged entries after restart (%s)"
              % (round_, acked, first))
        r = run("audit", "verify", log, "--key", os.path.join(log, "bench.pub"))
        check(r.returncode == 0, "round %d: log verifies after kill -9: %s"
              % (round_, r.stdout[-400:]))
        recs = read_records_prefix(log, acked)
        check(hashlib.sha256(b"".join(recs)).hexdigest() == prefix,
              "round %d: acknowledged entries unchanged" % round_)
        prev_acked = acked


def read_records_prefix(logdir, n):
    out = []
    segs = sorted(f for f in os.listdir(logdir) if f.startswith("seg-") and f.endswith(".log"))
    for s in segs:
        with open(os.path.join(logdir, s), "rb") as f:
            while len(out) < n:
                h = f.read(8)
                if len(h) < 8:
                    break
                ln = int.from_bytes(h[:4], "big")
                e = f.read(ln)
                if len(e) < ln:
                    break
                out.append(h + e)
        if len(out) >= n:
            break
    return out


def test_report(tmp, log):
    r = run("audit", "show", log, "--json")
    check(r.returncode == 0, "show --json")
    entries = [json.loads(l) for l in r.stdout.splitlines()]
    check(len(entries) == 3000, "show lists every entry")
    day = time.strftime("%Y-%m-%d", time.gmtime(entries[0]["time_us"] / 1e6))
    r = run("report", "--log", log, "--from", day, "--to", day, "--format", "json")
    check(r.returncode == 0, "report json: " + r.stderr[-300:])
    if r.returncode != 0:
        return
    rep = json.loads(r.stdout)
    in_period = [e for e in entries
                 if time.strftime("%Y-%m-%d", time.gmtime(e["time_us"] / 1e6)) == day]
    check(rep["entries"] == len(in_period), "report entries = log entries in the period")
    check(sum(rep["by_event"].values()) == rep["entries"], "by_event sums to entries")
    queries = [e for e in in_period if e["type"] == "query"]
    check(rep["queries"] == len(queries), "queries counted")
    for dim, field in [("by_parent_agency", "parent"), ("by_agency_type", "agency_type"),
                       ("by_requester_state", "requester_state"), ("by_key", "key"),
                       ("by_reason", "reason")]:
        want = {}
        for e in queries:
            v = e.get(field, "(none)")
            want[v] = want.get(v, 0) + 1
        check(rep["queries_" + dim] == want, "queries %s: %s vs %s"
              % (dim, rep["queries_" + dim], want))
    outcomes = {}
    for e in in_period:
        o = e.get("outcome")
        if o in ("released", "denied", "held", "redacted", "noticed", "timed-out"):
            outcomes[o] = outcomes.get(o, 0) + 1
    check(rep["outcomes"] == outcomes, "outcomes %s vs %s" % (rep["outcomes"], outcomes))
    denied_ice = sum(1 for e in in_period
                     if e.get("outcome") == "denied" and e.get("parent") == "DHS/ICE/ERO")
    check(rep["outcomes_by_parent_agency"].get("DHS/ICE/ERO", {}).get("denied", 0) == denied_ice,
          "denials by parent agency")
    text = json.dumps(rep)
    check("personal_hash" not in text and "DOE" not in text, "no personal data in the report")
    r = run("report", "--log", log, "--from", day, "--to", day, "--format", "csv")
    check(r.returncode == 0 and "table,key,count" in r.stdout.splitlines()[0], "csv report")
    r = run("report", "--log", log, "--from", day, "--to", day)
    check(r.returncode == 0 and "Transparency report" in r.stdout, "text report")
    r = run("report", "--log", log, "--from", "2026-13-01", "--to", day)
    check(r.returncode == 2, "bad date refused")


def main():
    tmp = tempfile.mkdtemp(prefix="sl-it-audit-")
    try:
        log, recs = test_independent_roots(tmp)
        test_tampering(tmp, log, recs)
        test_tiles(tmp, log, recs)
        test_report(tmp, log)
        test_kill9(tmp)
    except Exception as e:  # a crash of the test itself is a failure, not a pass
        import traceback
        traceback.print_exc()
        check(False, "exception: %r" % e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
