"""The console: an access line per request (no secrets), lifecycle lines, -v without urllib3's flood, JSON lines,
--version, the richer health, and POST /_emulator/reset (off unless --allow-reset)."""
from __future__ import annotations

import json
import logging
import subprocess
import time

import pytest
import requests

from emulator.console import scrub
from tests.conftest import start_live
from tests.security.armjobs import Arm
from tests.served import BIN, Served

SAS = "sv=2019-02-02&ss=f&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&st=2020-01-01&spr=https&sig=SeCrEtSiG%3D"


def test_scrub_removes_sas_values_tokens_and_signed_link_tokens():
    out = scrub("/acct/share/f.txt", SAS + "&skoid=OID1&comp=list&access_token=TOK&client_secret=CS")
    for secret in ("SeCrEtSiG", "2030-01-01", "OID1", "TOK", "CS"):
        assert secret not in out, out
    assert "sig=REDACTED" in out and "comp=list" in out and "sp=rl" in out
    assert scrub("/_emulator/files/eyJwIjoiYSJ9.c2ln/stdout.txt") == "/_emulator/files/REDACTED/stdout.txt"


@pytest.fixture()
def live(tmp_path):
    live = start_live(tmp_path / "data", executor="local", gpus="none", allocation_delay=0.05)
    yield live
    live.server.stop()
    assert not live.server_errors


def test_access_and_lifecycle_lines_without_secrets(live, caplog):
    caplog.set_level(logging.INFO, logger="batchai_emulator")
    account, key = next(iter(live.settings.accounts().items()))
    arm = Arm(live)
    arm.share_cluster("c1", "logs", nodes=1)
    arm.cluster("broken", nodes=1, mount_volumes={"azureFileShares": [{
        "accountName": "nosuchaccount", "azureFileUrl": f"{live.https_url}/nosuchaccount/x",
        "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]})
    arm.job("ok", cluster="c1", command="echo hi", stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    arm.job("bad", cluster="c1", command="exit 3", stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    assert arm.wait_job("ok")["properties"]["executionState"] == "succeeded"
    assert arm.wait_job("bad")["properties"]["executionState"] == "failed"
    links = arm.list_files("ok")
    url = next(f["downloadUrl"] for f in links if f["name"] == "stdout.txt")
    assert requests.get(url, timeout=10).text == "hi\n"
    requests.get(f"{live.http_url}/{account}/logs?restype=directory&comp=list&{SAS}",
                 headers={"Authorization": "Bearer SeCrEtBeArEr"}, timeout=10)
    time.sleep(0.3)
    text = caplog.text
    access = [r.getMessage() for r in caplog.records if r.name == "batchai_emulator.access"]
    assert any(line.startswith("PUT /subscriptions/") and " 200 " in line and line.endswith("ms") for line in access)
    assert any(line.startswith("GET /_emulator/files/REDACTED/stdout.txt 200") for line in access), access
    assert any("sig=REDACTED" in line for line in access), access
    events = [r.getMessage() for r in caplog.records if r.name == "batchai_emulator.events"]
    for expected in ("cluster c1 resizing: 0 -> 1 node(s)", "cluster c1 steady: 1 node(s) of STANDARD_D2",
                     "job ws/e/ok queued on cluster c1", "job ws/e/ok running on cluster c1 node(s) 0",
                     "job ws/e/ok node 0 started", "job ws/e/ok master node exited with code 0",
                     "job ws/e/ok succeeded (exit code 0)", "job ws/e/bad failed (exit code 3): ",
                     "cluster broken: MountVolumeFailed"):
        assert any(expected in e for e in events), (expected, events)
    for secret in ("SeCrEtSiG", "SeCrEtBeArEr", key, url.split("/_emulator/files/")[1].split("/")[0]):
        assert secret not in text


def test_health_counts_and_reset_is_refused_without_the_flag(live):
    arm = Arm(live)
    arm.cluster("c1", nodes=1)
    health = requests.get(f"{live.http_url}/_emulator/health", timeout=10).json()
    assert health["version"] and health["executor"].startswith("local") and "gpus" in health
    assert health["clusters"] == {"total": 1, "steady": 1} and health["jobs"] == {"total": 0}
    r = requests.post(f"{live.http_url}/_emulator/reset", timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "ResetNotAllowed"
    assert requests.get(f"{live.http_url}/_emulator/health", timeout=10).json()["clusters"]["total"] == 1


def test_reset_wipes_everything_and_stops_running_jobs(tmp_path):
    live = start_live(tmp_path / "data", executor="local", gpus="none", allocation_delay=0.05, allow_reset=True)
    try:
        arm = Arm(live)
        arm.cluster("c1", nodes=1)
        from azure.storage.blob import BlobServiceClient
        from azure.storage.fileshare import ShareServiceClient
        account, key = next(iter(live.settings.accounts().items()))
        files = ShareServiceClient(f"{live.http_url}/{account}", credential={"account_name": account,
                                                                             "account_key": key})
        blobs = BlobServiceClient(f"{live.blob_url}/{account}", credential={"account_name": account,
                                                                            "account_key": key})
        files.create_share("share1").get_file_client("f").upload_file(b"x")
        blobs.create_container("cont1").upload_blob("b", b"y")
        marker = tmp_path / "still-running"
        arm.job("long", cluster="c1", command=f"sleep 5; touch {marker}")
        deadline = time.time() + 30
        while arm.get_job("long")["properties"]["executionState"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        share = live.settings.data_dir / "shares" / account / "share1"
        assert share.is_dir()
        r = requests.post(f"{live.http_url}/_emulator/reset", timeout=30)
        assert r.status_code == 200 and r.json()["deletedRecords"] >= 5, r.text
        health = requests.get(f"{live.http_url}/_emulator/health", timeout=10).json()
        assert health["clusters"] == {"total": 0} and health["jobs"] == {"total": 0}
        assert not share.exists() and not any((live.settings.data_dir / "jobs").iterdir())
        time.sleep(6)
        assert not marker.exists()          # the running job was stopped
        Arm(live).cluster("c1", nodes=1)    # and the emulator works on from empty
        assert [s.name for s in files.list_shares()] == [] and [c.name for c in blobs.list_containers()] == []
        files.create_share("share1")
        blobs.create_container("cont1")
    finally:
        live.server.stop()


def test_version_flag():
    out = subprocess.run([str(BIN), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("batchai-emulator ")


def test_json_lines_and_verbose_without_urllib3_debug(tmp_path):
    with Served(tmp_path / "data", "--log-format", "json", "-v", "--executor", "auto") as served:
        requests.get(f"{served.http_url}/_emulator/health?sig=SeCrEt", timeout=10)
        arm = Arm(served)            # the docker SDK talks to the engine as the job starts: urllib3 stays quiet
        arm.cluster("c1", nodes=1)
        arm.job("j", cluster="c1", image="batchai-emulator/trainer-cpu:latest")
        arm.wait_job("j")
        text = served.log_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [x for x in lines if x["logger"] == "batchai_emulator.access"]
    assert any(x["path"] == "/_emulator/health?sig=REDACTED" and x["status"] == 200 and "ms" in x for x in access)
    assert "SeCrEt" not in text
    assert not any(x["logger"].startswith("urllib3") for x in lines) and "urllib3" not in text
