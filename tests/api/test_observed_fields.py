"""Members the service's recorded answers carried beyond the swagger (wire_observed.py), in the api-versions that
had them only."""
from __future__ import annotations

from emulator.models import Job
from emulator.wire_observed import node_hours

from .test_old_versions import B, PREVIEW, SUB, V1, V2, c, cluster_body, get, job_body, put  # noqa: F401

EXP = f"{B}/workspaces/ws/experiments/exp"


def _v2_cluster(c):  # noqa: F811
    put(c, f"{B}/workspaces/ws", {"location": "eastus"}, V2)
    put(c, EXP, {}, V2)
    body = cluster_body()
    body.pop("location"), body.pop("tags")
    return put(c, f"{B}/workspaces/ws/clusters/cl", body, V2)["id"]


def test_2018_05_job_carries_the_services_extra_members(c):  # noqa: F811
    cid = _v2_cluster(c)
    body = job_body(cid)
    body.pop("location")
    created = put(c, f"{EXP}/jobs/j1", body, V2)["properties"]
    limited = job_body(cid, constraints={"maxWallClockTime": "PT1H"})
    limited.pop("location")
    put(c, f"{EXP}/jobs/j2", limited, V2)
    for props in (created, get(c, f"{EXP}/jobs/j1", V2)["properties"]):
        assert props["experimentName"] == "exp" and props["maxJobDurationSeconds"] == 7 * 24 * 3600
        assert props["cleanupNodeAfterRun"] is False and props["cleanupNodeBeforeRun"] is False
        assert props["constraints"]["maxAttempts"] == 1
        assert "totalJobNodeHours" not in (props.get("executionInfo") or {})   # not finished
    assert get(c, f"{EXP}/jobs/j2", V2)["properties"]["maxJobDurationSeconds"] == 3600
    assert c.call("POST", f"{EXP}/jobs/j1/terminate", api_version=V2).status_code in (200, 202)
    listed = get(c, f"{EXP}/jobs", V2)["value"]
    done = next(j for j in listed if j["name"] == "j1")["properties"]
    assert done["executionState"] == "failed" and done["executionInfo"]["totalJobNodeHours"] == 0.0


def test_node_hours_follow_the_nodes_run_time():
    job = Job(subscription_id=SUB, resource_group="rg", name="j", spec={"node_count": 2}, nodes=[0, 1],
              execution_info={"start_time": "2018-05-01T10:00:00.000Z", "end_time": "2018-05-01T11:30:00.000Z"})
    assert node_hours(job) == 3.0
    job.execution_info.pop("start_time")
    assert node_hours(job) == 0.0


def test_preview_cluster_image_version_and_jobs_without_location(c):  # noqa: F811
    cluster = put(c, f"{B}/clusters/cl", cluster_body(virtualMachineConfiguration={"imageReference": {
        "publisher": "microsoft-ads", "offer": "linux-data-science-vm-ubuntu", "sku": "linuxdsvmubuntu"}}), PREVIEW)
    assert cluster["properties"]["virtualMachineConfiguration"]["imageReference"]["version"] == "latest"
    job = put(c, f"{B}/jobs/jb", job_body(cluster["id"]), PREVIEW)
    assert "location" not in job and "location" not in get(c, f"{B}/jobs/jb", PREVIEW)
    assert get(c, f"{B}/jobs/jb", V1)["location"] == "eastus"        # 2018-03-01 answered it
    for props in (job["properties"], get(c, f"{B}/jobs/jb", V1)["properties"]):
        assert "experimentName" not in props and "maxJobDurationSeconds" not in props


def test_resource_groups_under_2017_05_10_have_no_type(c):  # noqa: F811
    path = f"/subscriptions/{SUB}/resourcegroups/rg"
    assert "type" not in get(c, path, "2017-05-10")
    assert get(c, path, "2021-04-01")["type"] == "Microsoft.Resources/resourceGroups"
    assert all("type" not in g for g in get(c, f"/subscriptions/{SUB}/resourcegroups", "2017-05-10")["value"])
