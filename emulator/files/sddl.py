"""Security descriptors: SDDL text ⇄ the binary self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6, 2.5.1).

Create Permission and `x-ms-file-permission` take either form (`x-ms-file-permission-format: sddl | binary`, the
binary one base64-encoded); Get Permission answers in the form asked for. Both parse into one `Descriptor`, so the
same descriptor has the same permission key whichever form it came in.

Supported: owner, group, DACL and SACL with their flags (P, AR, AI, NO_ACCESS_CONTROL), ACEs of the types A, D,
AU, AL, ML and the object types OA, OD, OU, OL, SIDs as S-1-... or the well-known two-letter aliases that need no
domain. Conditional (callback) and resource-attribute ACEs, and aliases relative to a domain (DA, DU, ...), are
refused with ValueError: the emulator has no domain and does not evaluate conditions.

Rendering follows what Windows' ConvertSecurityDescriptorToStringSecurityDescriptor writes (the most plausible
match for the service, which is Windows): sections O, G, D, S; well-known SIDs as their alias; an access mask as
a named composite right (FA, FR, ...) when it is one exactly, else as two-letter rights when every bit has one,
else as lower-case hex. The binary form is laid out SACL, DACL, owner, group after the 20-byte header, as the
service's own answers are.
"""
from __future__ import annotations

import base64
import re
import struct
import uuid
from dataclasses import dataclass, field

# control flags (SECURITY_DESCRIPTOR_CONTROL)
OWNER_DEFAULTED, GROUP_DEFAULTED, DACL_PRESENT, DACL_DEFAULTED = 0x0001, 0x0002, 0x0004, 0x0008
SACL_PRESENT, SACL_DEFAULTED = 0x0010, 0x0020
DACL_AUTO_INHERIT_REQ, SACL_AUTO_INHERIT_REQ = 0x0100, 0x0200
DACL_AUTO_INHERITED, SACL_AUTO_INHERITED = 0x0400, 0x0800
DACL_PROTECTED, SACL_PROTECTED = 0x1000, 0x2000
SELF_RELATIVE = 0x8000

ACE_TYPES = {"A": 0x00, "D": 0x01, "AU": 0x02, "AL": 0x03, "OA": 0x05, "OD": 0x06, "OU": 0x07, "OL": 0x08,
             "ML": 0x11}
_OBJECT_TYPES = {0x05, 0x06, 0x07, 0x08}
ACE_FLAGS = [("OI", 0x01), ("CI", 0x02), ("NP", 0x04), ("IO", 0x08), ("ID", 0x10), ("SA", 0x40), ("FA", 0x80)]
# composite rights first (matched exactly), then the one-bit rights a mask is spelled with
COMPOSITE_RIGHTS = [("FA", 0x001F01FF), ("FR", 0x00120089), ("FW", 0x00120116), ("FX", 0x001200A0),
                    ("KA", 0x000F003F), ("KR", 0x00020019), ("KW", 0x00020006), ("KX", 0x00020019)]
BIT_RIGHTS = [("GA", 0x10000000), ("GR", 0x80000000), ("GW", 0x40000000), ("GX", 0x20000000),
              ("RC", 0x00020000), ("SD", 0x00010000), ("WD", 0x00040000), ("WO", 0x00080000),
              ("RP", 0x00000010), ("WP", 0x00000020), ("CC", 0x00000001), ("DC", 0x00000002),
              ("LC", 0x00000004), ("SW", 0x00000008), ("LO", 0x00000080), ("DT", 0x00000040),
              ("CR", 0x00000100), ("NR", 0x00000002), ("NW", 0x00000001), ("NX", 0x00000004)]
