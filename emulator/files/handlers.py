"""One view per file-service operation: read the request (httpio.py), call the plane, render the answer."""
from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

from datetime import datetime, timedelta, timezone

from flask import Response, current_app, request

from ..errors import StorageError
from ..urls import public_base
from . import leases, render
from .auth import Principal, delegation_key_value, parse_sas_time
from .disk import MAX_FILE_SIZE, http_date, read_stream
from . import httpio
from .httpio import MAX_RANGE, MAX_RESULTS, response
from .meta import EntryProps
from .names import Target, parse_target
from .plane import MAX_QUOTA_GIB, FilePlane

DEFAULT_VERSION = "2019-02-02"


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
        return public_base() + "/" + self.account + "/"


# ---- service --------------------------------------------------------------------------------------------------
def list_shares(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), httpio.maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    shares, nxt = ctx.files.list_shares(ctx.account, prefix, marker, maxresults or MAX_RESULTS)
    lease_info = {}
    if (ctx.principal.version or "") >= "2020-02-10":
        lease_info = {s.name: leases.headers(ctx.files.lease_of(ctx.account, s.name, [], 0)) for s in shares}
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


def get_user_delegation_key(ctx: Ctx) -> Response:
    if ctx.principal.scheme != "Bearer":
        raise StorageError(403, "AuthenticationFailed", "Get User Delegation Key needs an OAuth bearer token.")
    root = httpio.xml_body("Get User Delegation Key", "KeyInfo")
    start, expiry = (root.findtext("Start") or "").strip(), (root.findtext("Expiry") or "").strip()
    if not expiry:
        raise StorageError(400, "InvalidXmlDocument", "KeyInfo needs an Expiry.")
    now = datetime.now(timezone.utc)
    start = start or now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for value, name in ((start, "Start"), (expiry, "Expiry")):
        try:
            parse_sas_time(value, name)
        except StorageError:
            raise StorageError(400, "InvalidXmlNodeValue", f"The {name} '{value}' is not an ISO 8601 UTC "
                               "time.") from None
    if parse_sas_time(expiry, "Expiry") <= parse_sas_time(start, "Start") \
            or parse_sas_time(expiry, "Expiry") > now + timedelta(days=7, minutes=5):
        raise StorageError(400, "InvalidInput", "The key's expiry must follow its start and be at most 7 days "
                           "away.")
    fields = {"skoid": ctx.principal.oid or "", "sktid": ctx.principal.tid or "", "skt": start, "ske": expiry,
              "sks": "f", "skv": ctx.principal.version or DEFAULT_VERSION,
              "skdutid": (root.findtext("DelegatedUserTid") or "").strip()}
    signer = current_app.extensions["batchai"].signer
    value = delegation_key_value(lambda text: signer.sign({"user-delegation-key": text}).encode(), fields)
    return response(200, render.user_delegation_key(fields, value), xml=True)


# ---- shares ---------------------------------------------------------------------------------------------------
def create_share(ctx: Ctx) -> Response:
    protocols = request.headers.get("x-ms-enabled-protocols")
    if protocols is not None and protocols.strip().upper() != "SMB":
        raise StorageError(400, "NotSupportedByEmulator", "NFS shares (x-ms-enabled-protocols: NFS) are not "
                           "supported by the Batch AI emulator's file service.")
    quota = httpio.int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    info = ctx.files.create_share(ctx.account, ctx.share, quota, httpio.metadata(), httpio.access_tier())
    return response(201, headers=httpio.share_headers(info))


