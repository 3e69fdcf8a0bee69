"""2017-09-01-preview and 2018-03-01 through the Flask test client: the cross-version rule (backend/legacy.py) and
what each version's bodies and answers carry."""
from __future__ import annotations

import time

import pytest

PREVIEW, V1, V2 = "2017-09-01-preview", "2018-03-01", "2018-05-01"
SUB, RG = "00000000-0000-0000-0000-0000000000c7", "rg"
B = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI"
MIGRATED = f"{B}/workspaces/migrated-eastus"


def cluster_body(location="eastus", **props):
    return {"location": location, "tags": {"team": "vision"}, "properties": {
        "vmSize": "STANDARD_NC6", "userAccountSettings": {"adminUserName": "u", "adminUserPassword": "secret"},
        "scaleSettings": {"manual": {"targetNodeCount": 1}}, **props}}


def job_body(cluster_id, location="eastus", **props):
    return {"location": location, "properties": {
        "cluster": {"id": cluster_id}, "nodeCount": 1, "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
        "customToolkitSettings": {"commandLine": "echo hi"}, **props}}


@pytest.fixture()
def c(client):
    assert client.call("PUT", f"/subscriptions/{SUB}/resourcegroups/{RG}", {"location": "eastus"},
                       api_version="2021-04-01").status_code in (200, 201)
    return client


def put(c, path, body, version):
    resp = c.call("PUT", path, body, api_version=version)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def get(c, path, version, status=200):
    resp = c.call("GET", path, api_version=version)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


# -- the cross-version rule --------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [PREVIEW, V1])
def test_old_cluster_and_job_live_in_the_migrated_workspace(c, version):
    cluster = put(c, f"{B}/clusters/cl", cluster_body(), version)
    assert cluster["id"] == f"{B}/clusters/cl" and cluster["type"] == "Microsoft.BatchAI/Clusters"
    assert cluster["location"] == "eastus" and cluster["tags"] == {"team": "vision"}
    job = put(c, f"{B}/jobs/jb", job_body(cluster["id"]), version)
    assert job["id"] == f"{B}/jobs/jb" and job["properties"]["cluster"]["id"] == f"{B}/clusters/cl"

    ws = get(c, MIGRATED, V2)
    assert ws["location"] == "eastus"
    seen = get(c, f"{MIGRATED}/clusters/cl", V2)
    assert seen["type"] == "Microsoft.BatchAI/workspaces/clusters" and "location" not in seen
    assert seen["properties"]["vmSize"] == "STANDARD_NC6"
    seen_job = get(c, f"{MIGRATED}/experiments/migrated/jobs/jb", V2)
    assert seen_job["properties"]["cluster"]["id"] == f"{MIGRATED}/clusters/cl"
    assert seen_job["properties"]["schedulingPriority"] == "normal"
    assert "priority" not in seen_job["properties"], "old-only members stay out of 2018-05-01 answers"

    # deleting through 2018-05-01 deletes what the old versions see
    assert c.call("DELETE", f"{MIGRATED}/experiments/migrated/jobs/jb", api_version=V2).status_code == 200
    assert get(c, f"{B}/jobs/jb", version, 404)["error"]["code"] == "ResourceNotFound"


def test_2018_05_01_resources_are_seen_only_in_migrated_workspaces(c):
    put(c, f"{B}/workspaces/ws", {"location": "eastus"}, V2)
    put(c, f"{B}/workspaces/ws/experiments/exp", None, V2)
    cl = put(c, f"{B}/workspaces/ws/clusters/newcl", {"properties": cluster_body()["properties"]}, V2)
    body = {"properties": {k: v for k, v in job_body(cl["id"])["properties"].items()}}
    put(c, f"{B}/workspaces/ws/experiments/exp/jobs/newjob", body, V2)
    err = get(c, f"{B}/jobs/newjob", V1, 404)["error"]
    assert err == {"code": "ResourceNotFound",
                   "message": f"The Resource 'Microsoft.BatchAI/jobs/newjob' under resource group '{RG}' was not "
                              "found."}
    get(c, f"{B}/clusters/newcl", V1, 404)
    assert get(c, f"{B}/jobs", V1)["value"] == [] and get(c, f"{B}/clusters", PREVIEW)["value"] == []

    # made by 2018-05-01 inside the migrated workspace and experiment: the old versions see them, flat
    put(c, MIGRATED, {"location": "eastus"}, V2)
    put(c, f"{MIGRATED}/experiments/migrated", None, V2)
    cl = put(c, f"{MIGRATED}/clusters/shared", {"properties": cluster_body()["properties"]}, V2)
    body = job_body(cl["id"])
    body = {"properties": {**body["properties"], "schedulingPriority": "high"}}
    put(c, f"{MIGRATED}/experiments/migrated/jobs/shared", body, V2)
    job = get(c, f"{B}/jobs/shared", V1)
    assert job["location"] == "eastus" and "tags" not in job
    assert job["properties"]["cluster"]["id"] == f"{B}/clusters/shared"
    assert job["properties"]["priority"] == 1000 and "schedulingPriority" not in job["properties"]
    assert [j["name"] for j in get(c, f"{B}/jobs", V1)["value"]] == ["shared"]
    assert get(c, f"{B}/clusters/shared", PREVIEW)["location"] == "eastus"


