"""The resources the swagger fuzzer aims at: a resource group with a 2018-05-01 workspace, experiment, cluster, job
and file server, and the same names created through 2018-03-01 in the group's flat namespace (stored in workspace
`migrated-eastus`, experiment `migrated`), plus a few output files for the seeded jobs."""
from __future__ import annotations

from pathlib import Path

import requests

VERSIONS = ("2018-05-01", "2018-03-01", "2017-09-01-preview")
AUTH = {"Authorization": "Bearer x"}
ARM_VERSION = "2021-04-01"

SUBSCRIPTION = "00000000-0000-0000-0000-0000000f0220"
GROUP = "fuzz-rg"
LOCATION = "eastus"
# names the generator aims at, per path parameter, in two families: the 2018-05-01 resources, and where the old
# versions' resources live (workspace `migrated-eastus`, experiment `migrated`)
_COMMON = {"subscriptionId": SUBSCRIPTION, "resourceGroupName": GROUP, "clusterName": "fuzz-cluster",
           "jobName": "fuzz-job", "fileServerName": "fuzz-fs", "location": LOCATION}
SEEDS = [{**_COMMON, "workspaceName": "fuzz-ws", "experimentName": "fuzz-exp"},
         {**_COMMON, "workspaceName": "migrated-" + LOCATION, "experimentName": "migrated"}]
SEED_PERCENT = 80        # chance that a reference in a body is aimed at a seeded resource
OUTPUT_IDS = ["stdouterr", "MODEL"]

PROVIDER = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.BatchAI"
CLUSTER_ID = f"{PROVIDER}/workspaces/fuzz-ws/clusters/fuzz-cluster"
FLAT_CLUSTER_ID = f"{PROVIDER}/clusters/fuzz-cluster"
FILE_SERVER_ID = f"{PROVIDER}/workspaces/fuzz-ws/fileServers/fuzz-fs"

_USER = {"adminUserName": "fuzz", "adminUserPassword": "Fuzz-passw0rd"}
_CLUSTER = {"vmSize": "STANDARD_NC6", "userAccountSettings": _USER,
            "scaleSettings": {"manual": {"targetNodeCount": 1}}}
_OUT = "$AZ_BATCHAI_JOB_MOUNT_ROOT/out"
_JOB = {"nodeCount": 1, "stdOutErrPathPrefix": _OUT, "customToolkitSettings": {"commandLine": "true"},
        "mountVolumes": {"unmanagedFileSystems": [{"mountCommand": "true", "relativeMountPath": "out"}]},
        "outputDirectories": [{"id": "MODEL", "pathPrefix": _OUT}]}
_FILE_SERVER = {"vmSize": "STANDARD_NC6", "sshConfiguration": {"userAccountSettings": _USER},
                "dataDisks": {"diskSizeInGB": 10, "diskCount": 1, "storageAccountType": "Standard_LRS"}}


# -- seeded resources ----------------------------------------------------------------------------------------------
def seed(session: requests.Session, base_url: str, data_dir: Path | None = None) -> None:
    """Create (or find) the seeded resources; idempotent, so it runs again after a fuzzed delete removed one."""
    def put(path: str, body: dict, version: str) -> dict:
        resp = session.put(f"{base_url}{path}", params={"api-version": version}, json=body, headers=AUTH, timeout=30)
        if resp.status_code not in (200, 201, 409):  # 409: the fuzzer changed it; any state will do
            raise RuntimeError(f"seeding {path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.status_code != 409 else {}

    put(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}", {"location": LOCATION}, ARM_VERSION)
    v = "2018-05-01"
    put(f"{PROVIDER}/workspaces/fuzz-ws", {"location": LOCATION}, v)
    put(f"{PROVIDER}/workspaces/fuzz-ws/experiments/fuzz-exp", {}, v)
    put(f"{PROVIDER}/workspaces/fuzz-ws/clusters/fuzz-cluster", {"properties": _CLUSTER}, v)
    put(f"{PROVIDER}/workspaces/fuzz-ws/fileServers/fuzz-fs", {"properties": _FILE_SERVER}, v)
    job = put(f"{PROVIDER}/workspaces/fuzz-ws/experiments/fuzz-exp/jobs/fuzz-job",
              {"properties": {**_JOB, "cluster": {"id": CLUSTER_ID}}}, v)
    old = "2018-03-01"
    put(f"{PROVIDER}/clusters/fuzz-cluster", {"location": LOCATION, "properties": _CLUSTER}, old)
    put(f"{PROVIDER}/fileServers/fuzz-fs", {"location": LOCATION, "properties": _FILE_SERVER}, old)
    old_job = put(f"{PROVIDER}/jobs/fuzz-job",
                  {"location": LOCATION, "properties": {**_JOB, "cluster": {"id": FLAT_CLUSTER_ID}}}, old)
    if data_dir is not None:
        for body in (job, old_job):
            segment = (body.get("properties") or {}).get("jobOutputDirectoryPathSegment")
            if segment:
                _write_outputs(Path(data_dir) / "unmanaged" / "fuzz-job" / "out" / segment)


def _write_outputs(root: Path) -> None:
    """A few output files, so Jobs_ListOutputFiles lists entries and hands out download links."""
    for rel, text in (("stdouterr/stdout.txt", "epoch 1\n"), ("stdouterr/stderr.txt", ""),
                      ("outputs/model.dnn", "weights"), ("outputs/ünïcødé ☃.txt", "snow"),
                      ("outputs/sub/deeper.txt", "x" * 1000)):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text, encoding="utf-8")


