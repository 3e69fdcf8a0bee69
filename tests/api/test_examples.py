"""Each official 2018-05-01 swagger example whose request is valid is replayed; the answer must carry the
example response's key paths (values differ: ids, times, states are the emulator's own)."""
from __future__ import annotations

import json
import re
import time

import pytest

from emulator import ids, mounts, spec
from emulator import outputs
from emulator.backend.common import load
from emulator.models import Cluster

from .conftest import V

EXAMPLES = spec.examples_dir(V)
DOC = spec.load(V)

# Known mistakes in the official examples (reference batchai-rest.md §0), each skipped with its reason.
SKIP = {
    "ListCluster.json": "not referenced by the 2018-05-01 swagger (leftover of 2018-03-01)",
    "ListClusterByResourceGroup.json": "not referenced by the 2018-05-01 swagger (leftover of 2018-03-01)",
    "ListFileServer.json": "not referenced by the 2018-05-01 swagger (leftover of 2018-03-01)",
    "ListFileServerByResourceGroup.json": "not referenced by the 2018-05-01 swagger (leftover of 2018-03-01)",
}
# Response keys the examples show but the 2018-05-01 models do not have (ProxyResource has no location/tags;
# `priority` was renamed schedulingPriority).
NOT_IN_MODEL = {"location", "tags", "properties.priority"}
# The Get/List examples show resources created with a `subnet`, which the Put examples (our setup) do not send.
NOT_IN_REQUEST = {"properties.subnet"}
# Keys that depend on a job having run (covered by the e2e tests): the example job is running, ours is queued.
NOT_IN_STATE = {"properties.executionInfo"}
NEEDS_RUNNING_JOB = {"JobListRemoteLoginInfo.json": "a queued job holds no nodes; the e2e tests list a running "
                                                    "job's nodes"}


def _operations() -> dict[str, tuple[str, str, str]]:
    out = {}
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            for ex in (op.get("x-ms-examples") or {}).values():
                out[ex["$ref"].split("/")[-1]] = (method.upper(), path, op["operationId"])
    return out


OPS = _operations()


def _key_paths(value, prefix="") -> set[str]:
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            out.add(p)
            out |= _key_paths(v, p)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                out |= _key_paths(item, prefix + "[]")
    return out


def _example_body(name: str) -> dict:
    """A Put example's body; its Azure Files URL names an account and share Azure would refuse
    (`storage_account_name`, `azure_file_share_name`): resources other examples read are made with valid ones."""
    text = (EXAMPLES / name).read_text().replace("storage_account_name", "storageaccountname") \
        .replace("azure_file_share_name", "azure-file-share-name")
    return json.loads(text)["parameters"].get("parameters") or {}


def _ensure(client, sub, rg, ws=None, exp=None, cluster=None, file_server=None, job=None) -> None:
    """Create the named resources (and their parents) from the official Put examples' bodies."""
    base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.BatchAI"
    assert client.call("PUT", f"/subscriptions/{sub}/resourcegroups/{rg}", {"location": "eastus"},
                       api_version="2021-04-01").status_code in (200, 201)
    if not ws:
        return
    assert client.call("PUT", f"{base}/workspaces/{ws}", _example_body("PutWorkspace.json")).status_code == 200
    if exp:
        assert client.call("PUT", f"{base}/workspaces/{ws}/experiments/{exp}").status_code == 200
    if cluster or job:
        for name in {cluster or "demo_cluster", "demo_cluster"}:
            client.call("PUT", f"{base}/workspaces/{ws}/clusters/{name}", _example_body("PutCluster.json"))
    if file_server:
        client.call("PUT", f"{base}/workspaces/{ws}/fileServers/{file_server}", _example_body("PutFileServer.json"))
    if job:
        body = _fix_cluster_reference(_example_body("PutJob.json"), sub, rg, ws)
        client.call("PUT", f"{base}/workspaces/{ws}/experiments/{exp}/jobs/{job}", body)


def _ensure_id(client, rid: str) -> None:
    p = ids.parse(rid)
    _ensure(client, p["subscriptions"], p["resourcegroups"], p.get("workspaces") or p.get("workspace"),
            p.get("experiments"), p.get("clusters"), p.get("fileservers"), p.get("jobs"))


