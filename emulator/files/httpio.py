"""Request parsing and response building for the file service's views: headers, query values and bodies.

Put Range bodies stream to the file in 256 KiB pieces through one reused buffer, so writing overlaps receiving; a
range that carries Content-MD5 is received whole first (at most 4 MiB) and written only if the MD5 matches, as the
service does.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import datetime, timezone

from flask import Response, request

from .. import httprange
from ..errors import StorageError
from ..storage.bodies import buffer_filler  # noqa: F401 (the handlers' httpio.buffer_filler)
from ..storage.headers import invalid_header, true_or_false
from . import nfs, rawheaders, sddl
from .disk import http_date, iso7
from .infos import PERMISSION_KEY, NodeInfo, ShareInfo

MAX_RANGE = 4 << 20
MAX_RESULTS = 5000
MAX_METADATA = 8 << 10
_METADATA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ATTRIBUTES = {"none", "readonly", "hidden", "system", "directory", "archive", "temporary", "offline",
               "notcontentindexed", "noscrubdata"}
_CONTENT = {"content_type": "x-ms-content-type", "content_encoding": "x-ms-content-encoding",
            "content_language": "x-ms-content-language", "content_disposition": "x-ms-content-disposition",
            "cache_control": "x-ms-cache-control", "content_md5": "x-ms-content-md5"}


# ---- request parsing ------------------------------------------------------------------------------------------
def metadata() -> dict[str, str]:
    out: dict[str, str] = {}
    total = 0
    cased = rawheaders.original_names(request.environ)
    for key, value in request.environ.items():
        if not key.startswith("HTTP_X_MS_META_"):
            continue
        name = key[len("HTTP_X_MS_META_"):].lower()
        if not _METADATA_NAME.match(name):
            raise StorageError(400, "InvalidMetadata", f"The metadata name '{name}' is not a valid C# identifier.")
        name = cased.get(name, name)
        if not _METADATA_NAME.match(name.lower()):
            name = name.lower()
        out[name] = value
        total += len(name) + len(value)
    if total > MAX_METADATA:
        raise StorageError(400, "MetadataTooLarge", "The metadata is larger than 8 KiB.")
    return out


def bool_header(name: str) -> bool:
    raw = request.headers.get(name)
    return False if raw is None else true_or_false(name, raw)


def int_header(name: str, lo: int, hi: int, required: bool = False) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise StorageError(400, "MissingRequiredHeader", f"The header {name} is required.", {"HeaderName": name})
        return None
    if not raw.strip().isdigit() or not lo <= int(raw) <= hi:
        raise invalid_header(name, raw, f"expected an integer from {lo} to {hi}")
    return int(raw)


def attributes(default: str | None = None) -> str | None:
    raw = request.headers.get("x-ms-file-attributes")
    if raw is None or raw.strip().lower() == "preserve":
        return default
    parts = [p.strip() for p in raw.split("|") if p.strip()]
    if not parts or any(p.lower() not in _ATTRIBUTES for p in parts):
        raise invalid_header("x-ms-file-attributes", raw, "expected attributes such as Archive|ReadOnly or None")
    return "|".join(parts)


def time_header(name: str) -> int | None:
    """An x-ms-file-*-time header as epoch nanoseconds (None: absent or preserve)."""
    raw = request.headers.get(name)
    if raw is None or raw.strip().lower() == "preserve":
        return None
    if raw.strip().lower() == "now":
        return time.time_ns()
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?Z$", raw.strip())
    if not m:
        raise invalid_header(name, raw, "expected now, preserve or an ISO 8601 UTC time")
    try:
        whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise invalid_header(name, raw, "not a valid time") from None
    return int(whole) * 1_000_000_000 + int((m.group(2) or "0").ljust(7, "0")) * 100


def check_permission_value(value: str, fmt: str, header: str = "x-ms-file-permission") -> None:
    """An SDDL security descriptor, or (format binary) the base64 of a self-relative one; anything else is
    refused."""
    if fmt not in ("sddl", "binary"):
        raise invalid_header("x-ms-file-permission-format", fmt, "expected sddl or binary")
    try:
        sddl.parse(value, fmt)
    except ValueError as exc:
        what = "an SDDL security descriptor" if fmt == "sddl" else "a binary security descriptor (base64)"
        raise invalid_header(header, value[:60], f"not {what}: {exc}") from None


def check_permission() -> tuple[str, str] | None:
    """x-ms-file-permission: None for inherit / preserve / absent, else (descriptor, format) after checking it."""
    raw = request.headers.get("x-ms-file-permission")
    if raw is None or raw.strip().lower() in ("inherit", "preserve"):
        return None
    if len(raw) > 8 << 10:
        raise invalid_header("x-ms-file-permission", raw[:40] + "...", "larger than 8 KiB: use Create Permission")
    fmt = (request.headers.get("x-ms-file-permission-format") or "sddl").strip().lower()
    check_permission_value(raw, fmt)
    return raw, fmt


def smb_times() -> dict[str, int | None]:
    """The SMB times a request sets (ns; None where absent, now-less or preserve). Checks x-ms-file-permission."""
    permission = check_permission()
    return {"permission": permission, "permission_key": request.headers.get("x-ms-file-permission-key"),
            "created": time_header("x-ms-file-creation-time"), "written": time_header("x-ms-file-last-write-time"),
            "changed": time_header("x-ms-file-change-time")}


def preserve_write_time() -> bool:
    """Put Range's x-ms-file-last-write-time: Preserve keeps the file's last-write time; Now (default) moves it."""
    raw = (request.headers.get("x-ms-file-last-write-time") or "now").strip().lower()
    if raw not in ("now", "preserve"):
        raise invalid_header("x-ms-file-last-write-time", raw, "Put Range takes Now or Preserve")
    return raw == "preserve"


def md5_header(name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(base64.b64decode(raw, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise invalid_header(name, raw, "expected the base64 of a 16-byte MD5") from None
    return raw


def xml_body(op_name: str, root_tag: str):
    """The request body parsed as XML with the given root element (400 InvalidXmlDocument otherwise)."""
    import xml.etree.ElementTree as ET
    raw = request.get_data(cache=False)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise StorageError(400, "InvalidXmlDocument", f"The XML body of {op_name} does not parse.") from None
    if root.tag != root_tag:
        raise StorageError(400, "InvalidXmlDocument", f"The body of {op_name} must be a {root_tag} document.")
    return root


def check_md5(data, md5: str | None) -> None:
    """400 Md5Mismatch unless `data` has the base64 MD5 `md5` (None: nothing to check)."""
    if md5 is None:
        return
    actual = base64.b64encode(hashlib.md5(data).digest()).decode()
    if actual != md5:
        raise StorageError(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the "
                           "MD5 value calculated by the server.",
                           {"UserSpecifiedMd5": md5, "ServerCalculatedMd5": actual})


def body_length() -> int:
    """The request body's length from Content-Length (0 when there is none); chunked bodies are refused."""
    if (request.headers.get("Transfer-Encoding") or "").lower().strip() not in ("", "identity"):
        raise StorageError(411, "MissingContentLengthHeader", "The file service needs a Content-Length header; "
                           "chunked request bodies are not accepted.")
    raw = request.headers.get("Content-Length")
    if raw is None or raw.strip() == "":
        return 0
    if not raw.strip().isdigit():
        raise invalid_header("Content-Length", raw, "expected a byte count")
    return int(raw)


