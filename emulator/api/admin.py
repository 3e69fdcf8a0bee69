"""/_emulator: health, and the download links Jobs_ListOutputFiles hands out."""
from __future__ import annotations

import logging
import os
from email.utils import formatdate

from flask import Blueprint, Response, current_app, json, request

from .. import httprange, safeio
from ..errors import StorageError
from ..version import __version__

bp = Blueprint("emulator_admin", __name__)
log = logging.getLogger("batchai_emulator.events")


@bp.route("/_emulator/health", methods=["GET"])
def health() -> Response:
    """Version, executor, GPUs, and clusters and jobs counted by state."""
    from ..backend import admin
    return Response(json.dumps(admin.health(current_app.extensions["batchai"], __version__)),
                    mimetype="application/json")


@bp.route("/_emulator/reset", methods=["POST"])
def reset() -> Response:
    """Wipe all state, for test suites; refused (403, ARM error) unless the emulator runs with --allow-reset."""
    from flask import json
    from ..backend import admin
    from ..errors import EmulatorError
    ext = current_app.extensions["batchai"]
    if not ext.settings.allow_reset:
        raise EmulatorError(403, "ResetNotAllowed", "POST /_emulator/reset is off: start the emulator with "
                            "--allow-reset (BATCHAI_EMULATOR_ALLOW_RESET=1) to allow it.")
    deleted = admin.reset(ext)
    log.info("reset: %d record(s) deleted, shares, blobs and job directories emptied", deleted)
    return Response(json.dumps({"status": "reset", "deletedRecords": deleted}), mimetype="application/json")


@bp.route("/_emulator/files/<token>/<path:_name>", methods=["GET", "HEAD"])
def download(token: str, _name: str) -> Response:
    """A job output file, like an Azure Files SAS URL: expiring, signed, Range-aware (206 + Content-Range)."""
    ext = current_app.extensions["batchai"]
    payload = ext.signer.verify(token)
    if payload is None:
        raise StorageError(403, "AuthenticationFailed", "The download link is invalid or has expired.")
    # the file lies where a job can write: reached without following links, and served only if regular (safeio)
    try:
        fd = safeio.open_file(ext.settings.data_dir, str(payload["p"]))
    except (OSError, ValueError):
        raise StorageError(404, "ResourceNotFound", "The specified resource does not exist.") from None
    fh = os.fdopen(fd, "rb")
    try:
        resp = _serve(fh)
    except BaseException:
        fh.close()
        raise
    if not resp.is_streamed:
        fh.close()
    return resp


def _serve(fh) -> Response:
    st = os.fstat(fh.fileno())
    size = st.st_size
    headers = {"Accept-Ranges": "bytes", "Last-Modified": _http_date(st.st_mtime),
               "x-ms-type": "File", "Content-Type": "application/octet-stream"}
    rng = request.headers.get("x-ms-range") or request.headers.get("Range")
    start, end, status = 0, size - 1, 200
    if rng:
        asked = httprange.parse(rng, suffix=True)
        if asked is None:
            raise StorageError(400, "InvalidRange", f"The range '{rng}' is not valid.")
        start, end = asked.resolve(size)
        if start >= size:
            if start == size:
                # tailing a file that has not grown: an empty 206 keeps `az batchai job file stream`-style loops simple
                return Response(b"", status=206, headers={**headers, "Content-Range": f"bytes */{size}"})
            raise StorageError(416, "InvalidRange", "The range specified is invalid for the current size of the "
                               "resource.")
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        headers["Content-Length"] = str(end - start + 1)
        return Response(b"", status=status, headers=headers)
    headers["Content-Length"] = str(end - start + 1)
    return Response(_chunks(fh, start, end - start + 1), status=status, headers=headers, direct_passthrough=True)


def _chunks(fh, start: int, length: int):
    """The bytes of [start, start + length) in pieces (an output file may be larger than memory); closes fh."""
    try:
        fh.seek(start)
        while length > 0:
            piece = fh.read(min(length, 1 << 20))
            if not piece:
                break       # the job truncated the file meanwhile: the client sees a short body
            length -= len(piece)
            yield piece
    finally:
        fh.close()


def _http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


