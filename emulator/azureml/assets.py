"""Artifacts, metrics and model management of a workspace. No Flask.

Artifacts are files under `<data-dir>/azureml/artifacts/<workspace>/<origin>/<container>/` (a finished run's
`./outputs` and logs, copied there when it is finalized); while a run is active its driver log is served live
from the job's directory. Downloads are signed, expiring links to the emulator (tokens.Signer, the same key as
Batch AI's output-file links), answered with Range support. Metrics are kept as the batches the SDK posts (one
record each, in order). Models are versioned records `{ws}/models/{name}/versions/{n}`; assets name artifact
prefixes of a run.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from .. import safeio
from ..errors import EmulatorError
from ..models import now_iso
from ..store import AlreadyExists, Store
from . import ids
from .execution import DRIVER_LOG, artifacts_root, node_dir
from .runs import inside

LINK_SECONDS = 6 * 3600


class AssetBackend:
    def __init__(self, store: Store, data_dir: Path, signer):
        self.store = store
        self.data_dir = Path(data_dir)
        self.signer = signer

    # -- artifacts -------------------------------------------------------------------------------------------
    def link(self, host_path: Path, base: str) -> str:
        rel = os.path.relpath(host_path, self.data_dir)
        token = self.signer.sign({"p": rel, "exp": int(time.time()) + LINK_SECONDS, "k": "aml"})
        return f"{base}/azureml/files/{token}/{Path(rel).name}"

    def resolve_link(self, token: str) -> int | None:
        """A descriptor of the regular file a valid link names (the caller closes it), or None. A live run's
        log lies where the job writes: it is reached without following links (safeio), so a file swapped for a
        link after listing serves nothing."""
        payload = self.signer.verify(token)
        if payload is None or payload.get("k") != "aml":
            return None
        try:
            return safeio.open_file(self.data_dir, str(payload["p"]))
        except (OSError, ValueError):
            return None

    def files(self, ws_id: str, origin: str, container: str, live_job=None) -> dict[str, Path]:
        """{artifact path: host file} of one container (a run's is `dcid.<runId>`)."""
        out: dict[str, Path] = {}
        if live_job is not None:
            root = node_dir(self.data_dir, live_job)
            log = root / DRIVER_LOG
            if inside(log, root) and log.is_file():
                out[DRIVER_LOG] = log
        base = artifacts_root(self.data_dir, ws_id) / ids.safe(origin) / ids.safe(container)
        if base.is_dir():
            for root, _dirs, names in os.walk(base, followlinks=False):
                for name in names:
                    path = Path(root) / name
                    if path.is_file() and not path.is_symlink():
                        out[path.relative_to(base).as_posix()] = path
        return dict(sorted(out.items()))

    # -- metrics ---------------------------------------------------------------------------------------------
    def add_metrics(self, run_rec_id: str, values: list) -> None:
        mid = f"{run_rec_id}/metrics/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self.store.create(ids.METRICS, mid, run_rec_id, mid.rsplit("/", 1)[-1], {"values": values},
                          parent_kind=ids.RUN)

    def metrics(self, run_rec_id: str) -> list[dict]:
        """Every metric row posted for the run, in order: {name, columns, cells, created, properties}."""
        rows = []
        for rec in self.store.list(ids.METRICS, parent=run_rec_id):
            for value in rec.body.get("values") or []:
                if not isinstance(value, dict):
                    continue
                for cell in value.get("value") or []:
                    rows.append({"name": value.get("name"), "columns": value.get("columns") or {},
                                 "data": (cell or {}).get("data") or {}, "created": (cell or {}).get("createdUtc"),
                                 "metric_id": (cell or {}).get("metricId"),
                                 "properties": value.get("properties") or {}})
        return rows

    # -- assets and models -----------------------------------------------------------------------------------
    def create_asset(self, ws_id: str, body: dict) -> dict:
        asset_id = uuid.uuid4().hex
        asset = {"id": asset_id, "name": body.get("name") or asset_id, "description": body.get("description"),
                 "artifacts": body.get("artifacts") or [], "tags": body.get("kvTags") or body.get("tags") or {},
                 "properties": body.get("properties") or {}, "runid": body.get("runid"),
                 "projectid": body.get("projectid"), "meta": body.get("meta"), "createdTime": now_iso()}
        self.store.create(ids.ASSET, ids.asset(ws_id, asset_id), ws_id, asset_id, asset,
                          parent_kind=ids.WORKSPACE)
        return asset

    def asset(self, ws_id: str, asset_id: str) -> dict:
        rec = self.store.get(ids.asset(ws_id, asset_id))
        if rec is None or rec.kind != ids.ASSET:
            raise EmulatorError(404, "AssetNotFound", f"Asset '{asset_id}' was not found.")
        return rec.body

    def register_model(self, ws_id: str, body: dict) -> dict:
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 255 or "/" in name or ":" in name:
            raise EmulatorError(400, "BadArgument", "A model needs a name (up to 255 characters, no '/' or ':').",
                                target="name")
        while True:
            existing = self.store.list(ids.MODEL, under=f"{ws_id}/models/{name}")
            version = max([int(r.body["version"]) for r in existing] or [0]) + 1
            model = {"id": f"{name}:{version}", "name": name, "version": version,
                     "description": body.get("description"), "mimeType": body.get("mimeType") or
                     "application/octet-stream", "url": body.get("url"), "unpack": bool(body.get("unpack")),
                     "framework": body.get("framework") or "Custom", "frameworkVersion": body.get("frameworkVersion"),
                     "kvTags": body.get("kvTags") or {}, "tags": body.get("kvTags") or {},
                     "properties": body.get("properties") or {}, "experimentName": body.get("experimentName"),
                     "runId": body.get("runId"), "datasets": body.get("datasets") or [],
                     "createdTime": now_iso(), "modifiedTime": now_iso(),
                     "createdBy": {"userObjectId": None, "userPuId": None, "userIdp": None, "userAltSecId": None,
                                   "userIss": None, "userTenantId": None, "userName": "emulator"},
                     "parentModelId": body.get("parentModelId"), "derivedModelIds": None,
                     "resourceRequirements": body.get("resourceRequirements"),
                     "sampleInputData": body.get("sampleInputData"), "sampleOutputData": body.get("sampleOutputData"),
                     "modelFormat": body.get("modelFormat")}
            try:
                self.store.create(ids.MODEL, ids.model(ws_id, name, version), ws_id, f"{name}:{version:08d}",
                                  model, parent_kind=ids.WORKSPACE)
                return model
            except AlreadyExists:
                continue       # a concurrent registration took this version: take the next

    def models(self, ws_id: str) -> list[dict]:
        return [r.body for r in self.store.list(ids.MODEL, under=ws_id)]

    def model(self, ws_id: str, model_id: str) -> dict:
        name, _, version = model_id.rpartition(":")
        if name and version.isdigit():
            rec = self.store.get(ids.model(ws_id, name, int(version)))
            if rec is not None and rec.kind == ids.MODEL:
                return rec.body
        raise EmulatorError(404, "ModelNotFound", f"Model '{model_id}' was not found in the workspace.")
