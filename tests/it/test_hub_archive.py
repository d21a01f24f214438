"""The message archive through the real hub (docs/archive.md, docs/protocol.md §9):
what the switch sends is archived; NLQ to NL from an ORI the directory marks `rand` gets
the acknowledgement, then the NLR; searches by type, source, destination, time range,
free text (FND/AND/ORR) and name; NFQ fetches one message; an ORI without the flag is
refused; keys the searcher may not see are dropped with a warning; retention deletes old
messages by itself."""
import os
import re
import sqlite3
import time

from slharness import Network, run, run_tests

RAND_ORIS = [
    # a control terminal allowed to search the archive
    ("WARAND000", "WA", "Test RAND control terminal", "PD", "ACDZ", "A", "", "", 1),
    # allowed to search, but without the D category: may not see DMV traffic
    ("WARANDA00", "WA", "Test RAND admin terminal", "PD", "AZ", "A", "", "", 1),
]


def today(offset_days=0):
    return time.strftime("%Y%m%d", time.gmtime(time.time() + offset_days * 86400))


def nlq(line, ori, fields, timeout=10):
    """Send an NLQ; check the acknowledgement; return the NLR that follows."""
    line.send("NLQ.%s.NL.TXT%s" % (ori, fields))
    ack = line.recv(timeout)
    assert ack.key == "NLR" and ack.ori == "NL0000000", ack
    assert ack.body.strip() == "NLQ RECEIVED AND QUEUED FOR PROCESSING", ack.body
    r = line.recv(timeout)
    assert r.key == "NLR" and r.dest == ori, r
    return r.body


def hits(body):
    """Hit lines of an NLR body: (seq, key, src, dst, text)."""
    out = []
    for ln in body.split("\n"):
        m = re.match(r"^(\d+) +\d{8} \d{4} ([A-Z]{2,3}) +([A-Z0-9]{9}) ([A-Z0-9]+) +(.*)$", ln)
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3), m.group(4), m.group(5)))
    return out


def search_until(line, ori, fields, want, timeout=10):
    """The archive commits in the background: search again until `want` hits show."""
    deadline = time.monotonic() + timeout
    while True:
        body = nlq(line, ori, fields)
        h = hits(body)
        if len(h) >= want or time.monotonic() > deadline:
            return body, h
        time.sleep(0.2)


