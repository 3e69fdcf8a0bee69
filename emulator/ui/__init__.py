"""The dashboard: server-rendered pages of what the emulator holds, at / and /_emulator/ui.

Reads only (store, scheduler, data dir through safeio). Pages are readable without JavaScript; static/ui.js makes
them live (re-reads the page's live parts, and tails logs with ranged reads of the same signed, expiring download
links Jobs_ListOutputFiles hands out). Everything from jobs is escaped by Jinja's autoescape; a strict
Content-Security-Policy allows only this origin's script and style (nothing inline, no network fetch elsewhere).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, json, render_template, request

from ..version import __version__
from . import state

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/_emulator/ui/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"    # page URLs never leak to download links' hosts
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _ext():
    return current_app.extensions["batchai"]


def _runs() -> list[dict]:
    from ..azureml.runs import list_runs
    return list_runs(_ext().store)


@bp.route("/", methods=["GET"])
@bp.route("/_emulator/ui", methods=["GET"])
def overview():
    ext = _ext()
    return render_template("overview.html", clusters=state.clusters(ext.store),
                           jobs=state.jobs(ext.store, ext.scheduler), storage=state.storage(ext.settings, ext.store),
                           runs=_runs(), kinds=state.STORAGE_KINDS, version=__version__,
                           executor=ext.scheduler.executor.describe() if ext.scheduler.executor else "none")


def _job_record():
    rid = request.args.get("id", "")
    rec = _ext().store.get(rid) if rid else None
    if rec is None or rec.kind != "job":
        abort(404)
    return rec


def _job_and_files():
    """The ?id= job's dashboard row and its output files."""
    ext = _ext()
    rec = _job_record()
    row = next((r for r in state.jobs(ext.store, ext.scheduler) if r.id == rec.id), None)
    return row, state.output_files(ext.settings, ext.signer, ext.store, rec)


@bp.route("/_emulator/ui/job", methods=["GET"])
def job():
    row, files = _job_and_files()
    return render_template("job.html", job=row, files=files, logs=state.logs(_ext().settings, files))


@bp.route("/_emulator/ui/job.json", methods=["GET"])
def job_json():
    """The job's state and its log links, for the poller (a log file appears only once the job writes it)."""
    row, files = _job_and_files()
    logs = {f.name: f.path for f in files if f.directory == "stdouterr" and not f.is_directory}
    return Response(json.dumps({"state": row.state, "exitCode": row.exit_code, "reason": row.reason,
                                "logs": logs}), mimetype="application/json")


@bp.route("/_emulator/ui/storage/<kind>/<account>/<container>", methods=["GET"])
@bp.route("/_emulator/ui/storage/<kind>/<account>/<container>/<path:sub>", methods=["GET"])
def storage(kind: str, account: str, container: str, sub: str = ""):
    ext = _ext()
    entries = state.browse(ext.settings, ext.signer, kind, account, container, sub)
    if entries is None:
        abort(404)
    crumbs, acc = [], ""
    for part in [p for p in sub.split("/") if p]:
        acc = f"{acc}/{part}" if acc else part
        crumbs.append((part, acc))
    return render_template("storage.html", kind=kind, kind_name=state.STORAGE_KINDS[kind], account=account,
                           container=container, sub=sub.strip("/"), crumbs=crumbs, entries=entries)