def test_a_flat_name_is_one_resource_across_locations(c):
    put(c, f"{B}/clusters/cl", cluster_body(), V1)
    resp = c.call("PUT", f"{B}/clusters/cl", cluster_body(location="westus"), api_version=V1)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "InvalidResourceLocation"
    assert get(c, f"{B}/workspaces/migrated-westus", V2, 404)["error"]["code"] == "WorkspaceNotFound"
    # the same body again is create-or-return; a different one conflicts
    assert put(c, f"{B}/clusters/cl", cluster_body(), PREVIEW)["name"] == "cl"
    resp = c.call("PUT", f"{B}/clusters/cl", cluster_body(vmSize="STANDARD_D1"), api_version=V1)
    assert resp.status_code == 409
    # a second location makes a second migrated workspace; names with dots are fine in the old versions
    put(c, f"{B}/clusters/cl.west", cluster_body(location="West US"), V1)
    assert get(c, f"{B}/workspaces/migrated-westus/clusters/cl.west", V2, 400)["error"]["code"] == \
        "InvalidResourceName", "2018-05-01 names have no dots: such a cluster is listed, not addressable"
    names = [x["name"] for x in get(c, f"{B}/workspaces/migrated-westus/clusters", V2)["value"]]
    assert names == ["cl.west"]
    assert get(c, f"{B}/clusters/cl.west", V1)["location"] == "West US"


def test_location_is_required_and_checked(c):
    body = cluster_body()
    del body["location"]
    err = c.call("PUT", f"{B}/clusters/cl", body, api_version=V1).get_json()["error"]
    assert err["code"] == "MissingRequiredProperty" and err["target"] == "location"
    err = c.call("PUT", f"{B}/clusters/cl", cluster_body(location="east/us"), api_version=V1).get_json()["error"]
    assert err["code"] == "InvalidLocation"
    resp = c.call("PUT", f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.BatchAI/clusters/cl",
                  cluster_body(), api_version=V1)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "ResourceGroupNotFound"


# -- version differences -----------------------------------------------------------------------------------------
def test_job_members_of_the_old_versions(c):
    cl = put(c, f"{B}/clusters/cl", cluster_body(), V1)
    out = [{"id": "MODEL", "pathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs", "pathSuffix": "m"}]
    for name, priority, expected in [("hi", 5, "high"), ("lo", -3, "low"), ("mid", None, "normal")]:
        props = {"experimentName": "exp1", "outputDirectories": out}
        if priority is not None:
            props["priority"] = priority
        job = put(c, f"{B}/jobs/{name}", {**job_body(cl["id"], **props), "tags": {"k": "v"}}, V1)
        again = put(c, f"{B}/jobs/{name}", {**job_body(cl["id"], **props), "tags": {"k": "v"}}, V1)
        assert again == job, "a retried create returns the job it made"
        p = job["properties"]
        assert p["priority"] == (priority or 0) and p["experimentName"] == "exp1" and job["tags"] == {"k": "v"}
        assert p["outputDirectories"] == [{**out[0], "type": "custom", "createNew": True}]
        assert p["jobOutputDirectoryPathSegment"].startswith(f"{SUB}/{RG}/jobs/{name}/")
        assert len(p["jobOutputDirectoryPathSegment"].rsplit("/", 1)[1]) == 36
        new = get(c, f"{MIGRATED}/experiments/migrated/jobs/{name}", V2)["properties"]
        assert new["schedulingPriority"] == expected and new["outputDirectories"] == out
    # the preview has no jobOutputDirectoryPathSegment (its layout is the same)
    preview = get(c, f"{B}/jobs/hi", PREVIEW)["properties"]
    assert "jobOutputDirectoryPathSegment" not in preview and preview["priority"] == 5
    # priority is an integer in both old versions
    err = c.call("PUT", f"{B}/jobs/bad", job_body(cl["id"], priority="normal"), api_version=PREVIEW).get_json()
    assert err["error"]["code"] == "InvalidPropertyValue" and err["error"]["target"] == "properties.priority"