def test_search_each_field_fetch_and_refusals():
    with Network(start=False) as net:
        net.add_oris(RAND_ORIS)
        net.start()
        ca, orl = net.answer_line("CA"), net.answer_line("OR")
        wa = net.line("WA")
        # traffic the switch sends: a DQ and its DR, two AMs
        wa.send("DQ.WATEST000.CA.TXTNAM/O'BRIEN,MARY.DOB/19800101.SEX/F")
        q = ca.recv()
        ca.send("DR.CATEST000.WATEST000.%s.TXTNAM/O'BRIEN,MARY-KATE DOB/19800101 "
                "OLN/B7654321" % (q.ctl or "NONE"))
        assert wa.recv().key == "DR"
        wa.send("AM.WATEST000.OR.TXTCONTROL TERMINAL MEETING AT 9 MAIN ST")
        assert orl.recv().key == "AM"
        orl.send("AM.ORTEST000.WATEST000.TXTSEE YOU AT THE HARBOR")
        assert wa.recv().key == "AM"
        d = today()
        span = "BEG/%s.END/%s" % (today(-1), today(1))
        body, h = search_until(wa, "WARAND000", "TYP/AM.%s.FND/MAIN ST" % span, 1)
        assert len(h) == 1 and h[0][1:4] == ("AM", "WATEST000", "OR"), body
        assert "CONTROL TERMINAL MEETING" in h[0][4], h
        seq_am = h[0][0]
        # TYP: a list of keys
        body, h = search_until(wa, "WARAND000", "TYP/AM,DR.%s.FND/MEETING.ORR/HARBOR" % span, 2)
        assert sorted(x[1] for x in h) == ["AM", "AM"], body      # ORR: either text
        body, h = search_until(wa, "WARAND000", "TYP/DR.%s.FND/B7654321" % span, 1)
        assert [x[1] for x in h] == ["DR"] and h[0][2] == "CATEST000", body
        # SRC and DST, by ORI and by member code
        body, h = search_until(wa, "WARAND000", "TYP/AM.SRC/ORTEST000.%s.FND/HARBOR" % span, 1)
        assert len(h) == 1 and h[0][2] == "ORTEST000", body
        body = nlq(wa, "WARAND000", "TYP/AM.SRC/CA.%s.FND/HARBOR" % span)
        assert "NOT ON FILE" in body and not hits(body), body
        body, h = search_until(wa, "WARAND000", "TYP/AM.DST/OR.%s.FND/MEETING" % span, 1)
        assert len(h) == 1, body
        # FND with AND (both must match)
        body = nlq(wa, "WARAND000", "TYP/AM.%s.FND/MEETING.AND/HARBOR" % span)
        assert "NOT ON FILE" in body, body
        # NAM: parts in any order, apostrophes ignored, trailing wildcard
        body, h = search_until(wa, "WARAND000", "TYP/DQ,DR.%s.NAM/MARY OBRIEN" % span, 2)
        assert sorted(x[1] for x in h) == ["DQ", "DR"], body
        body, h = search_until(wa, "WARAND000", "TYP/DR.%s.NAM/O'BRI*" % span, 1)
        assert [x[1] for x in h] == ["DR"], body
        # time range: yesterday only finds nothing
        body = nlq(wa, "WARAND000", "TYP/ALL.BEG/%s.END/%s.FND/MEETING" % (today(-2), today(-1)))
        assert "NOT ON FILE" in body, body
        # NFQ: one message by its sequence number
        wa.send("NFQ.WARAND000.NL.TXTSEQ/%d" % seq_am)
        ack = wa.recv()
        assert ack.key == "NFR" and "RECEIVED AND QUEUED" in ack.body, ack
        r = wa.recv()
        assert r.key == "NFR" and "SEQ/%d" % seq_am in r.body, r.body
        assert "CONTROL TERMINAL MEETING AT 9 MAIN ST" in r.body and "KEY/AM" in r.body, r.body
        # an ORI without the D category: DMV keys dropped with a warning
        body = nlq(wa, "WARANDA00", "TYP/AM,DQ.%s.FND/MEETING" % span)
        assert "WARNING - DQ" in body and len(hits(body)) == 1, body
        # an ORI without the rand flag is refused
        body = nlq(wa, "WATEST000", "TYP/ALL.%s.FND/MEETING" % span)
        assert "SEARCH REFUSED" in body and not hits(body), body
        wa.send("NFQ.WATEST000.NL.TXTSEQ/%d" % seq_am)
        wa.recv()
        r = wa.recv()
        assert r.key == "NFR" and "MEETING" not in r.body, r.body
        # a malformed search is an ER, as every malformed message
        wa.send("NLQ.WARAND000.NL.TXTTYP/AM.BEG/%s.END/%s" % (d, d))
        er = wa.recv()
        assert er.key == "ER", er
        ca.expect_nothing(0.1)


def test_images_never_archived():
    with Network(start=False) as net:
        net.add_oris(RAND_ORIS)
        net.start()
        ca = net.answer_line("CA")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567.IMQ/Y")
        ca.recv()
        img = "QUJD" * 200
        ca.send("DR.CATEST000.WATEST000.TXTOLN/A1234567 PHOTOCHECK\nIMG/" + img)
        assert img in wa.recv().body          # delivered whole
        span = "BEG/%s.END/%s" % (today(-1), today(1))
        body, h = search_until(wa, "WARAND000", "TYP/DR.%s.FND/PHOTOCHECK" % span, 1)
        seq = h[0][0]
        wa.send("NFQ.WARAND000.NL.TXTSEQ/%d" % seq)
        wa.recv()
        r = wa.recv()
        assert "PHOTOCHECK" in r.body and img not in r.body, r.body
        assert "[IMAGE NOT ARCHIVED]" in r.body, r.body


