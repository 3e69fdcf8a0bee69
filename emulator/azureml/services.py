"""The workspace services azureml-core reaches through the discovery document: run history, execution, content
(snapshots), artifacts, metrics, model management, and the `rp/workspaces` path of computes. Plus the discovery
document itself, the MSI-style token endpoint, and the signed download links.

Each service path carries the workspace's ARM scope; a small table maps `(method, service, rest-of-path)` to a
handler, case-insensitively. Every answer is JSON; every error is the ARM error body (`{"error": {...}}`).
"""
from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

from flask import Blueprint, Response, request, send_file

from ..errors import EmulatorError, StorageError
from . import arm_views, computes, execution, ids, render
from .common import aml, body_json, check_bearer, core, https_base, json_response

bp = Blueprint("azureml", __name__)

_SCOPE = re.compile(r"^resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/"
                    r"(?P<ws>[^/]+)(?P<rest>/.*)?$", re.IGNORECASE)
_ROUTES: list[tuple[str, str, re.Pattern, object]] = []


def route(method: str, service: str, pattern: str):
    def deco(fn):
        _ROUTES.append((method, service, re.compile("^" + pattern + "/?$", re.IGNORECASE), fn))
        return fn
    return deco


class Ctx:
    """One service request: the workspace, its id, the path parameters."""

    def __init__(self, sub: str, rg: str, ws_name: str, params: dict):
        self.ext = aml()
        self.ws = self.ext.workspaces.get(sub, rg, ws_name)
        self.ws_id = ids.workspace(sub, self.ws["resource_group"], self.ws["name"])
        self.params = params
        self.base = https_base()

    def __getitem__(self, key: str) -> str:
        return self.params[key]


# -- cloud pieces ---------------------------------------------------------------------------------------------------
@bp.route("/azureml/discovery", methods=["GET"])
def discovery() -> Response:
    base = https_base()
    return json_response({key: base for key in ("api", "catalog", "experimentation", "gallery", "history",
                                                 "hyperdrive", "labeling", "modelmanagement", "pipelines",
                                                 "studio")})


@bp.route("/azureml/msi/token", methods=["POST", "GET"])
def msi_token() -> Response:
    """MSI_ENDPOINT (POST form `resource`) and IDENTITY_ENDPOINT (GET `?resource=`): a JWT with tid and exp."""
    resource = request.form.get("resource") or request.args.get("resource") or ""
    now = int(time.time())
    ext = core()
    token = ext.signer.jwt({"aud": resource, "iss": f"{https_base()}/", "iat": now, "nbf": now, "exp": now + 3600,
                            "tid": "00000000-0000-0000-0000-00000000e111",
                            "oid": "00000000-0000-0000-0000-00000000e000",
                            "appid": "msi", "idtyp": "app"})
    return json_response({"access_token": token, "token_type": "Bearer", "expires_on": str(now + 3600),
                          "expires_in": "3600", "not_before": str(now), "resource": resource,
                          "client_id": "00000000-0000-0000-0000-00000000e000"})


@bp.route("/azureml/files/<token>/<path:_name>", methods=["GET", "HEAD"])
def download(token: str, _name: str) -> Response:
    """An artifact or log, like a blob SAS URL: signed, expiring, Range-aware (206 + Content-Range)."""
    fd = aml().assets.resolve_link(token)
    if fd is None:
        raise StorageError(403, "AuthenticationFailed", "The download link is invalid or has expired.")
    try:    # send_file opens the name at once: /proc/self/fd names the very file checked, whatever the path holds now
        resp = send_file(f"/proc/self/fd/{fd}", mimetype="application/octet-stream", conditional=True, etag=True,
                         max_age=0)
    finally:
        os.close(fd)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["x-ms-blob-type"] = "BlockBlob"
    return resp


# -- dispatch -------------------------------------------------------------------------------------------------------
_SERVICES = "history|content|execution|artifact|metric|modelmanagement|jasmine"