def content_settings() -> dict[str, str | None]:
    out = {}
    for attr, header in _CONTENT.items():
        out[attr] = request.headers.get(header)
    if out["content_md5"]:
        # stored as the client gives it (the service keeps any base64 value, e.g. 8-byte hashes)
        try:
            base64.b64decode(out["content_md5"], validate=True)
        except ValueError:
            raise invalid_header("x-ms-content-md5", out["content_md5"], "not base64") from None
    return out


def maxresults() -> int | None:
    raw = request.args.get("maxresults")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RESULTS:
        raise StorageError(400, "OutOfRangeQueryParameterValue",
                           f"maxresults must be an integer from 1 to {MAX_RESULTS}.",
                           {"QueryParameterName": "maxresults", "QueryParameterValue": raw})
    return int(raw)


def byte_range(required: bool) -> tuple[int, int | None] | None:
    """(start, end or None) from x-ms-range, else Range; end is inclusive."""
    asked = httprange.requested(request.headers)
    if asked is None:
        if required:
            raise StorageError(400, "MissingRequiredHeader", "The header x-ms-range (or Range) is required.",
                               {"HeaderName": "x-ms-range"})
        return None
    rng = httprange.parse(asked[1])
    if rng is None:
        raise StorageError(400, "InvalidRange", f"The range '{asked[1]}' is not a valid byte range (bytes=start-end).")
    return rng.start, rng.end


# ---- responses ------------------------------------------------------------------------------------------------
def response(status: int, body: bytes = b"", headers: dict | None = None, xml: bool = False) -> Response:
    resp = Response(body, status=status)
    resp.headers.pop("Content-Type", None)
    if xml:
        resp.headers["Content-Type"] = "application/xml"
    for k, v in (headers or {}).items():
        if v is not None:
            resp.headers[k] = v
    return resp


def meta_headers(metadata: dict[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in metadata.items()}


def share_headers(info: ShareInfo) -> dict[str, str]:
    return {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)}


def share_properties(info: ShareInfo) -> dict[str, str]:
    """Get Share Properties' own headers: quota, tier, protocols and provisioning (nfs.py)."""
    return {"x-ms-share-quota": str(info.quota), "x-ms-access-tier": info.tier,
            **{k: str(v) for k, v in info.extra.items()}}


