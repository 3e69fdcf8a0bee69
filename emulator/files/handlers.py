"""One view per file-service operation: read the request's headers and query, call the plane, render.

Request bodies: Put Range streams its body to the file in 1 MiB pieces through one reused buffer, so writing
overlaps receiving. A range that carries Content-MD5 is received whole first (at most 4 MiB) and written only if
the MD5 matches, as the service does. Downloads stream from the file in 1 MiB chunks.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Response, request

from ..errors import StorageError
from . import render
from .auth import Principal
from .disk import MAX_FILE_SIZE, http_date, iso7, read_stream
from .meta import EntryProps
from .names import Target
from .plane import MAX_QUOTA_GIB, PERMISSION_KEY, FilePlane, NodeInfo, ShareInfo

DEFAULT_VERSION = "2019-02-02"
MAX_RANGE = 4 << 20
MAX_RESULTS = 5000
MAX_METADATA = 8 << 10
_METADATA_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_ATTRIBUTES = {"none", "readonly", "hidden", "system", "directory", "archive", "temporary", "offline",
               "notcontentindexed", "noscrubdata"}
_CONTENT = {"content_type": "x-ms-content-type", "content_encoding": "x-ms-content-encoding",
            "content_language": "x-ms-content-language", "content_disposition": "x-ms-content-disposition",
            "cache_control": "x-ms-cache-control", "content_md5": "x-ms-content-md5"}


@dataclass
class Ctx:
    files: FilePlane
    account: str
    target: Target
    principal: Principal
    op: str

    @property
    def share(self) -> str:
        return self.target.share or ""

    @property
    def parts(self) -> list[str]:
        return self.target.parts

    def endpoint(self) -> str:
        return request.host_url + self.account + "/"


# ---- request parsing ------------------------------------------------------------------------------------------
def _invalid_header(name: str, value: str, why: str) -> StorageError:
    return StorageError(400, "InvalidHeaderValue", f"The value '{value}' of header {name} is invalid: {why}.",
                        {"HeaderName": name, "HeaderValue": value})


def _metadata() -> dict[str, str]:
    out: dict[str, str] = {}
    total = 0
    for key, value in request.environ.items():
        if not key.startswith("HTTP_X_MS_META_"):
            continue
        name = key[len("HTTP_X_MS_META_"):].lower()
        if not _METADATA_NAME.match(name):
            raise StorageError(400, "InvalidMetadata", f"The metadata name '{name}' is not a valid C# identifier.")
        out[name] = value
        total += len(name) + len(value)
    if total > MAX_METADATA:
        raise StorageError(400, "MetadataTooLarge", "The metadata is larger than 8 KiB.")
    return out


def _int_header(name: str, lo: int, hi: int, required: bool = False) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise StorageError(400, "MissingRequiredHeader", f"The header {name} is required.", {"HeaderName": name})
        return None
    if not raw.strip().isdigit() or not lo <= int(raw) <= hi:
        raise _invalid_header(name, raw, f"expected an integer from {lo} to {hi}")
    return int(raw)


def _attributes(default: str | None = None) -> str | None:
    raw = request.headers.get("x-ms-file-attributes")
    if raw is None or raw.strip().lower() == "preserve":
        return default
    parts = [p.strip() for p in raw.split("|") if p.strip()]
    if not parts or any(p.lower() not in _ATTRIBUTES for p in parts):
        raise _invalid_header("x-ms-file-attributes", raw, "expected attributes such as Archive|ReadOnly or None")
    return "|".join(parts)


def _time_header(name: str) -> float | None:
    raw = request.headers.get(name)
    if raw is None or raw.strip().lower() == "preserve":
        return None
    if raw.strip().lower() == "now":
        return time.time()
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?Z$", raw.strip())
    if not m:
        raise _invalid_header(name, raw, "expected now, preserve or an ISO 8601 UTC time")
    try:
        whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise _invalid_header(name, raw, "not a valid time") from None
    return whole + int((m.group(2) or "0").ljust(7, "0")) / 1e7


def _md5_header(name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(base64.b64decode(raw, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise _invalid_header(name, raw, "expected the base64 of a 16-byte MD5") from None
    return raw


def _content_settings() -> dict[str, str | None]:
    out = {}
    for attr, header in _CONTENT.items():
        out[attr] = _md5_header(header) if attr == "content_md5" else request.headers.get(header)
    return out


def _maxresults() -> int | None:
    raw = request.args.get("maxresults")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RESULTS:
        raise StorageError(400, "OutOfRangeQueryParameterValue",
                           f"maxresults must be an integer from 1 to {MAX_RESULTS}.",
                           {"QueryParameterName": "maxresults", "QueryParameterValue": raw})
    return int(raw)


def _range(required: bool) -> tuple[int, int | None] | None:
    """(start, end or None) from x-ms-range, else Range; end is inclusive."""
    name = "x-ms-range" if request.headers.get("x-ms-range") is not None else "Range"
    raw = request.headers.get(name)
    if raw is None:
        if required:
            raise StorageError(400, "MissingRequiredHeader", "The header x-ms-range (or Range) is required.",
                               {"HeaderName": "x-ms-range"})
        return None
    m = _RANGE.match(raw.strip())
    if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise StorageError(400, "InvalidRange", f"The range '{raw}' is not a valid byte range (bytes=start-end).")
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


# ---- responses ------------------------------------------------------------------------------------------------
def _response(status: int, body: bytes = b"", headers: dict | None = None, xml: bool = False) -> Response:
    resp = Response(body, status=status)
    resp.headers.pop("Content-Type", None)
    if xml:
        resp.headers["Content-Type"] = "application/xml"
    for k, v in (headers or {}).items():
        if v is not None:
            resp.headers[k] = v
    return resp


def _meta_headers(metadata: dict[str, str]) -> dict[str, str]:
    return {f"x-ms-meta-{k}": v for k, v in metadata.items()}


def _share_headers(info: ShareInfo) -> dict[str, str]:
    return {"ETag": info.etag, "Last-Modified": http_date(info.last_modified)}


def _node_headers(node: NodeInfo, metadata: bool = True) -> dict[str, str]:
    out = {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
           "x-ms-server-encrypted": "true", "x-ms-file-attributes": node.attributes,
           "x-ms-file-creation-time": iso7(node.created), "x-ms-file-last-write-time": iso7(node.st.st_mtime),
           "x-ms-file-change-time": iso7(node.st.st_ctime), "x-ms-file-permission-key": PERMISSION_KEY,
           "x-ms-file-id": str(node.st.st_ino), "x-ms-file-parent-id": str(node.parent_ino)}
    if metadata:
        out.update(_meta_headers(node.props.metadata))
    return out


def _write_headers(node: NodeInfo) -> dict[str, str]:
    return {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime), "x-ms-request-server-encrypted": "true"}


def _content_headers(ctx: Ctx, node: NodeInfo) -> dict[str, str]:
    p = node.props
    out = {"Content-Type": p.content_type or "application/octet-stream", "Content-Encoding": p.content_encoding,
           "Content-Language": p.content_language, "Content-Disposition": p.content_disposition,
           "Cache-Control": p.cache_control, "x-ms-type": "File", "Accept-Ranges": "bytes"}
    out.update(ctx.principal.overrides)
    return out


# ---- service --------------------------------------------------------------------------------------------------
def list_shares(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), _maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    shares, nxt = ctx.files.list_shares(ctx.account, prefix, marker, maxresults or MAX_RESULTS)
    body = render.list_shares(ctx.endpoint(), shares, nxt, prefix, marker, maxresults, "metadata" in include)
    return _response(200, body, xml=True)


def get_service_props(ctx: Ctx) -> Response:
    body = ctx.files.meta.service_properties(ctx.account) or render.DEFAULT_SERVICE_PROPERTIES
    return _response(200, body.encode(), xml=True)


def set_service_props(ctx: Ctx) -> Response:
    raw = request.get_data(cache=False)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        raise StorageError(400, "InvalidXmlDocument", "The XML body of Set File Service Properties does not "
                           "parse.") from None
    if root.tag != "StorageServiceProperties":
        raise StorageError(400, "InvalidXmlDocument", "The body must be a StorageServiceProperties document.")
    ctx.files.meta.put_service_properties(ctx.account, raw.decode("utf-8"))
    return _response(202)


# ---- shares ---------------------------------------------------------------------------------------------------
_TIERS = {t.lower(): t for t in ("TransactionOptimized", "Hot", "Cool", "Premium")}


def _access_tier() -> str | None:
    raw = request.headers.get("x-ms-access-tier")
    if raw is None:
        return None
    if raw.strip().lower() not in _TIERS:
        raise _invalid_header("x-ms-access-tier", raw, f"expected one of {', '.join(_TIERS.values())}")
    return _TIERS[raw.strip().lower()]


def create_share(ctx: Ctx) -> Response:
    protocols = request.headers.get("x-ms-enabled-protocols")
    if protocols is not None and protocols.strip().upper() != "SMB":
        raise StorageError(400, "NotSupportedByEmulator", "NFS shares (x-ms-enabled-protocols: NFS) are not "
                           "supported by the Batch AI emulator's file service.")
    quota = _int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    info = ctx.files.create_share(ctx.account, ctx.share, quota, _metadata(), _access_tier())
    return _response(201, headers=_share_headers(info))


def get_share_props(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    headers = _share_headers(info)
    headers.update(_meta_headers(info.metadata))
    if ctx.target.arg("comp") is None:
        headers.update({"x-ms-share-quota": str(info.quota), "x-ms-access-tier": info.tier,
                        "x-ms-enabled-protocols": "SMB"})
    return _response(200, headers=headers)


def delete_share(ctx: Ctx) -> Response:
    ctx.files.delete_share(ctx.account, ctx.share)
    return _response(202)


def set_share_metadata(ctx: Ctx) -> Response:
    return _response(200, headers=_share_headers(ctx.files.set_share_metadata(ctx.account, ctx.share, _metadata())))


def set_share_props(ctx: Ctx) -> Response:
    quota = _int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    info = ctx.files.set_share_properties(ctx.account, ctx.share, quota, _access_tier())
    return _response(200, headers=_share_headers(info))


def get_share_stats(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    body = render.share_stats(ctx.files.share_usage(ctx.account, ctx.share))
    return _response(200, body, _share_headers(info), xml=True)


def get_share_acl(ctx: Ctx) -> Response:
    return _response(200, render.no_signed_identifiers(), _share_headers(ctx.files.share(ctx.account, ctx.share)),
                     xml=True)


def set_share_acl(ctx: Ctx) -> Response:
    raw = request.get_data(cache=False)
    if raw.strip():
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "The XML body of Set Share ACL does not parse.") from None
        if len(root):
            raise StorageError(400, "NotSupportedByEmulator", "Stored access policies (Set Share ACL with signed "
                               "identifiers) are not supported by the Batch AI emulator's file service.")
    return _response(200, headers=_share_headers(ctx.files.share(ctx.account, ctx.share)))


# ---- directories ----------------------------------------------------------------------------------------------
def create_directory(ctx: Ctx) -> Response:
    if not ctx.parts:
        raise StorageError(409, "ResourceAlreadyExists", "The root directory of a share always exists.")
    props = EntryProps(metadata=_metadata(), attributes=_attributes(),
                       created=_time_header("x-ms-file-creation-time"))
    node = ctx.files.create_directory(ctx.account, ctx.share, ctx.parts, props)
    return _response(201, headers=_node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def get_directory_props(ctx: Ctx) -> Response:
    node = ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    return _response(200, headers=_node_headers(node))


def delete_directory(ctx: Ctx) -> Response:
    ctx.files.delete_directory(ctx.account, ctx.share, ctx.parts)
    return _response(202)


def set_directory_metadata(ctx: Ctx) -> Response:
    node = ctx.files.update_directory(ctx.account, ctx.share, ctx.parts, metadata=_metadata())
    return _response(200, headers=_write_headers(node))


def set_directory_props(ctx: Ctx) -> Response:
    node = ctx.files.update_directory(ctx.account, ctx.share, ctx.parts, attributes=_attributes(),
                                      created=_time_header("x-ms-file-creation-time"))
    return _response(200, headers=_node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def list_directory(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), _maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    extended = (request.headers.get("x-ms-file-extended-info") or "").lower() == "true"
    node, entries, nxt = ctx.files.list_directory(ctx.account, ctx.share, ctx.parts, prefix, marker,
                                                  maxresults or MAX_RESULTS)
    body = render.list_directory(ctx.endpoint(), ctx.share, node, entries, nxt, prefix, marker, maxresults,
                                 include, extended)
    return _response(200, body, xml=True)


def list_handles(ctx: Ctx) -> Response:
    if ctx.target.parts and ctx.target.arg("restype") != "directory":
        ctx.files.file(ctx.account, ctx.share, ctx.parts)
    else:
        ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    return _response(200, render.no_handles(), xml=True)


def force_close_handles(ctx: Ctx) -> Response:
    list_handles(ctx)
    return _response(200, headers={"x-ms-number-of-handles-closed": "0", "x-ms-number-of-handles-failed": "0"})


# ---- files ----------------------------------------------------------------------------------------------------
def create_file(ctx: Ctx) -> Response:
    kind = request.headers.get("x-ms-type")
    if kind is None or kind.lower() != "file":
        raise StorageError(400, "MissingRequiredHeader" if kind is None else "InvalidHeaderValue",
                           "Create File needs the header x-ms-type: file.", {"HeaderName": "x-ms-type"})
    size = _int_header("x-ms-content-length", 0, MAX_FILE_SIZE, required=True)
    props = EntryProps(metadata=_metadata(), attributes=_attributes(), created=_time_header("x-ms-file-creation-time"),
                       **_content_settings())
    node = ctx.files.create_file(ctx.account, ctx.share, ctx.parts, size, props)
    return _response(201, headers=_node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def get_file(ctx: Ctx) -> Response:
    rng = _range(required=False)
    want_md5 = (request.headers.get("x-ms-range-get-content-md5") or "").lower() == "true"
    if want_md5 and (rng is None or rng[1] is None or rng[1] - rng[0] + 1 > MAX_RANGE):
        raise StorageError(400, "OutOfRangeInput", "x-ms-range-get-content-md5 needs a range of at most 4 MiB.",
                           {"HeaderName": "x-ms-range-get-content-md5"})
    if request.method == "HEAD":
        node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
        headers = _node_headers(node) | _content_headers(ctx, node)
        headers["Content-Length"] = str(node.size)
        headers["Content-MD5"] = node.props.content_md5
        return _response(200, headers=headers)
    fd, node = ctx.files.open_file(ctx.account, ctx.share, ctx.parts)
    try:
        size = node.size
        headers = _node_headers(node) | _content_headers(ctx, node)
        start, length, status = 0, size, 200
        if rng is not None:
            start, end = rng
            if start >= size:
                raise StorageError(416, "InvalidRange", "The range specified is invalid for the current size of "
                                   "the resource.")
            end = size - 1 if end is None else min(end, size - 1)
            length, status = end - start + 1, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            headers["x-ms-content-md5"] = node.props.content_md5
        else:
            headers["Content-MD5"] = node.props.content_md5
        headers["Content-Length"] = str(length)
        if want_md5:
            data = b"".join(read_stream(fd, start, length, close=False))
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            os.close(fd)
            return _response(status, data, headers)
    except BaseException:
        os.close(fd)
        raise
    resp = Response(read_stream(fd, start, length), status=status, direct_passthrough=True)
    resp.headers.pop("Content-Type", None)
    for k, v in headers.items():
        if v is not None:
            resp.headers[k] = v
    return resp


# Body reads ask for 64 KiB at a time: cheroot's reader (pure-Python io) allocates a fresh buffer of the size
# asked for on every socket read, so 1 MiB requests that the socket answers 64 KiB at a time cost page faults.
_BODY_READ = 64 << 10


def _body_filler():
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


def _read_body(length: int, fill) -> memoryview:
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


def _buffer_filler(data: memoryview):
    pos = 0

    def fill(view: memoryview) -> int:
        nonlocal pos
        n = min(len(view), len(data) - pos)
        view[:n] = data[pos:pos + n]
        pos += n
        return n
    return fill


def put_range(ctx: Ctx) -> Response:
    write = (request.headers.get("x-ms-write") or "").lower()
    if write not in ("update", "clear"):
        raise StorageError(400, "InvalidHeaderValue" if write else "MissingRequiredHeader",
                           "Put Range needs x-ms-write: update or clear.", {"HeaderName": "x-ms-write"})
    start, end = _range(required=True)
    if end is None:
        raise StorageError(400, "InvalidRange", "Put Range needs a range with an end (bytes=start-end).")
    length = end - start + 1
    declared = request.headers.get("Content-Length")
    if declared is None or not declared.isdigit():
        raise StorageError(411, "MissingContentLengthHeader", "Put Range needs a Content-Length header.")
    if write == "clear":
        if int(declared) != 0:
            raise _invalid_header("Content-Length", declared, "a clear range sends no body")
        node = ctx.files.clear_range(ctx.account, ctx.share, ctx.parts, start, length)
        return _response(201, headers=_write_headers(node))
    if length > MAX_RANGE:
        raise StorageError(413, "RequestBodyTooLarge", "A range can be at most 4 MiB.")
    if int(declared) != length:
        raise _invalid_header("Content-Length", declared, f"the range {start}-{end} is {length} bytes")
    md5 = _md5_header("Content-MD5")
    ctx.files.file(ctx.account, ctx.share, ctx.parts)        # 404 before reading a body for nothing
    fill = _body_filler()
    headers = {}
    if md5 is not None:
        # a range with an MD5 is checked whole before a byte of it is written, as the service does
        data = _read_body(length, fill)
        actual = base64.b64encode(hashlib.md5(data).digest()).decode()
        if actual != md5:
            raise StorageError(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the "
                               "MD5 value calculated by the server.",
                               {"UserSpecifiedMd5": md5, "ServerCalculatedMd5": actual})
        headers["Content-MD5"] = md5
        fill = _buffer_filler(data)
    node = ctx.files.write_range(ctx.account, ctx.share, ctx.parts, start, length, fill)
    return _response(201, headers=_write_headers(node) | headers)


def list_ranges(ctx: Ctx) -> Response:
    rng = _range(required=False)
    start, end = (rng[0], rng[1] if rng[1] is not None else (1 << 62)) if rng else (0, 1 << 62)
    node, found = ctx.files.file_ranges(ctx.account, ctx.share, ctx.parts, start, end)
    headers = {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
               "x-ms-content-length": str(node.size)}
    return _response(200, render.ranges(found), headers, xml=True)


def set_file_props(ctx: Ctx) -> Response:
    size = _int_header("x-ms-content-length", 0, MAX_FILE_SIZE)
    node = ctx.files.set_file_properties(ctx.account, ctx.share, ctx.parts, size, _content_settings(),
                                         _attributes(), _time_header("x-ms-file-creation-time"))
    return _response(200, headers=_node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def set_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.set_file_metadata(ctx.account, ctx.share, ctx.parts, _metadata())
    return _response(200, headers=_write_headers(node))


def get_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
    return _response(200, headers={"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime)}
                     | _meta_headers(node.props.metadata))


def delete_file(ctx: Ctx) -> Response:
    ctx.files.delete_file(ctx.account, ctx.share, ctx.parts)
    return _response(202)
