"""HTTP of the file service: path-style `/<account>/<share>/<path...>` on the emulator's ports, and host style
(`Host: <account>.file.<suffix>`, path `/<share>/<path...>`) on any of them, as the HTTPS proxy
(azureml/proxy.py) brings `https://<account>.file.core.windows.net` here.

Only a first segment (or host name) that names a served account reaches this plane; anything else is a plain 404
of the emulator. A request is parsed from its raw URI (names.py), mapped to one operation by (resource level, verb,
comp) in OPERATIONS, authenticated for that operation (auth.py), then handled by a view of handlers.py.
"""
from __future__ import annotations

import errno
import sqlite3
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound

from ..errors import StorageError
from ..storage.hosterrors import common_host_error
from . import auth, checksums, handlers as h, handlers_nfs as hn, httpio, snapshots
from .auth import Access
from .context import DEFAULT_VERSION, Ctx
from .names import host_account, parse_target, raw_request_uri
from .plane import EXTENSION, FilePlane

bp = Blueprint("azure_files", __name__)

ROUTE = "/_emulator/file-plane"       # internal: reached only through FilesDoor (host style)
_DOOR = "batchai.files_door"          # environ key: the account of a host-style request


class FilesDoor:
    """WSGI middleware: a request whose Host is `<account>.file.<suffix>` goes to the file plane (host style),
    whatever its path; the Blob port's requests stay the Blob plane's."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        # (the WSGI server makes a new environ per request: no client sets these keys)
        if "batchai.blob_door" not in environ:
            account = host_account((environ.get("HTTP_HOST") or "").split(":")[0])
            if account:
                environ[_DOOR] = account
                environ["PATH_INFO"] = ROUTE
        return self.app(environ, start_response)

_METHODS = ["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"]

# (level, verb, comp) -> (operation name, access, handler). HEAD is served by the GET operation.
# level: service | share (restype=share) | directory (restype=directory, the share root included) | file
OPERATIONS = {
    ("service", "GET", "list"): ("List Shares", Access("service", "l"), h.list_shares),
    ("service", "GET", "properties"): ("Get File Service Properties", Access("service", "r"), h.get_service_props),
    ("service", "PUT", "properties"): ("Set File Service Properties", Access("service", "w"), h.set_service_props),
    ("service", "POST", "userdelegationkey"): ("Get User Delegation Key", Access("service", ""),
                                              h.get_user_delegation_key),
    ("share", "PUT", None): ("Create Share", Access("container", "cw"), h.create_share),
    ("share", "GET", None): ("Get Share Properties", Access("container", "r", "r"), h.get_share_props),
    ("share", "DELETE", None): ("Delete Share", Access("container", "d"), h.delete_share),
    ("share", "PUT", "metadata"): ("Set Share Metadata", Access("container", "w"), h.set_share_metadata),
    ("share", "GET", "metadata"): ("Get Share Metadata", Access("container", "r", "r"), h.get_share_props),
    ("share", "PUT", "properties"): ("Set Share Properties", Access("container", "w"), h.set_share_props),
    ("share", "GET", "stats"): ("Get Share Stats", Access("container", "r", "r"), h.get_share_stats),
    ("share", "GET", "acl"): ("Get Share ACL", Access("container", "r", "r"), h.get_share_acl),
    ("share", "PUT", "acl"): ("Set Share ACL", Access("container", "w"), h.set_share_acl),
    ("share", "PUT", "lease"): ("Lease Share", Access("container", "w", "w"), h.lease_share),
    ("share", "PUT", "snapshot"): ("Snapshot Share", Access("container", "w"), h.snapshot_share),
    ("share", "PUT", "filepermission"): ("Create Permission", Access("container", "w", "w"), h.create_permission),
    ("share", "GET", "filepermission"): ("Get Permission", Access("container", "r", "r"), h.get_permission),
    ("directory", "PUT", None): ("Create Directory", Access("object", "cw", "cw"), h.create_directory),
    ("directory", "GET", None): ("Get Directory Properties", Access("object", "r", "r"), h.get_directory_props),
    ("directory", "DELETE", None): ("Delete Directory", Access("object", "d", "d"), h.delete_directory),
    ("directory", "PUT", "metadata"): ("Set Directory Metadata", Access("object", "w", "w"), h.set_directory_metadata),
    ("directory", "GET", "metadata"): ("Get Directory Metadata", Access("object", "r", "r"), h.get_directory_props),
    ("directory", "PUT", "properties"): ("Set Directory Properties", Access("object", "w", "w"),
                                         h.set_directory_props),
    ("directory", "GET", "list"): ("List Directories and Files", Access("container", "l", "l"), h.list_directory),
    ("directory", "GET", "listhandles"): ("List Handles", Access("object", "l", "l"), h.list_handles),
    ("directory", "PUT", "forceclosehandles"): ("Force Close Handles", Access("object", "w", "w"),
                                                h.force_close_handles),
    ("file", "PUT", None): ("Create File", Access("object", "cw", "cw", True), h.create_file),
    ("file", "GET", None): ("Get File", Access("object", "r", "r", True), h.get_file),
    ("file", "DELETE", None): ("Delete File", Access("object", "d", "d", True), h.delete_file),
    ("file", "PUT", "range"): ("Put Range", Access("object", "w", "w", True), h.put_range),
    ("file", "GET", "rangelist"): ("List Ranges", Access("object", "r", "r", True), h.list_ranges),
    ("file", "PUT", "lease"): ("Lease File", Access("object", "w", "w", True), h.lease_file),
    ("file", "PUT", "rename"): ("Rename File", Access("object", "w", "w", True), h.rename),
    ("file", "PUT", "copy-source"): ("Copy File", Access("object", "cw", "cw", True), h.copy_file),
    ("file", "PUT", "copy"): ("Abort Copy File", Access("object", "w", "w", True), h.abort_copy),
    ("file", "PUT", "range+copy-source"): ("Put Range From URL", Access("object", "w", "w", True),
                                           h.put_range_from_url),
    ("directory", "PUT", "rename"): ("Rename Directory", Access("object", "w", "w"), h.rename),
    ("file", "PUT", "properties"): ("Set File Properties", Access("object", "w", "w", True), h.set_file_props),
    ("file", "PUT", "metadata"): ("Set File Metadata", Access("object", "w", "w", True), h.set_file_metadata),
    ("file", "GET", "metadata"): ("Get File Metadata", Access("object", "r", "r", True), h.get_file_metadata),
    ("file", "GET", "listhandles"): ("List Handles", Access("object", "l", "l", True), h.list_handles),
    ("file", "PUT", "forceclosehandles"): ("Force Close Handles", Access("object", "w", "w", True),
                                           h.force_close_handles),
}

# NFS shares' link operations: addressed as a file with restype=hardlink / restype=symboliclink
LINK_OPERATIONS = {
    ("PUT", "hardlink"): ("Create Hard Link", Access("object", "cw", "cw", True), hn.create_hard_link),
    ("PUT", "symboliclink"): ("Create Symbolic Link", Access("object", "cw", "cw", True), hn.create_symbolic_link),
    ("GET", "symboliclink"): ("Get Symbolic Link", Access("object", "r", "r", True), hn.get_symbolic_link),
}

# the operations that act on a request body; every other one refuses a body (it would be silently dropped)
_TAKES_BODY = {h.set_service_props, h.set_share_acl, h.put_range, h.create_file, h.get_user_delegation_key,
               h.create_permission}

# operations of the REST API the emulator knows by name but does not implement
_UNSUPPORTED = {
    ("share", "PUT", "undelete"): "Restore Share",
    ("service", "GET", "stats"): "Get File Service Stats",
}


def not_supported(what: str) -> StorageError:
    return StorageError(400, "NotSupportedByEmulator",
                        f"{what} is not supported by the Batch AI emulator's file service.")


def _host_error(exc: OSError, op_name: str) -> StorageError:
    """A file-system error on the emulator's host as a Storage error, never a 5xx (clients retry those for a
    minute, and a job can provoke these at will): it is about this machine's disk, and the message says so."""
    common = common_host_error(exc, op_name, "path")
    if common is not None:
        return common
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.EFBIG:
        return StorageError(413, "InsufficientStorage", f"{op_name} failed: the host file system cannot hold a "
                            f"file that large{where}.")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENXIO):
        return StorageError(404, "ResourceNotFound", "The specified resource does not exist.")
    if exc.errno in (errno.ELOOP, errno.EXDEV):
        return StorageError(400, "InvalidResourceName", "The path goes through a symbolic link; the emulator never "
                            "follows links in a share.")
    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.EBUSY, errno.ETXTBSY):
        return StorageError(409, "ResourceAlreadyExists" if exc.errno == errno.EEXIST else "SharingViolation",
                            f"{op_name} failed on the emulator's host{where}: {exc.strerror}.")
    # anything else (EIO, EINVAL...): a job changed the share under the request or the host disk failed
    return StorageError(409, "OperationFailedOnHost", f"{op_name} failed on the emulator's host{where}: "
                        f"{exc.strerror or exc}.")


