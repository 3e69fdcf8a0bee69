"""One CRC64 for the Files and Blob planes: the native extension and the pure-Python table agree."""
from __future__ import annotations

import os

import pytest

from emulator import crc64 as module


@pytest.fixture(params=["native", "pure"])
def mode(request, monkeypatch):
    if request.param == "pure":
        monkeypatch.setattr(module, "_native", False)
    elif not module._extension():
        pytest.skip("azure-storage-extensions is not installed")
    return request.param


def test_check_value_and_pieces(mode):
    assert module.crc64(b"123456789") == 0xAE8B14860A799888     # CRC-64/NVME's check value
    data = os.urandom(70_000)
    whole = module.crc64(data)
    c = module.Crc64()
    for start in range(0, len(data), 4096):
        c.update(data[start:start + 4096])
    assert c.value() == whole
    assert module.crc64(data[1000:], module.crc64(data[:1000])) == whole


def test_native_and_pure_agree(monkeypatch):
    if not module._extension():
        pytest.skip("azure-storage-extensions is not installed")
    data = os.urandom(10_000)
    native = module.crc64(data)
    monkeypatch.setattr(module, "_native", False)
    assert module.crc64(data) == native