def node_headers(node: NodeInfo, metadata: bool = True) -> dict[str, str]:
    out = {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
           "x-ms-server-encrypted": "true",
           "x-ms-file-creation-time": iso7(node.created), "x-ms-file-last-write-time": iso7(node.written),
           "x-ms-file-change-time": iso7(node.changed),
           "x-ms-file-id": str(node.st.st_ino), "x-ms-file-parent-id": str(node.parent_ino)}
    if node.nfs:
        out.update(nfs.node_headers(node))       # NFS shares have no SMB attributes or security descriptors
    else:
        out.update({"x-ms-file-attributes": node.attributes,
                    "x-ms-file-permission-key": node.props.permission_key or PERMISSION_KEY})
    if metadata:
        out.update(meta_headers(node.props.metadata))
    return out


def write_headers(node: NodeInfo) -> dict[str, str]:
    return {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime), "x-ms-request-server-encrypted": "true"}


def content_headers(node: NodeInfo, overrides: dict[str, str]) -> dict[str, str]:
    p = node.props
    out = {"Content-Type": p.content_type or "application/octet-stream", "Content-Encoding": p.content_encoding,
           "Content-Language": p.content_language, "Content-Disposition": p.content_disposition,
           "Cache-Control": p.cache_control, "x-ms-type": "File", "Accept-Ranges": "bytes",
           "x-ms-lease-state": "available", "x-ms-lease-status": "unlocked"}
    if p.copy:
        out.update({"x-ms-copy-id": p.copy["id"], "x-ms-copy-source": p.copy["source"],
                    "x-ms-copy-status": p.copy["status"], "x-ms-copy-progress": p.copy["progress"]})
        if p.copy.get("completed") is not None:         # (a pending copy has none yet)
            out["x-ms-copy-completion-time"] = http_date(p.copy["completed"])
        if p.copy.get("description"):
            out["x-ms-copy-status-description"] = p.copy["description"]
    out.update(overrides)       # rscc, rsct... of a service SAS
    return out


_TIERS = {t.lower(): t for t in ("TransactionOptimized", "Hot", "Cool", "Premium")}


def access_tier() -> str | None:
    raw = request.headers.get("x-ms-access-tier")
    if raw is None:
        return None
    if raw.strip().lower() not in _TIERS:
        raise invalid_header("x-ms-access-tier", raw, f"expected one of {', '.join(_TIERS.values())}")
    return _TIERS[raw.strip().lower()]


# Body reads ask for 64 KiB at a time: cheroot's reader (pure-Python io) allocates a fresh buffer of the size
# asked for on every socket read, so 1 MiB requests that the socket answers 64 KiB at a time cost page faults.
_BODY_READ = 64 << 10


def body_filler():
    """fill(view) -> n: fill `view` with the next bytes of the request body; fewer only at its end."""
    stream = request.environ["wsgi.input"]
    fill = _direct_socket(stream)
    if fill is None:
        def fill(view: memoryview) -> int:
            got = 0
            while got < len(view):
                chunk = stream.read(min(_BODY_READ, len(view) - got))
                if not chunk:
                    break
                view[got:got + len(chunk)] = chunk
                got += len(chunk)
            return got

    def safe_fill(view: memoryview) -> int:
        try:
            return fill(view)
        except OSError as exc:      # timeouts and resets while the body is in flight
            raise StorageError(400, "InvalidInput", f"The request body could not be received: {exc}.") from None
    return safe_fill


def _direct_socket(stream):
    """For cheroot's KnownLengthRFile: receive the body straight from the socket into the caller's buffer (one
    copy instead of the four its pure-Python buffered reader makes), after handing out what that reader already
    buffered, and keep the wrapper's `remaining` count right so the connection serves its next request.
    None when the stream is anything else (other servers, chunked bodies, the test client)."""
    reader = getattr(stream, "rfile", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if type(stream).__name__ != "KnownLengthRFile" or sock is None or not hasattr(sock, "recv_into") \
            or not isinstance(getattr(reader, "_read_buf", None), bytes) \
            or not isinstance(getattr(reader, "_read_pos", None), int):
        return None

    def fill(view: memoryview) -> int:
        got = 0
        want = min(len(view), stream.remaining)
        buffered = len(reader._read_buf) - reader._read_pos
        if buffered > 0 and want > 0:
            got = min(buffered, want)
            view[:got] = reader._read_buf[reader._read_pos:reader._read_pos + got]
            reader._read_pos += got
        try:
            while got < want:
                n = sock.recv_into(view[got:want])
                if not n:
                    break
                got += n
        finally:
            stream.remaining -= got
        return got
    return fill


def read_body(length: int, fill) -> memoryview:
    """The whole body in one buffer (for ranges whose MD5 must be checked before anything is written)."""
    view = memoryview(bytearray(length))
    got = 0
    while got < length:
        n = fill(view[got:])
        if not n:
            raise StorageError(400, "InvalidInput", f"The request body ended after {got} of {length} bytes; "
                               "nothing was written.")
        got += n
    return view