def test_clusters_update_tags_and_scale(c):
    put(c, f"{B}/clusters/cl", cluster_body(), PREVIEW)
    resp = c.call("PATCH", f"{B}/clusters/cl", {"tags": {"new": "tag"}, "properties": {"scaleSettings": {
        "autoScale": {"minimumNodeCount": 0, "maximumNodeCount": 2}}}}, api_version=PREVIEW)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["tags"] == {"new": "tag"} and "autoScale" in body["properties"]["scaleSettings"]
    assert "adminUserPassword" not in body["properties"]["userAccountSettings"]
    assert "autoScale" in get(c, f"{MIGRATED}/clusters/cl", V2)["properties"]["scaleSettings"]


def test_output_files_per_version(c):
    cl = put(c, f"{B}/clusters/cl", cluster_body(nodeSetup={"mountVolumes": {"azureFileShares": [{
        "accountName": "batchaidev", "azureFileUrl": "https://batchaidev.file.core.windows.net/share",
        "credentials": {"accountKey": "k"}, "relativeMountPath": "afs"}]}}), V1)
    job = put(c, f"{B}/jobs/jb", job_body(cl["id"]), V1)
    data_dir = c.app.extensions["batchai"].settings.data_dir
    out = data_dir / "shares" / "batchaidev" / "share" / job["properties"]["jobOutputDirectoryPathSegment"] / \
        "stdouterr"
    (out / "counters").mkdir(parents=True)
    (out / "counters" / "c.txt").write_text("1")
    (out / "stdout.txt").write_text("hello")
    url = f"{B}/jobs/jb/listOutputFiles?outputdirectoryid=stdouterr"
    v1 = c.call("POST", url, api_version=V1).get_json()["value"]
    assert [(f["name"], f["isDirectory"]) for f in v1] == [("counters", True), ("stdout.txt", False)]
    assert v1[1]["properties"]["contentLength"] == 5 and "downloadUrl" in v1[1]
    assert [f["name"] for f in c.call("POST", url + "&directory=counters", api_version=V1).get_json()["value"]] \
        == ["c.txt"]
    preview = c.call("POST", url, api_version=PREVIEW).get_json()["value"]
    assert [sorted(f) for f in preview] == [["downloadUrl", "name", "properties"]] * 2
    resp = c.call("POST", url + "&directory=counters", api_version=PREVIEW)
    assert resp.status_code == 200, "an unknown query parameter is ignored, as ARM does"
    assert [f["name"] for f in resp.get_json()["value"]] == ["counters", "stdout.txt"]


def test_lists_filter_select_and_pages(c):
    other = f"/subscriptions/{SUB}/resourceGroups/rg2/providers/Microsoft.BatchAI"
    assert c.call("PUT", f"/subscriptions/{SUB}/resourcegroups/rg2", {"location": "westus"},
                  api_version="2021-04-01").status_code in (200, 201)
    put(c, f"{B}/clusters/a", cluster_body(), V1)
    put(c, f"{B}/clusters/b", cluster_body(location="westus", vmSize="STANDARD_D1"), V1)
    put(c, f"{other}/clusters/c", cluster_body(), PREVIEW)
    names = lambda body: [x["name"] for x in body["value"]]  # noqa: E731
    assert names(get(c, f"{B}/clusters", V1)) == ["a", "b"]
    assert names(get(c, f"/subscriptions/{SUB}/providers/Microsoft.BatchAI/clusters", PREVIEW)) == ["a", "b", "c"]
    assert names(get(c, f"{B}/clusters?$filter=location eq 'westus'", V1)) == ["b"]
    assert names(get(c, f"{B}/clusters?$filter=properties/vmSize eq 'standard_nc6' and name ne 'x'", V1)) == ["a"]
    picked = get(c, f"{B}/clusters?$select=location,properties/vmSize", V1)["value"][0]
    assert picked == {"id": f"{B}/clusters/a", "name": "a", "type": "Microsoft.BatchAI/Clusters",
                      "location": "eastus", "properties": {"vmSize": "STANDARD_NC6"}}
    # paging follows nextLink, with the filter kept
    page = get(c, f"/subscriptions/{SUB}/providers/Microsoft.BatchAI/clusters?maxresults=1"
                  f"&$filter=properties/vmSize eq 'STANDARD_NC6'", V1)
    seen = names(page)
    while page.get("nextLink"):
        page = c.raw.get(page["nextLink"], headers={"Authorization": "Bearer t"}).get_json()
        seen += names(page)
    assert seen == ["a", "c"]
    for query, target in [("$filter=startswith(name,'a')", "$filter"), ("$filter=name gt 'a'", "$filter"),
                          ("$filter=name eq 'a' or name eq 'b'", "$filter"), ("$select=name,(x)", "$select")]:
        resp = c.call("GET", f"{B}/clusters?{query}", api_version=V1)
        err = resp.get_json()["error"]
        assert resp.status_code == 400 and err["code"] == "NotSupportedByEmulator" and err["target"] == target


