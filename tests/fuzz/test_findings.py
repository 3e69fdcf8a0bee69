"""What the swagger fuzzer found, one request-level test each, so the fixes stay fixed without the fuzzer's luck."""
from __future__ import annotations

import time

import pytest
import requests

from tests.fuzz.seeds import AUTH, PROVIDER, seed

V = "2018-05-01"


@pytest.fixture(scope="module")
def api(live):
    session = requests.Session()
    seed(session, live.http_url, live.settings.data_dir)

    def call(method: str, path: str, version: str = V, **kwargs) -> requests.Response:
        return session.request(method, live.http_url + path, params={"api-version": version, **kwargs.pop(
            "params", {})}, headers={**AUTH, **kwargs.pop("headers", {})}, timeout=30, **kwargs)
    return call


@pytest.mark.parametrize("body", [b'"a string"', b"true", b"[1]", b"3"])
@pytest.mark.parametrize("path", ["/workspaces/w1", "/workspaces/fuzz-ws/clusters/c1",
                                  "/workspaces/fuzz-ws/experiments/fuzz-exp/jobs/j1",
                                  "/workspaces/fuzz-ws/fileServers/f1"])
def test_a_body_that_is_not_an_object_is_refused(api, path, body):
    # the swagger's models list members without `type: object`: JSON Schema alone let these through to a 500
    resp = api("PUT", PROVIDER + path, data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "InvalidPropertyValue"
    assert "type object" in resp.json()["error"]["message"]


@pytest.mark.parametrize("members", [{"scaleSettings": True}, {"scaleSettings": {"manual": [1]}},
                                     {"userAccountSettings": "u", "vmSize": "STANDARD_NC6"}])
def test_a_member_that_is_not_an_object_is_refused(api, members):
    body = {"properties": {"vmSize": "STANDARD_NC6", "userAccountSettings": {"adminUserName": "u"}, **members}}
    resp = api("PUT", PROVIDER + "/workspaces/fuzz-ws/clusters/c2", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["target"].startswith("properties.")


def test_patch_with_a_body_that_is_not_an_object_is_refused(api):
    resp = api("PATCH", PROVIDER + "/workspaces/fuzz-ws/clusters/fuzz-cluster", data=b"[]",
               headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000,
                                  b'{"location": "eastus", "tags": ' * 3000 + b"{}" + b"}" * 3000])
def test_json_nested_too_deeply_is_refused(api, body):
    # the JSON decoder's RecursionError escaped as a 500
    resp = api("PUT", PROVIDER + "/workspaces/w-deep", data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "InvalidRequestContent"


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/workspaces/fuzz-ws/clusters/no-such-cluster"),
    ("POST", "/workspaces/fuzz-ws/experiments/fuzz-exp/jobs/fuzz-job/terminate"),
    ("DELETE", "/workspaces/fuzz-ws/experiments/e-gone"),
])
def test_empty_answers_claim_no_media_type(api, method, path):
    # they were labelled text/html (Flask's default); swagger's `produces` is application/json
    resp = api(method, PROVIDER + path)
    assert resp.status_code in (200, 204) and resp.content == b""
    assert "Content-Type" not in resp.headers


@pytest.mark.parametrize("version", ["2018-03-01", "2017-09-01-preview"])
def test_old_versions_show_a_start_time_for_a_job_that_ended_queued(api, version):
    # their swaggers require executionInfo.startTime; a job terminated while queued had none
    put = api("PUT", PROVIDER + "/jobs/j-ended-queued", version="2018-03-01", json={
        "location": "eastus", "properties": {"cluster": {"id": PROVIDER + "/clusters/fuzz-cluster"}, "nodeCount": 1,
                                             "stdOutErrPathPrefix": "/tmp", "customToolkitSettings": {}}})
    assert put.status_code == 200, put.text
    assert api("POST", PROVIDER + "/jobs/j-ended-queued/terminate", version="2018-03-01").status_code == 200
    info = api("GET", PROVIDER + "/jobs/j-ended-queued", version=version).json()["properties"]["executionInfo"]
    assert info["startTime"] == info["endTime"]
    assert info["errors"][0]["code"] == "JobTerminated"


