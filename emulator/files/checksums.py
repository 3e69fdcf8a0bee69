"""CRC64 content validation (x-ms-content-crc64) and structured message bodies (x-ms-structured-body:
XSM/1.0; properties=crc64), as azure-storage-file-share sends and expects them with validate_content="crc64".

Storage's CRC64 comes from emulator/crc64.py (shared with the Blob plane).

A structured message (version 1): header = version (1 byte) + message length (8) + flags (2; 1 = CRC64) +
segment count (2); each segment = number (2) + length (8) + content + CRC64 of the content (8, with the flag);
then the CRC64 of the whole content (8, with the flag). Integers little-endian.
"""
from __future__ import annotations

import base64

from ..crc64 import crc64
from ..errors import StorageError

SM_V1_CRC64 = "XSM/1.0; properties=crc64"
SEGMENT = 4 << 20

def crc64_b64(data) -> str:
    return base64.b64encode(crc64(data).to_bytes(8, "little")).decode()


def check_header(data, header: str | None) -> None:
    """400 Crc64Mismatch unless `data` has the CRC64 the client sent (x-ms-content-crc64, base64)."""
    if header is None:
        return
    if crc64_b64(data) != header.strip():
        raise StorageError(400, "Crc64Mismatch", "The CRC64 value specified in the request did not match with the "
                           "CRC64 value calculated by the server.")


def _bad(why: str) -> StorageError:
    return StorageError(400, "InvalidStructuredMessage", f"The structured message body is invalid: {why}.")


def decode(body, content_length: int) -> bytes:
    """The content of a structured message body, every CRC64 checked."""
    body = memoryview(body)
    if len(body) < 13 or body[0] != 1:
        raise _bad("unknown version or short header")
    if int.from_bytes(body[1:9], "little") != len(body):
        raise _bad("the message length does not match the body")
    flags, segments = int.from_bytes(body[9:11], "little"), int.from_bytes(body[11:13], "little")
    with_crc = bool(flags & 1)
    pos, out, whole = 13, bytearray(), 0
    for number in range(1, segments + 1):
        if pos + 10 > len(body) or int.from_bytes(body[pos:pos + 2], "little") != number:
            raise _bad(f"segment {number} is missing or out of order")
        size = int.from_bytes(body[pos + 2:pos + 10], "little")
        pos += 10
        content = body[pos:pos + size]
        if len(content) != size:
            raise _bad(f"segment {number} is short")
        pos += size
        if with_crc:
            if crc64(content).to_bytes(8, "little") != bytes(body[pos:pos + 8]):
                raise StorageError(400, "Crc64Mismatch", f"The CRC64 of segment {number} does not match.")
            pos += 8
            whole = crc64(content, whole)
        out += content
    if with_crc:
        if whole.to_bytes(8, "little") != bytes(body[pos:pos + 8]):
            raise StorageError(400, "Crc64Mismatch", "The CRC64 of the message does not match.")
        pos += 8
    if pos != len(body) or len(out) != content_length:
        raise _bad("its content length does not match x-ms-structured-content-length")
    return bytes(out)


def encode(data: bytes) -> bytes:
    """`data` as a structured message with CRC64s (segments of 4 MiB)."""
    pieces = [data[i:i + SEGMENT] for i in range(0, len(data), SEGMENT)] or [b""]
    if not data:
        pieces = []
    body = bytearray()
    whole = 0
    for number, piece in enumerate(pieces, 1):
        body += number.to_bytes(2, "little") + len(piece).to_bytes(8, "little") + piece
        body += crc64(piece).to_bytes(8, "little")
        whole = crc64(piece, whole)
    body += whole.to_bytes(8, "little")
    header = (1).to_bytes(1, "little") + (13 + len(body)).to_bytes(8, "little") + (1).to_bytes(2, "little") \
        + len(pieces).to_bytes(2, "little")
    return header + bytes(body)
