"""Bad input gets the service's 4xx with an ARM error body, never a 5xx, and nothing stored is lost."""
from __future__ import annotations

import time

import pytest

from .conftest import V, make_app, Client

SUB = "00000000-0000-0000-0000-0000000000e1"
RG = f"/subscriptions/{SUB}/resourcegroups/rg"
B = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.BatchAI"
CLUSTER = {"properties": {"vmSize": "STANDARD_NC6", "userAccountSettings": {"adminUserName": "u",
                                                                           "adminUserPassword": "p"},
                          "scaleSettings": {"manual": {"targetNodeCount": 1}}}}


def job_body(**props):
    body = {"cluster": {"id": f"{B}/workspaces/ws/clusters/cl"}, "nodeCount": 1, "stdOutErrPathPrefix": "/tmp",
            "customToolkitSettings": {"commandLine": "true"}}
    body.update(props)
    return {"properties": {k: v for k, v in body.items() if v is not None}}


@pytest.fixture()
def seeded(client):
    assert client.call("PUT", RG, {"location": "eastus"}, api_version="2021-04-01").status_code == 201
    assert client.call("PUT", f"{B}/workspaces/ws", {"location": "eastus"}).status_code == 200
    assert client.call("PUT", f"{B}/workspaces/ws/experiments/exp").status_code == 200
    assert client.call("PUT", f"{B}/workspaces/ws/clusters/cl", CLUSTER).status_code == 200
    assert client.call("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j1", job_body()).status_code == 200
    return client