def _level(target) -> str:
    restype = target.arg("restype")
    if restype in ("hardlink", "symboliclink") and target.share is not None and target.parts:
        return "link"
    if target.share is None:
        if restype not in (None, "service"):
            raise StorageError(400, "InvalidQueryParameterValue",
                               f"restype={restype} is not valid on the account's service endpoint.",
                               {"QueryParameterName": "restype", "QueryParameterValue": restype})
        return "service"
    if restype == "directory":
        return "directory"
    if not target.parts:
        if restype == "share":
            return "share"
        if restype is None and target.arg("comp") in ("listhandles", "forceclosehandles"):
            return "directory"           # handles of the whole share: its root directory
        if restype is None:
            raise StorageError(400, "InvalidUri", "The request URI names a share but not a file: add "
                               "restype=share for share operations or restype=directory for its root directory.")
    elif restype is None:
        return "file"
    raise StorageError(400, "InvalidQueryParameterValue", f"restype={restype} is not valid for this resource.",
                       {"QueryParameterName": "restype", "QueryParameterValue": restype})


def _operation(target, method: str):
    level = _level(target)
    verb = "GET" if method == "HEAD" else method
    comp = target.arg("comp")
    if level == "link":
        found = LINK_OPERATIONS.get((verb, target.arg("restype"))) if comp is None else None
        if found is None:
            raise StorageError(400, "InvalidQueryParameterValue", f"{method} is not an operation of "
                               f"restype={target.arg('restype')}.", {"QueryParameterName": "restype",
                                                                    "QueryParameterValue": target.arg("restype")})
        return found
    if level == "file" and verb == "PUT" and request.headers.get("x-ms-copy-source") is not None:
        comp = "range+copy-source" if comp == "range" else ("copy-source" if comp is None else comp)
    found = OPERATIONS.get((level, verb, comp))
    if found is None:
        name = _UNSUPPORTED.get((level, verb, comp))
        if name:
            raise not_supported(f"The operation {name}")
        if verb not in ("GET", "PUT", "DELETE"):
            raise StorageError(405, "UnsupportedHttpVerb",
                               f"The resource doesn't support the specified HTTP verb {method}.")
        what = f"comp={comp}" if comp else "no comp parameter"
        raise StorageError(400, "InvalidQueryParameterValue",
                           f"{method} with {what} is not an operation of a {level} in the file service.",
                           {"QueryParameterName": "comp", "QueryParameterValue": comp or ""})
    return found


