"""One view per blob-service operation: read the request, call the plane, render the answer."""
from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from flask import Response, request

from ..errors import StorageError
from ..storage.bodies import streamed
from ..files import httpio
from ..files.auth import Principal
from ..files.disk import http_date, read_stream
from ..files.httpio import invalid_header, response
from . import render
from .meta import BlobProps
from .names import BlobTarget
from .conditions import byte_range, conditions
from .plane import MAX_BLOCK, MAX_PUT_BLOB, BlobInfo, BlobPlane

DEFAULT_VERSION = "2021-08-06"
MAX_RESULTS = 5000
_CONTENT = {"content_type": "x-ms-blob-content-type", "content_encoding": "x-ms-blob-content-encoding",
            "content_language": "x-ms-blob-content-language",
            "content_disposition": "x-ms-blob-content-disposition", "cache_control": "x-ms-blob-cache-control",
            "content_md5": "x-ms-blob-content-md5"}
_PUBLIC = {"blob", "container"}
# no snapshots exist and soft delete cannot be enabled here, so "snapshots" and "deleted" add nothing (truly)
_INCLUDE_OK = {"metadata", "snapshots", "copy", "deleted"}


@dataclass
class Ctx:
    plane: BlobPlane
    account: str
    target: BlobTarget
    principal: Principal
    op: str
    endpoint: str

    @property
    def container(self) -> str:
        return self.target.container or ""

    @property
    def blob(self) -> str:
        return self.target.blob or ""


def not_supported(what: str) -> StorageError:
    return StorageError(400, "NotSupportedByEmulator", f"{what} is not supported by the Batch AI emulator's blob "
                        "service.")


# ---- request pieces ---------------------------------------------------------------------------------------------
def _length(limit: int) -> int:
    raw = request.headers.get("Content-Length")
    if raw is None:
        if request.headers.get("Transfer-Encoding"):
            raise StorageError(411, "MissingContentLengthHeader", "Content-Length is required (chunked bodies are "
                               "not accepted).")
        return 0
    if not raw.isdigit():
        raise invalid_header("Content-Length", raw, "expected a byte count")
    if int(raw) > limit:
        raise StorageError(413, "RequestBodyTooLarge", f"The request body is too large: {raw} bytes; the limit for "
                           f"this operation is {limit}.")
    return int(raw)


def _content_settings(prefix_headers: dict[str, str] = _CONTENT) -> dict[str, str | None]:
    out = {}
    for attr, header in prefix_headers.items():
        out[attr] = httpio.md5_header(header) if attr.endswith("md5") else request.headers.get(header)
    return out


def _has_content_headers() -> bool:
    return any(request.headers.get(h) is not None for h in _CONTENT.values())


def _tier() -> None:
    tier = request.headers.get("x-ms-access-tier")
    if tier is not None and tier.strip().lower() != "hot":
        raise not_supported(f"Access tier '{tier}' (x-ms-access-tier; every blob here is Hot)")


def _maxresults() -> int | None:
    raw = request.args.get("maxresults")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise StorageError(400, "OutOfRangeQueryParameterValue", "maxresults must be a positive integer.",
                           {"QueryParameterName": "maxresults", "QueryParameterValue": raw})
    return min(int(raw), MAX_RESULTS)


def _include() -> set[str]:
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    bad = include - _INCLUDE_OK
    if bad:
        raise not_supported(f"Listing with include={','.join(sorted(bad))} (versions, tags and the like)")
    return include


def _parse_xml(what: str) -> ET.Element:
    raw = request.get_data(cache=False)
    if len(raw) > (8 << 20):
        raise StorageError(413, "RequestBodyTooLarge", f"The {what} body is larger than 8 MiB.")
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        raise StorageError(400, "InvalidXmlDocument", f"The XML body of {what} does not parse.") from None


def blob_headers(info: BlobInfo, overrides: dict | None = None, metadata: bool = True) -> dict:
    p = info.props
    out = {"ETag": info.etag, "Last-Modified": http_date(info.st.st_mtime),
           "x-ms-creation-time": http_date(info.created), "x-ms-blob-type": "BlockBlob",
           "x-ms-lease-status": "unlocked", "x-ms-lease-state": "available", "x-ms-server-encrypted": "true",
           "Accept-Ranges": "bytes", "Content-Type": p.content_type or "application/octet-stream",
           "Content-Encoding": p.content_encoding, "Content-Language": p.content_language,
           "Content-Disposition": p.content_disposition, "Cache-Control": p.cache_control}
    if p.blocks:
        out["x-ms-blob-committed-block-count"] = str(len(p.blocks))
    if p.copy:
        out.update({"x-ms-copy-id": p.copy["id"], "x-ms-copy-status": "success", "x-ms-copy-source": p.copy["source"],
                    "x-ms-copy-progress": f"{p.copy.get('length', info.size)}/{p.copy.get('length', info.size)}",
                    "x-ms-copy-completion-time": http_date(p.copy["completed"])})
    if metadata:
        out.update({f"x-ms-meta-{k}": v for k, v in p.metadata.items()})
    out.update(overrides or {})
    return out


