"""The one Range parser (emulator/httprange.py) and the answer each surface built on it gives: the Files plane
(files/httpio.byte_range), the blob plane (blob/conditions.byte_range) and the job output links (api/admin)."""
from __future__ import annotations

import pytest
from flask import Flask

from emulator import httprange
from emulator.api import admin
from emulator.blob import conditions
from emulator.errors import StorageError
from emulator.files import httpio
from emulator.httprange import ByteRange

APP = Flask(__name__)


@pytest.mark.parametrize("raw, suffix, expected", [
    ("bytes=0-9", False, ByteRange(0, 9)),
    ("  bytes=5-5 ", False, ByteRange(5, 5)),
    ("bytes=10-", False, ByteRange(10, None)),                  # open range
    ("bytes=-5", True, ByteRange(None, suffix=5)),              # suffix range, where the surface takes one
    ("bytes=-0", True, ByteRange(None, suffix=0)),
    ("bytes=-5", False, None),                                  # ... and where it does not
    ("bytes=9-1", False, None),                                 # end before start
    ("bytes=0-1,5-6", True, None),                              # several ranges
    ("bytes=-", True, None),
    ("bytes=a-b", True, None),
    ("items=0-1", True, None),
    ("0-1", True, None),
    ("", True, None),
])
def test_parse(raw, suffix, expected):
    assert httprange.parse(raw, suffix=suffix) == expected


@pytest.mark.parametrize("rng, size, expected", [
    (ByteRange(0, 9), 100, (0, 9)),
    (ByteRange(90, 200), 100, (90, 99)),            # end clipped to the representation
    (ByteRange(10, None), 100, (10, 99)),
    (ByteRange(None, suffix=5), 100, (95, 99)),
    (ByteRange(None, suffix=500), 100, (0, 99)),     # a suffix longer than the file is the whole file
    (ByteRange(100, None), 100, (100, 99)),          # first >= size: unsatisfiable
    (ByteRange(0, None), 0, (0, -1)),
    (ByteRange(None, suffix=0), 100, (100, 99)),
])
def test_resolve(rng, size, expected):
    assert rng.resolve(size) == expected


def test_x_ms_range_wins_over_range():
    assert httprange.requested({"Range": "bytes=1-2", "x-ms-range": "bytes=3-4"}) == ("x-ms-range", "bytes=3-4")
    assert httprange.requested({"Range": "bytes=1-2"}) == ("Range", "bytes=1-2")
    assert httprange.requested({}) is None


def _raises(fn, *args) -> StorageError:
    with pytest.raises(StorageError) as caught:
        fn(*args)
    return caught.value


# ---- the Files plane: a range or 400 InvalidRange; a missing one where required is MissingRequiredHeader ------
def test_files_surface():
    with APP.test_request_context(headers={"x-ms-range": "bytes=10-"}):
        assert httpio.byte_range(required=True) == (10, None)
    with APP.test_request_context(headers={"Range": "bytes=0-9", "x-ms-range": "bytes=3-4"}):
        assert httpio.byte_range(required=False) == (3, 4)
    with APP.test_request_context():
        assert httpio.byte_range(required=False) is None
        err = _raises(httpio.byte_range, True)
        assert (err.status, err.code, err.extra) == (400, "MissingRequiredHeader", {"HeaderName": "x-ms-range"})
    for raw in ("bytes=-5", "bytes=9-1", "bytes=0-1,4-5", "bytes=x"):
        with APP.test_request_context(headers={"Range": raw}):
            err = _raises(httpio.byte_range, False)
            assert (err.status, err.code) == (400, "InvalidRange") and raw in err.message


# ---- the blob plane: an invalid Range is ignored, an invalid x-ms-range is 400, past the end is 416 ------------
def test_blob_surface():
    with APP.test_request_context(headers={"Range": "bytes=10-"}):
        assert conditions.byte_range(100) == (10, 99)
    with APP.test_request_context(headers={"x-ms-range": "bytes=90-500"}):
        assert conditions.byte_range(100) == (90, 99)
    with APP.test_request_context():
        assert conditions.byte_range(100) is None
    for raw in ("bytes=-5", "bytes=9-1", "bytes=0-1,4-5"):
        with APP.test_request_context(headers={"Range": raw}):
            assert conditions.byte_range(100) is None
        with APP.test_request_context(headers={"x-ms-range": raw}):
            err = _raises(conditions.byte_range, 100)
            assert (err.status, err.code) == (400, "InvalidRange")
    for raw, size in (("bytes=100-", 100), ("bytes=0-", 0)):
        with APP.test_request_context(headers={"Range": raw}):
            err = _raises(conditions.byte_range, size)
            assert (err.status, err.code, err.headers) == (416, "InvalidRange", {"Content-Range": f"bytes */{size}"})


# ---- job output links: suffix ranges served, tailing at the end is an empty 206, past it 416 -------------------
@pytest.fixture()
def output(tmp_path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"0123456789")
    return path


def _get(path, headers):
    with APP.test_request_context(headers=headers):
        resp = admin._serve(path.open("rb"))
        return resp.status_code, resp.headers.get("Content-Range"), b"".join(resp.response)


@pytest.mark.parametrize("headers, expected", [
    ({}, (200, None, b"0123456789")),
    ({"Range": "bytes=2-4"}, (206, "bytes 2-4/10", b"234")),
    ({"Range": "bytes=6-"}, (206, "bytes 6-9/10", b"6789")),
    ({"Range": "bytes=-3"}, (206, "bytes 7-9/10", b"789")),
    ({"Range": "bytes=-30"}, (206, "bytes 0-9/10", b"0123456789")),
    ({"x-ms-range": "bytes=8-100"}, (206, "bytes 8-9/10", b"89")),
    ({"Range": "bytes=10-"}, (206, "bytes */10", b"")),          # a tail that has not grown
])
def test_output_link_surface(output, headers, expected):
    assert _get(output, headers) == expected


@pytest.mark.parametrize("raw, status", [("bytes=11-", 416), ("bytes=-", 400), ("bytes=0-1,4-5", 400),
                                         ("bytes=x-", 400), ("bytes=5-3", 400)])
def test_output_link_errors(output, raw, status):
    with APP.test_request_context(headers={"Range": raw}), output.open("rb") as fh:
        err = _raises(admin._serve, fh)
    assert (err.status, err.code) == (status, "InvalidRange")