CASES = [
    # (method, path, body, api_version, headers, status, code)
    ("GET", f"{B}/workspaces/ws", None, None, None, 400, "MissingApiVersionParameter"),
    ("GET", f"{B}/workspaces/ws", None, "2099-01-01", None, 400, "InvalidApiVersionParameter"),
    ("GET", f"{B}/workspaces/ws", None, "2018-03-01", None, 400, "InvalidApiVersionParameter"),
    ("GET", f"{B}/workspaces/ws", None, V, {"Authorization": ""}, 401, "AuthenticationFailed"),
    ("GET", f"{B}/workspaces/ws", None, V, {"Authorization": "Basic abc"}, 401, "InvalidAuthenticationToken"),
    ("GET", f"{B}/workspaces/nope", None, V, None, 404, "WorkspaceNotFound"),
    ("GET", f"{B}/workspaces/ws/experiments/nope", None, V, None, 404, "ExperimentNotFound"),
    ("GET", f"{B}/workspaces/ws/experiments/nope/jobs/j1", None, V, None, 404, "ExperimentNotFound"),
    ("PUT", f"{B}/workspaces/nope/experiments/e", None, V, None, 404, "WorkspaceNotFound"),
    ("GET", f"{B}/workspaces/ws/clusters/nope", None, V, None, 404, "ClusterNotFound"),
    ("GET", f"{B}/workspaces/ws/experiments/exp/jobs/nope", None, V, None, 404, "JobNotFound"),
    ("GET", f"{B}/workspaces/ws/fileServers/nope", None, V, None, 404, "FileServerNotFound"),
    ("GET", f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.BatchAI/workspaces/ws", None, V, None,
     404, "ResourceGroupNotFound"),
    ("GET", f"{B}/nothing/here", None, V, None, 404, "NotFound"),
    ("PATCH", f"{B}/workspaces/ws/experiments/exp", {}, V, None, 405, "MethodNotAllowed"),
    ("PUT", f"{B}/workspaces/bad.name", {"location": "eastus"}, V, None, 400, "InvalidResourceName"),
    ("PUT", f"{B}/workspaces/" + "x" * 65, {"location": "eastus"}, V, None, 400, "InvalidResourceName"),
    ("PUT", f"{B}/workspaces/ws2", {}, V, None, 400, "MissingRequiredProperty"),
    ("PUT", f"{B}/workspaces/ws2", None, V, None, 400, "InvalidRequestContent"),
    ("PUT", f"{B}/workspaces/ws2", {"location": 5}, V, None, 400, "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/clusters/c2", {"properties": {}}, V, None, 400, "MissingRequiredProperty"),
    ("PUT", f"{B}/workspaces/ws/clusters/c2", {"properties": {**CLUSTER["properties"], "vmPriority": "cheap"}}, V,
     None, 400, "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/clusters/c2", {"properties": {**CLUSTER["properties"], "scaleSettings": {
        "manual": {"targetNodeCount": 1}, "autoScale": {"minimumNodeCount": 0, "maximumNodeCount": 1}}}}, V, None,
     400, "InvalidScaleSettings"),
    ("PUT", f"{B}/workspaces/ws/clusters/c2", {"properties": {**CLUSTER["properties"], "scaleSettings": {
        "autoScale": {"minimumNodeCount": 3, "maximumNodeCount": 1}}}}, V, None, 400, "InvalidScaleSettings"),
    ("PUT", f"{B}/workspaces/ws/clusters/c2", {"properties": {**CLUSTER["properties"], "nodeSetup": {
        "mountVolumes": {"azureBlobFileSystems": [{"accountName": "a", "containerName": "c", "credentials": {
            "accountKeySecretReference": {"sourceVault": {"id": "/subscriptions/x/resourceGroups/rg/providers/"
                                                                "Microsoft.KeyVault/vaults/v"},
                                          "secretUrl": "https://v.vault.azure.net/secrets/k"}},
            "relativeMountPath": "b"}]}}}}, V, None, 400, "NotSupportedByEmulator"),
    ("PUT", f"{B}/workspaces/ws/clusters/cl", {"properties": {**CLUSTER["properties"], "vmSize": "STANDARD_NC12"}},
     V, None, 409, "ClusterAlreadyExists"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(customToolkitSettings=None), V, None, 400,
     "InvalidToolkitSettings"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(cntkSettings={"commandLineArgs": "x"}), V, None,
     400, "InvalidToolkitSettings"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(nodeCount="one"), V, None, 400,
     "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(schedulingPriority="urgent"), V, None, 400,
     "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(cluster={"id": f"{B}/workspaces/ws/clusters/x"}),
     V, None, 400, "ClusterNotFound"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(constraints={"maxWallClockTime": "soon"}), V,
     None, 400, "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(inputDirectories=[{"id": "a-b", "path": "/x"}]),
     V, None, 400, "InvalidPropertyValue"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j2", job_body(outputDirectories=[{"id": "O"}]), V, None, 400,
     "MissingRequiredProperty"),
    ("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j1", job_body(nodeCount=2), V, None, 409, "JobAlreadyExists"),
    ("POST", f"{B}/workspaces/ws/experiments/exp/jobs/j1/listOutputFiles", None, V, None, 400,
     "MissingRequiredParameter"),
    ("POST", f"{B}/workspaces/ws/experiments/exp/jobs/j1/listOutputFiles?outputdirectoryid=NOPE", None, V, None, 400,
     "InvalidOutputDirectoryId"),
    ("POST", f"{B}/workspaces/ws/experiments/exp/jobs/j1/listOutputFiles?outputdirectoryid=stdouterr&maxresults=0",
     None, V, None, 400, "InvalidParameter"),
    ("POST", f"{B}/workspaces/ws/experiments/exp/jobs/j1/listOutputFiles?outputdirectoryid=stdouterr"
             "&linkexpiryinminutes=abc", None, V, None, 400, "InvalidParameter"),
    ("GET", f"{B}/workspaces?maxresults=5000", None, V, None, 400, "InvalidParameter"),
    ("PUT", f"{RG}", {"location": "westus"}, "2021-04-01", None, 409, "InvalidResourceGroupLocation"),
    ("PUT", f"/subscriptions/{SUB}/resourcegroups/rg2", {}, "2021-04-01", None, 400, "LocationRequired"),
    ("GET", f"/subscriptions/{SUB}/resourcegroups/nope", None, "2021-04-01", None, 404, "ResourceGroupNotFound"),
    ("GET", f"/subscriptions/{SUB}/providers/Microsoft.Nothing", None, "2021-04-01", None, 404,
     "InvalidResourceNamespace"),
]


