"""Every SDK generation on one running emulator (issue 7's done-when): the quickstart of azure-mgmt-batchai 0.2.0
(2017-09-01-preview), 1.0.1 (2018-03-01) and 2.0.0 (2018-05-01), each in its own environment, run side by side to
succeeded jobs on the Docker engine; and jobs created through the three api-versions run on the same runner with the
same files and states."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ROOT
from tests.sdk.conftest import run_flow, sdk0_python, sdk1_python, sdk2_python  # noqa: F401  (fixtures)

from .conftest import docker_emulator
from .jobenv import CNTK_IMAGE

GENERATIONS = {"0.2.0": "2017-09-01-preview", "1.0.1": "2018-03-01", "2.0.0": "2018-05-01"}
SUB = "00000000-0000-0000-0000-0000000000e7"


@pytest.fixture(scope="module")
def glive(tmp_path_factory, cpu_image):
    with docker_emulator(tmp_path_factory.mktemp("generations"), cpu_image) as server:
        yield server


def test_three_generations_run_the_quickstart_side_by_side(glive, sdk0_python, sdk1_python,  # noqa: F811
                                                           sdk2_python, tmp_path):  # noqa: F811
    sample = tmp_path / "sample"
    subprocess.run([sys.executable, "-m", "trainer.data", "--out", str(sample), "--source", "offline",
                    "--limit", "512"], check=True, cwd=ROOT, capture_output=True)
    shutil.copy(ROOT / "trainer" / "ConvNet_MNIST.py", sample / "ConvNet_MNIST.py")
    account, key = next(iter(glive.settings.accounts().items()))
    pythons = {"0.2.0": sdk0_python, "1.0.1": sdk1_python, "2.0.0": sdk2_python}

    def run(generation: str) -> dict:
        tag = generation.replace(".", "")
        return run_flow(pythons[generation], "quickstart_job.py", "--endpoint", glive.http_url, "--account",
                        account, "--key", key, "--sample-dir", str(sample), "--resource-group", f"qs{tag}",
                        "--share", f"quickstart{tag}", "--subscription", SUB, timeout=300)

    with ThreadPoolExecutor(len(pythons)) as pool:
        reports = dict(zip(pythons, pool.map(run, pythons)))

    for generation, report in reports.items():
        checks = report["checks"]
        assert checks["api_version"] == GENERATIONS[generation]
        job = checks["job"]
        assert job["state"] == "succeeded", (generation, checks.get("logs"))
        assert job["tool_type"] == "cntk" and job["exit_code"] == 0
        assert checks["cluster"]["nodes"] == 1 and checks["cluster"]["errors"] == []
        assert checks["cluster"]["password"] is None, "secrets are never echoed"
        assert checks["stdouterr"] == ["execution.log", "stderr.txt", "stdout.txt"]
        assert len(checks["final_line"]) == 1, generation
        assert set(checks["model"]) == {"ConvNet_MNIST_0.npz", "metrics.json"}
        assert checks["metrics_epochs"] == 1
        assert checks["jobs_after_delete"] == []
    rg = f"/subscriptions/{SUB}/resourceGroups"
    for generation in ("0.2.0", "1.0.1"):
        tag = generation.replace(".", "")
        checks = reports[generation]["checks"]
        assert checks["cluster"]["location"] == "eastus"
        assert checks["job"]["id"] == f"{rg}/qs{tag}/providers/Microsoft.BatchAI/jobs/myjob"
        assert checks["job"]["cluster_id"] == f"{rg}/qs{tag}/providers/Microsoft.BatchAI/clusters/mycluster"
    assert reports["0.2.0"]["checks"]["job"]["segment"] is None  # not in the preview's model
    assert reports["1.0.1"]["checks"]["job"]["segment"].startswith(f"{SUB}/qs101/jobs/myjob/")
    assert reports["2.0.0"]["checks"]["job"]["segment"].startswith(
        f"{SUB}/qs200/workspaces/myworkspace/experiments/myexperiment/jobs/myjob/")


# -- one runner for every api-version ------------------------------------------------------------------------------
COMMAND = ("env | grep -o '^AZ_BATCHAI_[A-Z_]*=' | sort | tr -d '=' | tr '\\n' ' '; echo; "
           "echo $AZ_BATCHAI_OUTPUT_OUT; echo $AZ_BATCHAI_NUM_GPUS_PER_NODE; echo made > $AZ_BATCHAI_OUTPUT_OUT/out.txt")


class Arm:
    def __init__(self, live, rg: str):
        self.url, self.rg = live.http_url, rg
        self.base = f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.BatchAI"
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Bearer e2e"

    def call(self, method: str, path: str, version: str, body=None, **query) -> dict:
        resp = self.http.request(method, self.url + path, json=body, params={"api-version": version, **query})
        assert resp.status_code in (200, 201), (method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else {}

    def read(self, entries: list[dict], name: str) -> str:
        return self.http.get(next(e for e in entries if e["name"] == name)["downloadUrl"]).text


@pytest.fixture(scope="module")
def three_jobs(glive):
    """The same custom job created through each api-version on one 2018-03-01 cluster; their results by version."""
    account, key = next(iter(glive.settings.accounts().items()))
    share = f"parity{uuid.uuid4().hex[:6]}"
    (glive.settings.data_dir / "shares" / account / share).mkdir(parents=True)
    arm = Arm(glive, "rg-parity")
    arm.call("PUT", f"/subscriptions/{SUB}/resourcegroups/rg-parity", "2021-04-01", {"location": "eastus"})
    arm.call("PUT", f"{arm.base}/clusters/cl", "2018-03-01", {"location": "eastus", "properties": {
        "vmSize": "STANDARD_D2", "userAccountSettings": {"adminUserName": "u", "adminUserPassword": "p"},
        "scaleSettings": {"manual": {"targetNodeCount": 3}},
        "nodeSetup": {"mountVolumes": {"azureFileShares": [{
            "accountName": account, "azureFileUrl": f"{glive.http_url}/{account}/{share}",
            "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]}}}})
    props = {"nodeCount": 1, "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
             "containerSettings": {"imageSourceRegistry": {"image": CNTK_IMAGE}},
             "customToolkitSettings": {"commandLine": COMMAND},
             "outputDirectories": [{"id": "OUT", "pathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs", "pathSuffix": "o"}]}
    flat_cluster = {"id": f"{arm.base}/clusters/cl"}
    migrated = f"{arm.base}/workspaces/migrated-eastus"
    paths = {"2017-09-01-preview": f"{arm.base}/jobs/viapreview", "2018-03-01": f"{arm.base}/jobs/via201803",
             "2018-05-01": f"{migrated}/experiments/migrated/jobs/via201805"}
    for version, path in paths.items():
        if version == "2018-05-01":
            body = {"properties": {**props, "cluster": {"id": f"{migrated}/clusters/cl"}}}
        else:
            body = {"location": "eastus", "properties": {**props, "cluster": flat_cluster}}
        arm.call("PUT", path, version, body)
    deadline = time.time() + 120
    results = {}
    while len(results) < len(paths) and time.time() < deadline:
        for version, path in paths.items():
            job = arm.call("GET", path, version)
            if job["properties"]["executionState"] in ("succeeded", "failed") and version not in results:
                results[version] = job
        time.sleep(0.2)
    out = {}
    for version, path in paths.items():
        job = results[version]
        stdouterr = arm.call("POST", f"{path}/listOutputFiles", version, outputdirectoryid="stdouterr")["value"]
        files = arm.call("POST", f"{path}/listOutputFiles", version, outputdirectoryid="OUT")["value"]
        names, output_dir, gpus_per_node = (arm.read(stdouterr, "stdout.txt").splitlines() + ["", "", ""])[:3]
        out[version] = {"job": job, "stdouterr": [f["name"] for f in stdouterr], "files": [f["name"] for f in files],
                        "text": arm.read(files, "out.txt"), "env": names.split(), "output_dir": output_dir,
                        "gpus_per_node": gpus_per_node}
    return out


def test_jobs_of_every_api_version_run_alike(three_jobs):
    for version, r in three_jobs.items():
        p = r["job"]["properties"]
        assert (p["executionState"], p["executionInfo"]["exitCode"]) == ("succeeded", 0), version
        assert r["stdouterr"] == ["execution.log", "stderr.txt", "stdout.txt"] and r["files"] == ["out.txt"]
        assert r["text"] == "made\n"
    envs = {v: [n for n in r["env"] if n != "AZ_BATCHAI_NUM_GPUS_PER_NODE"] for v, r in three_jobs.items()}
    assert envs["2017-09-01-preview"] == envs["2018-03-01"] == envs["2018-05-01"]
    assert "AZ_BATCHAI_OUTPUT_OUT" in envs["2018-03-01"]
    segment = three_jobs["2018-03-01"]["job"]["properties"]["jobOutputDirectoryPathSegment"]
    assert segment.startswith(f"{SUB}/rg-parity/jobs/via201803/")
    assert three_jobs["2018-03-01"]["output_dir"].endswith(f"/mounts/afs/{segment}/outputs/o")
    assert f"/mounts/afs/{SUB}/rg-parity/jobs/viapreview/" in three_jobs["2017-09-01-preview"]["output_dir"]
    assert "/workspaces/migrated-eastus/experiments/migrated/jobs/via201805/" in \
        three_jobs["2018-05-01"]["output_dir"]


def test_preview_jobs_see_num_gpus_per_node(three_jobs):
    assert "AZ_BATCHAI_NUM_GPUS_PER_NODE" in three_jobs["2017-09-01-preview"]["env"]
    assert three_jobs["2017-09-01-preview"]["gpus_per_node"] == "0"  # gpus=none: every node runs on CPU
    assert "AZ_BATCHAI_NUM_GPUS_PER_NODE" not in three_jobs["2018-03-01"]["env"]