def test_file_servers(c):
    body = {"location": "eastus", "properties": {
        "vmSize": "STANDARD_NC6", "sshConfiguration": {"userAccountSettings": {"adminUserName": "u"}},
        "dataDisks": {"diskSizeInGB": 10, "diskCount": 2, "storageAccountType": "Standard_LRS"}}}
    for version in (PREVIEW, V1):
        fs = put(c, f"{B}/fileServers/fs-{version[:4]}", body, version)
        assert fs["type"] == "Microsoft.BatchAI/FileServers" and fs["location"] == "eastus"
        props = fs["properties"]
        assert props["mountSettings"]["fileServerType"] == "nfs" and props["dataDisks"]["cachingType"] == "none"
    assert [x["name"] for x in get(c, f"{B}/fileServers", PREVIEW)["value"]] == ["fs-2017", "fs-2018"]
    assert get(c, f"{MIGRATED}/fileServers/fs-2017", V2)["properties"]["dataDisks"]["cachingType"] == "none"
    # a cluster mounting a file server by its flat id mounts the stored one
    cl = put(c, f"{B}/clusters/cl", cluster_body(nodeSetup={"mountVolumes": {"fileServers": [{
        "fileServer": {"id": f"{B}/fileServers/fs-2018"}, "relativeMountPath": "nfs"}]}}), V1)
    assert cl["properties"]["nodeSetup"]["mountVolumes"]["fileServers"][0]["fileServer"]["id"] == \
        f"{B}/fileServers/fs-2018"
    stored = get(c, f"{MIGRATED}/clusters/cl", V2)["properties"]["nodeSetup"]["mountVolumes"]["fileServers"][0]
    assert stored["fileServer"]["id"] == f"{MIGRATED}/fileServers/fs-2018"
    assert c.call("DELETE", f"{B}/fileServers/fs-2017", api_version=PREVIEW).status_code == 200
    assert c.call("DELETE", f"{B}/fileServers/fs-2017", api_version=PREVIEW).status_code == 204
    get(c, f"{B}/fileServers/fs-2017", V1, 404)


def test_terminate_remote_login_and_delete(c):
    put(c, f"{B}/clusters/cl", cluster_body(), V1)
    c.app.extensions["batchai"].scheduler.tick(time.time())
    nodes = c.call("POST", f"{B}/clusters/cl/listRemoteLoginInformation", api_version=V1).get_json()["value"]
    assert len(nodes) == 1 and nodes[0]["port"] == 50000
    put(c, f"{B}/jobs/jb", job_body(f"{B}/clusters/cl"), PREVIEW)
    assert c.call("POST", f"{B}/jobs/jb/listRemoteLoginInformation", api_version=PREVIEW).get_json() == \
        {"value": []}
    assert c.call("POST", f"{B}/jobs/jb/terminate", api_version=PREVIEW).status_code == 200
    job = get(c, f"{B}/jobs/jb", V1)
    assert job["properties"]["executionState"] == "failed"
    assert job["properties"]["executionInfo"]["errors"][0]["code"] == "JobTerminated"
    assert c.call("DELETE", f"{B}/clusters/cl", api_version=V1).status_code == 200
    assert c.call("DELETE", f"{B}/clusters/cl", api_version=V1).status_code == 204
    get(c, f"{MIGRATED}/clusters/cl", V2, 404)


def test_a_job_on_a_missing_cluster(c):
    err = c.call("PUT", f"{B}/jobs/jb", job_body(f"{B}/clusters/none"), api_version=V1).get_json()["error"]
    assert err["code"] == "ClusterNotFound" and err["target"] == "properties.cluster.id"


def test_usage_counts_old_clusters(c):
    put(c, f"{B}/clusters/cl", cluster_body(), V1)
    c.app.extensions["batchai"].scheduler.tick(time.time())
    usages = get(c, f"/subscriptions/{SUB}/providers/Microsoft.BatchAI/locations/eastus/usages", V1)["value"]
    assert next(u for u in usages if u["name"]["value"] == "Clusters")["currentValue"] == 1
