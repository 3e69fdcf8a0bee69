"""HTTP of the blob service: `/<account>/<container>/<blob>` on the Blob port, or `/<container>/<blob>` on any port
with `Host: <account>.blob.<suffix>`.

`BlobDoor` (a WSGI middleware around the whole app) marks such requests and sends them to the single internal
route below; everything after that works from the raw request URI (names.py), so a blob name's `//`, trailing `/`
or `%2F` reach the plane as sent. A request is mapped to one operation by (level, verb, comp), authenticated for
that operation (auth.py), then handled by a view of handlers.py.
"""
from __future__ import annotations

import errno
import re
import sqlite3
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request

from ..urls import same_port_base
from ..errors import EmulatorError, StorageError
from ..storage.hosterrors import common_host_error
from ..files.disk import http_date
from ..files.httpio import response
from . import auth, handlers as h
from .auth import Access
from .names import check_container_name, parse_target, raw_request_uri
from .plane import EXTENSION, BlobPlane

bp = Blueprint("azure_blob", __name__)

ROUTE = "/_emulator/blob-plane"     # internal: reached only through BlobDoor
_DOOR = "batchai.blob_door"         # environ key: "path" (Blob port) or the host-style account name
_HOST = re.compile(r"^([a-z0-9]{3,24})\.blob\.", re.IGNORECASE)
_METHODS = ["GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS", "PATCH"]


class BlobDoor:
    """WSGI middleware: requests on the Blob port (`blob_port=True`) and host-style requests on any port go to the
    blob plane; a request for the internal route that came any other way gets a plain 404."""

    def __init__(self, app, blob_port: bool):
        self.app, self.blob_port = app, blob_port

    def __call__(self, environ, start_response):
        if _DOOR not in environ:         # (the WSGI server makes a new environ per request: no client sets it)
            host = (environ.get("HTTP_HOST") or "").split(":")[0]
            m = _HOST.match(host)
            if m:
                environ[_DOOR] = m.group(1).lower()
            elif self.blob_port:
                environ[_DOOR] = "path"
        if _DOOR in environ:
            environ["PATH_INFO"] = ROUTE
        return self.app(environ, start_response)


R, W, D, L, C, A = "r", "w", "d", "l", "c", "a"
# (level, verb, comp) -> (operation, access, handler). HEAD is served by the GET operation.
OPERATIONS = {
    ("service", "GET", "list"): ("List Containers", Access("service", L), h.list_containers),
    ("service", "GET", "properties"): ("Get Blob Service Properties", Access("service", R), h.get_service_props),
    ("service", "PUT", "properties"): ("Set Blob Service Properties", Access("service", W), h.set_service_props),
    ("account", "GET", "properties"): ("Get Account Information", Access("service", R, R, True), h.account_info),
    ("container", "PUT", None): ("Create Container", Access("container", C + W), h.create_container),
    ("container", "GET", None): ("Get Container Properties", Access("container", R, R, False, "container"),
                                 h.get_container_props),
    ("container", "DELETE", None): ("Delete Container", Access("container", D), h.delete_container),
    ("container", "PUT", "metadata"): ("Set Container Metadata", Access("container", W), h.set_container_metadata),
    ("container", "GET", "metadata"): ("Get Container Metadata", Access("container", R, R, False, "container"),
                                       h.get_container_props),
    ("container", "GET", "acl"): ("Get Container ACL", Access("container", R), h.get_container_acl),
    ("container", "PUT", "acl"): ("Set Container ACL", Access("container", W), h.set_container_acl),
    ("container", "GET", "list"): ("List Blobs", Access("container", L, L, False, "container"), h.list_blobs),
    ("blob", "PUT", None): ("Put Blob", Access("object", C + W, C + W, True), h.put_blob),
    ("blob", "GET", None): ("Get Blob", Access("object", R, R, True, "blob"), h.get_blob),
    ("blob", "HEAD", None): ("Get Blob Properties", Access("object", R, R, True, "blob"), h.get_blob),
    ("blob", "DELETE", None): ("Delete Blob", Access("object", D, D, True), h.delete_blob),
    ("blob", "PUT", "block"): ("Put Block", Access("object", W, W, True), h.put_block),
    ("blob", "PUT", "blocklist"): ("Put Block List", Access("object", W, W, True), h.put_block_list),
    ("blob", "GET", "blocklist"): ("Get Block List", Access("object", R, R, True), h.get_block_list),
    ("blob", "PUT", "properties"): ("Set Blob Properties", Access("object", W, W, True), h.set_blob_props),
    ("blob", "PUT", "metadata"): ("Set Blob Metadata", Access("object", W, W, True), h.set_blob_metadata),
    ("blob", "GET", "metadata"): ("Get Blob Metadata", Access("object", R, R, True, "blob"), h.get_blob_metadata),
    ("blob", "PUT", "tier"): ("Set Blob Tier", Access("object", W, W, True), h.set_blob_tier),
    ("blob", "PUT", "copy"): ("Abort Copy Blob", Access("object", W, W, True), h.abort_copy),
}
_COPY = ("Copy Blob", Access("object", W, W, True), None)