@bp.route("/<svc>/<ver>/subscriptions/<sub>/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def service(svc: str, ver: str, sub: str, rest: str) -> Response:
    if svc.lower() not in _SERVICES.split("|"):
        raise EmulatorError(404, "NotFound", f"No route is registered for '{request.method} {request.path}'.")
    return _dispatch(svc.lower(), sub, rest)


@bp.route("/rp/workspaces/subscriptions/<sub>/<path:rest>", methods=["GET", "PUT", "DELETE"])
def rp(sub: str, rest: str) -> Response:
    return _dispatch("rp", sub, rest)


def _dispatch(svc: str, sub: str, rest: str) -> Response:
    check_bearer()
    m = _SCOPE.match(rest)
    if not m:
        raise EmulatorError(404, "NotFound", f"'{request.path}' does not name a workspace scope.")
    tail = (m.group("rest") or "/").lstrip("/")
    for method, service_name, pattern, fn in _ROUTES:
        if service_name != svc or method != request.method:
            continue
        found = pattern.match(tail)
        if found:
            return fn(Ctx(sub, m.group("rg"), m.group("ws"), found.groupdict()))
    raise EmulatorError(404, "NotSupportedByEmulator", f"{request.method} {svc} '{tail}' is not served by the "
                        "emulator's Azure ML services.")


# -- computes through the workspace's rp path ----------------------------------------------------------------------
@route("GET", "rp", r"computes/(?P<name>[^/]+)")
def rp_compute_get(c: Ctx) -> Response:
    return json_response(computes.render(c.ext.computes.get(c.ws_id, c["name"]), ids.compute(c.ws_id, c["name"])))


@route("GET", "rp", r"computes")
def rp_compute_list(c: Ctx) -> Response:
    return json_response({"value": [computes.render(b, ids.compute(c.ws_id, b["name"]))
                                    for b in c.ext.computes.list(c.ws_id)]})


@route("PUT", "rp", r"computes/(?P<name>[^/]+)")
def rp_compute_put(c: Ctx) -> Response:
    return arm_views.compute_put(c.ws["subscription_id"], c.ws["resource_group"], c.ws["name"], c["name"],
                                 body_json())


@route("DELETE", "rp", r"computes/(?P<name>[^/]+)")
def rp_compute_delete(c: Ctx) -> Response:
    return arm_views.compute_delete(c.ws["subscription_id"], c.ws["resource_group"], c.ws["name"], c["name"])


# -- run history ----------------------------------------------------------------------------------------------------
@route("GET", "history", r"experiments/(?P<exp>[^/]+)")
@route("POST", "history", r"experiments/(?P<exp>[^/]+)")
def experiment_get_or_create(c: Ctx) -> Response:
    return json_response(render.experiment_dto(c.ext.runs.experiment(c.ws_id, c["exp"])))


@route("GET", "history", r"experimentids/(?P<eid>[^/]+)")
def experiment_get_by_id(c: Ctx) -> Response:
    """Run.get(workspace, run_id) reads the run by id, then its experiment by the run's experiment id."""
    return json_response(render.experiment_dto(c.ext.runs.experiment_by_id(c.ws_id, c["eid"])))


@route("GET", "history", r"experiments")
def experiments_list(c: Ctx) -> Response:
    return json_response({"value": [render.experiment_dto(e) for e in c.ext.runs.experiments(c.ws_id)]})


def _run(c: Ctx):
    exp = c.params.get("exp")
    if c.params.get("eid"):
        exp = c.ext.runs.experiment_by_id(c.ws_id, c["eid"])["name"]
    rec = c.ext.runs.run_record(c.ws_id, c["run"], exp)
    return rec, execution.refresh(c.ext, rec)


# runs by experiment name, by experiment id, or (as SDK v2 asks for them) by run id alone
_RUN = r"(?:(?:experiments/(?P<exp>[^/]+)|experimentids/(?P<eid>[^/]+))/)?runs/(?P<run>[^/]+)"


@route("GET", "history", _RUN)
def run_get(c: Ctx) -> Response:
    _, body = _run(c)
    return json_response(render.run_dto(body, c.ws_id, c.base))


@route("PATCH", "history", _RUN)
def run_patch(c: Ctx) -> Response:
    if not c.params.get("exp") and not c.params.get("eid"):
        raise EmulatorError(400, "BadArgument", "A run is created or updated within an experiment: "
                            "PATCH .../experiments/{experiment}/runs/{runId}.")
    exp = c.params.get("exp") or c.ext.runs.experiment_by_id(c.ws_id, c["eid"])["name"]
    body = c.ext.runs.create_or_patch(c.ws_id, exp, c["run"], body_json())
    return json_response(render.run_dto(body, c.ws_id, c.base))


@route("GET", "history", _RUN + r"/details")
def run_details(c: Ctx) -> Response:
    rec, body = _run(c)
    return json_response(render.run_details(body, _log_links(c, rec, body)))


@route("POST", "history", _RUN + r"/events")
def run_event(c: Ctx) -> Response:
    rec, body = _run(c)
    event = body_json()
    name = str(event.get("name") or "")
    # events a client posts about a run it drives itself (start_logging): Started, Completed, Failed, Canceled
    status = {"Microsoft.MachineLearning.Run.Start": "Running", "Microsoft.MachineLearning.Run.Completed":
              "Completed", "Microsoft.MachineLearning.Run.Failed": "Failed",
              "Microsoft.MachineLearning.Run.Canceled": "Canceled"}.get(name)
    if status and not body.get("definition"):
        c.ext.runs.create_or_patch(c.ws_id, body["experiment_name"], body["run_id"], {"status": status})
    elif status == "Canceled":
        c.ext.runs.cancel(c.ws_id, body["run_id"])
    rec = c.ext.runs.run_record(c.ws_id, c["run"], body["experiment_name"])
    return json_response(render.run_dto(execution.refresh(c.ext, rec), c.ws_id, c.base))


@route("GET", "history", _RUN + r"/metricsingest/wait")
def metrics_wait(c: Ctx) -> Response:
    return json_response({})


def _log_links(c: Ctx, rec, body: dict) -> dict[str, str]:
    job, _ = c.ext.runs.job_of(rec)
    live = job if job is not None and not body.get("finalized") else None
    if live is None and job is None:
        return {}
    files = c.ext.assets.files(c.ws_id, "ExperimentRun", f"dcid.{body['run_id']}", live)
    return {path: c.ext.assets.link(host, c.base) for path, host in files.items()
            if path.startswith(("azureml-logs/", "logs/azureml/", "user_logs/", "system_logs/"))}


# -- execution ------------------------------------------------------------------------------------------------------
@route("POST", "execution", r"experiments/(?P<exp>[^/]+)/snapshotrun")
def snapshot_run(c: Ctx) -> Response:
    body = body_json()
    config = body.get("Configuration") or body.get("configuration") or body.get("RunConfiguration") or {}
    snapshot_id = body.get("SnapshotId") or body.get("snapshotId")
    run_id = request.args.get("runId") or f"{c['exp']}_{int(time.time())}_{uuid.uuid4().hex[:8]}"
    if not snapshot_id:
        raise EmulatorError(400, "BadArgument", "SnapshotId is required: upload the source directory first.")
    c.ext.content.get(c.ws_id, snapshot_id)
    snap_dir = c.ext.content.snapshot_dir(snapshot_id)
    crec = execution.check_submission(c.ext, c.ws_id, config, snap_dir)
    from ..models import Cluster
    experiment = c.ext.runs.experiment(c.ws_id, c["exp"])
    now = int(time.time())
    token = core().signer.jwt({"aud": "azureml-run", "iss": f"{c.base}/", "iat": now, "nbf": now,
                               "exp": now + 7 * 86400, "tid": "00000000-0000-0000-0000-00000000e111",
                               "runId": run_id, "appid": "azureml-run"})
    executor = core().scheduler.executor
    service = c.base
    if executor is not None and executor.layout == "container":
        service = c.ext.relays.service_url() if c.ext.relays is not None else None
        if service is None:
            raise EmulatorError(503, "RunServicesUnreachable", "Runs in Docker containers reach the emulator through "
                                "the Docker bridge's gateway, which the emulator could not listen on (see its log); "
                                "use --executor local for Azure ML runs.")
    prepare = execution.prepare_job(c.ext, c.ws, c.ws_id, c["exp"], run_id, snap_dir, config,
                                    Cluster.from_body(crec.body), service, token, experiment["experimentId"])
    run = c.ext.runs.submit(c.ws_id, c.ws, c["exp"], run_id, snapshot_id, config, crec, prepare)
    return json_response({"runId": run_id, "runUuid": run["run_uuid"], "status": run["status"],
                          "experimentId": experiment["experimentId"]})


@route("POST", "execution", r"experiments/(?P<exp>[^/]+)/runId/(?P<run>[^/]+)/cancel")
def run_cancel(c: Ctx) -> Response:
    body = c.ext.runs.cancel(c.ws_id, c["run"])
    return json_response({"runId": body["run_id"], "status": body["status"]})


@route("POST", "jasmine", r"experimentids/(?P<eid>[^/]+)/cancelrun/(?P<run>[^/]+)")
def jasmine_cancel(c: Ctx) -> Response:
    body = c.ext.runs.cancel(c.ws_id, c["run"])
    return json_response({"runId": body["run_id"], "status": body["status"]})


# -- content (snapshots) ----------------------------------------------------------------------------------------------
@route("GET", "content", r"snapshots/latest/metadata")
def snapshot_latest(c: Ctx) -> Response:
    return json_response(c.ext.content.latest(c.ws_id))


@route("POST", "content", r"snapshots/getblob")
def snapshot_getblob(c: Ctx) -> Response:
    names = body_json().get("FileNames") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise EmulatorError(400, "BadArgument", "FileNames must be a list of relative file names.")
    account, key = c.ext.workspaces.storage_account(c.ws)
    return json_response({"fileNodes": c.ext.content.upload_urls(account, key, names)})


@route("POST", "content", r"snapshots/(?P<sid>[0-9A-Fa-f-]{36})")
def snapshot_create(c: Ctx) -> Response:
    account, _ = c.ext.workspaces.storage_account(c.ws)
    snap = c.ext.content.create(c.ws_id, c["sid"], body_json(), account)
    return json_response({"id": snap["id"], "root": snap["root"], "parentSnapshotId": snap["parent"]})


@route("GET", "content", r"snapshots/(?P<sid>[0-9A-Fa-f-]{36})(?:/metadata)?")
def snapshot_get(c: Ctx) -> Response:
    snap = c.ext.content.get(c.ws_id, c["sid"])
    return json_response({"id": snap["id"], "root": snap["root"], "parentSnapshotId": snap["parent"],
                          "createdTime": snap["created"]})


# -- artifacts ------------------------------------------------------------------------------------------------------
def _container_files(c: Ctx, origin: str, container: str) -> dict[str, Path]:
    live = None
    if origin == "ExperimentRun" and container.startswith("dcid."):
        try:
            rec = c.ext.runs.run_record(c.ws_id, container[len("dcid."):])
        except EmulatorError:
            rec = None
        if rec is not None:
            body = execution.refresh(c.ext, rec)
            job, _ = c.ext.runs.job_of(rec)
            live = job if not body.get("finalized") else None
    return c.ext.assets.files(c.ws_id, origin, container, live)


_ART = r"(?P<origin>[^/]+)/(?P<container>[^/]+)"


@route("GET", "artifact", r"artifacts/prefix/contentinfo/" + _ART + r"(?:/(?P<path>.*))?")
def artifacts_prefix_contentinfo(c: Ctx) -> Response:
    prefix = (c.params.get("path") or "").strip("/")
    files = _container_files(c, c["origin"], c["container"])
    value = [render.content_info(c["origin"], c["container"], p, c.ext.assets.link(h, c.base))
             for p, h in files.items() if not prefix or p == prefix or p.startswith(prefix + "/")]
    return json_response({"value": value, "continuationToken": None})


@route("GET", "artifact", r"artifacts/contentinfo/" + _ART + r"/(?P<path>.+)")
def artifacts_contentinfo(c: Ctx) -> Response:
    files = _container_files(c, c["origin"], c["container"])
    host = files.get(c["path"])
    if host is None:
        raise EmulatorError(404, "ArtifactNotFound", f"Artifact '{c['path']}' was not found in "
                            f"{c['origin']}/{c['container']}.")
    return json_response(render.content_info(c["origin"], c["container"], c["path"], c.ext.assets.link(host, c.base)))


@route("GET", "artifact", r"artifacts/" + _ART)
def artifacts_list(c: Ctx) -> Response:
    files = _container_files(c, c["origin"], c["container"])
    from ..models import now_iso
    value = [render.artifact(c["origin"], c["container"], p, now_iso(h.stat().st_mtime)) for p, h in files.items()]
    return json_response({"value": value, "continuationToken": None})


# -- metrics ----------------------------------------------------------------------------------------------------------
@route("POST", "metric", r"runs/(?P<run>[^/]+)/batch")
def metrics_batch(c: Ctx) -> Response:
    values = body_json().get("values")
    if not isinstance(values, list):
        raise EmulatorError(400, "BadArgument", "values must be a list of metrics.")
    rec = c.ext.runs.run_record(c.ws_id, c["run"])
    c.ext.assets.add_metrics(rec.id, values)
    return json_response({})


@route("POST", "metric", r"runs/(?P<run>[^/]+)/list")
def metrics_list(c: Ctx) -> Response:
    rec = c.ext.runs.run_record(c.ws_id, c["run"])
    seen: dict[str, dict] = {}
    for row in c.ext.assets.metrics(rec.id):
        seen.setdefault(row["name"], row["columns"])
    return json_response({"value": [{"metricKey": {"namespace": None, "name": name}, "columns": cols}
                                    for name, cols in seen.items()], "continuationToken": None})


@route("POST", "metric", r"runs/(?P<run>[^/]+)/full")
def metrics_full(c: Ctx) -> Response:
    name = body_json().get("metricName")
    rec = c.ext.runs.run_record(c.ws_id, c["run"])
    rows = [r for r in c.ext.assets.metrics(rec.id) if r["name"] == name]
    if not rows:
        raise EmulatorError(404, "MetricNotFound", f"Metric '{name}' was not found for run '{c['run']}'.")
    return json_response({"dataContainerId": f"dcid.{c['run']}", "name": name, "columns": rows[0]["columns"],
                          "properties": {"uxMetricType": rows[0]["properties"].get("uxMetricType")
                                         or "azureml.v1.scalar"},
                          "value": [{"metricId": r["metric_id"], "createdUtc": r["created"], "step": i,
                                     "data": r["data"]} for i, r in enumerate(rows)], "continuationToken": None})


# -- model management -------------------------------------------------------------------------------------------------
@route("POST", "modelmanagement", r"assets")
def assets_create(c: Ctx) -> Response:
    return json_response(c.ext.assets.create_asset(c.ws_id, body_json()))


@route("GET", "modelmanagement", r"assets/(?P<id>[^/]+)")
def assets_get(c: Ctx) -> Response:
    return json_response(c.ext.assets.asset(c.ws_id, c["id"]))


@route("POST", "modelmanagement", r"models")
def models_register(c: Ctx) -> Response:
    return json_response(c.ext.assets.register_model(c.ws_id, body_json()))


@route("GET", "modelmanagement", r"models")
def models_list(c: Ctx) -> Response:
    """Model.list / Model(ws, name): filters name, version, framework, runId, tag (a key), and
    latestVersionOnly; newest first. Every match is on one page (no $skipToken)."""
    models = c.ext.assets.models(c.ws_id)
    args = request.args
    for key, field in (("name", "name"), ("version", "version"), ("framework", "framework"), ("runId", "runId")):
        if args.get(key):
            models = [m for m in models if str(m.get(field)) == args[key]]
    if args.get("tag"):
        models = [m for m in models if args["tag"] in (m.get("kvTags") or {})]
    models.sort(key=lambda m: (m["createdTime"], m["version"]), reverse=True)
    if (args.get("latestVersionOnly") or args.get("latest") or "").lower() == "true":
        seen: set[str] = set()
        models = [m for m in models if not (m["name"] in seen or seen.add(m["name"]))]
    return json_response({"value": models, "nextLink": None})


@route("GET", "modelmanagement", r"models/(?P<id>[^/]+)")
def models_get(c: Ctx) -> Response:
    return json_response(c.ext.assets.model(c.ws_id, c["id"]))
