"""The conditional and range headers of blob requests: If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since (and their x-ms-source-* forms for a copy's source), Range / x-ms-range."""
from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from flask import request

from ..errors import StorageError
from ..files.httpio import invalid_header
from .plane import BlobInfo, blob_not_found

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _date(name: str):
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        raise invalid_header(name, raw, "expected an RFC 1123 date") from None


def conditions(read: bool = False, prefix: str = ""):
    """A check(blob or None) for the If-* headers (x-ms-source-if-* with prefix "x-ms-source-"): 412
    ConditionNotMet (SourceConditionNotMet), 304 for a read's If-None-Match / If-Modified-Since, 409
    BlobAlreadyExists for a write's If-None-Match: * on an existing blob."""
    h = {k: request.headers.get(prefix + k) for k in ("If-Match", "If-None-Match")}
    since, unmodified = _date(prefix + "If-Modified-Since"), _date(prefix + "If-Unmodified-Since")
    if not any(h.values()) and since is None and unmodified is None:
        return None
    code = "SourceConditionNotMet" if prefix else "ConditionNotMet"

    def failed():
        return StorageError(412, code, "The condition specified using HTTP conditional header(s) is not met.")

    def check(info: BlobInfo | None) -> None:
        tags = {t.strip() for t in (h["If-Match"] or "").split(",") if t.strip()}
        if tags and (info is None or ("*" not in tags and info.etag not in tags)):
            if info is None and not read:
                raise blob_not_found()
            raise failed()
        none = {t.strip() for t in (h["If-None-Match"] or "").split(",") if t.strip()}
        if none and info is not None and ("*" in none or info.etag in none):
            if read:
                raise StorageError(304, "ConditionNotMet", "Not modified.")
            if "*" in none and not prefix:
                raise StorageError(409, "BlobAlreadyExists", "The specified blob already exists.")
            raise failed()
        if info is not None and since is not None and int(info.st.st_mtime) <= since:
            if read:
                raise StorageError(304, "ConditionNotMet", "Not modified.")
            raise failed()
        if info is not None and unmodified is not None and int(info.st.st_mtime) > unmodified:
            raise failed()
    return check


def byte_range(size: int):
    name = "x-ms-range" if request.headers.get("x-ms-range") is not None else "Range"
    raw = request.headers.get(name)
    if raw is None:
        return None
    m = _RANGE.match(raw.strip())
    if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        return None if name == "Range" else _bad_range(raw)
    start = int(m.group(1))
    if start >= size:
        err = StorageError(416, "InvalidRange", "The range specified is invalid for the current size of the "
                           f"resource ({size} bytes).")
        err.headers = {"Content-Range": f"bytes */{size}"}
        raise err
    end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
    return start, end


def _bad_range(raw: str):
    raise StorageError(400, "InvalidRange", f"The range '{raw}' is not a valid byte range (bytes=start-end).")
