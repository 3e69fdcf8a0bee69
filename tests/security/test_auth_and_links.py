"""Security: --strict-auth, download links that expire and cannot be altered, no path out of the data dir."""
from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from tests.conftest import start_live

SUB = "00000000-0000-0000-0000-0000000000c5"
B = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.BatchAI"
V = "api-version=2018-05-01"


@pytest.fixture()
def strict(tmp_path):
    server = start_live(tmp_path, strict_auth=True)
    yield server
    server.server.stop()
    assert not server.server_errors


def _token(live) -> str:
    r = requests.post(f"{live.https_url}/my-tenant/oauth2/token", verify=live.ca_bundle,
                      data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "s",
                            "resource": live.https_url + "/"})
    assert r.status_code == 200
    return r.json()["access_token"]


def test_strict_auth_accepts_only_tokens_the_emulator_signed(strict):
    url = f"{strict.http_url}/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
    for bad in ("Bearer anything", "Bearer a.b.c",
                "Bearer " + strict.ext.signer.jwt({"exp": int(time.time()) - 10})):
        r = requests.get(url, headers={"Authorization": bad})
        assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken", bad
    good = _token(strict)
    assert requests.get(url, headers={"Authorization": "Bearer " + good}).status_code == 200
    header, body, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = requests.get(url, headers={"Authorization": f"Bearer {header}.{forged}.{sig}"})
    assert r.status_code == 401


def _job_with_output(live):
    h = {"Authorization": "Bearer t"}
    requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01",
                 json={"location": "eastus"}, headers=h).raise_for_status()
    requests.put(f"{live.http_url}{B}/workspaces/ws?{V}", json={"location": "eastus"}, headers=h).raise_for_status()
    requests.put(f"{live.http_url}{B}/workspaces/ws/experiments/e?{V}", headers=h).raise_for_status()
    account, key = next(iter(live.settings.accounts().items()))
    share = live.settings.data_dir / "shares" / account / "share1"
    share.mkdir(parents=True)
    cluster = {"properties": {"vmSize": "STANDARD_D2", "userAccountSettings": {"adminUserName": "u",
                                                                              "adminUserPassword": "p"},
                              "nodeSetup": {"mountVolumes": {"azureFileShares": [{
                                  "accountName": account, "azureFileUrl": f"{live.https_url}/{account}/share1",
                                  "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]}}}}
    requests.put(f"{live.http_url}{B}/workspaces/ws/clusters/c?{V}", json=cluster, headers=h).raise_for_status()
    job = {"properties": {"cluster": {"id": f"{B}/workspaces/ws/clusters/c"}, "nodeCount": 1,
                          "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
                          "customToolkitSettings": {"commandLine": "true"}}}
    r = requests.put(f"{live.http_url}{B}/workspaces/ws/experiments/e/jobs/j?{V}", json=job, headers=h)
    r.raise_for_status()
    out = share / r.json()["properties"]["jobOutputDirectoryPathSegment"] / "stdouterr"
    out.mkdir(parents=True)
    (out / "stdout.txt").write_text("job output")
    (share / "secret.txt").write_text("not in the output directory")
    r = requests.post(f"{live.http_url}{B}/workspaces/ws/experiments/e/jobs/j/listOutputFiles?{V}"
                      "&outputdirectoryid=stdouterr", headers=h)
    r.raise_for_status()
    return r.json()["value"][0]["downloadUrl"], share


@pytest.fixture(scope="module")
def seeded(live):
    """The module's live emulator with a job whose stdouterr holds a file: (live, download URL)."""
    url, _ = _job_with_output(live)
    return live, url


def test_download_links_cannot_be_altered_or_outlive_their_expiry(seeded):
    live, url = seeded
    assert requests.get(url).text == "job output"
    prefix, token, name = url.rsplit("/", 2)
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = payload["p"].rsplit("/", 5)[0] + "/secret.txt"
    altered = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    r = requests.get(f"{prefix}/{altered}.{sig}/{name}")
    assert r.status_code == 403 and r.headers["x-ms-error-code"] == "AuthenticationFailed"
    expired = live.ext.signer.sign({"p": json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["p"],
                                    "exp": int(time.time()) - 1})
    assert requests.get(f"{prefix}/{expired}/{name}").status_code == 403
    escaping = live.ext.signer.sign({"p": "../../etc/passwd", "exp": int(time.time()) + 60})
    assert requests.get(f"{prefix}/{escaping}/passwd").status_code == 404
    # the name after the token is cosmetic: it cannot point elsewhere
    assert requests.get(f"{prefix}/{token}/..%2F..%2Fsecret.txt").text == "job output"


@pytest.mark.parametrize("props,code", [
    ({"stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs/../../.."}, "InvalidPropertyValue"),
    ({"outputDirectories": [{"id": "O", "pathPrefix": "/tmp", "pathSuffix": "../../x"}]}, "InvalidPropertyValue"),
    ({"inputDirectories": [{"id": "I", "path": "/mnt/../etc"}]}, "InvalidPropertyValue"),
    ({"mountVolumes": {"unmanagedFileSystems": [{"mountCommand": "mount x", "relativeMountPath": "../../x"}]}},
     "InvalidParameter"),
    ({"mountVolumes": {"fileServers": [{"fileServer": {"id": f"{B}/workspaces/ws/fileServers/.."},
                                        "relativeMountPath": "nfs"}]}}, "InvalidParameter"),
])
def test_job_paths_cannot_climb_out(seeded, props, code):
    live, _ = seeded
    body = {"properties": {"cluster": {"id": f"{B}/workspaces/ws/clusters/c"}, "nodeCount": 1,
                           "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
                           "customToolkitSettings": {"commandLine": "true"}, **props}}
    r = requests.put(f"{live.http_url}{B}/workspaces/ws/experiments/e/jobs/bad?{V}", json=body,
                     headers={"Authorization": "Bearer t"})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    r = requests.post(f"{live.http_url}{B}/workspaces/ws/experiments/e/jobs/j/listOutputFiles?{V}"
                      "&outputdirectoryid=stdouterr&directory=../..", headers={"Authorization": "Bearer t"})
    assert r.status_code == 400


def test_a_share_name_azure_refuses_makes_unusable_nodes_not_directories(live):
    h = {"Authorization": "Bearer t"}
    requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/rg2?api-version=2021-04-01",
                 json={"location": "eastus"}, headers=h).raise_for_status()
    base = f"/subscriptions/{SUB}/resourceGroups/rg2/providers/Microsoft.BatchAI"
    requests.put(f"{live.http_url}{base}/workspaces/ws?{V}", json={"location": "eastus"}, headers=h).raise_for_status()
    account, key = next(iter(live.settings.accounts().items()))
    cluster = {"properties": {"vmSize": "STANDARD_D2", "userAccountSettings": {"adminUserName": "u"},
                              "nodeSetup": {"mountVolumes": {"azureFileShares": [{
                                  "accountName": account, "azureFileUrl": f"https://h/{account}/AB",
                                  "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]}},
                              "scaleSettings": {"manual": {"targetNodeCount": 1}}}}
    assert requests.put(f"{live.http_url}{base}/workspaces/ws/clusters/c?{V}", json=cluster,
                        headers=h).status_code == 200
    deadline = time.time() + 10
    while True:
        c = requests.get(f"{live.http_url}{base}/workspaces/ws/clusters/c?{V}", headers=h).json()["properties"]
        if c["allocationState"] == "steady" or time.time() > deadline:
            break
        time.sleep(0.05)
    assert c["nodeStateCounts"]["unusableNodeCount"] == 1
    assert c["errors"][0]["code"] == "MountVolumeFailed"