_RENDERED_BITS = BIT_RIGHTS[:17]            # NR/NW/NX share bits with DC/CC/LC: parsed, never written
SID_ALIASES = {
    "WD": "S-1-1-0", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4", "NU": "S-1-5-2", "IU": "S-1-5-4",
    "SU": "S-1-5-6", "AN": "S-1-5-7", "ED": "S-1-5-9", "PS": "S-1-5-10", "AU": "S-1-5-11", "RC": "S-1-5-12",
    "SY": "S-1-5-18", "LS": "S-1-5-19", "NS": "S-1-5-20", "WR": "S-1-5-33", "BA": "S-1-5-32-544",
    "BU": "S-1-5-32-545", "BG": "S-1-5-32-546", "PU": "S-1-5-32-547", "AO": "S-1-5-32-548", "SO": "S-1-5-32-549",
    "PO": "S-1-5-32-550", "BO": "S-1-5-32-551", "RE": "S-1-5-32-552", "RU": "S-1-5-32-554", "RD": "S-1-5-32-555",
    "NO": "S-1-5-32-556", "MU": "S-1-5-32-558", "LU": "S-1-5-32-559", "IS": "S-1-5-32-568", "CY": "S-1-5-32-569",
    "ER": "S-1-5-32-573", "CD": "S-1-5-32-574", "RA": "S-1-5-32-575", "ES": "S-1-5-32-576", "MS": "S-1-5-32-577",
    "HA": "S-1-5-32-578", "AA": "S-1-5-32-579", "RM": "S-1-5-32-580", "AC": "S-1-15-2-1", "LW": "S-1-16-4096",
    "ME": "S-1-16-8192", "MP": "S-1-16-8448", "HI": "S-1-16-12288", "SI": "S-1-16-16384", "AS": "S-1-18-1",
    "SS": "S-1-18-2",
}
_ALIAS_OF = {sid: alias for alias, sid in SID_ALIASES.items()}
_SID = re.compile(r"^S-1-(\d+|0[xX][0-9A-Fa-f]{1,12})((?:-\d+){0,15})$")
MAX_SIZE = 64 << 10


@dataclass
class Ace:
    type: int
    flags: int
    mask: int
    sid: str
    object_type: str | None = None              # GUIDs of object ACEs (canonical lower-case text)
    inherited_object_type: str | None = None


@dataclass
class Acl:
    aces: list[Ace] = field(default_factory=list)
    revision: int = 2


@dataclass
class Descriptor:
    control: int = SELF_RELATIVE
    owner: str | None = None
    group: str | None = None
    dacl: Acl | None = None                     # None with DACL_PRESENT: a null DACL (NO_ACCESS_CONTROL)
    sacl: Acl | None = None


# ---- SIDs -------------------------------------------------------------------------------------------------------
def sid_from_text(text: str) -> str:
    """The canonical S-1-... form of a SID string or well-known alias."""
    text = text.strip()
    if text.upper() in SID_ALIASES and len(text) == 2:
        return SID_ALIASES[text.upper()]
    m = _SID.match(text.upper())
    if not m:
        raise ValueError(f"{text!r} is not a SID (S-1-...) or a well-known alias the emulator knows")
    authority = int(m.group(1), 0)
    subs = [int(s) for s in m.group(2).split("-")[1:]]
    if authority >= 1 << 48 or any(s >= 1 << 32 for s in subs):
        raise ValueError(f"the SID {text!r} is out of range")
    return "S-1-" + str(authority) + "".join(f"-{s}" for s in subs)


