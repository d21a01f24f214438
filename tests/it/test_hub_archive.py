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


if __name__ == "__main__":
    run_tests([test_search_each_field_fetch_and_refusals, test_images_never_archived,
               test_retention_expires_old_messages])
