"""Each official example of 2017-09-01-preview and 2018-03-01 is replayed against the emulator; the answer must carry
the example response's key paths (values differ: ids, times and states are the emulator's own).

Resources the example needs are made first from that version's own Put examples, as an old client would make them.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from emulator import ids, mounts, spec
from emulator.backend import outputs
from emulator.backend.common import load
from emulator.backend.legacy import LegacyBackend
from emulator.models import Cluster

VERSIONS = ("2017-09-01-preview", "2018-03-01")
SUB, RG = "00000000-0000-0000-0000-000000000000", "demo_resource_group"

# Examples that cannot be replayed as they are, each with its reason.
SKIP = {
    "JobListRemoteLoginInfo.json": "a queued job holds no nodes (jobs do not run in these tests); the e2e tests list "
                                   "a running job's nodes",
}
# Response keys an example shows that the emulator's resource has no reason to have: `subnet` (the Put examples we
# create from send none), `executionInfo` (the example job is running, ours stays queued), `errors` of a cluster
# whose example mounts are fine (ours fail: the example's storage account does not exist here).
NOT_EXPECTED = {"properties.subnet", "properties.executionInfo", "properties.errors"}


def _operations(version: str) -> dict[str, tuple[str, str, str]]:
    out = {}
    for path, ops in spec.load(version)["paths"].items():
        for method, op in ops.items():
            if method != "parameters":
                for ex in (op.get("x-ms-examples") or {}).values():
                    out[ex["$ref"].split("/")[-1]] = (method.upper(), path, op["operationId"])
    return out


def _cases():
    for version in VERSIONS:
        ops = _operations(version)
        for path in sorted(spec.examples_dir(version).glob("*.json")):
            marks = ()
            if path.name not in ops:
                marks = (pytest.mark.skip(reason="not referenced by this version's swagger"),)
            elif path.name in SKIP:
                marks = (pytest.mark.skip(reason=SKIP[path.name]),)
            yield pytest.param(version, path.name, id=f"{version}/{path.name}", marks=marks)


def _key_paths(value, prefix="") -> set[str]:
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            out |= {p} | _key_paths(v, p)
    elif isinstance(value, list):
        for item in value:
            out |= _key_paths(item, prefix + "[]")
    return out


def _body(version: str, example: str) -> dict:
    """A Put example's body, with the Azure Files account and share names Azure would refuse made valid (see
    tests/api/test_examples.py)."""
    text = (spec.examples_dir(version) / example).read_text().replace("storage_account_name", "storageaccountname") \
        .replace("azure_file_share_name", "azure-file-share-name")
    return json.loads(text)["parameters"]["parameters"]


def _make(client, version: str, kind: str, name: str) -> None:
    base = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI"
    if kind == "jobs":
        _make(client, version, "clusters", "demo_cluster")  # the Put job example runs on demo_cluster
    example = {"clusters": "PutCluster.json", "jobs": "PutJob.json", "fileservers": "PutFileServer.json"}[kind]
    resp = client.call("PUT", f"{base}/{kind}/{name}", _body(version, example), api_version=version)
    assert resp.status_code == 200, resp.get_json()


def _setup(client, version: str, op_id: str, params: dict, expected) -> None:
    assert client.call("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}", {"location": "eastus"},
                       api_version="2021-04-01").status_code in (200, 201)
    named = {"clusterName": "clusters", "jobName": "jobs", "fileServerName": "fileservers"}
    creates = op_id.endswith("_Create")
    for param, kind in named.items():
        if param in params and not creates:
            _make(client, version, kind, params[param])
    if op_id == "Jobs_Create":
        _make(client, version, "clusters", "demo_cluster")
    for item in (expected or {}).get("value", []):
        if isinstance(item, dict) and str(item.get("id", "")).startswith("/subscriptions/"):
            rid = ids.parse(item["id"])
            kind = next(k for k in ("clusters", "jobs", "fileservers") if k in rid)
            _make(client, version, kind, rid[kind])


def _write_listed_files(client, params: dict, expected: dict) -> None:
    """ListOutputFiles: put the example's entries where the job's stdouterr directory lives."""
    ext = client.app.extensions["batchai"]
    job = LegacyBackend(ext.batchai).jobs_get(SUB, RG, params["jobName"])
    cluster, _ = load(ext.store, "cluster", Cluster, job.spec["cluster"]["id"])
    host = mounts.to_host(outputs.output_node_path(job, params["outputdirectoryid"]),
                          outputs.job_volumes(ext.settings.data_dir, cluster, job))
    for item in expected["value"]:
        if item.get("isDirectory"):
            (host / item["name"]).mkdir(parents=True, exist_ok=True)
        else:
            host.mkdir(parents=True, exist_ok=True)
            (host / item["name"]).write_text("x" * item.get("properties", {}).get("contentLength", 1))


@pytest.mark.parametrize("version,example", list(_cases()))
def test_example(client, version, example):
    method, template, op_id = _operations(version)[example]
    ex = json.loads((spec.examples_dir(version) / example).read_text())
    params = ex["parameters"]
    expected_any = next((r.get("body") for r in ex["responses"].values() if r.get("body")), None)
    _setup(client, version, op_id, params, expected_any)
    if op_id == "Jobs_ListOutputFiles":
        _write_listed_files(client, params, expected_any)
    client.app.extensions["batchai"].scheduler.tick(time.time())  # clusters allocate (delay 0)
    path = re.sub(r"\{([^}]+)\}", lambda m: str(params[m.group(1)]), template)
    query = "&".join(f"{k}={v}" for k, v in params.items()
                     if k in ("maxresults", "outputdirectoryid", "linkexpiryinminutes", "directory"))
    if query:
        path += "?" + query
    resp = client.call(method, path, params.get("parameters"), api_version=version)
    codes = [int(c) for c in ex["responses"]]
    assert resp.status_code in codes + [200, 204], (op_id, resp.status_code, resp.get_json())
    expected = ex["responses"].get(str(resp.status_code), {}).get("body")
    if resp.status_code != 200 or not expected:
        return
    got = resp.get_json()
    if expected.get("value") and not got.get("value"):
        pytest.fail(f"{op_id}: the example lists items, the emulator listed none")
    # the service's recorded 2017-09-01-preview job answers carried no location, unlike the examples
    # (emulator/wire_observed.py): a preview job's location is not expected
    preview_job = version == "2017-09-01-preview" and "/jobs" in template
    not_expected = NOT_EXPECTED | ({"location"} if preview_job else set())
    want = {p for p in _key_paths(expected)
            if not any(p == n or p.startswith(n + ".") or p.startswith("value[]." + n) for n in not_expected)}
    missing = sorted(want - _key_paths(got))
    assert not missing, f"{op_id}: response lacks {missing}"
    name = next((params[p] for p in ("clusterName", "jobName", "fileServerName") if p in params), None)
    if name and "id" in got:  # one resource, by its flat id and type (examples mix `fileservers`, `Job`, ...)
        collection = template.split("/")[-2]
        assert got["id"] == f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI/{collection}/{name}"
        assert got["type"] == {"clusters": "Microsoft.BatchAI/Clusters", "jobs": "Microsoft.BatchAI/Jobs",
                               "fileServers": "Microsoft.BatchAI/FileServers"}[collection]
        assert got.get("location") == (None if preview_job else "eastus")
