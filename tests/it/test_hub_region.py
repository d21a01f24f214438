"""Regions and administrative messages through the real hub: a DQ to a region reaches
exactly the region's states, re-typed to DQ with the region code as addressee; region and
state codes mixed and de-duplicated; a region member that does not take the key gets an
SM .01.; a configured region table replaces ours; AM to states, regions and ORIs; AML
carries the law-enforcement-only line."""
from slharness import Network, run_tests

H1 = ["AK", "CA", "GU", "HI", "OR", "WA"]  # our Pacific region (docs/protocol.md)
NAMEQ = "NAM/DOE,JANE.DOB/19800101.SEX/F"


def test_region_reaches_exactly_its_states():
    with Network() as net:
        ans = {m: net.answer_line(m) for m in H1 + ["ID", "NV"]}
        wa = net.line("WA")
        wa.send("DQ.WATEST000.H1.TXT" + NAMEQ)
        for m in H1:
            q = ans[m].recv()
            assert q.key == "DQ", (m, q)            # DQG on the way, DQ on delivery
            assert q.dest == "H1", (m, q)           # the receiver sees it came via H1
            assert q.ori == "WATEST000" and "NAM/DOE,JANE" in q.body, q
            assert q.requester()["ori"] == "WATEST000", q
        for m in ["ID", "NV"]:
            ans[m].expect_nothing(0.3)
        for m in H1:
            ans[m].expect_nothing(0.1)              # once each
        wa.expect_nothing(0.2)


def test_region_mixed_with_states_deduplicated():
    with Network() as net:
        ans = {m: net.answer_line(m) for m in H1 + ["ID", "NV"]}
        wa = net.line("WA")
        wa.send("RQ.WATEST000.H1.CA.ID.TXTLIC/ABC123.LIY/2024.LIT/PC")
        got = {}
        for m in H1 + ["ID"]:
            q = ans[m].recv()
            assert q.key == "RQ", q
            got[m] = q.dest
        assert got["ID"] == "ID" and got["CA"] == "H1", got   # first mention wins
        for m in H1 + ["ID", "NV"]:
            ans[m].expect_nothing(0.2)
        # RQG sent as such is delivered as RQ too
        wa.send("RQG.WATEST000.H1.TXTVIN/1HGCM82633A004352")
        for m in H1:
            q = ans[m].recv()
            assert q.key == "RQ" and q.dest == "H1" and "VIN/1HGCM82633A004352" in q.body, q


def test_region_member_not_taking_the_key():
    with Network(members_conf="[member OR]\ntakes = AM\n") as net:
        ans = {m: net.answer_line(m) for m in H1}
        wa = net.line("WA")
        wa.send("DQ.WATEST000.H1.TXT" + NAMEQ)
        for m in H1:
            if m != "OR":
                assert ans[m].recv().key == "DQ"
        ans["OR"].expect_nothing(0.3)
        sm = wa.recv()
        assert sm.key == "SM" and sm.ori == "NL0000000", sm
        assert ".01. USER DOES NOT RESPOND TO MSG TYPE, NLETS WILL NOT FORWARD" in sm.body, sm
        assert "DESTINATION OR VIA H1 MSG TYPE DQ" in sm.body, sm.body
        # addressed directly, the same is a wrong message: ER .02.
        wa.send("DQ.WATEST000.OR.TXT" + NAMEQ)
        er = wa.recv()
        assert er.key == "ER" and ".02." in er.body, er


def test_configured_region_table():
    conf = "[region Z1]\nstates = CA ID\n[region Y2]\nstates = NV\n"
    with Network(members_conf=conf) as net:
        ans = {m: net.answer_line(m) for m in ["CA", "ID", "NV", "OR"]}
        wa = net.line("WA")
        wa.send("DQ.WATEST000.Z1.TXT" + NAMEQ)
        assert ans["CA"].recv().dest == "Z1"
        assert ans["ID"].recv().dest == "Z1"
        ans["NV"].expect_nothing(0.2)
        ans["OR"].expect_nothing(0.1)
        # our table is replaced: H1 is no region here
        wa.send("DQ.WATEST000.H1.TXT" + NAMEQ)
        er = wa.recv()
        assert er.key == "ER" and "DESTINATION H1 IS NOT A REGION" in er.body, er


def test_bad_region_config_refused():
    with Network(members_conf="[region Z1]\nstates = CA\n[region Z2]\nstates = CA\n",
                 start=False) as net:
        p = __import__("slharness").run(["hub", "check", "--config", net.conf], check=False)
        assert p.returncode != 0 and "CA is already in region Z1" in p.stderr, p.stderr


def test_am_and_aml():
    with Network() as net:
        ans = {m: net.answer_line(m) for m in H1 + ["ID", "TX"]}
        wa = net.line("WA")
        # up to five destinations, regions allowed, each member once
        wa.send("AM.WATEST000.ID.TX.H1.CA.TXTCONTROL TERMINAL MEETING MONDAY 10 AM")
        for m in H1 + ["ID", "TX"]:
            a = ans[m].recv()
            assert a.key == "AM" and "CONTROL TERMINAL MEETING" in a.body, (m, a)
            assert not a.requester(), a                # an AM is not a query
        for m in H1 + ["ID", "TX"]:
            ans[m].expect_nothing(0.1)
        # AML: the switch inserts the law-enforcement-only line
        wa.send("AML.WATEST000.ID.TXTSUSPECT VEHICLE BOLO")
        a = ans["ID"].recv()
        assert a.key == "AML", a
        assert a.body.split("\n")[0] == "FOR LAW ENFORCEMENT DISSEMINATION ONLY", a.body
        assert "SUSPECT VEHICLE BOLO" in a.body, a.body
        # AM between ORIs: to the line the ORI last sent from
        idt = net.line("ID")
        idt.send("AM.IDTEST000.WATEST000.TXTTHANK YOU")
        m = wa.recv()
        assert m.key == "AM" and m.ori == "IDTEST000" and m.dest == "WATEST000", m
        # six destinations are refused (five at most)
        wa.send("AM.WATEST000.ID.TX.CA.OR.NV.AK.TXTX")
        er = wa.recv()
        assert er.key == "ER", er


if __name__ == "__main__":
    run_tests([test_region_reaches_exactly_its_states, test_region_mixed_with_states_deduplicated,
               test_region_member_not_taking_the_key, test_configured_region_table,
               test_bad_region_config_refused, test_am_and_aml])