@pytest.mark.parametrize("method,path,body,api_version,headers,status,code", CASES,
                         ids=[f"{c[0]}-{c[6]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input(seeded, method, path, body, api_version, headers, status, code):
    raw_body = None
    if body is None and method in ("PUT", "PATCH") and path.endswith("ws2"):
        raw_body = b"{not json"
    if raw_body is not None:
        if api_version:
            path += ("&" if "?" in path else "?") + f"api-version={api_version}"
        resp = seeded.raw.open(path, method=method, data=raw_body, content_type="application/json",
                               headers={"Authorization": "Bearer t"})
    else:
        resp = seeded.call(method, path, body, api_version=api_version, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert err["code"] == code, err
    assert err["message"]
    # nothing stored was lost
    for p in (f"{B}/workspaces/ws", f"{B}/workspaces/ws/clusters/cl", f"{B}/workspaces/ws/experiments/exp/jobs/j1"):
        assert seeded.call("GET", p).status_code == 200


def test_routes_are_case_insensitive_and_empty_bodies_accepted(seeded):
    assert seeded.call("GET", B.lower().replace("resourcegroups", "RESOURCEGROUPS") + "/WORKSPACES/ws").status_code == 200
    resp = seeded.raw.open(f"{B}/workspaces/ws/experiments/e2?api-version={V}", method="PUT", data=b"",
                           content_type="application/json; charset=utf-8", headers={"Authorization": "Bearer t"})
    assert resp.status_code == 200 and resp.get_json()["name"] == "e2"


def test_paging_with_maxresults_and_next_link_get_or_post(seeded):
    for i in range(5):
        assert seeded.call("PUT", f"{B}/workspaces/ws/experiments/p{i}").status_code == 200
    names, url = [], f"{B}/workspaces/ws/experiments?maxresults=2&api-version={V}"
    pages = 0
    while url:
        resp = seeded.raw.get(url.replace("http://localhost", ""), headers={"Authorization": "Bearer t"})
        body = resp.get_json()
        assert len(body["value"]) <= 2
        names += [e["name"] for e in body["value"]]
        url = body.get("nextLink")
        assert url is None or url.startswith("http://localhost/")
        pages += 1
    assert names == sorted(["exp", "p0", "p1", "p2", "p3", "p4"])
    assert pages == 3


def test_restart_keeps_every_resource(tmp_path):
    first = Client(make_app(tmp_path))
    assert first.call("PUT", RG, {"location": "eastus", "tags": {"k": "v"}}, api_version="2021-04-01").status_code == 201
    assert first.call("PUT", f"{B}/workspaces/ws", {"location": "eastus"}).status_code == 200
    assert first.call("PUT", f"{B}/workspaces/ws/experiments/exp").status_code == 200
    assert first.call("PUT", f"{B}/workspaces/ws/clusters/cl", CLUSTER).status_code == 200
    first.app.extensions["batchai"].scheduler.tick(time.time())
    job = first.call("PUT", f"{B}/workspaces/ws/experiments/exp/jobs/j1", job_body()).get_json()
    fs = {"properties": {"vmSize": "STANDARD_D2", "sshConfiguration": {"userAccountSettings": {
        "adminUserName": "u", "adminUserPassword": "p"}}, "dataDisks": {"diskSizeInGB": 10, "diskCount": 1,
                                                                      "storageAccountType": "Standard_LRS"}}}
    assert first.call("PUT", f"{B}/workspaces/ws/fileServers/fs", fs).status_code == 200
    before = {p: first.call("GET", p).get_json() for p in (f"{B}/workspaces/ws", f"{B}/workspaces/ws/clusters/cl",
                                                           f"{B}/workspaces/ws/experiments/exp",
                                                           f"{B}/workspaces/ws/experiments/exp/jobs/j1",
                                                           f"{B}/workspaces/ws/fileServers/fs")}
    rg_before = first.call("GET", RG, api_version="2021-04-01").get_json()
    first.app.extensions["batchai"].store.close()
    second = Client(make_app(tmp_path))
    for path, body in before.items():
        assert second.call("GET", path).get_json() == body
    assert second.call("GET", RG, api_version="2021-04-01").get_json() == rg_before
    assert before[f"{B}/workspaces/ws/experiments/exp/jobs/j1"]["properties"]["jobOutputDirectoryPathSegment"] == \
        job["properties"]["jobOutputDirectoryPathSegment"]
    second.app.extensions["batchai"].store.close()


def test_delete_cascades_and_missing_delete_is_204(seeded):
    assert seeded.call("DELETE", f"{B}/workspaces/ws").status_code == 200
    assert seeded.call("GET", f"{B}/workspaces/ws/clusters/cl").get_json()["error"]["code"] == "WorkspaceNotFound"
    assert seeded.call("DELETE", f"{B}/workspaces/ws").status_code == 204
    assert seeded.call("PUT", f"{B}/workspaces/ws", {"location": "eastus"}).status_code == 200
    assert seeded.call("GET", f"{B}/workspaces/ws/clusters/cl").get_json()["error"]["code"] == "ClusterNotFound"
    assert seeded.call("DELETE", RG, api_version="2021-04-01").status_code == 200
    assert seeded.call("GET", f"{B}/workspaces/ws").get_json()["error"]["code"] == "ResourceGroupNotFound"


@pytest.mark.parametrize("path,body,target", [
    (f"{B}/workspaces/ws/clusters/c9", {"properties": {**CLUSTER["properties"], "nodeSetup": {
        "performanceCountersSettings": {"appInsightsReference": {"component": {"id": "x"}}}}}},
     "properties.nodeSetup.performanceCountersSettings"),
    (f"{B}/workspaces/ws/experiments/exp/jobs/j9", job_body(secrets=[{"name": "S", "valueSecretReference": {
        "sourceVault": {"id": "v"}, "secretUrl": "https://v/s"}}]), "properties.secrets.valueSecretReference"),
])
def test_unsupported_fields_are_refused_by_name(seeded, path, body, target):
    resp = seeded.call("PUT", path, body)
    assert resp.status_code == 400
    err = resp.get_json()["error"]
    assert err["code"] == "NotSupportedByEmulator" and err["target"] == target