def _setup(client, op_id: str, params: dict, expected: dict | None) -> None:
    if params.get("resourceGroupName"):
        target = {"cluster": params.get("clusterName"), "file_server": params.get("fileServerName"),
                  "job": params.get("jobName")}
        created = {"Clusters_Create": "cluster", "FileServers_Create": "file_server", "Jobs_Create": "job"}
        if op_id in created:
            target[created[op_id]] = None
        if op_id == "Jobs_Create":
            target["cluster"] = "demo_cluster"
        _ensure(client, params["subscriptionId"], params["resourceGroupName"], params.get("workspaceName"),
                params.get("experimentName"), **target)
    listed_kind = {"Jobs_ListByExperiment": "job", "Clusters_ListByWorkspace": "cluster",
                   "FileServers_ListByWorkspace": "file_server"}.get(op_id)
    for item in (expected or {}).get("value", []):
        if listed_kind:
            _ensure(client, params["subscriptionId"], params["resourceGroupName"], params["workspaceName"],
                    params.get("experimentName"), **{listed_kind: item["name"]})
        elif isinstance(item, dict) and str(item.get("id", "")).startswith("/subscriptions/"):
            _ensure_id(client, item["id"])


def _write_listed_files(client, params: dict, expected: dict) -> None:
    """ListOutputFiles: put the example's entries where the job's stdouterr directory lives."""
    ext = client.app.extensions["batchai"]
    job = ext.batchai.jobs_get(params["subscriptionId"], params["resourceGroupName"], params["workspaceName"],
                               params["experimentName"], params["jobName"])
    cluster, _ = load(ext.store, "cluster", Cluster, job.spec["cluster"]["id"])
    host = mounts.to_host(outputs.output_node_path(job, params["outputdirectoryid"]),
                          outputs.job_volumes(ext.settings.data_dir, cluster, job))
    for item in expected["value"]:
        if item.get("fileType") == "directory":
            (host / item["name"]).mkdir(parents=True, exist_ok=True)
        else:
            host.mkdir(parents=True, exist_ok=True)
            (host / item["name"]).write_text("x" * item.get("properties", {}).get("contentLength", 1))


def _fix_cluster_reference(body, sub, rg, ws):
    """Job examples point at a malformed cluster id (`workspace/`); point them at the workspace's cluster."""
    if isinstance(body, dict) and "cluster" in body.get("properties", {}):
        body["properties"]["cluster"]["id"] = (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
                                               f"Microsoft.BatchAI/workspaces/{ws}/clusters/demo_cluster")
    return body


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example(client, example):
    if example in SKIP or example in NEEDS_RUNNING_JOB:
        pytest.skip(SKIP.get(example) or NEEDS_RUNNING_JOB[example])
    method, template, op_id = OPS[example]
    ex = json.loads((EXAMPLES / example).read_text())
    params = ex["parameters"]
    expected_any = next((r.get("body") for r in ex["responses"].values() if r.get("body")), None)
    _setup(client, op_id, params, expected_any)
    if op_id == "Jobs_ListOutputFiles":
        _write_listed_files(client, params, expected_any)
    client.app.extensions["batchai"].scheduler.tick(time.time())  # clusters allocate (delay 0)
    path = re.sub(r"\{([^}]+)\}", lambda m: str(params[m.group(1)]), template)
    query = "&".join(f"{k}={v}" for k, v in params.items()
                     if k in ("maxresults", "outputdirectoryid", "linkexpiryinminutes", "directory"))
    if query:
        path += "?" + query
    body = next((v for k, v in params.items() if isinstance(v, dict)), None)
    if body is not None:
        body = _fix_cluster_reference(json.loads(json.dumps(body)), params["subscriptionId"],
                                      params.get("resourceGroupName"), params.get("workspaceName"))
    resp = client.call(method, path, body)
    codes = [int(c) for c in ex["responses"]]
    assert resp.status_code in codes + [200, 204], (op_id, resp.status_code, resp.get_json())
    expected = ex["responses"].get(str(resp.status_code), {}).get("body")
    if resp.status_code != 200 or not expected:
        return
    got = resp.get_json()
    if "value" in expected and not got.get("value") and expected["value"]:
        pytest.fail(f"{op_id}: the example lists items, the emulator listed none")
    want = {p for p in _key_paths(expected) if not any(p == n or p.startswith(n + ".") or
                                                      p.startswith("value[]." + n) for n in NOT_IN_MODEL | NOT_IN_STATE | NOT_IN_REQUEST)}
    missing = sorted(want - _key_paths(got))
    assert not missing, f"{op_id}: response lacks {missing}"