@pytest.mark.parametrize("version, path, body", [
    ("2018-05-01", "/workspaces/fuzz-ws/clusters/c-bare", {}),
    ("2018-05-01", "/workspaces/fuzz-ws/fileServers/f-bare", {}),
    ("2018-05-01", "/workspaces/fuzz-ws/experiments/fuzz-exp/jobs/j-bare", {}),
    ("2018-03-01", "/fileServers/f-bare", {"location": "eastus"}),
    ("2017-09-01-preview", "/clusters/c-bare", {"location": "eastus"}),
    ("2017-09-01-preview", "/jobs/j-bare", {"location": "eastus"}),
])
def test_a_create_without_properties_is_refused(api, version, path, body):
    # old file servers without properties answered 500; clusters and file servers were stored without a VM size
    resp = api("PUT", PROVIDER + path, version=version, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == {"code": "MissingRequiredProperty", "target": "properties",
                                    "message": "The request content is missing the required property 'properties'."}
    assert api("GET", PROVIDER + path, version=version).status_code == 404


def _wait_steady(api, path: str, nodes: int) -> dict:
    deadline = time.time() + 20
    while time.time() < deadline:
        props = api("GET", PROVIDER + path).json()["properties"]
        if props["allocationState"] == "steady" and props["currentNodeCount"] == nodes:
            return props
        time.sleep(0.1)
    raise AssertionError(f"{path} did not settle at {nodes} nodes: {props}")


def test_a_cluster_larger_than_the_quota_gets_the_quota_and_an_error(api):
    # a targetNodeCount of 2**31-1 (a valid int32) made the scheduler build a node list that size: memory without
    # bound and a scheduler that never settled
    body = {"properties": {"vmSize": "STANDARD_NC6", "userAccountSettings": {"adminUserName": "u"},
                           "scaleSettings": {"manual": {"targetNodeCount": 2 ** 31 - 1}}}}
    assert api("PUT", PROVIDER + "/workspaces/fuzz-ws/clusters/c-huge", json=body).status_code == 200
    props = _wait_steady(api, "/workspaces/fuzz-ws/clusters/c-huge", 600 // 6)
    assert [e["code"] for e in props["errors"]] == ["AccountCoreQuotaReached"]
    patch = api("PATCH", PROVIDER + "/workspaces/fuzz-ws/clusters/c-huge",
                json={"properties": {"scaleSettings": {"manual": {"targetNodeCount": 2}}}})
    assert patch.status_code == 200
    assert not _wait_steady(api, "/workspaces/fuzz-ws/clusters/c-huge", 2).get("errors")


def test_an_integer_beyond_its_int32_format_is_refused(api):
    body = {"properties": {"vmSize": "STANDARD_NC6", "userAccountSettings": {"adminUserName": "u"},
                           "scaleSettings": {"manual": {"targetNodeCount": 2 ** 31}}}}
    resp = api("PUT", PROVIDER + "/workspaces/fuzz-ws/clusters/c-int32", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["target"] == "properties.scaleSettings.manual.targetNodeCount"
    assert "32-bit" in resp.json()["error"]["message"]


@pytest.mark.parametrize("directory", ["x" * 300, "é" * 200, "a/" * 3000])
def test_listing_a_directory_name_too_long_for_the_disk_is_empty(api, directory):
    # Path.is_dir raised ENAMETOOLONG: 500
    resp = api("POST", PROVIDER + "/workspaces/fuzz-ws/experiments/fuzz-exp/jobs/fuzz-job/listOutputFiles",
               params={"outputdirectoryid": "MODEL", "directory": directory})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"value": []}


def test_a_file_server_whose_ids_are_too_long_for_the_disk_is_refused(api):
    # its data directory is named after the ids; mkdir raised ENAMETOOLONG: 500
    sub = "s" * 300
    assert api("PUT", f"/subscriptions/{sub}/resourcegroups/rg", version="2021-04-01",
               json={"location": "eastus"}).status_code == 201
    base = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.BatchAI/workspaces/ws"
    assert api("PUT", base, json={"location": "eastus"}).status_code == 200
    resp = api("PUT", base + "/fileServers/fs", json={"properties": {
        "vmSize": "STANDARD_NC6", "sshConfiguration": {"userAccountSettings": {"adminUserName": "u"}},
        "dataDisks": {"diskSizeInGB": 10, "diskCount": 1, "storageAccountType": "Standard_LRS"}}})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "InvalidResourceName"
    assert api("GET", base + "/fileServers/fs").status_code == 404


@pytest.mark.parametrize("version", ["2018-03-01", "2017-09-01-preview"])
def test_old_versions_name_a_horovod_job_custom(api, version):
    # their ToolType enums have no horovod (a 2018-05-01 toolkit): the answer broke their swaggers
    body = {"properties": {"cluster": {"id": PROVIDER + "/workspaces/migrated-eastus/clusters/fuzz-cluster"},
                           "nodeCount": 1, "stdOutErrPathPrefix": "/tmp",
                           "horovodSettings": {"pythonScriptFilePath": "train.py"}}}
    assert api("PUT", PROVIDER + "/workspaces/migrated-eastus/experiments/migrated/jobs/j-horovod",
               json=body).status_code == 200
    job = api("GET", PROVIDER + "/jobs/j-horovod", version=version).json()
    assert job["properties"]["toolType"] == "custom"
    assert api("GET", PROVIDER + "/workspaces/migrated-eastus/experiments/migrated/jobs/j-horovod"
               ).json()["properties"]["toolType"] == "horovod"


def test_2018_03_01_names_a_pytorch_job_pytorch_and_the_preview_custom(api):
    body = {"location": "eastus", "properties": {"cluster": {"id": PROVIDER + "/clusters/fuzz-cluster"},
                                                 "nodeCount": 1, "stdOutErrPathPrefix": "/tmp",
                                                 "pyTorchSettings": {"pythonScriptFilePath": "train.py"}}}
    assert api("PUT", PROVIDER + "/jobs/j-torch", version="2018-03-01", json=body).status_code == 200
    assert api("GET", PROVIDER + "/jobs/j-torch", version="2018-03-01").json()["properties"]["toolType"] == "pytorch"
    assert api("GET", PROVIDER + "/jobs/j-torch",
               version="2017-09-01-preview").json()["properties"]["toolType"] == "custom"


@pytest.mark.parametrize("name, constraints, shown", [
    ("j-wall-default", {}, "P7D"), ("j-wall-timespan", {"maxWallClockTime": "7.00:00:00"}, "P7D"),
    ("j-wall-week", {"maxWallClockTime": "P1W"}, "P7D"), ("j-wall-minutes", {"maxWallClockTime": "PT90M"}, "PT1H30M"),
    ("j-wall-years", {"maxWallClockTime": "P1Y2M3D"}, "P428D")])
def test_max_wall_clock_time_is_answered_in_iso_8601(api, name, constraints, shown):
    # `constraints: {}` took the swagger's default 7.00:00:00, which breaks the swagger's own `duration` format;
    # P1W and P1Y2M3D (ISO 8601 durations the format allows) were refused
    body = {"properties": {"cluster": {"id": PROVIDER + "/workspaces/fuzz-ws/clusters/fuzz-cluster"}, "nodeCount": 1,
                           "stdOutErrPathPrefix": "/tmp", "customToolkitSettings": {}, "constraints": constraints}}
    resp = api("PUT", PROVIDER + f"/workspaces/migrated-eastus/experiments/migrated/jobs/{name}", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["properties"]["constraints"]["maxWallClockTime"] == shown
    old = api("GET", PROVIDER + f"/jobs/{name}", version="2018-03-01").json()
    assert old["properties"]["constraints"]["maxWallClockTime"] == shown


def test_the_preview_shows_a_tensorflow_job_without_master_arguments_with_empty_ones(api):
    # the preview requires tensorFlowSettings.masterCommandLineArgs; later versions made it optional
    body = {"location": "eastus", "properties": {"cluster": {"id": PROVIDER + "/clusters/fuzz-cluster"},
                                                 "nodeCount": 1, "stdOutErrPathPrefix": "/tmp",
                                                 "tensorFlowSettings": {"pythonScriptFilePath": "train.py"}}}
    assert api("PUT", PROVIDER + "/jobs/j-tf", version="2018-03-01", json=body).status_code == 200
    settings = api("GET", PROVIDER + "/jobs/j-tf", version="2017-09-01-preview").json()["properties"][
        "tensorFlowSettings"]
    assert settings == {"pythonScriptFilePath": "train.py", "masterCommandLineArgs": ""}
    assert "masterCommandLineArgs" not in api("GET", PROVIDER + "/jobs/j-tf", version="2018-03-01").json()[
        "properties"]["tensorFlowSettings"]