def write_headers(info: BlobInfo) -> dict:
    return {"ETag": info.etag, "Last-Modified": http_date(info.st.st_mtime), "x-ms-request-server-encrypted": "true"}


def container_headers(c) -> dict:
    out = {"ETag": c.etag, "Last-Modified": http_date(c.last_modified)}
    return out


# ---- service ----------------------------------------------------------------------------------------------------
def list_containers(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), _maxresults()
    include = {p.strip().lower() for p in (request.args.get("include") or "").split(",") if p.strip()}
    items, nxt = ctx.plane.list_containers(ctx.account, prefix, marker, maxresults or MAX_RESULTS)
    body = render.list_containers(ctx.endpoint, items, nxt, prefix, marker, maxresults, "metadata" in include)
    return response(200, body, xml=True)


def get_service_props(ctx: Ctx) -> Response:
    body = ctx.plane.meta.service_properties(ctx.account) or render.DEFAULT_SERVICE_PROPERTIES
    return response(200, body.encode(), xml=True)


def set_service_props(ctx: Ctx) -> Response:
    root = _parse_xml("Set Blob Service Properties")
    if root.tag != "StorageServiceProperties":
        raise StorageError(400, "InvalidXmlDocument", "The body must be a StorageServiceProperties document.")
    for section, what in (("DeleteRetentionPolicy", "Soft delete (DeleteRetentionPolicy)"),
                          ("StaticWebsite", "Static websites (StaticWebsite)")):
        enabled = root.find(f"{section}/Enabled")
        if enabled is not None and (enabled.text or "").strip().lower() == "true":
            raise not_supported(what)
    ctx.plane.meta.put_service_properties(ctx.account, ET.tostring(root, encoding="unicode"))
    return response(202)


def account_info(ctx: Ctx) -> Response:
    return response(200, headers={"x-ms-sku-name": "Standard_LRS", "x-ms-account-kind": "StorageV2",
                                  "x-ms-is-hns-enabled": "false"})


# ---- containers -------------------------------------------------------------------------------------------------
def _public() -> str | None:
    raw = request.headers.get("x-ms-blob-public-access")
    if raw is None or raw == "":
        return None
    if raw not in _PUBLIC:
        raise invalid_header("x-ms-blob-public-access", raw, "expected blob or container")
    return raw


def create_container(ctx: Ctx) -> Response:
    if request.headers.get("x-ms-default-encryption-scope"):
        raise not_supported("Encryption scopes (x-ms-default-encryption-scope)")
    info = ctx.plane.create_container(ctx.account, ctx.container, httpio.metadata(), _public())
    return response(201, headers=container_headers(info))


def get_container_props(ctx: Ctx) -> Response:
    c = ctx.plane.container(ctx.account, ctx.container)
    headers = container_headers(c)
    headers.update({"x-ms-lease-status": "unlocked", "x-ms-lease-state": "available",
                    "x-ms-has-immutability-policy": "false", "x-ms-has-legal-hold": "false",
                    "x-ms-blob-public-access": c.public})
    headers.update({f"x-ms-meta-{k}": v for k, v in c.metadata.items()})
    return response(200, headers=headers)


def delete_container(ctx: Ctx) -> Response:
    ctx.plane.container(ctx.account, ctx.container)
    ctx.plane.delete_container(ctx.account, ctx.container)
    return response(202)


def set_container_metadata(ctx: Ctx) -> Response:
    c = ctx.plane.update_container(ctx.account, ctx.container, metadata=httpio.metadata())
    return response(200, headers=container_headers(c))


def get_container_acl(ctx: Ctx) -> Response:
    c = ctx.plane.container(ctx.account, ctx.container)
    headers = container_headers(c)
    headers["x-ms-blob-public-access"] = c.public
    return response(200, render.signed_identifiers(c.acl), headers, xml=True)