_UNSUPPORTED = {
    "appendblock": "Append blobs (Append Block)", "seal": "Append blobs (Seal)", "page": "Page blobs (Put Page)",
    "pagelist": "Page blobs (Get Page Ranges)", "incrementalcopy": "Page blobs (Incremental Copy)",
    "snapshot": "Blob snapshots (Snapshot Blob)", "lease": "Leases", "undelete": "Soft delete (Undelete)",
    "tags": "Blob index tags", "blobs": "Find Blobs by Tags", "query": "Query Blob Contents",
    "expiry": "Blob expiry (Set Blob Expiry)", "immutabilitypolicies": "Immutability policies",
    "legalhold": "Legal holds", "batch": "Blob batches", "userdelegationkey": "User delegation keys (Azure AD)",
    "stats": "Geo-replication statistics (Get Blob Service Stats)", "rename": "Renaming containers",
}


def not_supported(what: str) -> StorageError:
    return h.not_supported(what)


def _level(target) -> str:
    restype = (target.arg("restype") or "").lower() or None
    if restype == "account":
        return "account"
    if target.container is None:
        if restype not in (None, "service"):
            raise StorageError(400, "InvalidQueryParameterValue", f"restype={restype} is not valid on the account's "
                               "service endpoint.", {"QueryParameterName": "restype", "QueryParameterValue": restype})
        return "service"
    check_container_name(target.container)
    if target.blob is None:
        if restype == "container":
            return "container"
        raise StorageError(400, "InvalidUri", "The request URI names a container but not a blob: add "
                           "restype=container for container operations.")
    if restype is not None:
        raise StorageError(400, "InvalidQueryParameterValue", f"restype={restype} is not valid for a blob.",
                           {"QueryParameterName": "restype", "QueryParameterValue": restype})
    return "blob"


def _operation(target, method: str):
    level = _level(target)
    comp = (target.arg("comp") or "").lower() or None
    if level == "blob" and method == "PUT" and comp is None and request.headers.get("x-ms-copy-source"):
        if request.headers.get("x-ms-blob-type"):
            raise not_supported("Put Blob From URL")
        return _COPY
    if level == "blob" and (target.arg("snapshot") is not None or target.arg("versionid") is not None):
        raise not_supported("Blob snapshots and versions (snapshot=, versionid=)")
    found = OPERATIONS.get((level, method, comp)) or (
        OPERATIONS.get((level, "GET", comp)) if method == "HEAD" else None)
    if found is not None:
        return found
    if comp in _UNSUPPORTED:
        raise not_supported(_UNSUPPORTED[comp])
    if method not in ("GET", "HEAD", "PUT", "DELETE"):
        raise StorageError(405, "UnsupportedHttpVerb", f"The resource doesn't support the specified HTTP verb "
                           f"{method}.")
    what = f"comp={comp}" if comp else "no comp parameter"
    raise StorageError(400, "InvalidQueryParameterValue", f"{method} with {what} is not an operation of a {level} "
                       "in the blob service.", {"QueryParameterName": "comp", "QueryParameterValue": comp or ""})


