"""The conditional and range headers of blob requests: If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since (and their x-ms-source-* forms for a copy's source), Range / x-ms-range."""
from __future__ import annotations

from email.utils import parsedate_to_datetime

from flask import request

from .. import httprange
from ..errors import StorageError
from ..files.httpio import invalid_header
from .plane import BlobInfo, blob_not_found

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
    """(first, last) byte a read asks for, or None for the whole blob: an invalid Range header is ignored (RFC
    9110), an invalid x-ms-range answers 400; a range starting at or past the end answers 416."""
    asked = httprange.requested(request.headers)
    if asked is None:
        return None
    name, raw = asked
    rng = httprange.parse(raw)
    if rng is None:
        if name == "Range":
            return None
        raise StorageError(400, "InvalidRange", f"The range '{raw}' is not a valid byte range (bytes=start-end).")
    start, end = rng.resolve(size)
    if start >= size:
        err = StorageError(416, "InvalidRange", "The range specified is invalid for the current size of the "
                           f"resource ({size} bytes).")
        err.headers = {"Content-Range": f"bytes */{size}"}
        raise err
    return start, end
