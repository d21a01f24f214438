"""Every ER the hub sends (docs/protocol.md §2), through the real hub over mutual TLS:
each from NL0000000 only, on the line the message came from, with the Nlets number, the
detail, and the first 100 characters of the offending message; nothing delivered."""
from slharness import Network, run_tests

ER_CASES = [
    # (what, message, ER number text, detail that must appear)
    ("unparseable", "12345 HELLO", ".00. MESSAGE FORMAT/STRUCTURE ERROR",
     "MESSAGE DOES NOT BEGIN WITH A MESSAGE KEY"),
    ("no key", "HELLO WORLD", ".01. INVALID HEADER INFORMATION", "MESSAGE KEY MUST BE"),
    ("unknown key", "QQ.WATEST000.CA.TXTOLN/A1", ".01. INVALID HEADER INFORMATION",
     "UNKNOWN MESSAGE KEY QQ"),
    ("no TXT", "DQ.WATEST000.CA.OLN/A1234567", ".03.", ""),
    ("ER from a line", "ER.WATEST000.CATEST000.TXTSOMETHING", ".01. INVALID HEADER INFORMATION",
     "MSG TYPE ER IS SENT ONLY BY THE SWITCH"),
    ("unknown sender ORI", "DQ.WAZZZZ999.CA.TXTOLN/A1234567",
     ".01. INVALID HEADER INFORMATION", "SENDER ORI WAZZZZ999 NOT IN DIRECTORY"),
    ("ORI of another member", "DQ.ORTEST000.CA.TXTOLN/A1234567",
     ".01. INVALID HEADER INFORMATION",
     "SENDER ORI ORTEST000 DOES NOT BELONG TO LINE WA: A MEMBER MAY SEND ONLY ITS OWN ORIS"),
    ("inactive ORI", "DQ.WAINACT00.CA.TXTOLN/A1234567", ".01. INVALID HEADER INFORMATION",
     "SENDER ORI WAINACT00 INACTIVE"),
    ("D-less ORI, DMV key", "DQ.WANODMV00.CA.TXTOLN/A1234567",
     ".01. INVALID HEADER INFORMATION", "ORI NOT AUTHORIZED FOR MSG TYPE DQ"),
    ("D-less ORI, vehicle key", "RQ.WANODMV00.CA.TXTLIC/ABC123.LIY/2024.LIT/PC",
     ".01. INVALID HEADER INFORMATION", "ORI NOT AUTHORIZED FOR MSG TYPE RQ"),
    ("unknown destination code", "DQ.WATEST000.ZZ.TXTOLN/A1234567",
     ".19. INVALID DESTINATION ORIs", "DESTINATION ZZ IS NOT A MEMBER LINE"),
    ("unknown destination ORI", "AM.WATEST000.CAZZZZ999.TXTHELLO",
     ".19. INVALID DESTINATION ORIs", "DESTINATION ORI CAZZZZ999 NOT IN DIRECTORY"),
    ("inactive destination ORI", "AM.WATEST000.WAINACT00.TXTHELLO",
     ".19. INVALID DESTINATION ORIs", "DESTINATION ORI WAINACT00 INACTIVE"),
    ("bad third destination", "DQ.WATEST000.CA.ID.ZZ.TXTOLN/A1234567",
     ".19. INVALID DESTINATION ORIs", "DESTINATION ZZ IS NOT A MEMBER LINE"),
    ("destination does not take the key (config)", "DQ.WATEST000.OR.TXTOLN/A1234567",
     ".02. MESSAGE TYPE NOT ALLOWED TO DESTINATION", "DESTINATION OR DOES NOT TAKE DQ"),
    ("federal line takes AM only (default)", "DQ.WATEST000.DJ.TXTOLN/A1234567",
     ".02. MESSAGE TYPE NOT ALLOWED TO DESTINATION", "DESTINATION DJ DOES NOT TAKE DQ"),
    ("bad DOB", "DQ.WATEST000.CA.TXTNAM/DOE,JANE.DOB/19991399.SEX/F", ".05.", ""),
    ("bad year", "RQ.WATEST000.CA.TXTLIC/ABC123.LIY/20X4.LIT/PC", ".10.", ""),
    ("fields missing", "DQ.WATEST000.CA.TXTRSN/N", ".14. FIELDS MISSING", "OLN"),
    ("bad ATN", "DQ.WATEST000.CA.TXTOLN/A1234567.ATN/" + "X" * 40, ".16. ATN FIELD INVALID",
     ""),
    ("not a region", "DQ.WATEST000.Z9.TXTNAM/DOE,JANE.DOB/19800101.SEX/F",
     ".19. INVALID DESTINATION ORIs", "DESTINATION Z9 IS NOT A REGION"),
    ("OLN to a region is a DQG", "DQ.WATEST000.H1.TXTOLN/A1234567",
     ".22. INVALID MESSAGE FORMAT - REFER TO DQG MKE OPTIONS", "OLN"),
    ("repeated destination", "DQ.WATEST000.CA.CA.TXTOLN/A1234567",
     ".19. INVALID DESTINATION ORIs", "REPEATED"),
    ("no valid field set", "RQ.WATEST000.CA.TXTLIC/ABC123", ".22. INVALID MESSAGE FORMAT",
     "RQ"),
]


def test_every_er():
    with Network(members_conf="[member OR]\ntakes = AM\n") as net:
        ca = net.answer_line("CA")
        orl = net.answer_line("OR")
        wa = net.line("WA")
        seq = 0
        for what, msg, number, detail in ER_CASES:
            wa.send(msg)
            seq += 1
            er = wa.recv()
            assert er.key == "ER" and er.ori == "NL0000000", (what, er)
            assert number in er.body, (what, er.body)
            assert detail in er.body, (what, detail, er.body)
            assert "ORIGINAL MESSAGE" in er.body, (what, er.body)
            assert msg[:100] in er.body.replace("\r", ""), (what, er.body)
            assert er.rx_seq == seq and er.tx_seq == seq, (what, er.text)
        ca.expect_nothing(0.3)
        orl.expect_nothing(0.1)
        # the refused senders' lines stay up; valid traffic still flows, AM from the D-less ORI
        wa.send("AM.WANODMV00.CA.TXTADMIN MESSAGE FROM A D-LESS ORI")
        assert "ADMIN MESSAGE" in ca.recv().body
        st = net.ctl_cmd("stats")
        assert st["er"] == len(ER_CASES), st


def test_er_22_lists_valid_sets():
    with Network() as net:
        wa = net.line("WA")
        wa.send("RQ.WATEST000.CA.TXTLIC/ABC123")
        er = wa.recv()
        assert "REFER TO RQ MKE OPTIONS BELOW" in er.body, er.body
        assert "1. " in er.body and "LIC" in er.body and "VIN" in er.body, er.body


def test_long_message_echo_is_100_chars():
    with Network() as net:
        wa = net.line("WA")
        msg = "DQ.WAZZZZ999.CA.TXTOLN/" + "A" * 300
        wa.send(msg)
        er = wa.recv()
        body = er.body.replace("\r", "")
        assert msg[:100] in body and msg[:101] not in body, body


if __name__ == "__main__":
    run_tests([test_every_er, test_er_22_lists_valid_sets, test_long_message_echo_is_100_chars])
