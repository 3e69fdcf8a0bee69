"""ARM ids and on-disk places of the Azure ML resources the emulator serves.

Workspaces live under their resource group (so deleting the group deletes them and everything inside), computes,
experiments, runs, snapshots, assets and models under their workspace. A run's job (the runner's record) is a child
of the run record, so deleting a workspace stops its runs through the same cascade as Batch AI.
"""
from __future__ import annotations

import re

PROVIDER = "Microsoft.MachineLearningServices"
WS_TYPE = f"{PROVIDER}/workspaces"
COMPUTE_TYPE = f"{PROVIDER}/workspaces/computes"

# record kinds of this surface (the store's `kind` column)
WORKSPACE, EXPERIMENT, RUN, SNAPSHOT, ASSET, MODEL, METRICS, DEPLOYMENT, PLACEHOLDER = (
    "amlWorkspace", "amlExperiment", "amlRun", "amlSnapshot", "amlAsset", "amlModel", "amlMetrics",
    "armDeployment", "armPlaceholder")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,31}$")


def resource_group(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def workspace(sub: str, rg: str, ws: str) -> str:
    return f"{resource_group(sub, rg)}/providers/{PROVIDER}/workspaces/{ws}"


def compute(ws_id: str, name: str) -> str:
    return f"{ws_id}/computes/{name}"


def experiment(ws_id: str, name: str) -> str:
    return f"{ws_id}/experiments/{name}"


def run(ws_id: str, exp: str, run_id: str) -> str:
    return f"{experiment(ws_id, exp)}/runs/{run_id}"


def job(run_record_id: str) -> str:
    return f"{run_record_id}/job"


def snapshot(ws_id: str, snap: str) -> str:
    return f"{ws_id}/snapshots/{snap}"


def asset(ws_id: str, asset_id: str) -> str:
    return f"{ws_id}/assets/{asset_id}"


def model(ws_id: str, name: str, version: int) -> str:
    return f"{ws_id}/models/{name}/versions/{version:08d}"


def deployment(sub: str, rg: str, name: str) -> str:
    return f"{resource_group(sub, rg)}/providers/Microsoft.Resources/deployments/{name}"


def safe(text: str) -> str:
    """A name usable as one directory name (ids can hold anything the SDK sent)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:200] or "_"
