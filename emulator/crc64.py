"""The CRC-64 of x-ms-content-crc64: the reflected polynomial 0x9A6C9329AC4BC9B5 with all-ones start and final
complement (the parameters of Azure Storage's published crc64 code, also known as CRC-64/NVME), sent as base64 of
the 8 bytes little-endian. Verified here against the algorithm's check value, not against the live service.

One implementation for the Files and Blob planes. It uses the azure-storage-extensions package (the native code
azure-storage-file-share itself needs for CRC64; imported on first use, never at start) when it is installed, and
this pure-Python table otherwise, so only requests that carry the header pay for it and none is ever refused for it.
"""
from __future__ import annotations

import base64
import struct

_POLY = 0x9A6C9329AC4BC9B5
_MASK = (1 << 64) - 1


def _table() -> list[int]:
    out = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        out.append(crc)
    return out


_TABLE = _table()


_native = None


def _extension():
    """azure-storage-extensions' compute(data, previous value), or False when it is not installed."""
    global _native
    if _native is None:
        try:
            from azure.storage.extensions import checksums
            _native = checksums.crc64.compute
        except ImportError:
            _native = False
    return _native


class Crc64:
    """Incremental: update() with consecutive pieces gives the CRC of their concatenation."""

    def __init__(self, initial: int = 0):
        self._value = initial

    def update(self, data) -> None:
        native = _extension()
        if native:
            self._value = native(bytes(data), self._value)
            return
        crc, table = self._value ^ _MASK, _TABLE
        for b in bytes(data):
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
        self._value = crc ^ _MASK

    def value(self) -> int:
        return self._value

    def b64(self) -> str:
        return base64.b64encode(struct.pack("<Q", self.value())).decode()


def crc64(data, initial: int = 0) -> int:
    c = Crc64(initial)
    c.update(data)
    return c.value()