def get_share_props(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    headers = httpio.share_headers(info)
    headers.update(httpio.meta_headers(info.metadata))
    if ctx.target.arg("comp") is None:
        headers.update({"x-ms-share-quota": str(info.quota), "x-ms-access-tier": info.tier,
                        "x-ms-enabled-protocols": "SMB"})
        if (ctx.principal.version or "") >= "2020-02-10":       # share leases came with that version
            headers.update(leases.headers(ctx.files.lease_of(ctx.account, ctx.share, [], 0)))
    return response(200, headers=headers)


def delete_share(ctx: Ctx) -> Response:
    ctx.files.delete_share(ctx.account, ctx.share)
    return response(202)


def set_share_metadata(ctx: Ctx) -> Response:
    info = ctx.files.set_share_metadata(ctx.account, ctx.share, httpio.metadata())
    return response(200, headers=httpio.share_headers(info))


def set_share_props(ctx: Ctx) -> Response:
    quota = httpio.int_header("x-ms-share-quota", 1, MAX_QUOTA_GIB)
    info = ctx.files.set_share_properties(ctx.account, ctx.share, quota, httpio.access_tier())
    return response(200, headers=httpio.share_headers(info))


def get_share_stats(ctx: Ctx) -> Response:
    info = ctx.files.share(ctx.account, ctx.share)
    body = render.share_stats(ctx.files.share_usage(ctx.account, ctx.share))
    return response(200, body, httpio.share_headers(info), xml=True)


def get_share_acl(ctx: Ctx) -> Response:
    return response(200, render.no_signed_identifiers(), httpio.share_headers(ctx.files.share(ctx.account, ctx.share)),
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
    return response(200, headers=httpio.share_headers(ctx.files.share(ctx.account, ctx.share)))


def _lease_request() -> dict[str, str | None]:
    return {name: request.headers.get(name) for name in ("x-ms-lease-id", "x-ms-proposed-lease-id",
                                                         "x-ms-lease-duration", "x-ms-lease-break-period")}


def lease_share(ctx: Ctx) -> Response:
    status, headers = ctx.files.lease(ctx.account, ctx.share, [], request.headers.get("x-ms-lease-action"),
                                      _lease_request())
    return response(status, headers=headers | httpio.share_headers(ctx.files.share(ctx.account, ctx.share)))


def lease_file(ctx: Ctx) -> Response:
    status, headers = ctx.files.lease(ctx.account, ctx.share, ctx.parts, request.headers.get("x-ms-lease-action"),
                                      _lease_request())
    node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
    return response(status, headers=headers | httpio.write_headers(node))


# ---- directories ----------------------------------------------------------------------------------------------
def create_directory(ctx: Ctx) -> Response:
    if not ctx.parts:
        raise StorageError(409, "ResourceAlreadyExists", "The root directory of a share always exists.")
    props = EntryProps(metadata=httpio.metadata(), attributes=httpio.attributes())
    node = ctx.files.create_directory(ctx.account, ctx.share, ctx.parts, props, httpio.smb_times())
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
    node = ctx.files.update_directory(ctx.account, ctx.share, ctx.parts, attributes=httpio.attributes(),
                                      times=httpio.smb_times())
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
    if ctx.target.parts and ctx.target.arg("restype") != "directory":
        ctx.files.file(ctx.account, ctx.share, ctx.parts)
    else:
        ctx.files.directory(ctx.account, ctx.share, ctx.parts)
    return response(200, render.no_handles(), xml=True)


def force_close_handles(ctx: Ctx) -> Response:
    list_handles(ctx)
    return response(200, headers={"x-ms-number-of-handles-closed": "0", "x-ms-number-of-handles-failed": "0"})


# ---- files ----------------------------------------------------------------------------------------------------
def create_file(ctx: Ctx) -> Response:
    kind = request.headers.get("x-ms-type")
    if kind is None or kind.lower() != "file":
        raise StorageError(400, "MissingRequiredHeader" if kind is None else "InvalidHeaderValue",
                           "Create File needs the header x-ms-type: file.", {"HeaderName": "x-ms-type"})
    size = httpio.int_header("x-ms-content-length", 0, MAX_FILE_SIZE, required=True)
    props = EntryProps(metadata=httpio.metadata(), attributes=httpio.attributes(), **httpio.content_settings())
    times = httpio.smb_times()
    data = b""
    length = httpio.body_length()
    if length:
        # Create File with a body (x-ms-version 2025-05-05 on): the body is the file's first bytes, checked
        # against Content-MD5 before anything is written
        if length > MAX_RANGE:
            raise StorageError(413, "RequestBodyTooLarge", "The body of Create File can be at most 4 MiB.")
        if length > size:
            raise StorageError(400, "InvalidHeaderValue", f"The body ({length} bytes) is longer than the file "
                               f"(x-ms-content-length: {size}).", {"HeaderName": "Content-Length"})
        data = httpio.read_body(length, httpio.body_filler())
        httpio.check_md5(data, httpio.md5_header("Content-MD5"))
    node = ctx.files.create_file(ctx.account, ctx.share, ctx.parts, size, props, data, times)
    return response(201, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


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
        if want_md5:
            data = b"".join(read_stream(fd, start, length, close=False))
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
            os.close(fd)
            return response(status, data, headers)
    except BaseException:
        os.close(fd)
        raise
    resp = Response(read_stream(fd, start, length), status=status, direct_passthrough=True)
    resp.headers.pop("Content-Type", None)
    for k, v in headers.items():
        if v is not None:
            resp.headers[k] = v
    return resp


def put_range(ctx: Ctx) -> Response:
    write = (request.headers.get("x-ms-write") or "").lower()
    if write not in ("update", "clear"):
        raise StorageError(400, "InvalidHeaderValue" if write else "MissingRequiredHeader",
                           "Put Range needs x-ms-write: update or clear.", {"HeaderName": "x-ms-write"})
    start, end = httpio.byte_range(required=True)
    if end is None:
        raise StorageError(400, "InvalidRange", "Put Range needs a range with an end (bytes=start-end).")
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
    if int(declared) != length:
        raise httpio.invalid_header("Content-Length", declared, f"the range {start}-{end} is {length} bytes")
    md5 = httpio.md5_header("Content-MD5")
    fill = httpio.body_filler()
    headers = {}
    if md5 is not None:
        # a range with an MD5 is checked whole before a byte of it is written, as the service does
        ctx.files.file(ctx.account, ctx.share, ctx.parts)        # 404 before reading a body for nothing
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
    node, found = ctx.files.file_ranges(ctx.account, ctx.share, ctx.parts, start, end)
    headers = {"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
               "x-ms-content-length": str(node.size)}
    return response(200, render.ranges(found), headers, xml=True)


def set_file_props(ctx: Ctx) -> Response:
    size = httpio.int_header("x-ms-content-length", 0, MAX_FILE_SIZE)
    node = ctx.files.set_file_properties(ctx.account, ctx.share, ctx.parts, size, httpio.content_settings(),
                                         httpio.attributes(), httpio.smb_times())
    return response(200, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def set_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.set_file_metadata(ctx.account, ctx.share, ctx.parts, httpio.metadata())
    return response(200, headers=httpio.write_headers(node))


def get_file_metadata(ctx: Ctx) -> Response:
    node = ctx.files.file(ctx.account, ctx.share, ctx.parts)
    return response(200, headers={"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime)}
                     | httpio.meta_headers(node.props.metadata))


def rename(ctx: Ctx) -> Response:
    """Rename File / Rename Directory: the request names the destination, x-ms-file-rename-source the source
    (a URL of the same share, possibly with a SAS)."""
    source = request.headers.get("x-ms-file-rename-source")
    if not source:
        raise StorageError(400, "MissingRequiredHeader", "Rename needs x-ms-file-rename-source.",
                           {"HeaderName": "x-ms-file-rename-source"})
    src = parse_target(urlsplit(source).path or "/")
    if (request.headers.get("x-ms-source-allow-trailing-dot") or "").lower() != "true":
        src.parts = [p.rstrip(".") for p in src.parts]
    if src.account != ctx.account or src.share != ctx.share or not src.parts or not all(src.parts):
        raise StorageError(400, "InvalidInput", "The rename source must be a file or directory of the same share.")
    is_dir = ctx.target.arg("restype") == "directory"
    if not ctx.parts:
        raise StorageError(400, "InvalidInput", "The root directory cannot be a rename destination.")
    node = ctx.files.rename(
        ctx.account, ctx.share, src.parts, ctx.parts, is_dir,
        httpio.bool_header("x-ms-file-rename-replace-if-exists"),
        httpio.bool_header("x-ms-file-rename-ignore-readonly"), request.headers.get("x-ms-source-lease-id"),
        request.headers.get("x-ms-destination-lease-id"), httpio.metadata() or None, httpio.attributes(),
        httpio.smb_times(), None if is_dir else request.headers.get("x-ms-content-type"))
    return response(200, headers=httpio.node_headers(node, metadata=False) | {"x-ms-request-server-encrypted": "true"})


def delete_file(ctx: Ctx) -> Response:
    ctx.files.delete_file(ctx.account, ctx.share, ctx.parts)
    return response(202)
