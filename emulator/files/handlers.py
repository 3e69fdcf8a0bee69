"""One view per file-service operation: read the request (httpio.py), call the plane, render the answer.
The newer operations (leases, permissions, rename, copy, user delegation keys) are in handlers_more.py."""
from __future__ import annotations

import base64
import hashlib
import os
import time
import xml.etree.ElementTree as ET

from flask import Response, request

from ..errors import StorageError
from ..storage.bodies import streamed
from . import checksums, httpio, leases, nfs_headers, render, snapshots
from .auth import parse_sas_time
from .context import Ctx
from .disk import MAX_FILE_SIZE, http_date, read_stream
from .httpio import MAX_RANGE, MAX_RESULTS, response
from .meta import EntryProps
from .plane import MAX_QUOTA_GIB


# ---- service --------------------------------------------------------------------------------------------------
def list_shares(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), httpio.maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    shares, nxt = ctx.files.list_shares(ctx.account, prefix, marker, maxresults or MAX_RESULTS)
    if "snapshots" in include:
        with_snapshots = []
        for s in shares:
            for sid in ctx.files.snapshot_ids(ctx.account, s.name):
                snap = ctx.files.share(ctx.account, f"{s.name}@{sid}")
                snap.name, snap.snapshot = s.name, sid
                with_snapshots.append(snap)
            with_snapshots.append(s)
        shares = with_snapshots
    lease_info = {}
    if (ctx.principal.version or "") >= "2020-02-10":
        lease_info = {s.name: leases.headers(ctx.files.lease_of(ctx.account, s.name, [], 0)) for s in shares
                      if not s.snapshot}
    body = render.list_shares(ctx.endpoint(), shares, nxt, prefix, marker, maxresults, "metadata" in include,
                              lease_info)
    return response(200, body, xml=True)


def get_service_props(ctx: Ctx) -> Response:
    body = ctx.files.meta.service_properties(ctx.account) or render.DEFAULT_SERVICE_PROPERTIES
    return response(200, body.encode(), xml=True)


def set_service_props(ctx: Ctx) -> Response:
    """Set File Service Properties: the elements the request carries replace the stored ones; the others stay."""
    root = httpio.xml_body("Set File Service Properties", "StorageServiceProperties")
    cors = root.find("Cors")
    if cors is not None and len(cors.findall("CorsRule")) > 5:
        raise StorageError(400, "InvalidXmlDocument", "At most five CORS rules can be set.")
    stored = ET.fromstring(ctx.files.meta.service_properties(ctx.account) or render.DEFAULT_SERVICE_PROPERTIES)
    for element in root:
        old = stored.find(element.tag)
        if old is not None:
            stored.remove(old)
        stored.append(element)
    ctx.files.meta.put_service_properties(ctx.account, '<?xml version="1.0" encoding="utf-8"?>'
                                          + ET.tostring(stored, encoding="unicode"))
    return response(202)


# ---- shares ---------------------------------------------------------------------------------------------------
def create_share(ctx: Ctx) -> Response:
    quota = httpio.int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    props = nfs_headers.share_request(ctx.files.profile(ctx.account), None)
    info = ctx.files.create_share(ctx.account, ctx.share, quota, httpio.metadata(), httpio.access_tier(), props)
    return response(201, headers=httpio.share_headers(info))


