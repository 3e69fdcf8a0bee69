"""Security descriptors between SDDL and the binary self-relative form (emulator/files/sddl.py): round trips,
the bytes the service itself answers for a known descriptor, and refusals."""
from __future__ import annotations

import base64

import pytest

from emulator.files import sddl

# the pair azure-storage-file-share's own tests hold the service to (test_share.py::test_get_permission_format)
SDDL = ("O:S-1-5-21-2127521184-1604012920-1887927527-21560751G:S-1-5-21-2127521184-1604012920-1887927527-513"
        "D:AI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;S-1-5-21-397955417-626881126-188441444-3053964)"
        "S:NO_ACCESS_CONTROL")
BINARY = ("AQAUhGwAAACIAAAAAAAAABQAAAACAFgAAwAAAAAAFAD/AR8AAQEAAAAAAAUSAAAAAAAYAP8BHwABAgAAAAAABSAAAAAgAgAAAAAkAKkAEgAB"
          "BQAAAAAABRUAAABZUbgXZnJdJWRjOwuMmS4AAQUAAAAAAAUVAAAAoGXPfnhLm1/nfIdwr/1IAQEFAAAAAAAFFQAAAKBlz354S5tf53yHcAEC"
          "AAA=")


def test_the_services_own_pair_converts_both_ways():
    assert sddl.render(sddl.parse(SDDL, "sddl"), "binary") == BINARY
    assert sddl.render(sddl.parse(BINARY, "binary"), "sddl") == SDDL


def test_the_binary_layout():
    raw = base64.b64decode(BINARY)
    sd = sddl.parse_binary(raw)
    assert sd.owner.endswith("-21560751") and sd.group.endswith("-513")
    assert sd.control & sddl.SACL_PRESENT and sd.sacl is None          # S:NO_ACCESS_CONTROL: a null SACL
    assert [(a.type, a.mask, a.sid) for a in sd.dacl.aces] == [
        (0, 0x1F01FF, "S-1-5-18"), (0, 0x1F01FF, "S-1-5-32-544"),
        (0, 0x1200A9, "S-1-5-21-397955417-626881126-188441444-3053964")]


@pytest.mark.parametrize("text, canonical", [
    ("O:BAG:SYD:PAI(A;OICIID;FA;;;SY)(D;;0x1;;;WD)", "O:BAG:SYD:PAI(A;OICIID;FA;;;SY)(D;;CC;;;WD)"),
    ("D:(A;;0x1f01ff;;;S-1-5-18)", "D:(A;;FA;;;SY)"),
    ("D:NO_ACCESS_CONTROL", "D:NO_ACCESS_CONTROL"),
    ("G:S-1-5-32-545", "G:BU"),
    ("D:(OA;CI;RPWP;BF967A7F-0DE6-11D0-A285-00AA003049E2;;S-1-5-32-544)S:AI(AU;SAFA;GA;;;WD)",
     "D:(OA;CI;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;BA)S:AI(AU;SAFA;GA;;;WD)"),
    ("D:(A;;268435456;;;WD)", "D:(A;;GA;;;WD)"),            # decimal masks too
    ("O:SY D:(A;;FR;;;AU)", "O:SYD:(A;;FR;;;AU)"),
])
def test_round_trips_through_binary(text, canonical):
    sd = sddl.parse_sddl(text)
    assert sddl.to_sddl(sd) == canonical
    again = sddl.parse_binary(sddl.to_binary(sd))
    assert sddl.to_sddl(again) == canonical
    assert sddl.to_binary(again) == sddl.to_binary(sd)


@pytest.mark.parametrize("text", ["abcde", "", "O:XX", "O:DA", "D:(A;;FA;;;SY", "D:(Q;;FA;;;SY)",
                                  "D:(A;;FA;;;SY;extra)", "D:(XA;;FA;;;WD;(Member_of {SID(BA)}))",
                                  "D:NO_ACCESS_CONTROL(A;;FA;;;SY)", "O:SYO:SY", "D:(A;;0x100000000;;;SY)",
                                  "D:(A;;FA;guid;;SY)"])
def test_what_is_not_a_descriptor_is_refused(text):
    with pytest.raises(ValueError):
        sddl.parse_sddl(text)


@pytest.mark.parametrize("raw", [b"", b"\x01\x00\x00\x80" + b"\x00" * 12, b"\x02" + b"\x00" * 19,
                                 b"\x01\x00\x04\x80" + b"\x00" * 12 + b"\xff\x00\x00\x00"])
def test_broken_binary_is_refused(raw):
    with pytest.raises(ValueError):
        sddl.parse_binary(raw)
