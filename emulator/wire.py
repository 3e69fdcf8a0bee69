"""The only code that knows the wire: camelCase JSON and the ARM envelope  <->  snake_case models.

Key names are converted with a table built from every property name of the three swagger files, so a round
trip is exact even for names such as `diskSizeInGB` or `publicIPsToAllow`. Values of maps (`tags`) are user data
and are never converted. Secrets are never rendered: passwords, keys, secret values.
"""
from __future__ import annotations

import functools
import re
from typing import Any

from . import ids, spec
from .models import Cluster, Experiment, FileServer, Job, ResourceGroup, StorageAccount, Workspace

_MAPS = {"tags"}
# snake_case keys whose values are secrets: dropped from every rendered body
_SECRET_KEYS = {"admin_user_password", "admin_user_ssh_public_key", "account_key", "password", "instrumentation_key"}


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@functools.lru_cache(maxsize=1)
def _camel_table() -> dict[str, str]:
    names: set[str] = {"location", "tags", "properties", "id", "name", "type"}

    def walk(obj):
        if isinstance(obj, dict):
            names.update(obj.get("properties", {}).keys())
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    for version in spec.API_VERSIONS:
        walk(spec.load(version)["definitions"])
    table: dict[str, str] = {}
    for n in sorted(names):
        table.setdefault(snake(n), n)
    return table


def camel(name: str) -> str:
    found = _camel_table().get(name)
    if found:
        return found
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def from_wire(value: Any) -> Any:
    """camelCase JSON -> snake_case python (maps kept verbatim)."""
    if isinstance(value, dict):
        return {snake(k): (v if k in _MAPS else from_wire(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


def to_wire(value: Any) -> Any:
    """snake_case python -> camelCase JSON, secrets removed."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _SECRET_KEYS:
                continue
            if k == "secrets" and isinstance(v, list):
                out["secrets"] = [{"name": s.get("name")} for s in v]
                continue
            out[camel(k)] = v if k in _MAPS else to_wire(v)
        return out
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def resource_group(rg: ResourceGroup) -> dict:
    body = {"id": ids.resource_group(rg.subscription_id, rg.name), "name": rg.name,
            "type": ids.TYPES["resourceGroup"], "location": rg.location,
            "properties": {"provisioningState": "Succeeded"}}
    if rg.tags:
        body["tags"] = rg.tags
    if rg.managed_by:
        body["managedBy"] = rg.managed_by
    return body


def _common(m) -> dict:
    return {"creationTime": m.creation_time, "provisioningState": m.provisioning_state,
            "provisioningStateTransitionTime": m.provisioning_state_transition_time}


def workspace(w: Workspace) -> dict:
    body = {"id": ids.workspace(w.subscription_id, w.resource_group, w.name), "name": w.name,
            "type": ids.TYPES["workspace"], "location": w.location, "properties": _common(w)}
    if w.tags:
        body["tags"] = w.tags
    return body


def experiment(e: Experiment) -> dict:
    return {"id": ids.experiment(e.subscription_id, e.resource_group, e.workspace, e.name), "name": e.name,
            "type": ids.TYPES["experiment"], "properties": _common(e)}


def cluster(c: Cluster) -> dict:
    props = to_wire(c.spec)
    props.update(_common(c))
    props.update({"allocationState": c.allocation_state,
                  "allocationStateTransitionTime": c.allocation_state_transition_time,
                  "currentNodeCount": c.current_node_count,
                  "nodeStateCounts": to_wire(c.node_state_counts)})
    if c.errors:
        props["errors"] = to_wire(c.errors)
    task = (props.get("nodeSetup") or {}).get("setupTask")
    if task is not None:
        from .runner.setuptask import suffix   # read-only: where each node's setup output went
        task["stdOutErrPathSuffix"] = suffix(c)
    return {"id": ids.cluster(c.subscription_id, c.resource_group, c.workspace, c.name), "name": c.name,
            "type": ids.TYPES["cluster"], "properties": props}


def job(j: Job) -> dict:
    props = to_wire(j.spec)
    props.update(_common(j))
    props.update({"toolType": j.tool_type,
                  "jobOutputDirectoryPathSegment": j.job_output_directory_path_segment,
                  "executionState": j.execution_state,
                  "executionStateTransitionTime": j.execution_state_transition_time})
    info = to_wire(_drop_none(j.execution_info))
    if info:
        props["executionInfo"] = info
    return {"id": ids.job(j.subscription_id, j.resource_group, j.workspace, j.experiment, j.name),
            "name": j.name, "type": ids.TYPES["job"], "properties": props}


def file_server(f: FileServer) -> dict:
    props = to_wire(f.spec)
    props.update(_common(f))
    props["mountSettings"] = to_wire(f.mount_settings)
    return {"id": ids.file_server(f.subscription_id, f.resource_group, f.workspace, f.name), "name": f.name,
            "type": ids.TYPES["fileServer"], "properties": props}


def storage_account(a: StorageAccount, file_endpoint: str, blob_endpoint: str | None = None) -> dict:
    body = {"id": ids.storage_account(a.subscription_id, a.resource_group, a.name), "name": a.name,
            "type": ids.TYPES["storageAccount"], "location": a.location, "kind": a.kind,
            "sku": a.sku or {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {"provisioningState": "Succeeded", "creationTime": a.creation_time,
                           "primaryEndpoints": {"file": file_endpoint, **({"blob": blob_endpoint}
                                                                             if blob_endpoint else {})},
                           "primaryLocation": a.location, "statusOfPrimary": "available"}}
    if a.tags:
        body["tags"] = a.tags
    return body


def page(items: list[dict], next_link: str | None) -> dict:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["nextLink"] = next_link
    return body


def output_file(name: str, is_directory: bool, download_url: str | None, size: int, mtime_iso: str,
                api_version: str) -> dict:
    """One `File` of Jobs_ListOutputFiles, shaped for the api-version (reference §6)."""
    if api_version == "2017-09-01-preview":
        return {"name": name, "downloadUrl": download_url or "",
                "properties": {"lastModified": mtime_iso, "contentLength": size}}
    out: dict[str, Any] = {"name": name}
    if api_version == "2018-03-01":
        out["isDirectory"] = is_directory
    else:
        out["fileType"] = "directory" if is_directory else "file"
    if not is_directory:
        out["downloadUrl"] = download_url
        out["properties"] = {"lastModified": mtime_iso, "contentLength": size}
    return out
