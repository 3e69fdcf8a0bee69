"""ARM ids and resource types of everything the emulator serves."""
from __future__ import annotations

PROVIDER = "Microsoft.BatchAI"


def subscription(sub: str) -> str:
    return f"/subscriptions/{sub}"


def resource_group(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def provider_base(sub: str, rg: str) -> str:
    return f"{resource_group(sub, rg)}/providers/{PROVIDER}"


def workspace(sub: str, rg: str, ws: str) -> str:
    return f"{provider_base(sub, rg)}/workspaces/{ws}"


def experiment(sub: str, rg: str, ws: str, exp: str) -> str:
    return f"{workspace(sub, rg, ws)}/experiments/{exp}"


def job(sub: str, rg: str, ws: str, exp: str, name: str) -> str:
    return f"{experiment(sub, rg, ws, exp)}/jobs/{name}"


def cluster(sub: str, rg: str, ws: str, name: str) -> str:
    return f"{workspace(sub, rg, ws)}/clusters/{name}"


def file_server(sub: str, rg: str, ws: str, name: str) -> str:
    return f"{workspace(sub, rg, ws)}/fileServers/{name}"


def storage_account(sub: str, rg: str, name: str) -> str:
    return f"{resource_group(sub, rg)}/providers/Microsoft.Storage/storageAccounts/{name}"


# `type` strings as the real service returned them (recordings / CLI output; see reference batchai-rest.md §1).
TYPES = {
    "resourceGroup": "Microsoft.Resources/resourceGroups",
    "workspace": "Microsoft.BatchAI/workspaces",
    "experiment": "Microsoft.BatchAI/workspaces/experiments",
    "job": "Microsoft.BatchAI/workspaces/experiments/jobs",
    "cluster": "Microsoft.BatchAI/workspaces/clusters",
    # unverified for the real 2018-05-01 service (examples say Microsoft.BatchAI/FileServers); chosen by analogy
    "fileServer": "Microsoft.BatchAI/workspaces/fileservers",
    "storageAccount": "Microsoft.Storage/storageAccounts",
}


def parse(resource_id: str) -> dict[str, str]:
    """Split an ARM id into {'subscriptions': ..., 'resourceGroups': ..., 'workspaces': ..., ...} (keys lower-case)."""
    parts = [p for p in resource_id.strip("/").split("/") if p]
    out: dict[str, str] = {}
    i = 0
    while i + 1 < len(parts):
        key = parts[i].lower()
        if key == "providers":
            out["provider"] = parts[i + 1]
        else:
            out[key] = parts[i + 1]
        i += 2
    return out
