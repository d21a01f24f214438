"""Multi-state queries (destination NL) through the real hub: every participating state
gets a copy (addressee NL, the switch's control field, the verified requester); the
requester gets one merged reply with the hits and the summary, NO HIT answers counted but
left out; a silent state makes the reply wait for the timeout and is listed as NO ANSWER;
participation follows `takes`."""
import re
import time

from slharness import Network, run_tests

CONF = "msq_timeout = 3\n"


def summary(body):
    out = {}
    for line in body.split("\n"):
        m = re.match(r"^(QUERIED|HIT|NO HIT|NO ANSWER):(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).split()
    return out


def answer(line, q, text, key="DR"):
    """Reply as a gateway does: to the requester ORI, the control field echoed."""
    ori = {"CA": "CATEST000", "OR": "ORTEST000", "ID": "IDTEST000"}[line.member]
    line.send("%s.%s.%s.%s.TXT%s" % (key, ori, q.requester()["ori"], q.ctl, text))


def test_one_state_silent():
    with Network(extra_conf=CONF) as net:
        ca, orl, idl = (net.answer_line(m) for m in ("CA", "OR", "ID"))
        wa = net.line("WA")
        wa.send("DQ.WATEST000.NL.MYCASE1.TXTOLN/A1234567")
        qs = {}
        for ln in (ca, orl, idl):
            q = ln.recv()
            assert q.key == "DQ" and q.dest == "NL", q       # asked nationwide
            assert re.match(r"^NL\d{8}$", q.ctl), q.ctl       # the switch's control field
            assert q.requester()["ori"] == "WATEST000", q
            qs[ln.member] = q
        answer(ca, qs["CA"], "OLN/A1234567\nNAM/DOE,JANE\nSTATUS/VALID")
        answer(orl, qs["OR"], "NOT ON FILE")
        # ID says nothing: no reply before the timeout
        wa.expect_nothing(1.0)
        t0 = time.monotonic()
        r = wa.recv(15)
        waited = time.monotonic() - t0
        assert waited < 14, waited
        assert r.key == "DR" and r.ori == "NL0000000" and r.dest == "WATEST000", r
        assert r.ctl == "MYCASE1", r                           # the requester's own
        assert r.body.startswith("MULTI-STATE QUERY DQ - "), r.body
        assert "RESPONSE FROM CA (DR.CATEST000)" in r.body, r.body
        assert "NAM/DOE,JANE" in r.body, r.body
        assert "NOT ON FILE" not in r.body and "RESPONSE FROM OR" not in r.body, r.body
        s = summary(r.body)
        assert "CA" in s["QUERIED"] and "OR" in s["QUERIED"] and "ID" in s["QUERIED"], s
        assert s["HIT"] == ["CA"], s
        assert s["NO HIT"] == ["OR"], s
        assert "ID" in s["NO ANSWER"], s                      # silent, not out of service
        assert "ID(OUT" not in r.body and "WA(OUT" in r.body, r.body
        # the summary comes after the hits
        assert r.body.index("RESPONSE FROM CA") < r.body.index("SUMMARY"), r.body
        # a late answer from ID is not the switch's any more: it goes to the requester
        answer(idl, qs["ID"], "LATE")
        late = wa.recv()
        assert late.key == "DR" and late.ori == "IDTEST000" and "LATE" in late.body, late
        wa.expect_nothing(0.3)


def test_all_answer_before_the_timeout():
    with Network(extra_conf="msq_timeout = 60\n") as net:
        ca, orl, idl = (net.answer_line(m) for m in ("CA", "OR", "ID"))
        wa = net.line("WA")
        wa.send("RQ.WATEST000.NL.TXTLIC/ABC123.LIY/2024.LIT/PC")
        qs = {ln.member: ln.recv() for ln in (ca, orl, idl)}
        for q in qs.values():
            assert q.key == "RQ" and q.dest == "NL", q
        answer(ca, qs["CA"], "NOT ON FILE", "RR")
        answer(orl, qs["OR"], "LIC/ABC123 OWNER/ROE,RICHARD", "RR")
        answer(idl, qs["ID"], "FILE NOT AVAILABLE", "RR")
        r = wa.recv(20)   # long before the 60 s timeout: every queried state answered
        assert r.key == "RR" and r.ori == "NL0000000", r
        s = summary(r.body)
        assert s["HIT"] == ["OR"] and s["NO HIT"] == ["CA"], s
        assert "ID" in s["NO ANSWER"], s
        assert "FILE NOT AVAILABLE" in r.body, r.body         # shown: ID could not search


def test_participation_follows_takes():
    # OR does not take KQ: it gets no copy and is not listed as queried
    with Network(extra_conf=CONF, members_conf="[member OR]\ntakes = DQ RQ AM\n") as net:
        ca, orl = net.answer_line("CA"), net.answer_line("OR")
        wa = net.line("WA")
        wa.send("KQ.WATEST000.NL.TXTOLN/A1234567")
        q = ca.recv()
        assert q.key == "KQ" and q.dest == "NL", q
        orl.expect_nothing(0.3)
        answer(ca, q, "NO HIT", "KR")
        r = wa.recv(15)
        s = summary(r.body)
        assert r.key == "KR" and "OR" not in s["QUERIED"] and s["NO HIT"] == ["CA"], r.body
        assert s["HIT"] == ["NONE"], s


def test_dropped_copy_is_no_answer_at_once():
    """A state whose answering line drops after it got its copy: NO ANSWER (OUT OF SERVICE)
    at once, and the merged reply does not wait for the timeout (60 s here); nothing is kept
    for it.  Each copy carries a switch message id like every query to an answering line."""
    with Network(extra_conf="msq_timeout = 60\n") as net:
        ca, orl = net.answer_line("CA"), net.answer_line("OR")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.NL.MYCASE2.TXTOLN/A1234567")
        qc, qo = ca.recv(), orl.recv()
        assert qc.mid and qo.mid and qc.mid != qo.mid, (qc.mid, qo.mid)
        answer(orl, qo, "NOT ON FILE")
        ca.close()
        r = wa.recv(20)                                       # long before msq_timeout
        assert r.key == "DR" and r.ctl == "MYCASE2", r
        s = summary(r.body)
        assert s["NO HIT"] == ["OR"], s
        assert "CA(OUT" in " ".join(s["NO ANSWER"]), s
        assert net.ctl_cmd("queue")["members"] == [], "nothing kept for a multi-state copy"
        wa.expect_nothing(0.3)


if __name__ == "__main__":
    run_tests([test_one_state_silent, test_all_answer_before_the_timeout,
               test_participation_follows_takes, test_dropped_copy_is_no_answer_at_once])