def set_container_acl(ctx: Ctx) -> Response:
    acl = []
    if int(request.headers.get("Content-Length") or 0) > 0:
        root = _parse_xml("Set Container ACL")
        if root.tag != "SignedIdentifiers":
            raise StorageError(400, "InvalidXmlDocument", "The body must be a SignedIdentifiers document.")
        for ident in root.findall("SignedIdentifier"):
            policy = {"id": (ident.findtext("Id") or "").strip()}
            if not policy["id"] or len(policy["id"]) > 64:
                raise StorageError(400, "InvalidXmlDocument", "A signed identifier needs an Id of 1-64 characters.")
            for key, tag in (("start", "Start"), ("expiry", "Expiry"), ("permission", "Permission")):
                value = (ident.findtext(f"AccessPolicy/{tag}") or "").strip()
                if value:
                    policy[key] = value
            acl.append(policy)
        if len(acl) > 5:
            raise StorageError(400, "InvalidXmlDocument", "A container may have at most 5 stored access policies.")
    c = ctx.plane.update_container(ctx.account, ctx.container, acl=acl, public=_public())
    return response(200, headers=container_headers(c))


def list_blobs(ctx: Ctx) -> Response:
    prefix, marker, maxresults = request.args.get("prefix") or "", request.args.get("marker"), _maxresults()
    delimiter = request.args.get("delimiter") or None
    include = _include()
    blobs, prefixes, nxt = ctx.plane.list_blobs(ctx.account, ctx.container, prefix, delimiter, marker,
                                                maxresults or MAX_RESULTS)
    body = render.list_blobs(ctx.endpoint, ctx.container, blobs, prefixes, nxt, prefix, marker, maxresults,
                             delimiter, include)
    return response(200, body, xml=True)


# ---- blobs ------------------------------------------------------------------------------------------------------
def _blob_props(metadata: dict) -> BlobProps:
    return BlobProps(**_content_settings(), metadata=metadata)


def _blob_type() -> None:
    kind = request.headers.get("x-ms-blob-type")
    if kind is None:
        raise StorageError(400, "MissingRequiredHeader", "The header x-ms-blob-type is required.",
                           {"HeaderName": "x-ms-blob-type"})
    if kind != "BlockBlob":
        raise not_supported(f"{kind}s (x-ms-blob-type: {kind}; only block blobs are)"
                            if kind in ("AppendBlob", "PageBlob") else f"The blob type '{kind}'")


def put_blob(ctx: Ctx) -> Response:
    _blob_type()
    _tier()
    length = _length(MAX_PUT_BLOB)
    md5 = httpio.md5_header("Content-MD5")
    props = _blob_props(httpio.metadata())
    props.content_type = props.content_type or request.headers.get("Content-Type")
    info = ctx.plane.put_blob(ctx.account, ctx.container, ctx.blob, httpio.body_filler(), length, props, md5,
                              request.headers.get("x-ms-content-crc64"), conditions())
    headers = write_headers(info)
    if md5:
        headers["Content-MD5"] = md5
    return response(201, headers=headers)


def _block_id() -> str:
    raw = ctx_arg("blockid")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except ValueError:
        decoded = b""
    if not raw or not decoded or len(decoded) > 64:
        raise StorageError(400, "InvalidQueryParameterValue", f"The block id '{raw}' is not the base64 of 1-64 "
                           "bytes.", {"QueryParameterName": "blockid", "QueryParameterValue": raw or ""})
    return raw


def ctx_arg(name: str) -> str:
    return request.args.get(name) or ""


def put_block(ctx: Ctx) -> Response:
    block_id = _block_id()
    length = _length(MAX_BLOCK)
    md5 = httpio.md5_header("Content-MD5")
    ctx.plane.put_block(ctx.account, ctx.container, ctx.blob, block_id, httpio.body_filler(), length, md5,
                        request.headers.get("x-ms-content-crc64"))
    headers = {"x-ms-request-server-encrypted": "true"}
    if md5:
        headers["Content-MD5"] = md5
    return response(201, headers=headers)


def put_block_list(ctx: Ctx) -> Response:
    _tier()
    root = _parse_xml("Put Block List")
    if root.tag != "BlockList":
        raise StorageError(400, "InvalidXmlDocument", "The body must be a BlockList document.")
    entries = []
    for el in root:
        if el.tag not in ("Committed", "Uncommitted", "Latest"):
            raise StorageError(400, "InvalidXmlNodeValue", f"Unknown element <{el.tag}> in the block list.")
        entries.append((el.tag, (el.text or "").strip()))
    if len({len(i) for _, i in entries}) > 1:
        raise StorageError(400, "InvalidBlockList", "All block ids of a blob must have the same length.")
    info = ctx.plane.put_block_list(ctx.account, ctx.container, ctx.blob, entries,
                                    _blob_props(httpio.metadata()), conditions())
    return response(201, headers=write_headers(info))