def sid_to_bytes(sid: str) -> bytes:
    parts = sid.split("-")
    authority, subs = int(parts[2]), [int(s) for s in parts[3:]]
    return struct.pack("<BB", 1, len(subs)) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def sid_from_bytes(data: bytes, offset: int) -> tuple[str, int]:
    """(SID text, its size) of the SID at `offset`."""
    if offset + 8 > len(data):
        raise ValueError("a SID runs past the end of the descriptor")
    revision, count = data[offset], data[offset + 1]
    if revision != 1 or count > 15:
        raise ValueError("a SID has an unknown revision or too many sub-authorities")
    size = 8 + 4 * count
    if offset + size > len(data):
        raise ValueError("a SID runs past the end of the descriptor")
    authority = int.from_bytes(data[offset + 2:offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", data, offset + 8)
    shown = str(authority) if authority < 1 << 32 else f"0x{authority:x}"
    return "S-1-" + shown + "".join(f"-{s}" for s in subs), size


def _sid_text(sid: str) -> str:
    return _ALIAS_OF.get(sid, sid)


# ---- SDDL -> Descriptor -----------------------------------------------------------------------------------------
def _rights(text: str) -> int:
    text = text.strip()
    if not text:
        raise ValueError("an ACE has no access rights")
    if text[0].isdigit():
        try:
            value = int(text, 16) if text[:2].lower() == "0x" else int(text, 8) if text[0] == "0" else int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an access mask") from None
        if value >= 1 << 32:
            raise ValueError(f"the access mask {text!r} is out of range")
        return value
    named = dict(COMPOSITE_RIGHTS) | dict(BIT_RIGHTS)
    mask = 0
    for i in range(0, len(text), 2):
        code = text[i:i + 2].upper()
        if code not in named:
            raise ValueError(f"{code!r} is not an access right")
        mask |= named[code]
    return mask


def _guid(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a GUID") from None


def _parse_ace(text: str) -> Ace:
    fields = text.split(";")
    if len(fields) != 6:
        raise ValueError(f"the ACE ({text}) does not have six fields (conditional and resource-attribute ACEs "
                         "are not supported)")
    type_code = fields[0].strip().upper()
    if type_code not in ACE_TYPES:
        raise ValueError(f"{type_code!r} is not an ACE type the emulator supports")
    ace_type = ACE_TYPES[type_code]
    flags, raw = 0, fields[1].strip().upper()
    codes = dict(ACE_FLAGS)
    for i in range(0, len(raw), 2):
        if raw[i:i + 2] not in codes:
            raise ValueError(f"{raw[i:i + 2]!r} is not an ACE flag")
        flags |= codes[raw[i:i + 2]]
    ace = Ace(ace_type, flags, _rights(fields[2]), sid_from_text(fields[5]))
    if ace_type in _OBJECT_TYPES:
        ace.object_type, ace.inherited_object_type = _guid(fields[3]), _guid(fields[4])
    elif fields[3].strip() or fields[4].strip():
        raise ValueError(f"the ACE ({text}) names object types but is not an object ACE")
    return ace


def _parse_acl(body: str, which: str) -> tuple[int, Acl | None]:
    """(control bits, ACL or None for NO_ACCESS_CONTROL) of a D: or S: section's text."""
    bits = {"P": DACL_PROTECTED, "AR": DACL_AUTO_INHERIT_REQ, "AI": DACL_AUTO_INHERITED}
    if which == "S":
        bits = {"P": SACL_PROTECTED, "AR": SACL_AUTO_INHERIT_REQ, "AI": SACL_AUTO_INHERITED}
    control = DACL_PRESENT if which == "D" else SACL_PRESENT
    head, paren, rest = body.partition("(")
    null = False
    i, head = 0, head.strip().upper()
    while i < len(head):
        if head.startswith("NO_ACCESS_CONTROL", i):
            null, i = True, i + len("NO_ACCESS_CONTROL")
        elif head.startswith("AR", i) or head.startswith("AI", i):
            control, i = control | bits[head[i:i + 2]], i + 2
        elif head[i] == "P":
            control, i = control | bits["P"], i + 1
        else:
            raise ValueError(f"{head[i:]!r} is not an ACL flag of {which}:")
    aces = []
    rest = paren + rest
    while rest.strip():
        rest = rest.strip()
        if not rest.startswith("(") or ")" not in rest:
            raise ValueError(f"the {which}: section is not a list of (ACE)s")
        ace, rest = rest[1:].split(")", 1)
        aces.append(_parse_ace(ace))
    if null and aces:
        raise ValueError(f"the {which}: section is NO_ACCESS_CONTROL and has ACEs")
    return control, None if null else Acl(aces)


def _sections(text: str) -> list[tuple[str, str]]:
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " \t\r\n":
            i += 1
            continue
        tag = text[i:i + 2].upper()
        if tag not in ("O:", "G:", "D:", "S:"):
            raise ValueError(f"expected O:, G:, D: or S: at {text[i:i + 12]!r}")
        j, depth = i + 2, 0
        while j < n:
            c = text[j]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif depth == 0 and text[j:j + 2].upper() in ("O:", "G:", "D:", "S:"):
                break
            j += 1
        out.append((tag[0], text[i + 2:j]))
        i = j
    return out


def parse_sddl(text: str) -> Descriptor:
    """A Descriptor from SDDL text; ValueError says what is wrong."""
    if len(text) > MAX_SIZE:
        raise ValueError("the descriptor is too large")
    sd, seen = Descriptor(), set()
    for tag, body in _sections(text.strip()):
        if tag in seen:
            raise ValueError(f"the section {tag}: appears twice")
        seen.add(tag)
        if tag == "O":
            sd.owner = sid_from_text(body)
        elif tag == "G":
            sd.group = sid_from_text(body)
        else:
            control, acl = _parse_acl(body, tag)
            sd.control |= control
            if tag == "D":
                sd.dacl = acl
            else:
                sd.sacl = acl
    if not seen:
        raise ValueError("the descriptor is empty")
    return sd


# ---- Descriptor -> SDDL -----------------------------------------------------------------------------------------
def _mask_text(mask: int) -> str:
    for name, value in COMPOSITE_RIGHTS:
        if mask == value:
            return name
    names, left = [], mask
    for name, value in _RENDERED_BITS:
        if left & value:
            names.append(name)
            left &= ~value
    return "".join(names) if names and not left else f"0x{mask:x}"


def _ace_text(ace: Ace) -> str:
    type_code = next(k for k, v in ACE_TYPES.items() if v == ace.type)
    flags = "".join(name for name, bit in ACE_FLAGS if ace.flags & bit)
    return (f"({type_code};{flags};{_mask_text(ace.mask)};{ace.object_type or ''};"
            f"{ace.inherited_object_type or ''};{_sid_text(ace.sid)})")


def _acl_text(tag: str, control: int, acl: Acl | None) -> str:
    p, ar, ai = ((DACL_PROTECTED, DACL_AUTO_INHERIT_REQ, DACL_AUTO_INHERITED) if tag == "D"
                 else (SACL_PROTECTED, SACL_AUTO_INHERIT_REQ, SACL_AUTO_INHERITED))
    flags = ("P" if control & p else "") + ("AR" if control & ar else "") + ("AI" if control & ai else "")
    if acl is None:
        return f"{tag}:{flags}NO_ACCESS_CONTROL"
    return f"{tag}:{flags}" + "".join(_ace_text(a) for a in acl.aces)


def to_sddl(sd: Descriptor) -> str:
    out = ""
    if sd.owner:
        out += "O:" + _sid_text(sd.owner)
    if sd.group:
        out += "G:" + _sid_text(sd.group)
    if sd.control & DACL_PRESENT:
        out += _acl_text("D", sd.control, sd.dacl)
    if sd.control & SACL_PRESENT:
        out += _acl_text("S", sd.control, sd.sacl)
    return out


# ---- Descriptor <-> binary --------------------------------------------------------------------------------------
def _ace_bytes(ace: Ace) -> bytes:
    body = struct.pack("<I", ace.mask)
    if ace.type in _OBJECT_TYPES:
        present = (1 if ace.object_type else 0) | (2 if ace.inherited_object_type else 0)
        body += struct.pack("<I", present)
        for guid in (ace.object_type, ace.inherited_object_type):
            if guid:
                body += uuid.UUID(guid).bytes_le
    body += sid_to_bytes(ace.sid)
    return struct.pack("<BBH", ace.type, ace.flags, 4 + len(body)) + body


def _acl_bytes(acl: Acl) -> bytes:
    aces = b"".join(_ace_bytes(a) for a in acl.aces)
    return struct.pack("<BBHHH", acl.revision, 0, 8 + len(aces), len(acl.aces), 0) + aces


def to_binary(sd: Descriptor) -> bytes:
    """The self-relative SECURITY_DESCRIPTOR: header, then SACL, DACL, owner, group."""
    blob, offsets = b"", {}
    for name, part in (("sacl", sd.sacl), ("dacl", sd.dacl)):
        if part is not None:
            offsets[name] = 20 + len(blob)
            blob += _acl_bytes(part)
    for name, sid in (("owner", sd.owner), ("group", sd.group)):
        if sid:
            offsets[name] = 20 + len(blob)
            blob += sid_to_bytes(sid)
    header = struct.pack("<BBHIIII", 1, 0, sd.control | SELF_RELATIVE, offsets.get("owner", 0),
                         offsets.get("group", 0), offsets.get("sacl", 0), offsets.get("dacl", 0))
    return header + blob


def _acl_from_bytes(data: bytes, offset: int) -> Acl:
    if offset + 8 > len(data):
        raise ValueError("an ACL runs past the end of the descriptor")
    revision, _, size, count, _ = struct.unpack_from("<BBHHH", data, offset)
    if revision not in (2, 4) or offset + size > len(data) or size < 8:
        raise ValueError("an ACL has an unknown revision or runs past the end of the descriptor")
    acl, pos, end = Acl(revision=revision), offset + 8, offset + size
    for _ in range(count):
        if pos + 8 > end:
            raise ValueError("an ACE runs past the end of its ACL")
        ace_type, flags, ace_size = struct.unpack_from("<BBH", data, pos)
        if ace_size < 8 or pos + ace_size > end:
            raise ValueError("an ACE has a bad size")
        if ace_type not in ACE_TYPES.values():
            raise ValueError(f"ACE type 0x{ace_type:02x} is not one the emulator supports")
        mask, = struct.unpack_from("<I", data, pos + 4)
        cursor, ace = pos + 8, Ace(ace_type, flags, mask, "")
        if ace_type in _OBJECT_TYPES:
            present, = struct.unpack_from("<I", data, cursor)
            cursor += 4
            for bit, attr in ((1, "object_type"), (2, "inherited_object_type")):
                if present & bit:
                    setattr(ace, attr, str(uuid.UUID(bytes_le=bytes(data[cursor:cursor + 16]))))
                    cursor += 16
        ace.sid, sid_size = sid_from_bytes(data, cursor)
        if cursor + sid_size > pos + ace_size:
            raise ValueError("an ACE's SID runs past the ACE")
        acl.aces.append(ace)
        pos += ace_size
    return acl


def parse_binary(data: bytes) -> Descriptor:
    """A Descriptor from a self-relative SECURITY_DESCRIPTOR; ValueError says what is wrong."""
    if len(data) < 20 or len(data) > MAX_SIZE:
        raise ValueError("a binary security descriptor is 20 bytes or more (and at most 64 KiB)")
    revision, _, control, owner, group, sacl, dacl = struct.unpack_from("<BBHIIII", data, 0)
    if revision != 1 or not control & SELF_RELATIVE:
        raise ValueError("not a self-relative security descriptor of revision 1")
    sd = Descriptor(control=control)
    sd.owner = sid_from_bytes(data, owner)[0] if owner else None
    sd.group = sid_from_bytes(data, group)[0] if group else None
    sd.dacl = _acl_from_bytes(data, dacl) if dacl and control & DACL_PRESENT else None
    sd.sacl = _acl_from_bytes(data, sacl) if sacl and control & SACL_PRESENT else None
    return sd


def parse(value: str, fmt: str) -> Descriptor:
    """A descriptor as a request carries it: SDDL text, or (fmt binary) base64 of the binary form."""
    if fmt == "binary":
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("not base64") from None
        return parse_binary(raw)
    return parse_sddl(value)


def render(sd: Descriptor, fmt: str) -> str:
    """The descriptor as Get Permission answers it in `fmt` (sddl, or binary as base64)."""
    if fmt == "binary":
        return base64.b64encode(to_binary(sd)).decode()
    return to_sddl(sd)
