"""Run history and execution: experiments, runs, and the job each submitted run becomes on the runner.

No Flask. A run is a store record of kind `amlRun` at `{ws}/experiments/{exp}/runs/{runId}`; a submitted run has a
child record of kind `job` (the runner's own job model) at `{run}/job`, on the cluster of its compute. The run's
status is derived from that job and from the phase file the in-job launcher writes:

    job queued                         -> Queued   (the cluster scales up for it)
    job running, launcher not started  -> Preparing
    launcher running the script        -> Running
    script ended, launcher flushing    -> Finalizing
    job finished                       -> the emulator uploads ./outputs and the logs as artifacts (once, under
                                          compare-and-set), then Completed / Failed (with the script's error) /
                                          Canceled (run.cancel())

Finalization happens on the first read that sees the job finished, so a run whose job ended while the emulator
was down is finalized when it is next looked at, exactly once.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from ..errors import EmulatorError
from ..models import ExecutionState, Job, now_iso
from ..runner import states as job_states
from ..store import AlreadyExists, Store
from . import ids

TERMINAL = {"Completed", "Failed", "Canceled"}
PHASES = {"preparing": "Preparing", "running": "Running", "finalizing": "Finalizing"}


def new_experiment(name: str) -> dict:
    return {"experimentId": str(uuid.uuid4()), "name": name, "description": None, "createdUtc": now_iso(),
            "archivedTime": None, "tags": {}, "retainForLifetimeOfWorkspace": False}


class RunBackend:
    def __init__(self, store: Store, data_dir: Path, on_delete=lambda records: None, notify=lambda: None):
        self.store = store
        self.data_dir = Path(data_dir)
        self.on_delete = on_delete
        self.notify = notify

    # -- experiments -----------------------------------------------------------------------------------------
    def experiment(self, ws_id: str, name: str, create: bool = True) -> dict:
        eid = ids.experiment(ws_id, name)
        rec = self.store.get(eid)
        if rec is not None:
            return rec.body
        if not create:
            raise EmulatorError(404, "ExperimentNotFound", f"Experiment '{name}' was not found.")
        if not ids.NAME.match(name) and not (1 <= len(name) <= 255 and "/" not in name):
            raise EmulatorError(400, "BadArgument", f"Experiment name '{name}' is invalid.")
        try:
            return self.store.create(ids.EXPERIMENT, eid, ws_id, name, new_experiment(name),
                                     parent_kind=ids.WORKSPACE).body
        except AlreadyExists:
            return self.store.get(eid).body

    def experiment_by_id(self, ws_id: str, experiment_id: str) -> dict:
        for rec in self.store.list(ids.EXPERIMENT, parent=ws_id):
            if rec.body["experimentId"].lower() == experiment_id.lower():
                return rec.body
        raise EmulatorError(404, "ExperimentNotFound", f"Experiment id '{experiment_id}' was not found.")

    def experiments(self, ws_id: str) -> list[dict]:
        return [r.body for r in self.store.list(ids.EXPERIMENT, parent=ws_id)]

    # -- runs ------------------------------------------------------------------------------------------------
    def run_record(self, ws_id: str, run_id: str, exp: str | None = None):
        if exp is not None:
            rec = self.store.get(ids.run(ws_id, exp, run_id))
            if rec is not None and rec.kind == ids.RUN:
                return rec
        for rec in self.store.list(ids.RUN, under=ws_id):
            if rec.name.lower() == run_id.lower():
                return rec
        raise EmulatorError(404, "RunNotFound", f"Run '{run_id}' was not found.")

    def create_or_patch(self, ws_id: str, exp: str, run_id: str, patch: dict) -> dict:
        """PATCH of run history: creates the run when it does not exist (as the service does), else merges
        properties and tags and the few fields a client may set."""
        experiment = self.experiment(ws_id, exp)
        rid = ids.run(ws_id, exp, run_id)
        while True:
            rec = self.store.get(rid)
            if rec is None:
                body = new_run(run_id, experiment, patch)
                try:
                    return self.store.create(ids.RUN, rid, ids.experiment(ws_id, exp), run_id, body,
                                             parent_kind=ids.EXPERIMENT).body
                except AlreadyExists:
                    continue
            body = merge_patch(dict(rec.body), patch)
            if self.store.compare_and_set(rid, rec.version, body) is not None:
                return body

    def submit(self, ws_id: str, ws: dict, exp: str, run_id: str, snapshot_id: str, config: dict,
               compute_rec, prepare) -> dict:
        """Record the run and its job (queued on the compute's cluster). `prepare(job, run_body)` lays out the
        job's node directory (snapshot, launcher) and returns the job spec; it runs before the job is stored, so
        the runner never sees a job without its files."""
        experiment = self.experiment(ws_id, exp)
        rid = ids.run(ws_id, exp, run_id)
        if self.store.get(rid) is not None:
            raise EmulatorError(409, "RunAlreadyExists", f"A run with id '{run_id}' already exists.")
        body = new_run(run_id, experiment, {})
        body.update({"status": "Queued", "target": config.get("target"), "snapshot_id": snapshot_id,
                     "definition": config, "run_type": "azureml.scriptrun"})
        body["properties"].update({"ContentSnapshotId": snapshot_id, "azureml.runsource": "experiment",
                                   "_azureml.ComputeTargetType": "amlcompute"})
        job = Job(subscription_id=ws["subscription_id"], resource_group=ws["resource_group"], name=run_id,
                  workspace=ws["name"], experiment=exp, tool_type="custom", submitted=time.time(),
                  job_output_directory_path_segment=f"{ws['subscription_id']}/{ws['resource_group']}/azureml/"
                                                    f"{ws['name']}/{exp}/{run_id}/{uuid.uuid4()}")
        job.spec = {**prepare(job, body), "cluster": {"id": compute_rec.id}}
        try:
            self.store.create(ids.RUN, rid, ids.experiment(ws_id, exp), run_id, body, parent_kind=ids.EXPERIMENT)
        except AlreadyExists:
            raise EmulatorError(409, "RunAlreadyExists", f"A run with id '{run_id}' already exists.") from None
        self.store.create("job", ids.job(rid), rid, run_id, job.to_body(), parent_kind=ids.RUN)
        self.notify()
        return body

    def job_of(self, run_rec):
        rec = self.store.get(ids.job(run_rec.id))
        return (Job.from_body(rec.body), rec) if rec is not None and rec.kind == "job" else (None, None)

    def cancel(self, ws_id: str, run_id: str) -> dict:
        rec = self.run_record(ws_id, run_id)
        body = dict(rec.body)
        if body["status"] in TERMINAL:
            return body
        body["cancel_requested"] = True
        if self.store.compare_and_set(rec.id, rec.version, body) is None:
            return self.cancel(ws_id, run_id)
        job, jrec = self.job_of(rec)
        while job is not None and job.execution_state in (ExecutionState.QUEUED, ExecutionState.RUNNING):
            now = time.time()
            if job.execution_state == ExecutionState.QUEUED:
                job_states.transition(job, job_states.FAILED, now, errors=[job_states.error(
                    "JobTerminated", "The run was canceled.")])
            else:
                job_states.transition(job, job_states.TERMINATING, now)
            if self.store.compare_and_set(jrec.id, jrec.version, job.to_body()) is not None:
                break
            job, jrec = self.job_of(rec)
        self.notify()
        return body

    def delete_run_tree(self, rec) -> None:
        self.on_delete(self.store.delete_tree(rec.id))


def new_run(run_id: str, experiment: dict, patch: dict) -> dict:
    body = {"run_id": run_id, "run_uuid": str(uuid.uuid4()), "experiment_id": experiment["experimentId"],
            "experiment_name": experiment["name"], "status": "NotStarted", "created_utc": now_iso(),
            "start_time_utc": None, "end_time_utc": None, "target": None, "properties": {}, "tags": {},
            "name": None, "display_name": run_id, "description": None, "run_type": None, "snapshot_id": None,
            "definition": None, "error": None, "warnings": [], "cancel_requested": False, "finalized": False,
            "parent_run_id": None, "log_files": {}}
    return merge_patch(body, patch)


def merge_patch(body: dict, patch: dict) -> dict:
    for key in ("properties", "tags"):
        if isinstance(patch.get(key), dict):
            body[key] = {**body.get(key, {}), **{k: v for k, v in patch[key].items() if v is not None}}
    for src, dst in (("status", "status"), ("name", "name"), ("displayName", "display_name"),
                     ("description", "description"), ("target", "target"), ("runType", "run_type"),
                     ("startTimeUtc", "start_time_utc"), ("endTimeUtc", "end_time_utc"),
                     ("parentRunId", "parent_run_id")):
        if patch.get(src) is not None and not (src == "status" and body.get("status") in TERMINAL):
            body[dst] = patch[src]
    if patch.get("error"):
        body["error"] = patch["error"]
    if isinstance(patch.get("properties"), dict) and patch["properties"].get("ContentSnapshotId"):
        body["snapshot_id"] = patch["properties"]["ContentSnapshotId"]
    return body


def inside(path: Path, boundary: Path) -> bool:
    """Whether `path`, every symlink resolved, lies under `boundary`: a job controls its own directory and may
    have replaced any part of it with a symlink to elsewhere on this machine."""
    real, root = os.path.realpath(path), os.path.realpath(boundary)
    return real == root or real.startswith(root + os.sep)


def copy_tree(src: Path, dst: Path, boundary: Path | None = None) -> list[str]:
    """Copy the regular files under src into dst (symlinks are not followed: a job's files may point anywhere,
    and src itself must resolve inside `boundary` when given); returns the relative paths copied."""
    copied = []
    if not src.is_dir() or src.is_symlink() or (boundary is not None and not inside(src, boundary)):
        return copied
    for root, dirs, files in os.walk(src, followlinks=False):
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(src)
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(rel.as_posix())
    return copied


def read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def list_runs(store) -> list[dict]:
    """Every run as the dashboard shows it (read only): workspace, experiment, run id, status as last stored,
    target, times, error message and the ARM id of the runner job that executes it (None for runs without one).
    The status of a run whose job moved on is updated when a client reads the run (execution.py)."""
    out = []
    for rec in store.list(ids.RUN):
        body = rec.body
        job = store.get(ids.job(rec.id))
        error = body.get("error") or {}
        if isinstance(error, dict):
            error = (error.get("error") or error).get("message") or ""
        out.append({"workspace": rec.id.split("/workspaces/", 1)[-1].split("/", 1)[0],
                    "experiment": body.get("experiment_name"), "run_id": body.get("run_id") or rec.name,
                    "status": body.get("status"), "target": body.get("target"),
                    "created": body.get("created_utc"), "end": body.get("end_time_utc"), "error": str(error or ""),
                    "job_id": job.id if job is not None and job.kind == "job" else None,
                    "job_state": (job.body.get("execution_state") if job is not None else None)})
    return sorted(out, key=lambda r: r["created"] or "", reverse=True)
