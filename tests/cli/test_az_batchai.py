"""`az batchai` (azure-cli 2.91.0, in .venv-azcli) against a live emulator over HTTPS, as the README shows it:
register the emulator as a cloud, log in with a service principal, then a workspace, a cluster with a file share,
a job from a JSON file, `job file stream`, `job file list`, terminate, delete. Jobs run as local processes."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from emulator.settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY
from tests.conftest import ROOT, in_ci
from tests.served import Served

AZ = ROOT / ".venv-azcli" / "bin" / "az"
pytestmark = pytest.mark.slow

JOB = {"properties": {
    "nodeCount": 1,
    "customToolkitSettings": {"commandLine": "echo hello from az; echo to stderr >&2; "
                                             "for i in 1 2 3; do echo line $i; sleep 0.5; done; "
                                             "echo result > $AZ_BATCHAI_OUTPUT_OUT/result.txt"},
    "stdOutErrPathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
    "outputDirectories": [{"id": "OUT", "pathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs"}]}}


@pytest.fixture(scope="module")
def az(tmp_path_factory):
    if not AZ.exists():
        message = f"{AZ} is missing: make install (or make .venv-azcli/.installed)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("az")
    served = Served(tmp / "data", "--executor", "local", "--gpus", "none").start()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp / "home"),
           "AZURE_CONFIG_DIR": str(tmp / "azure"), "REQUESTS_CA_BUNDLE": served.ca_bundle,
           "AZURE_CORE_COLLECT_TELEMETRY": "no", "AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_ONLY_SHOW_ERRORS": "true"}
    (tmp / "home").mkdir()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(AZ), *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
        if check:
            assert proc.returncode == 0, f"az {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
        return proc
    run.served, run.tmp = served, tmp
    yield run
    served.stop()
    assert not served.unhandled_errors(), served.unhandled_errors()


def test_az_batchai_end_to_end(az):
    url = az.served.https_url
    # the README's steps, with the emulator's URL as the user types it (a trailing '/')
    az("cloud", "register", "-n", "batchai-emulator", "--endpoint-resource-manager", url + "/")
    az("cloud", "set", "-n", "batchai-emulator")
    az("config", "set", "core.instance_discovery=false")
    login = json.loads(az("login", "--service-principal", "-u", "my-app", "-p", "my-secret", "--tenant",
                          "my-tenant", "-o", "json").stdout)
    assert login[0]["cloudName"] == "batchai-emulator" and login[0]["tenantId"] == "my-tenant", login

    az("group", "create", "-n", "azrg", "-l", "eastus", "-o", "none")
    az("batchai", "workspace", "create", "-g", "azrg", "-n", "azws", "-l", "eastus", "-o", "none")
    conn = (f"DefaultEndpointsProtocol=https;AccountName={DEFAULT_STORAGE_ACCOUNT};AccountKey={DEFAULT_STORAGE_KEY};"
            f"FileEndpoint={url}/{DEFAULT_STORAGE_ACCOUNT};")
    az("storage", "share", "create", "-n", "azshare", "--connection-string", conn, "-o", "none")
    cluster = json.loads(az("batchai", "cluster", "create", "-g", "azrg", "-w", "azws", "-n", "azcluster",
                            "-s", "Standard_NC6", "-t", "1", "-i", "UbuntuLTS", "-u", "azuser", "-p", "Passw0rd!x",
                            "--afs-name", "azshare", "--afs-mount-path", "afs",
                            "--storage-account-name", DEFAULT_STORAGE_ACCOUNT, "--storage-account-key",
                            DEFAULT_STORAGE_KEY, "-o", "json").stdout)
    assert cluster["vmSize"].lower() == "standard_nc6" and cluster["scaleSettings"]["manual"]["targetNodeCount"] == 1
    az("batchai", "experiment", "create", "-g", "azrg", "-w", "azws", "-n", "azexp", "-o", "none")
    job_file = az.tmp / "job.json"
    job_file.write_text(json.dumps(JOB))
    where = ["-g", "azrg", "-w", "azws", "-e", "azexp"]
    az("batchai", "job", "create", *where, "-n", "hello", "-c", "azcluster", "-f", str(job_file), "-o", "none")

    # follows stdout.txt until the job ends
    streamed = az("batchai", "job", "file", "stream", *where, "-j", "hello", "-f", "stdout.txt").stdout
    assert streamed.splitlines()[-4:] == ["hello from az", "line 1", "line 2", "line 3"], streamed
    job = json.loads(az("batchai", "job", "show", *where, "-n", "hello", "-o", "json").stdout)
    assert job["executionState"] == "succeeded" and job["executionInfo"]["exitCode"] == 0, job

    logs = {f["name"]: f for f in json.loads(az("batchai", "job", "file", "list", *where, "-j", "hello",
                                                   "-o", "json").stdout)}
    assert {"stdout.txt", "stderr.txt", "execution.log"} <= set(logs), logs
    assert logs["stderr.txt"]["contentLength"] == len("to stderr\n")
    out = json.loads(az("batchai", "job", "file", "list", *where, "-j", "hello", "-d", "OUT", "-o", "json").stdout)
    assert [(f["name"], f["contentLength"]) for f in out] == [("result.txt", 7)], out
    import requests
    assert requests.get(out[0]["downloadUrl"], verify=az.served.ca_bundle, timeout=30).text == "result\n"

    # a job that would run for minutes: terminate it once it runs
    long_job = dict(JOB, properties=dict(JOB["properties"], customToolkitSettings={"commandLine": "sleep 600"}))
    job_file.write_text(json.dumps(long_job))
    az("batchai", "job", "create", *where, "-n", "long", "-c", "azcluster", "-f", str(job_file), "-o", "none")
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline:
        state = az("batchai", "job", "show", *where, "-n", "long", "--query", "executionState", "-o", "tsv").stdout
        if state.strip() == "running":
            break
        time.sleep(1)
    assert state.strip() == "running", state
    az("batchai", "job", "terminate", *where, "-n", "long", "-y")
    ended = json.loads(az("batchai", "job", "show", *where, "-n", "long", "-o", "json").stdout)
    assert ended["executionState"] == "failed", ended

    az("batchai", "job", "delete", *where, "-n", "long", "-y")
    gone = az("batchai", "job", "show", *where, "-n", "long", check=False)
    assert gone.returncode != 0 and "not found" in (gone.stderr + gone.stdout).lower(), gone.stderr
    names = json.loads(az("batchai", "job", "list", *where, "-o", "json").stdout)
    assert [j["name"] for j in names] == ["hello"]
    az("batchai", "cluster", "delete", "-g", "azrg", "-w", "azws", "-n", "azcluster", "-y")
    az("batchai", "workspace", "delete", "-g", "azrg", "-n", "azws", "-y")
    assert json.loads(az("batchai", "workspace", "list", "-g", "azrg", "-o", "json").stdout) == []
