"""The views of the file service's newer operations (OAuth user delegation keys, leases, permissions, rename,
copy, put range from URL): read the request (httpio.py), call the plane, render the answer."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone

from flask import Response, current_app, request

from ..errors import StorageError
from . import copying, httpio, nfs_headers, render
from .auth import delegation_key_value, parse_sas_time
from .context import DEFAULT_VERSION, Ctx
from .httpio import MAX_RANGE, response
from .meta import EntryProps
from .names import parse_url


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


def create_permission(ctx: Ctx) -> Response:
    ctx.files.share(ctx.account, ctx.share)
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
        permission = body["permission"]
        fmt = str(body.get("format") or "sddl").lower()
        if not isinstance(permission, str) or not permission or fmt not in ("sddl", "binary"):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise StorageError(400, "InvalidInput", 'Create Permission needs a JSON body {"permission": "<SDDL or '
                           'base64>", "format": "sddl" | "binary"}.') from None
    httpio.check_permission_value(permission, fmt)
    key = ctx.files.store_permission(ctx.account, ctx.share, permission, fmt)
    return response(201, headers={"x-ms-file-permission-key": key})


def get_permission(ctx: Ctx) -> Response:
    ctx.files.share(ctx.account, ctx.share)
    key = request.headers.get("x-ms-file-permission-key")
    if not key:
        raise StorageError(400, "MissingRequiredHeader", "Get Permission needs x-ms-file-permission-key.",
                           {"HeaderName": "x-ms-file-permission-key"})
    fmt = (request.headers.get("x-ms-file-permission-format") or "sddl").strip().lower()
    if fmt not in ("sddl", "binary"):
        raise StorageError(400, "InvalidHeaderValue", "x-ms-file-permission-format is sddl or binary.",
                           {"HeaderName": "x-ms-file-permission-format", "HeaderValue": fmt})
    permission = ctx.files.permission(ctx.account, ctx.share, key, fmt)
    if permission is None:
        raise StorageError(404, "ResourceNotFound", "No permission is stored under this key.")
    body = json.dumps({"permission": permission, "format": "Sddl" if fmt == "sddl" else "Binary"}).encode()
    return response(200, body, {"Content-Type": "application/json"})


def rename(ctx: Ctx) -> Response:
    """Rename File / Rename Directory: the request names the destination, x-ms-file-rename-source the source
    (a URL of the same share, possibly with a SAS)."""
    source = request.headers.get("x-ms-file-rename-source")
    if not source:
        raise StorageError(400, "MissingRequiredHeader", "Rename needs x-ms-file-rename-source.",
                           {"HeaderName": "x-ms-file-rename-source"})
    src = parse_url(source)
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


def _copy_source(ctx: Ctx, same_account: bool = True):
    return copying.resolve_source(
        ctx.files, ctx.account, ctx.principal, request.headers.get("x-ms-copy-source") or "",
        request.headers.get("x-ms-copy-source-authorization"),
        (request.headers.get("x-ms-source-allow-trailing-dot") or "").lower() == "true",
        request.remote_addr or "", request.host,
        current_app.extensions["batchai"].signer.verify_jwt, same_account)


def _nfs_copy_modes() -> tuple[str | None, str | None, dict[str, str | None]]:
    """(mode copy mode, owner copy mode, the request's owner / group / mode) of a Copy File to an NFS share."""
    modes = []
    for name in ("x-ms-file-mode-copy-mode", "x-ms-file-owner-copy-mode"):
        raw = request.headers.get(name)
        if raw is not None and raw.strip().lower() not in ("source", "override"):
            raise httpio.invalid_header(name, raw, "expected source or override")
        modes.append(raw.strip().lower() if raw is not None else None)
    values = nfs_headers.node_request()
    if modes[0] == "override" and values["mode"] is None:
        raise StorageError(400, "MissingRequiredHeader", "x-ms-file-mode-copy-mode: override needs x-ms-mode.",
                           {"HeaderName": "x-ms-mode"})
    if modes[1] == "override" and (values["owner"] is None or values["group"] is None):
        raise StorageError(400, "MissingRequiredHeader", "x-ms-file-owner-copy-mode: override needs x-ms-owner "
                           "and x-ms-group.", {"HeaderName": "x-ms-owner"})
    return modes[0], modes[1], values


def copy_file(ctx: Ctx) -> Response:
    is_nfs = ctx.files.is_nfs(ctx.account, ctx.target.share or "")
    nfs_headers.check_protocol_headers(is_nfs)
    mode_copy, owner_copy, nfs_values = _nfs_copy_modes() if is_nfs else (None, None, {})
    source = _copy_source(ctx)
    metadata = httpio.metadata()
    raw_attrs = (request.headers.get("x-ms-file-attributes") or "").strip().lower()

    def source_or(header: str, own):
        return None if (request.headers.get(header) or "").strip().lower() == "source" else own

    created = source_or("x-ms-file-creation-time", True)
    written = source_or("x-ms-file-last-write-time", True)
    changed = source_or("x-ms-file-change-time", True)
    attrs = None if raw_attrs == "source" else httpio.attributes()
    times = {"created": httpio.time_header("x-ms-file-creation-time") if created else None,
             "written": httpio.time_header("x-ms-file-last-write-time") if written else None,
             "changed": httpio.time_header("x-ms-file-change-time") if changed else None,
             "ignore_readonly": httpio.bool_header("x-ms-file-copy-ignore-readonly")}
    if (request.headers.get("x-ms-file-permission-copy-mode") or "").lower() == "override":
        times["permission"] = httpio.check_permission()
        times["permission_key"] = request.headers.get("x-ms-file-permission-key")

    def build(src_node):
        props = EntryProps(**{k: getattr(src_node.props, k) for k in ("content_type", "content_encoding",
                                                                       "content_language", "content_disposition",
                                                                       "cache_control", "content_md5",
                                                                       "permission_key")})
        props.metadata = metadata or dict(src_node.props.metadata)
        props.attributes = attrs if attrs is not None else (src_node.props.attributes if raw_attrs == "source"
                                                             else None)
        if (request.headers.get("x-ms-file-copy-set-archive") or "").lower() == "true":
            props.attributes = "|".join(filter(None, [props.attributes, "Archive"]))
        out = dict(times)
        for key, own, value in (("created", created, src_node.created), ("written", written, src_node.written),
                                ("changed", changed, src_node.changed)):
            if not own:
                out[key] = value
        if is_nfs:
            # without a copy mode the copy gets the defaults (or what the request names), as a new file does
            chosen = dict(nfs_values)
            if mode_copy == "source":
                chosen["mode"] = src_node.props.mode
            if owner_copy == "source":
                chosen["owner"], chosen["group"] = src_node.props.owner, src_node.props.group
            out["nfs"] = chosen
        return props, out
    node = ctx.files.copy_file(source, ctx.account, ctx.share, ctx.parts, build,
                               request.headers.get("x-ms-copy-source") or "")
    return response(202, headers=httpio.write_headers(node) | {"x-ms-copy-id": node.props.copy["id"],
                                                               "x-ms-copy-status": node.props.copy["status"]})


def abort_copy(ctx: Ctx) -> Response:
    if (request.headers.get("x-ms-copy-action") or "").strip().lower() != "abort":
        raise StorageError(400, "InvalidHeaderValue", "Abort Copy File needs x-ms-copy-action: abort.",
                           {"HeaderName": "x-ms-copy-action"})
    copy_id = ctx.target.arg("copyid")
    if not copy_id:
        raise StorageError(400, "MissingRequiredQueryParameter", "Abort Copy File needs copyid.",
                           {"QueryParameterName": "copyid"})
    ctx.files.abort_copy(ctx.account, ctx.share, ctx.parts, copy_id)
    return response(204)


def put_range_from_url(ctx: Ctx) -> Response:
    if (request.headers.get("x-ms-write") or "").lower() != "update":
        raise StorageError(400, "InvalidHeaderValue", "Put Range From URL needs x-ms-write: update.",
                           {"HeaderName": "x-ms-write"})
    start, end = httpio.byte_range(required=True)
    raw = request.headers.get("x-ms-source-range")
    m = re.match(r"^bytes=(\d+)-(\d+)$", (raw or "").strip())
    if end is None or not m or int(m.group(2)) < int(m.group(1)):
        raise StorageError(400, "InvalidHeaderValue", "Put Range From URL needs x-ms-range and x-ms-source-range "
                           "as bytes=start-end.", {"HeaderName": "x-ms-source-range"})
    length = end - start + 1
    if length != int(m.group(2)) - int(m.group(1)) + 1 or length > MAX_RANGE:
        raise StorageError(400, "InvalidHeaderValue", "The source and destination ranges must have the same "
                           "length, at most 4 MiB.", {"HeaderName": "x-ms-source-range"})
    ctx.files.copies.check_not_pending(ctx.account, ctx.share, ctx.parts)
    blob = _blob_source()
    if blob is not None:
        data = _read_blob(*blob, int(m.group(1)), length)
    else:
        s_account, s_share, s_parts = _copy_source(ctx, same_account=False)
        data = ctx.files.read_range(s_account, s_share, s_parts, int(m.group(1)), length)
    node = ctx.files.write_range(ctx.account, ctx.share, ctx.parts, start, length, httpio.buffer_filler(
        memoryview(data)), httpio.preserve_write_time())
    return response(201, headers=httpio.write_headers(node))


def _blob_source():
    """(blob plane, account, container, blob) when x-ms-copy-source names a blob of this emulator, else None."""
    blobs = current_app.extensions.get("azure_blob")
    if blobs is None:
        return None
    ext = current_app.extensions["batchai"]
    found = copying.blob_source(blobs, request.headers.get("x-ms-copy-source") or "",
                                request.headers.get("x-ms-copy-source-authorization"), request.remote_addr or "",
                                ext.bound_blob_port, ext.signer.verify_jwt)
    return (blobs, *found) if found else None


def _read_blob(blobs, account: str, container: str, name: str, offset: int, length: int) -> bytes:
    fd, info = blobs.open_blob(account, container, name)
    try:
        if offset + length > info.size:
            raise StorageError(416, "InvalidRange", "The source range is not inside the source blob.")
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)
