"""Black-box tests of the gateway's records-store memory keys (docs/gateway.md §1:
store_mmap, store_cache, store_warm, store_warm_wait): the warm-up is logged with what it
read and how long it took, waits for it before the hub is dialled when asked, runs in the
background otherwise, and the gateway answers from the store either way; bad values are
refused by `stateline gateway check` with the key named.  No timing is asserted."""
import os
import re
import shutil
import sqlite3
import tempfile

import slharness as h


def ctl_gen():
    n = [0]

    def nxt():
        n[0] += 1
        return "W-%08d" % n[0]
    return nxt


CTL = ctl_gen()


def ask_oln(net, gw):
    """A DQ by OLN for the first driver on file: the gateway must answer with his record."""
    con = sqlite3.connect("file:%s?mode=ro" % gw.records, uri=True)
    oln = con.execute("SELECT oln FROM driver ORDER BY id LIMIT 1").fetchone()[0]
    con.close()
    c = CTL()
    m = h.ask(net.line("WA"), "DQ.WATEST000.WA.%s.TXT\nOLN/%s" % (c, oln), c, 15)
    assert m.key == "DR" and ("OLN: %s" % oln) in m.body, m
    return m


def log_index(gw, pattern):
    with gw.log_lock:
        for i, line in enumerate(gw.log):
            if re.search(pattern, line):
                return i
    return -1


def test_warm_all_before_dialling():
    ok = False
    net = h.Network()
    gw = None
    try:
        gw = h.Gateway(net, "WA", default="permit",
                       extra="store_warm = all\nstore_warm_wait = yes\nstore_cache = 16\n"
                             "store_mmap = 1M")
        size = os.path.getsize(gw.records)
        m = gw.wait_log(r"records warm-up \(all\) done: ([0-9.]+) MB, 0 indexes in "
                        r"[0-9.]+ s")
        assert abs(float(m.group(1)) - size / 1e6) < 0.06, (m.group(0), size)
        gw.wait_log(r"records warm-up \(all\) of .* before dialling the hub")
        gw.wait_log(r"mmap 1\.0 MB .*page cache 16 MiB")
        # Asked to wait: done before the answering line came up.
        done = log_index(gw, r"records warm-up \(all\) done")
        up = log_index(gw, r"answering line for WA up")
        assert 0 <= done < up, (done, up)
        ask_oln(net, gw)
        gw.stop()
        ok = True
    finally:
        if gw:
            gw.close()
        net.close(check=ok)


def test_warm_indexes_in_background_by_default():
    ok = False
    net = h.Network()
    gw = None
    try:
        gw = h.Gateway(net, "WA", default="permit")
        gw.wait_log(r"records warm-up \(indexes\) of .* in the background")
        m = gw.wait_log(r"records warm-up \(indexes\) done: ([0-9.]+) MB, ([0-9]+) indexes")
        # Every index of the file (6, meta's key, the FTS5 data and index tables).
        con = sqlite3.connect("file:%s?mode=ro" % gw.records, uri=True)
        n = con.execute("SELECT count(*) FROM sqlite_schema WHERE type='index' OR name IN"
                        " ('plate_fts_data', 'plate_fts_idx')").fetchone()[0]
        con.close()
        assert int(m.group(2)) == n, (m.group(0), n)
        assert float(m.group(1)) < os.path.getsize(gw.records) / 1e6
        # The whole (small) file mapped, the default cache.
        gw.wait_log(r"mmap ([0-9.]+) MB \(SQLite allows [0-9.]+ MB\), page cache 64 MiB")
        ask_oln(net, gw)
        gw.stop()
        ok = True
    finally:
        if gw:
            gw.close()
        net.close(check=ok)


def test_warm_no_and_mmap_off():
    ok = False
    net = h.Network()
    gw = None
    try:
        gw = h.Gateway(net, "WA", default="permit", extra="store_warm = no\nstore_mmap = 0")
        gw.wait_log(r"mmap 0\.0 MB")
        ask_oln(net, gw)
        assert log_index(gw, r"records warm-up") < 0
        gw.stop()
        ok = True
    finally:
        if gw:
            gw.close()
        net.close(check=ok)


def test_bad_values_refused():
    tmp = tempfile.mkdtemp(prefix="sl-it-warm-")
    try:
        base = ("[gateway]\nstate = WA\nori = WAOLN0000\nhub = 127.0.0.1:1\ntls = no\n"
                "tokens = t\nrecords = wa.db\naudit = audit\naudit_key = audit.key\n"
                "default = permit\n")
        for line, why in [("store_warm = some", "indexes, all or no"),
                          ("store_mmap = 2 GB", "auto, or a size"),
                          ("store_cache = 0", "1 to 1048576"),
                          ("store_warm_wait = later", "yes or no")]:
            conf = os.path.join(tmp, "gw.conf")
            with open(conf, "w") as f:
                f.write(base + line + "\n")
            p = h.run(["gateway", "check", "--config", conf], check=False)
            out = p.stdout + p.stderr
            assert p.returncode != 0 and why in out and line.split()[0] in out, (line, out)
        with open(conf, "w") as f:
            f.write(base + "store_warm = all\nstore_mmap = 512M\nstore_cache = 128\n"
                    "store_warm_wait = yes\n")
        p = h.run(["gateway", "check", "--config", conf], check=False)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.run_tests([test_bad_values_refused, test_warm_all_before_dialling,
                 test_warm_indexes_in_background_by_default, test_warm_no_and_mmap_off],
                per_test_timeout=90)
