"""azureFileUrl must name exactly one share, for cluster and job mounts in every api-version: anything else is a
400 naming the field at create (it used to be accepted and then stopped the scheduler)."""
from __future__ import annotations

import pytest

PREVIEW, V1, V2 = "2017-09-01-preview", "2018-03-01", "2018-05-01"
SUB, RG = "00000000-0000-0000-0000-0000000000f1", "rg"
B = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI"
WS = f"{B}/workspaces/ws"

BAD = ["https://127.0.0.1/batchaidev/..", "https://127.0.0.1/../share1", "https://127.0.0.1/batchaidev/%2e%2e",
       "https://127.0.0.1/batchaidev/share1/extra", "https://127.0.0.1/batchaidev/./share1",
       "https://batchaidev.file.core.windows.net/share1/more", "https://batchaidev.file.core.windows.net/..",
       "https://127.0.0.1/batchaidev//share1", "file:///etc/batchaidev/share1", "https://127.0.0.1/share1",
       "https://127.0.0.1/batchaidev/share1?x=1"]
GOOD = ["https://127.0.0.1:8443/batchaidev/share1", "http://localhost:8080/batchaidev/share1/",
        "https://batchaidev.file.core.windows.net/share1", "https://acct.file.core.chinacloudapi.cn/share1"]


def shares(url):
    return {"azureFileShares": [{"accountName": "batchaidev", "azureFileUrl": url,
                                 "credentials": {"accountKey": "a2V5"}, "relativeMountPath": "afs"}]}


def cluster_props(**extra):
    return {"vmSize": "STANDARD_D2", "userAccountSettings": {"adminUserName": "u", "adminUserPassword": "p"},
            "scaleSettings": {"manual": {"targetNodeCount": 1}}, **extra}


def job_props(cluster_id, **extra):
    return {"cluster": {"id": cluster_id}, "nodeCount": 1, "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
            "customToolkitSettings": {"commandLine": "true"}, **extra}


@pytest.fixture()
def c(client):
    assert client.call("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}", {"location": "eastus"},
                       api_version="2021-04-01").status_code in (200, 201)
    assert client.call("PUT", WS, {"location": "eastus"}).status_code == 200
    assert client.call("PUT", f"{WS}/experiments/e").status_code == 200
    assert client.call("PUT", f"{WS}/clusters/c", {"properties": cluster_props()}).status_code == 200
    return client


def _refused(resp, field: str) -> None:
    assert resp.status_code == 400, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "InvalidPropertyValue" and error["target"].endswith(field), error


@pytest.mark.parametrize("url", BAD)
def test_a_url_that_does_not_name_one_share_is_refused_at_create(c, url):
    r = c.call("PUT", f"{WS}/clusters/bad", {"properties": cluster_props(nodeSetup={"mountVolumes": shares(url)})})
    _refused(r, "nodeSetup.mountVolumes.azureFileShares.azureFileUrl")
    r = c.call("PUT", f"{WS}/experiments/e/jobs/bad", {"properties": job_props(f"{WS}/clusters/c",
                                                                             mountVolumes=shares(url))})
    _refused(r, "properties.mountVolumes.azureFileShares.azureFileUrl")
    for version in (PREVIEW, V1):
        r = c.call("PUT", f"{B}/clusters/bad", {"location": "eastus", "properties": cluster_props(
            nodeSetup={"mountVolumes": shares(url)})}, api_version=version)
        _refused(r, "azureFileUrl")
    r = c.call("PUT", f"{B}/clusters/ok", {"location": "eastus", "properties": cluster_props()}, api_version=V1)
    assert r.status_code == 200
    r = c.call("PUT", f"{B}/jobs/bad", {"location": "eastus", "properties": job_props(
        r.get_json()["id"], mountVolumes=shares(url))}, api_version=V1)
    _refused(r, "azureFileUrl")


@pytest.mark.parametrize("url", GOOD)
def test_urls_that_name_one_share_are_accepted(c, url):
    r = c.call("PUT", f"{WS}/clusters/good", {"properties": cluster_props(nodeSetup={"mountVolumes": shares(url)})})
    assert r.status_code == 200, r.get_json()
    r = c.call("PUT", f"{WS}/experiments/e/jobs/good", {"properties": job_props(f"{WS}/clusters/c",
                                                                              mountVolumes=shares(url))})
    assert r.status_code == 200, r.get_json()