def get_block_list(ctx: Ctx) -> Response:
    which = (request.args.get("blocklisttype") or "committed").lower()
    if which not in ("committed", "uncommitted", "all"):
        raise StorageError(400, "InvalidQueryParameterValue", "blocklisttype must be committed, uncommitted or all.",
                           {"QueryParameterName": "blocklisttype", "QueryParameterValue": which})
    info, committed, uncommitted = ctx.plane.block_lists(ctx.account, ctx.container, ctx.blob)
    headers = {"Content-Type": "application/xml"}
    if info is not None:
        headers.update({"ETag": info.etag, "Last-Modified": http_date(info.st.st_mtime),
                        "x-ms-blob-content-length": str(info.size)})
    return response(200, render.block_list(committed, uncommitted, which), headers)


def get_blob(ctx: Ctx) -> Response:
    fd, info = ctx.plane.open_blob(ctx.account, ctx.container, ctx.blob)
    try:
        check = conditions(read=True)
        if check:
            check(info)
        rng = byte_range(info.size)
    except BaseException:
        os.close(fd)
        raise
    headers = blob_headers(info, ctx.principal.overrides)
    if request.method == "HEAD" or ctx.op == "Get Blob Properties":
        os.close(fd)
        headers.update({"Content-Length": str(info.size), "Content-MD5": info.props.content_md5,
                        "x-ms-access-tier": "Hot", "x-ms-access-tier-inferred": "true"})
        return response(200, headers=headers)
    if rng is None:
        start, length, status = 0, info.size, 200
        headers["Content-MD5"] = info.props.content_md5
    else:
        start, length, status = rng[0], rng[1] - rng[0] + 1, 206
        headers["Content-Range"] = f"bytes {rng[0]}-{rng[1]}/{info.size}"
        headers["x-ms-blob-content-md5"] = info.props.content_md5
        if (request.headers.get("x-ms-range-get-content-md5") or "").lower() == "true":
            if length > (4 << 20):
                os.close(fd)
                raise StorageError(400, "OutOfRangeInput", "x-ms-range-get-content-md5 needs a range of at most "
                                   "4 MiB.")
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(os.pread(fd, length, start)).digest()).decode()
    headers["Content-Length"] = str(length)
    return streamed(read_stream(fd, start, length), status, headers)


def get_blob_metadata(ctx: Ctx) -> Response:
    info = ctx.plane.blob(ctx.account, ctx.container, ctx.blob)
    check = conditions(read=True)
    if check:
        check(info)
    headers = {"ETag": info.etag, "Last-Modified": http_date(info.st.st_mtime)}
    headers.update({f"x-ms-meta-{k}": v for k, v in info.props.metadata.items()})
    return response(200, headers=headers)


def set_blob_props(ctx: Ctx) -> Response:
    if request.headers.get("x-ms-blob-content-length") is not None or \
            request.headers.get("x-ms-sequence-number-action") is not None:
        raise not_supported("Resizing page blobs (x-ms-blob-content-length)")
    info = ctx.plane.update_blob(ctx.account, ctx.container, ctx.blob, conditions(), content=_content_settings())
    return response(200, headers=write_headers(info))


def set_blob_metadata(ctx: Ctx) -> Response:
    info = ctx.plane.update_blob(ctx.account, ctx.container, ctx.blob, conditions(), metadata=httpio.metadata())
    return response(200, headers=write_headers(info))


def set_blob_tier(ctx: Ctx) -> Response:
    tier = request.headers.get("x-ms-access-tier") or ""
    if tier.strip().lower() != "hot":
        raise not_supported(f"Access tier '{tier}' (Set Blob Tier; every blob here is Hot)")
    ctx.plane.blob(ctx.account, ctx.container, ctx.blob)
    return response(200)


def delete_blob(ctx: Ctx) -> Response:
    if ctx.target.arg("versionid") is not None:
        raise not_supported("Blob versions (versionid=)")
    ctx.plane.delete_blob(ctx.account, ctx.container, ctx.blob, conditions())
    return response(202, headers={"x-ms-delete-type-permanent": "true"})


def copy_blob(ctx: Ctx, source: tuple[str, str, str], url: str) -> Response:
    account, container, name = source
    if account != ctx.account:
        raise not_supported(f"Copy Blob from another account ('{account}' into '{ctx.account}')")
    _tier()
    meta = httpio.metadata()
    info = ctx.plane.copy_blob(ctx.account, container, name, ctx.container, ctx.blob, meta or None, url,
                               conditions(), conditions(prefix="x-ms-source-"))
    headers = write_headers(info)
    headers.update({"x-ms-copy-id": info.props.copy["id"], "x-ms-copy-status": "success"})
    return response(202, headers=headers)


def abort_copy(ctx: Ctx) -> Response:
    ctx.plane.blob(ctx.account, ctx.container, ctx.blob)
    raise StorageError(409, "NoPendingCopyOperation", "There is currently no pending copy operation (copies here "
                       "complete before Copy Blob answers).")