def test_retention_expires_old_messages():
    with Network(start=False, extra_conf="archive = old.db\narchive_retention_days = 2\n") as net:
        db = os.path.join(net.dir, "old.db")
        # 300 messages spread over the last 30 days
        run(["archive", "bench", "--db", db, "--messages", "300", "--days", "30",
             "--searches", "1"])
        now = time.time()

        def oldest():
            c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            try:
                return c.execute("SELECT count(*), min(t) FROM msg").fetchone()
            finally:
                c.close()

        n0, t0 = oldest()
        assert n0 == 300 and t0 < now - 20 * 86400, (n0, t0)
        net.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            n, t = oldest()
            if t is None or t >= now - 2 * 86400 - 60:
                break
            time.sleep(0.2)
        n, t = oldest()
        assert t is None or t >= now - 2 * 86400 - 60, (n, t, now)
        assert n < n0 / 5, (n, n0)               # about 2 of 30 days remain


def test_a_full_queue_is_a_recorded_gap():
    """The archive's writer held up (another connection holds the file's write lock) behind
    a queue of 16 messages (the least allowed): the switch still delivers everything, the messages past the queue
    are not archived, and the archive says so: the hub counts them, its log names them,
    `stateline archive gaps` lists them, and an NLQ of that time warns of them."""
    with Network(start=False, extra_conf="archive = gap.db\narchive_queue = 16\n") as net:
        net.add_oris(RAND_ORIS)
        net.start()
        orl = net.answer_line("OR")
        wa = net.line("WA")
        db = os.path.join(net.dir, "gap.db")
        blocker = sqlite3.connect(db, timeout=5, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            for i in range(20):
                wa.send("AM.WATEST000.OR.TXTGAPTEST NUMBER %d" % i)
                assert orl.recv().body.strip().endswith("GAPTEST NUMBER %d" % i)
            st = net.ctl_cmd("stats")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert st["archive_lost"] == 4, st      # 16 queued, four past the queue
        deadline = time.monotonic() + 10        # the writer catches up before the searches
        while time.monotonic() < deadline and net.ctl_cmd("stats")["archive_behind"]:
            time.sleep(0.05)
        span = "BEG/%s.END/%s" % (today(-1), today(1))
        body, h = search_until(wa, "WARAND000", "TYP/AM.%s.FND/GAPTEST" % span, 16)
        assert sorted(int(x[4].split()[-1]) for x in h) == list(range(16)), body
        assert "WARNING - 4 MESSAGES OF THIS PERIOD (ANY TYPE) WERE NOT ARCHIVED\n" in body, body
        body = nlq(wa, "WARAND000", "TYP/ALL.BEG/%s.END/%s.FND/GAPTEST" % (today(-3), today(-2)))
        assert "WARNING" not in body and "NOT ON FILE" in body, body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not net.find_log("were not archived"):
            time.sleep(0.05)
        m = net.find_log(r"WARN.*\[archive\] 4 messages sent from .* UTC were not archived "
                         r"\(between sequence numbers (\d+) and (\d+)\)")
        assert m and int(m.group(2)) == int(m.group(1)) + 1, net.log[-20:]
        p = run(["archive", "gaps", "--db", db])
        rows = [ln.split() for ln in p.stdout.splitlines()[1:]]
        assert p.stdout.startswith("FROM (UTC)") and len(rows) == 1, p.stdout
        assert rows[0][4] == "4" and rows[0][5:] == [m.group(1), "and", m.group(2)], p.stdout


if __name__ == "__main__":
    run_tests([test_search_each_field_fetch_and_refusals, test_images_never_archived,
               test_retention_expires_old_messages, test_a_full_queue_is_a_recorded_gap])
