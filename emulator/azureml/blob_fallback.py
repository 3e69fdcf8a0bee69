"""A stand-in for the Blob plane, used only while this checkout has none (no `emulator.blob` package): enough
host-style Blob REST for the SDK's snapshot upload (Put Blob, Get Blob, Get Blob Properties) under a service SAS
of the emulator's own making. The Blob plane replaces it as soon as it is present (register() checks), so
snapshots and artifacts then live in the real plane; nothing else here depends on which one answers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from datetime import datetime, timezone
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote

from flask import Response, current_app, request

from ..errors import StorageError
from .content import SAS_VERSION, STORAGE_SUFFIX, safe_relative


def install(app, storage, data_dir: Path) -> None:
    @app.before_request
    def _blob_host():
        host = (request.host or "").split(":")[0].lower()
        if not host.endswith(f".blob.{STORAGE_SUFFIX}"):
            return None
        return _serve(storage, Path(data_dir), host.split(".", 1)[0])


def _serve(storage, data_dir: Path, account: str) -> Response:
    parts = [unquote(p) for p in request.path.split("/") if p]
    if len(parts) < 2:
        raise StorageError(400, "InvalidUri", "The emulator's stand-in Blob service serves blobs only.")
    container, blob = parts[0], "/".join(parts[1:])
    found = storage.keys(account)
    if found is None:
        raise StorageError(404, "ResourceNotFound", f"The storage account {account} does not exist.")
    _check_sas(found[0], found[1], container, blob)
    path = data_dir / "azureml" / "blobs" / found[0] / container / safe_relative(blob)
    if request.method == "PUT":
        if request.headers.get("x-ms-blob-type", "BlockBlob") != "BlockBlob" or request.args.get("comp"):
            raise StorageError(400, "NotSupportedByEmulator", "The stand-in Blob service takes single-shot block "
                               "blob uploads only.")
        data = request.get_data()
        md5 = request.headers.get("Content-MD5")
        digest = base64.b64encode(hashlib.md5(data).digest()).decode()
        if md5 and md5 != digest:
            raise StorageError(400, "Md5Mismatch", "The MD5 value specified in the request did not match the MD5 "
                               "value calculated by the server.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        resp = Response(b"", status=201)
        resp.headers["Content-MD5"] = digest
        resp.headers["x-ms-request-server-encrypted"] = "true"
        return _common(resp, path)
    if request.method in ("GET", "HEAD"):
        if not path.is_file():
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        data = path.read_bytes()
        resp = Response(b"" if request.method == "HEAD" else data, status=200,
                        mimetype="application/octet-stream")
        resp.headers["Content-Length"] = str(len(data))
        resp.headers["x-ms-blob-type"] = "BlockBlob"
        resp.headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        return _common(resp, path)
    raise StorageError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")


def _common(resp: Response, path: Path) -> Response:
    stat = path.stat()
    resp.headers["ETag"] = f'"0x{stat.st_mtime_ns:X}"'
    resp.headers["Last-Modified"] = formatdate(stat.st_mtime, usegmt=True)
    resp.headers["x-ms-version"] = SAS_VERSION
    resp.headers["x-ms-request-id"] = str(uuid.uuid4())
    return resp


def _check_sas(account: str, keys: list[bytes], container: str, blob: str) -> None:
    q = request.args
    if not q.get("sig"):
        raise StorageError(403, "AuthenticationFailed", "The stand-in Blob service needs a SAS.")
    need = {"PUT": "c", "GET": "r", "HEAD": "r"}.get(request.method, "w")
    if need not in (q.get("sp") or "") and not (need == "c" and "w" in (q.get("sp") or "")):
        raise StorageError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this "
                           "operation using this permission.")
    try:
        expiry = datetime.strptime(q.get("se", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise StorageError(403, "AuthenticationFailed", "The SAS has no valid expiry.") from None
    if expiry < datetime.now(timezone.utc):
        raise StorageError(403, "AuthenticationFailed", "The SAS has expired.")
    to_sign = "\n".join([q.get("sp", ""), q.get("st", ""), q.get("se", ""), f"/blob/{account}/{container}/{blob}",
                         q.get("si", ""), q.get("sip", ""), q.get("spr", ""), q.get("sv", ""), q.get("sr", ""),
                         q.get("sst", ""), q.get("rscc", ""), q.get("rscd", ""), q.get("rsce", ""),
                         q.get("rscl", ""), q.get("rsct", "")])
    for key in keys:
        good = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
        if hmac.compare_digest(good, q["sig"]):
            return
    raise StorageError(403, "AuthenticationFailed", "Signature did not match.")
