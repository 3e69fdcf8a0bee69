"""The cluster setup task in each api-version's bodies: accepted with the members that version has, echoed back
without secret values, with the read-only stdOutErrPathSuffix where the version has it."""
from __future__ import annotations

import pytest

from .test_old_versions import B, PREVIEW, V1, V2, c, cluster_body, get, put  # noqa: F401  (c is a fixture)


def _task(version):
    task = {"commandLine": "apt-get install -y jq", "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
            "environmentVariables": [{"name": "A", "value": "1"}]}
    if version != PREVIEW:
        task["secrets"] = [{"name": "TOKEN", "value": "very-secret-value"}]
    if version != V2:
        task["runElevated"] = True
    return task


@pytest.mark.parametrize("version", [PREVIEW, V1, V2])
def test_setup_task_is_accepted_and_echoed_without_secrets(c, version):  # noqa: F811
    path = f"{B}/workspaces/ws/clusters/cl" if version == V2 else f"{B}/clusters/cl"
    body = cluster_body(nodeSetup={"setupTask": _task(version)})
    if version == V2:
        body.pop("location"), body.pop("tags")
        put(c, f"{B}/workspaces/ws", {"location": "eastus"}, V2)
    created = put(c, path, body, version)
    for answer in (created, get(c, path, version)):
        task = answer["properties"]["nodeSetup"]["setupTask"]
        assert task["commandLine"] == "apt-get install -y jq"
        assert task["environmentVariables"] == [{"name": "A", "value": "1"}]
        assert "very-secret-value" not in str(answer)
        if version != PREVIEW:
            assert task["secrets"] == [{"name": "TOKEN"}]
            ws = "workspaces/ws/" if version == V2 else ""
            assert task["stdOutErrPathSuffix"].startswith(f"{B.split('/')[2]}/rg/{ws}clusters/cl/")
        else:
            assert "stdOutErrPathSuffix" not in task
        assert task.get("runElevated") is (None if version == V2 else True)


def test_setup_task_prefix_may_not_climb_out(c):  # noqa: F811
    put(c, f"{B}/workspaces/ws", {"location": "eastus"}, V2)
    body = cluster_body(nodeSetup={"setupTask": {"commandLine": "true", "stdOutErrPathPrefix": "/mnt/../../etc"}})
    body.pop("location"), body.pop("tags")
    resp = c.call("PUT", f"{B}/workspaces/ws/clusters/cl", body, api_version=V2)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "InvalidPropertyValue"


def test_performance_counters_stay_refused(c):  # noqa: F811
    put(c, f"{B}/workspaces/ws", {"location": "eastus"}, V2)
    body = cluster_body(nodeSetup={"performanceCountersSettings": {"appInsightsReference": {
        "component": {"id": "x"}}}})
    body.pop("location"), body.pop("tags")
    resp = c.call("PUT", f"{B}/workspaces/ws/clusters/cl", body, api_version=V2)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "NotSupportedByEmulator"
    assert "performanceCountersSettings" in resp.get_json()["error"]["message"]
