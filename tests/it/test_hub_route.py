"""Routing through the real hub over mutual TLS: a DQ from a terminal line to the
destination's answering line with the verified requester and stamps, the DR back to the
requester's line, several destinations, AM to an ORI, sequence numbers, SM .04. for a
destination that is down."""
import calendar
import re
import time

from slharness import Network, run_tests

STAMP = re.compile(r"^\d\d:\d\d \d\d/\d\d/\d{4}$")


def stamp_near_now(stamp):
    """An output-header stamp (HH:MM MM/DD/CCYY, UTC) is within two minutes of now."""
    t = calendar.timegm(time.strptime(stamp, "%H:%M %m/%d/%Y"))
    return abs(t - time.time()) < 120


def test_dq_and_reply():
    with Network() as net:
        ca = net.answer_line("CA")
        wa = net.line("WA", "terminal")
        wa.send("DQ.WATEST000.CA.CTL42.TXTOLN/A1234567")
        q = ca.recv()
        assert q.key == "DQ" and q.ori == "WATEST000", q
        assert q.dest == "CA", q
        assert q.ctl == "CTL42", q
        assert STAMP.match(q.rx_stamp) and STAMP.match(q.tx_stamp), q.text
        assert stamp_near_now(q.rx_stamp) and stamp_near_now(q.tx_stamp), q.text
        assert q.rx_seq == 1 and q.tx_seq == 1, q.text
        assert "OLN/A1234567" in q.body, q.body
        # the verified requester, from the directory
        req = q.requester()
        assert req["ori"] == "WATEST000", req
        assert req["member"] == "WA", req
        assert req["type"] == "PD", req
        assert req["cats"] == "ACDZ", req
        assert req["state"] == "WA", req
        assert req["tags"] == "test", req

        # the reply, addressed to the requester ORI, goes back to the line it came from
        ca.send("DR.CATEST000.WATEST000.CTL42.TXTNO RECORD FOUND")
        r = wa.recv()
        assert r.key == "DR" and r.ori == "CATEST000" and r.dest == "WATEST000", r
        assert r.ctl == "CTL42", r
        assert "NO RECORD FOUND" in r.body
        assert r.tx_seq == 1 and r.rx_seq == 1, r.text
        # a reply carries no requester block (it goes to a terminal line)
        assert not r.requester(), r.text

        # sequence numbers count per line
        wa.send("DQ.WATEST000.CA.TXTOLN/B7654321")
        q2 = ca.recv()
        assert q2.rx_seq == 2 and q2.tx_seq == 2, q2.text
        st = net.ctl_cmd("stats")
        assert st["routed"] == 3, st


def test_federal_requester_parent():
    with Network() as net:
        ca = net.answer_line("CA")
        dj = net.line("DJ", "terminal")
        dj.send("RQ.VATEST0F0.CA.TXTLIC/ABC123.LIY/2024.LIT/PC")
        q = ca.recv()
        req = q.requester()
        assert req["ori"] == "VATEST0F0" and req["member"] == "DJ", req
        assert req["type"] == "FE" and req["parent"] == "DOJ/FBI", req
        assert req["state"] == "VA" and req["tags"] == "task-force", req


def test_several_destinations_and_down():
    with Network() as net:
        ca = net.answer_line("CA")
        orl = net.answer_line("OR")
        wa = net.line("WA")
        # ID has no answering line: SM .04. for it, CA and OR get their copies
        wa.send("DQ.WATEST000.CA.OR.ID.TXTOLN/A1234567")
        a, b = ca.recv(), orl.recv()
        assert a.dest == "CA" and b.dest == "OR", (a, b)
        sm = wa.recv()
        assert sm.key == "SM" and sm.ori == "NL0000000", sm
        assert sm.dest == "WATEST000", sm
        assert ".04. USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL NOT FORWARD" in sm.body
        assert "DESTINATION ID MSG TYPE DQ: NO ANSWERING LINE CONNECTED" in sm.body, sm.body
        assert "DQ.WATEST000.CA.OR.ID.TXT" in sm.body, sm.body
        wa.expect_nothing()
        ca.expect_nothing(0.1)
        orl.expect_nothing(0.1)


def test_am_to_ori_reaches_its_last_line():
    with Network() as net:
        wa = net.line("WA")
        orl = net.line("OR")
        # ORTEST000 has sent from the OR terminal line: an AM to it reaches that line
        orl.send("AM.ORTEST000.WA.TXTHELLO WASHINGTON")
        # WA's answering line is down: SM to the OR line
        sm = orl.recv()
        assert sm.key == "SM" and "DESTINATION WA" in sm.body, sm
        wa.send("AM.WATEST000.ORTEST000.TXTHELLO OREGON TERMINAL")
        m = orl.recv()
        assert m.key == "AM" and m.dest == "ORTEST000" and "HELLO OREGON" in m.body, m
        assert not m.requester()


def test_reply_after_terminal_left_goes_to_answering_line():
    with Network() as net:
        ca = net.answer_line("CA")
        wa_gw = net.answer_line("WA")
        wa = net.line("WA")
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        ca.recv()
        wa.close()
        net.wait_log(r"line down: WA terminal")
        # the terminal line is gone: the reply goes to Washington's own switch
        ca.send("DR.CATEST000.WATEST000.TXTLATE ANSWER")
        r = wa_gw.recv()
        assert r.key == "DR" and r.dest == "WATEST000" and "LATE ANSWER" in r.body, r
        # and with WA's answering line down too, the sender is told
        wa_gw.close()
        net.wait_log(r"line down: WA answer")
        ca.send("DR.CATEST000.WATEST000.TXTLATER ANSWER")
        sm = ca.recv()
        assert sm.key == "SM" and "DESTINATION WATEST000 MSG TYPE DR" in sm.body, sm.body


def test_answer_line_replaced():
    with Network() as net:
        ca1 = net.answer_line("CA")
        ca2 = net.line("CA", "answer")
        net.wait_log(r"answering line of CA from .* replaces")
        ca1.expect_closed()
        wa = net.line("WA")
        wa.send("DQ.WATEST000.CA.TXTOLN/A1234567")
        assert ca2.recv().key == "DQ"


if __name__ == "__main__":
    run_tests([test_dq_and_reply, test_federal_requester_parent, test_several_destinations_and_down,
               test_am_to_ori_reaches_its_last_line,
               test_reply_after_terminal_left_goes_to_answering_line,
               test_answer_line_replaced])