@bp.route("/<account>", methods=_METHODS)
@bp.route("/<account>/", methods=_METHODS)
@bp.route("/<account>/<path:_rest>", methods=_METHODS)
def file_service(account: str, _rest: str = ""):
    return _serve(None)


@bp.route(ROUTE, methods=_METHODS)
def host_style_service():
    host_style = request.environ.get(_DOOR)
    if host_style is None:
        raise NotFound(f"No route and no storage account match '{request.path}'.")
    return _serve(host_style)


def _serve(host_style: str | None):
    """One request of the file service; `host_style`: the account its Host names (None: path style)."""
    files: FilePlane = current_app.extensions[EXTENSION]
    environ = request.environ
    raw_uri = raw_request_uri(environ)
    first = raw_uri.partition("?")[0].split("/")[1] if raw_uri.startswith("/") else ""
    served = files.account(host_style if host_style is not None else unquote(first))
    if served is None:
        raise NotFound(f"No route and no storage account match '{request.path}'.")
    name, keys = served
    target = parse_target(raw_uri, host_style)
    if target.parts and (request.headers.get("x-ms-allow-trailing-dot") or "").strip().lower() != "true":
        # without x-ms-allow-trailing-dot the service drops trailing dots from names, as Windows does
        target.parts = [p.rstrip(".") for p in target.parts]
        if not all(target.parts):
            raise StorageError(400, "InvalidResourceName", "A name made only of dots is not valid.")
    op_name, access, handler = _operation(target, request.method)
    signer = current_app.extensions["batchai"].signer
    principal = auth.authenticate(environ, target, name, keys, access, datetime.now(timezone.utc),
                                  request.scheme, request.remote_addr or "", verify_token=signer.verify_jwt,
                                  derive=lambda text: signer.sign({"user-delegation-key": text}).encode(),
                                  policy=lambda share, sid: files.policy(name, share, sid))
    if principal.scheme == "Bearer" and target.share is not None and target.parts \
            or principal.scheme == "Bearer" and target.arg("restype") == "directory":
        intent = (request.headers.get("x-ms-file-request-intent") or "").strip().lower()
        if intent != "backup":
            # the service lets OAuth reach files and directories only with the backup intent
            raise StorageError(400 if not intent else 403, "MissingRequiredHeader" if not intent
                               else "AuthorizationFailure", "OAuth requests on files and directories need "
                               "x-ms-file-request-intent: backup.", {"HeaderName": "x-ms-file-request-intent"})
    structured = request.headers.get("x-ms-structured-body")
    if structured is not None and (structured.strip() != checksums.SM_V1_CRC64
                                   or handler not in (h.put_range, h.create_file, h.get_file)):
        raise not_supported(f"Structured message bodies ({structured!r}) on {op_name}")
    if handler not in _TAKES_BODY:
        length = httpio.body_length()
        if length:
            # a body the emulator would not store must never be answered with success (it would be lost)
            raise StorageError(400, "InvalidInput", f"{op_name} takes no request body, and the emulator acts on "
                               f"none; {length} bytes were sent. Nothing was changed.")
    snapshot = target.arg("sharesnapshot")
    if snapshot is not None:
        snapshot = snapshots.check_id(snapshot)
        # (a share snapshot can be leased, like the share: a leased snapshot cannot be deleted)
        if request.method not in ("GET", "HEAD") and handler not in (h.delete_share, h.lease_share):
            raise StorageError(400, "ShareSnapshotOperationNotSupported", f"{op_name} is not allowed on a share "
                               "snapshot: snapshots are read-only.")
    level = _level(target)
    if handler not in (h.lease_file, h.lease_share, h.rename) and level in ("file", "share", "link") \
            and (snapshot is None or level == "share"):
        verb = request.method
        files.check_lease(name, target.share + (f"@{snapshot}" if snapshot else ""),
                          target.parts if level != "share" else [],
                          verb == "DELETE" or (level == "file" and verb == "PUT"),
                          request.headers.get("x-ms-lease-id"))
    ctx = Ctx(files=files, account=name, target=target, principal=principal, op=op_name, snapshot=snapshot,
              base=request.host_url if host_style is not None else None)
    try:
        resp = handler(ctx)
    except StorageError as err:
        if not getattr(err, "headers", None):
            raise
        # errors that carry headers of their own (the copy source's status): rendered here
        request_id = str(uuid.uuid4())
        resp = Response(err.xml(request_id), status=err.status, mimetype="application/xml")
        resp.headers.update({"x-ms-error-code": err.code, "x-ms-request-id": request_id, **err.headers})
        return resp
    except OSError as exc:
        raise _host_error(exc, op_name) from exc
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            raise
        # no room for the properties row (emulator.db, same disk as the bytes): the same answer as for the bytes
        raise _host_error(OSError(errno.ENOSPC, exc.args[0]), op_name) from exc
    resp.headers["x-ms-version"] = principal.version or DEFAULT_VERSION
    return resp