def _copy_source(url: str, door: str) -> tuple[str, str, str]:
    """(account, container, blob) named by an x-ms-copy-source URL of this emulator (path or host style)."""
    parts = urlsplit(url)
    m = _HOST.match(parts.hostname or "")
    try:
        target = parse_target(parts.path or "/", m.group(1).lower() if m else None)
    except StorageError:
        target = None
    if target is None or target.container is None or target.blob is None:
        raise StorageError(400, "InvalidHeaderValue", f"x-ms-copy-source '{url}' does not name a blob.",
                           {"HeaderName": "x-ms-copy-source", "HeaderValue": url})
    return target.account, target.container, target.blob


def _host_error(exc: OSError, op: str) -> Exception:
    common = common_host_error(exc, op, "name")
    if common is not None:
        return common
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        # the container (or the blob's directory) went away while the request was being served
        return StorageError(404, "ResourceNotFound", "The specified resource does not exist (it was deleted while "
                            "this request was served).")
    return exc


@bp.route(ROUTE, methods=_METHODS)
def blob_service():
    door = request.environ.get(_DOOR)
    if door is None:
        raise StorageError(404, "ResourceNotFound", "The specified resource does not exist.")
    blobs: BlobPlane = current_app.extensions[EXTENSION]
    raw_uri = raw_request_uri(request.environ)
    target = parse_target(raw_uri, None if door == "path" else door)
    served = blobs.account(target.account)
    if served is None:
        raise StorageError(400, "InvalidResourceName" if target.account else "InvalidUri",
                           f"The account '{target.account}' is not served by this emulator."
                           if target.account else "The request URI names no storage account.")
    name, keys = served
    op_name, access, handler = _operation(target, request.method)
    public, policies = (blobs.public_access(name, target.container) if target.container else (None, []))
    principal = auth.authenticate(request.environ, target, name, keys, access, datetime.now(timezone.utc),
                                  request.scheme, request.remote_addr or "", lambda: policies, public)
    if request.headers.get("x-ms-lease-id") is not None:
        raise not_supported("Leases (x-ms-lease-id)")
    if request.headers.get("x-ms-encryption-key") or request.headers.get("x-ms-encryption-scope"):
        raise not_supported("Customer-provided keys and encryption scopes")
    if request.headers.get("x-ms-tags") is not None:
        raise not_supported("Blob index tags (x-ms-tags)")
    if request.headers.get("x-ms-immutability-policy-mode") or request.headers.get("x-ms-legal-hold"):
        raise not_supported("Immutability policies and legal holds")
    endpoint = _endpoint(door, name)
    ctx = h.Ctx(plane=blobs, account=name, target=target, principal=principal, op=op_name, endpoint=endpoint)
    try:
        if handler is None:
            url = request.headers["x-ms-copy-source"]
            resp = h.copy_blob(ctx, _copy_source(url, door), url)
        else:
            resp = handler(ctx)
    except StorageError as exc:
        if exc.status != 304:
            raise
        resp = response(304)
    except EmulatorError as exc:
        raise StorageError(exc.status, exc.code, exc.message) from exc
    except OSError as exc:
        mapped = _host_error(exc, op_name)
        if mapped is exc:
            raise
        raise mapped from exc
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            raise
        raise _host_error(OSError(errno.ENOSPC, exc.args[0]), op_name) from exc
    resp.headers["x-ms-version"] = principal.version or h.DEFAULT_VERSION
    resp.headers.setdefault("Date", http_date(datetime.now(timezone.utc).timestamp()))
    return resp


def _endpoint(door: str, account: str) -> str:
    if door == "path":
        return same_port_base() + "/" + account + "/"
    return request.host_url  # <account>.blob.<suffix>: the name is the account's, checked by the door


def blob_port_app(app):
    """The WSGI callable of the Blob port: every request on it is a blob request."""
    return BlobDoor(app, blob_port=True)
