"""Small ARM helpers for security tests: a resource group, workspace and experiment on a live emulator, and
clusters and jobs made with plain JSON (so a test can send what an SDK model would not)."""
from __future__ import annotations

import time

import requests

SUB = "00000000-0000-0000-0000-00000000c0de"
V = "api-version=2018-05-01"
H = {"Authorization": "Bearer t"}


class Arm:
    def __init__(self, live, rg: str = "rg"):
        self.live = live
        self.base = f"{live.http_url}/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.BatchAI"
        self.ws = f"{self.base}/workspaces/ws"
        requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01",
                     json={"location": "eastus"}, headers=H).raise_for_status()
        requests.put(f"{self.ws}?{V}", json={"location": "eastus"}, headers=H).raise_for_status()
        requests.put(f"{self.ws}/experiments/e?{V}", headers=H).raise_for_status()

    def cluster_id(self, name: str) -> str:
        return self.ws.split(self.live.http_url, 1)[1] + f"/clusters/{name}"

    def put_cluster(self, name: str, nodes: int = 1, vm_size: str = "STANDARD_D2", mount_volumes=None,
                    scale=None) -> requests.Response:
        props = {"vmSize": vm_size, "userAccountSettings": {"adminUserName": "u", "adminUserPassword": "p"},
                 "scaleSettings": scale or {"manual": {"targetNodeCount": nodes}}}
        if mount_volumes:
            props["nodeSetup"] = {"mountVolumes": mount_volumes}
        return requests.put(f"{self.ws}/clusters/{name}?{V}", json={"properties": props}, headers=H)

    def cluster(self, name: str, wait: bool = True, **kw) -> dict:
        r = self.put_cluster(name, **kw)
        assert r.status_code == 200, r.text
        return self.wait_cluster(name) if wait else r.json()

    def share_cluster(self, name: str, share: str, **kw) -> dict:
        """A cluster mounting the default account's share `share` (made if missing) at $AZ_BATCHAI_MOUNT_ROOT/afs."""
        account, key = next(iter(self.live.settings.accounts().items()))
        (self.live.settings.data_dir / "shares" / account / share).mkdir(parents=True, exist_ok=True)
        return self.cluster(name, mount_volumes={"azureFileShares": [{
            "accountName": account, "azureFileUrl": f"{self.live.https_url}/{account}/{share}",
            "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]}, **kw)

    def wait_cluster(self, name: str, timeout: float = 30) -> dict:
        deadline = time.time() + timeout
        while True:
            c = requests.get(f"{self.ws}/clusters/{name}?{V}", headers=H).json()
            if c["properties"]["allocationState"] == "steady" or time.time() > deadline:
                return c
            time.sleep(0.05)

    def put_job(self, name: str, cluster: str, command: str = "true", image: str | None = None,
                **props) -> requests.Response:
        body = {"cluster": {"id": self.cluster_id(cluster)}, "nodeCount": 1,
                "stdOutErrPathPrefix": "$AZ_BATCHAI_JOB_MOUNT_ROOT/out",
                "customToolkitSettings": {"commandLine": command}}
        if image:
            body["containerSettings"] = {"imageSourceRegistry": {"image": image}}
        body.update(props)
        return requests.put(f"{self.ws}/experiments/e/jobs/{name}?{V}", json={"properties": body}, headers=H)

    def job(self, name: str, **kw) -> dict:
        r = self.put_job(name, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def get_job(self, name: str) -> dict:
        return requests.get(f"{self.ws}/experiments/e/jobs/{name}?{V}", headers=H).json()

    def wait_job(self, name: str, timeout: float = 120) -> dict:
        deadline = time.time() + timeout
        while True:
            j = self.get_job(name)
            if j["properties"]["executionState"] in ("succeeded", "failed"):
                return j
            if time.time() > deadline:
                raise AssertionError(f"job {name} still {j['properties']['executionState']} after {timeout}s")
            time.sleep(0.05)

    def list_files(self, name: str, directory_id: str = "stdouterr", directory: str = ".") -> list[dict]:
        r = requests.post(f"{self.ws}/experiments/e/jobs/{name}/listOutputFiles?{V}"
                          f"&outputdirectoryid={directory_id}&directory={directory}", headers=H)
        assert r.status_code == 200, r.text
        return r.json()["value"]