def get_share_props(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    headers = httpio.share_headers(info)
    headers.update(httpio.meta_headers(info.metadata))
    if ctx.target.arg("comp") is None:
        headers.update(httpio.share_properties(info))
        if (ctx.principal.version or "") >= "2020-02-10":       # share leases came with that version
            headers.update(leases.headers(ctx.files.lease_of(ctx.account, ctx.share, [], 0)))
    return response(200, headers=headers)


def delete_share(ctx: Ctx) -> Response:
    if ctx.snapshot:
        ctx.files.delete_snapshots(ctx.account, ctx.target.share, ctx.snapshot)
        return response(202)
    ctx.files.share(ctx.account, ctx.share)
    mode = (request.headers.get("x-ms-delete-snapshots") or "").strip().lower()
    if ctx.files.snapshot_ids(ctx.account, ctx.share):
        if mode not in ("include", "include-leased"):
            raise StorageError(409, "ShareHasSnapshots", "The share has snapshots; delete them with "
                               "x-ms-delete-snapshots: include.")
        if mode == "include":
            for sid in ctx.files.snapshot_ids(ctx.account, ctx.share):
                lease = ctx.files.lease_of(ctx.account, f"{ctx.share}@{sid}", [], 0)
                if lease is not None and lease.active(time.time()):
                    raise StorageError(409, "DeleteShareWhenSnapshotLeased", "Unable to delete share because "
                                       "one or more share snapshots have active leases (x-ms-delete-snapshots: "
                                       "include-leased deletes them).")
        ctx.files.delete_snapshots(ctx.account, ctx.share)
    ctx.files.delete_share(ctx.account, ctx.share)
    return response(202)


def snapshot_share(ctx: Ctx) -> Response:
    sid = ctx.files.snapshot_share(ctx.account, ctx.share, httpio.metadata())
    info = ctx.files.share(ctx.account, f"{ctx.share}@{sid}")
    return response(201, headers=httpio.share_headers(info) | {"x-ms-snapshot": sid})


def set_share_metadata(ctx: Ctx) -> Response:
    info = ctx.files.set_share_metadata(ctx.account, ctx.share, httpio.metadata())
    return response(200, headers=httpio.share_headers(info))


def set_share_props(ctx: Ctx) -> Response:
    quota = httpio.int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    prof, tier = ctx.files.profile(ctx.account), httpio.access_tier()
    ctx.files.share(ctx.account, ctx.share)
    info = ctx.files.set_share_properties(ctx.account, ctx.share, quota, tier,
                                          lambda current: nfs_headers.share_request(prof, current))
    return response(200, headers=httpio.share_headers(info))


def get_share_stats(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    body = render.share_stats(ctx.files.share_usage(ctx.account, ctx.share))
    return response(200, body, httpio.share_headers(info), xml=True)


def get_share_acl(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    stored = ctx.files.meta.acl(ctx.account, ctx.share)
    body = stored.encode() if stored else render.no_signed_identifiers()
    return response(200, body, httpio.share_headers(info), xml=True)


def set_share_acl(ctx: Ctx) -> Response:
    """Set Share ACL: up to five stored access policies (SignedIdentifiers), which SAS tokens name with si=."""
    raw = request.get_data(cache=False)
    info = ctx.files.share(ctx.account, ctx.share)
    xml = render.no_signed_identifiers().decode()
    if raw.strip():
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "The XML body of Set Share ACL does not parse.") from None
        ids = root.findall("SignedIdentifier")
        if root.tag != "SignedIdentifiers" or len(ids) != len(root) or len(ids) > 5:
            raise StorageError(400, "InvalidXmlDocument", "Set Share ACL takes a SignedIdentifiers document with "
                               "at most five SignedIdentifier elements.")
        for si in ids:
            sid = (si.findtext("Id") or "").strip()
            if not sid or len(sid) > 64:
                raise StorageError(400, "InvalidXmlDocument", "Each SignedIdentifier needs an Id of 1 to 64 "
                                   "characters.")
            for name in ("Start", "Expiry"):
                value = (si.findtext(f"AccessPolicy/{name}") or "").strip()
                if value:
                    try:
                        parse_sas_time(value, name)
                    except StorageError:
                        raise StorageError(400, "InvalidXmlNodeValue", f"{name} '{value}' is not a time.") from None
        xml = raw.decode("utf-8")
    ctx.files.meta.put_acl(ctx.account, ctx.share, xml)
    return response(200, headers=httpio.share_headers(info))


# ---- directories ----------------------------------------------------------------------------------------------
def create_directory(ctx: Ctx) -> Response:
    if not ctx.parts:
        raise StorageError(409, "ResourceAlreadyExists", "The root directory of a share always exists.")
    times = ctx.node_times()
    props = EntryProps(metadata=httpio.metadata(), attributes=httpio.attributes())
    node = ctx.files.create_directory(ctx.account, ctx.share, ctx.parts, props, times)
    return response(201, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def get_directory_props(ctx: Ctx) -> Response:
    node = ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    return response(200, headers=httpio.node_headers(node))


def delete_directory(ctx: Ctx) -> Response:
    ctx.files.delete_directory(ctx.account, ctx.share, ctx.parts)
    return response(202)


def set_directory_metadata(ctx: Ctx) -> Response:
    node = ctx.files.update_directory(ctx.account, ctx.share, ctx.parts, metadata=httpio.metadata())
    return response(200, headers=httpio.write_headers(node))


def set_directory_props(ctx: Ctx) -> Response:
    times = ctx.node_times()
    node = ctx.files.update_directory(ctx.account, ctx.share, ctx.parts, attributes=httpio.attributes(),
                                      times=times)
    return response(200, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def list_directory(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), httpio.maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    extended = (request.headers.get("x-ms-file-extended-info") or "").lower() == "true"
    node, entries, nxt = ctx.files.list_directory(ctx.account, ctx.share, ctx.parts, prefix, marker,
                                                  maxresults or MAX_RESULTS)
    body = render.list_directory(ctx.endpoint(), ctx.share, node, entries, nxt, prefix, marker, maxresults,
                                 include, extended)
    return response(200, body, xml=True)


def list_handles(ctx: Ctx) -> Response:
    """List Handles: the emulator serves no SMB clients, so no handle is ever open (mounts of the share by jobs are
    bind mounts on the host, not SMB sessions): an empty list, for any marker, once the path exists."""
    httpio.bool_header("x-ms-recursive")
    if ctx.target.parts and ctx.target.arg("restype") != "directory":
        try:
            ctx.files.file(ctx.account, ctx.share, ctx.parts)
        except StorageError as err:
            # the SDK's directory clients send comp=listhandles without restype=directory: the path decides
            if err.code != "ResourceNotFound":
                raise
            ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    else:
        ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    return response(200, render.no_handles(), xml=True)


def force_close_handles(ctx: Ctx) -> Response:
    """Force Close Handles: `*` or one handle id; none is open, so none is closed and none fails."""
    handle = request.headers.get("x-ms-handle-id")
    if handle is None or not handle.strip():
        raise StorageError(400, "MissingRequiredHeader", "Force Close Handles needs x-ms-handle-id (a handle id or "
                           "*).", {"HeaderName": "x-ms-handle-id"})
    if handle.strip() != "*" and not handle.strip().isdigit():
        raise httpio.invalid_header("x-ms-handle-id", handle, "expected a handle id (digits) or *")
    list_handles(ctx)
    return response(200, headers={"x-ms-number-of-handles-closed": "0", "x-ms-number-of-handles-failed": "0"})


# ---- files ----------------------------------------------------------------------------------------------------
def create_file(ctx: Ctx) -> Response:
    kind = request.headers.get("x-ms-type")
    if kind is None or kind.lower() != "file":
        raise StorageError(400, "MissingRequiredHeader" if kind is None else "InvalidHeaderValue",
                           "Create File needs the header x-ms-type: file.", {"HeaderName": "x-ms-type"})
    size = httpio.int_header("x-ms-content-length", 0, MAX_FILE_SIZE, required=True)
    times = ctx.node_times()
    props = EntryProps(metadata=httpio.metadata(), attributes=httpio.attributes(), **httpio.content_settings())
    data = b""
    extra: dict[str, str] = {}
    length = httpio.body_length()
    if length:
        # Create File with a body (x-ms-version 2025-05-05 on): the body is the file's first bytes, checked
        # against Content-MD5 before anything is written
        structured = request.headers.get("x-ms-structured-body") is not None
        logical = int(request.headers.get("x-ms-structured-content-length") or -1) if structured else length
        if length > MAX_RANGE + (1 << 16):
            raise StorageError(413, "RequestBodyTooLarge", "The body of Create File can be at most 4 MiB.")
        if logical > size or logical < 0:
            raise StorageError(400, "InvalidHeaderValue", f"The body ({logical} bytes) is longer than the file "
                               f"(x-ms-content-length: {size}).", {"HeaderName": "Content-Length"})
        data = httpio.read_body(length, httpio.body_filler())
        if structured:
            data = checksums.decode(data, logical)
            extra["x-ms-structured-body"] = checksums.SM_V1_CRC64
        httpio.check_md5(data, httpio.md5_header("Content-MD5"))
        checksums.check_header(data, request.headers.get("x-ms-content-crc64"))
    node = ctx.files.create_file(ctx.account, ctx.share, ctx.parts, size, props, data, times)
    return response(201, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"}
                    | extra)


def get_file(ctx: Ctx) -> Response:
    rng = httpio.byte_range(required=False)
    want_md5 = (request.headers.get("x-ms-range-get-content-md5") or "").lower() == "true"
    if want_md5 and (rng is None or rng[1] is None or rng[1] - rng[0] + 1 > MAX_RANGE):
        raise StorageError(400, "OutOfRangeInput", "x-ms-range-get-content-md5 needs a range of at most 4 MiB.",
                           {"HeaderName": "x-ms-range-get-content-md5"})
    if request.method == "HEAD":
        node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
        headers = httpio.node_headers(node) | httpio.content_headers(node, ctx.principal.overrides)
        headers.update(leases.headers(ctx.files.lease_of(ctx.account, ctx.share, ctx.parts, node.st.st_ino)))
        headers["Content-Length"] = str(node.size)
        headers["Content-MD5"] = node.props.content_md5
        return response(200, headers=headers)
    fd, node = ctx.files.open_file(ctx.account, ctx.share, ctx.parts)
    try:
        size = node.size
        headers = httpio.node_headers(node) | httpio.content_headers(node, ctx.principal.overrides)
        headers.update(leases.headers(ctx.files.lease_of(ctx.account, ctx.share, ctx.parts, node.st.st_ino)))
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
        want_crc = (request.headers.get("x-ms-range-get-content-crc64") or "").lower() == "true"
        structured = request.headers.get("x-ms-structured-body")
        if want_md5 or want_crc or structured:
            if length > (MAX_RANGE if want_md5 or want_crc else 64 << 20):
                raise StorageError(400, "OutOfRangeInput", "Checksummed downloads take at most 4 MiB (64 MiB as "
                                   "a structured message) per request.")
            data = b"".join(read_stream(fd, start, length, close=False))
            os.close(fd)
            if want_md5:
                headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            if want_crc:
                headers["x-ms-content-crc64"] = checksums.crc64_b64(data)
            if structured:
                data = checksums.encode(data)
                headers.update({"x-ms-structured-body": checksums.SM_V1_CRC64,
                                "x-ms-structured-content-length": str(length), "Content-Length": str(len(data))})
            return response(status, data, headers)
    except BaseException:
        os.close(fd)
        raise
    return streamed(read_stream(fd, start, length), status, headers)


def put_range(ctx: Ctx) -> Response:
    write = (request.headers.get("x-ms-write") or "").lower()
    if write not in ("update", "clear"):
        raise StorageError(400, "InvalidHeaderValue" if write else "MissingRequiredHeader",
                           "Put Range needs x-ms-write: update or clear.", {"HeaderName": "x-ms-write"})
    start, end = httpio.byte_range(required=True)
    if end is None:
        raise StorageError(400, "InvalidRange", "Put Range needs a range with an end (bytes=start-end).")
    ctx.files.copies.check_not_pending(ctx.account, ctx.share, ctx.parts)
    length = end - start + 1
    declared = request.headers.get("Content-Length")
    if declared is None or not declared.isdigit():
        raise StorageError(411, "MissingContentLengthHeader", "Put Range needs a Content-Length header.")
    if write == "clear":
        if int(declared) != 0:
            raise httpio.invalid_header("Content-Length", declared, "a clear range sends no body")
        node = ctx.files.clear_range(ctx.account, ctx.share, ctx.parts, start, length, httpio.preserve_write_time())
        return response(201, headers=httpio.write_headers(node))
    if length > MAX_RANGE:
        raise StorageError(413, "RequestBodyTooLarge", "A range can be at most 4 MiB.")
    structured = request.headers.get("x-ms-structured-body") is not None
    logical = request.headers.get("x-ms-structured-content-length") if structured else declared
    if logical is None or not logical.isdigit() or int(logical) != length:
        raise httpio.invalid_header("Content-Length", declared, f"the range {start}-{end} is {length} bytes")
    md5 = httpio.md5_header("Content-MD5")
    crc = request.headers.get("x-ms-content-crc64")
    fill = httpio.body_filler()
    headers = {}
    if structured or crc is not None:
        ctx.files.file(ctx.account, ctx.share, ctx.parts)        # 404 before reading a body for nothing
        data = httpio.read_body(int(declared), fill)
        if structured:
            data = memoryview(checksums.decode(data, length))
            headers["x-ms-structured-body"] = checksums.SM_V1_CRC64
        checksums.check_header(data, crc)
        if crc is not None:
            headers["x-ms-content-crc64"] = crc
        fill = httpio.buffer_filler(memoryview(data))
    if md5 is not None:
        # a range with an MD5 is checked whole before a byte of it is written, as the service does
        if not (structured or crc is not None):
            ctx.files.file(ctx.account, ctx.share, ctx.parts)    # 404 before reading a body for nothing
            data = httpio.read_body(length, fill)
        httpio.check_md5(data, md5)
        headers["Content-MD5"] = md5
        fill = httpio.buffer_filler(data)
    node = ctx.files.write_range(ctx.account, ctx.share, ctx.parts, start, length, fill,
                                 httpio.preserve_write_time())
    return response(201, headers=httpio.write_headers(node) | headers)


def list_ranges(ctx: Ctx) -> Response:
    rng = httpio.byte_range(required=False)
    start, end = (rng[0], rng[1] if rng[1] is not None else (1 << 62)) if rng else (0, 1 << 62)
    previous = ctx.target.arg("prevsharesnapshot")
    cleared: list[tuple[int, int]] = []
    if previous:
        node, found, cleared = ctx.files.ranges_diff(ctx.account, ctx.share, ctx.parts,
                                                     snapshots.check_id(previous), start, end,
                                                     httpio.bool_header("x-ms-file-support-rename"))
    else:
        node, found = ctx.files.file_ranges(ctx.account, ctx.share, ctx.parts, start, end)
    headers = {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
               "x-ms-content-length": str(node.size)}
    found, cleared, nxt = _page_of_ranges(found, cleared)
    return response(200, render.ranges(found, cleared, nxt), headers, xml=True)


def _page_of_ranges(found, cleared):
    """The page of ranges (written and cleared, by start) that marker and maxresults ask for, and the marker of
    the next one (the start offset of its first range: the emulator's own marker format)."""
    marker, limit = _ranges_marker(), httpio.maxresults()
    if marker is None and limit is None:
        return found, cleared, None
    merged = sorted([(s, e, False) for s, e in found] + [(s, e, True) for s, e in cleared])
    merged = [r for r in merged if marker is None or r[0] >= marker]
    page, rest = (merged[:limit], merged[limit:]) if limit else (merged, [])
    return ([(s, e) for s, e, c in page if not c], [(s, e) for s, e, c in page if c],
            str(rest[0][0]) if rest else None)


def _ranges_marker() -> int | None:
    raw = request.args.get("marker")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise StorageError(400, "InvalidQueryParameterValue", "The marker is not one this file's List Ranges gave.",
                           {"QueryParameterName": "marker", "QueryParameterValue": raw})
    return int(raw)


def set_file_props(ctx: Ctx) -> Response:
    size = httpio.int_header("x-ms-content-length", 0, MAX_FILE_SIZE)
    if size is not None:
        ctx.files.copies.check_not_pending(ctx.account, ctx.share, ctx.parts)
    times = ctx.node_times()
    node = ctx.files.set_file_properties(ctx.account, ctx.share, ctx.parts, size, httpio.content_settings(),
                                         httpio.attributes(), times)
    return response(200, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def set_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.set_file_metadata(ctx.account, ctx.share, ctx.parts, httpio.metadata())
    return response(200, headers=httpio.write_headers(node))


def get_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
    return response(200, headers={"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime)}
                     | httpio.meta_headers(node.props.metadata))


def delete_file(ctx: Ctx) -> Response:
    ctx.files.delete_file(ctx.account, ctx.share, ctx.parts)
    return response(202)


# the newer operations live in handlers_more.py; views.py reaches every view through this module
from .handlers_more import (abort_copy, copy_file, create_permission, get_permission,  # noqa: E402,F401
                            get_user_delegation_key, lease_file, lease_share, put_range_from_url, rename)
