"""Every mount verifies its credentials as the Files data plane would: another account's key, a wrong key or
no credentials at all (`credentials: {}`) fail the mount (cluster: unusable nodes and a cluster error; job: the
job fails naming the share), on any executor."""
from __future__ import annotations

import base64

import pytest

from emulator.settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY
from tests.conftest import start_live

from .armjobs import Arm

SECRET_KEY = base64.b64encode(b"the key of the secret account, not the default one!").decode()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("mounts"), executor="local", gpus="none", allocation_delay=0.05,
                      storage_accounts=[f"{DEFAULT_STORAGE_ACCOUNT}:{DEFAULT_STORAGE_KEY}",
                                        f"secretacct:{SECRET_KEY}"])
    for account in (DEFAULT_STORAGE_ACCOUNT, "secretacct"):
        (live.settings.data_dir / "shares" / account / "share1").mkdir(parents=True)
    arm = Arm(live)
    arm.cluster("plain")
    yield arm
    live.server.stop()
    assert not live.server_errors


def _share(arm, account: str, credentials: dict, path: str = "afs") -> dict:
    return {"azureFileShares": [{"accountName": account, "azureFileUrl": f"{arm.live.https_url}/{account}/share1",
                                 "credentials": credentials, "relativeMountPath": path}]}


@pytest.mark.parametrize("account,credentials", [
    ("secretacct", {"accountKey": DEFAULT_STORAGE_KEY}),                 # another account's key
    ("secretacct", {"accountKey": base64.b64encode(b"wrong").decode()}),
    ("secretacct", {}),
])
def test_a_job_mount_with_wrong_or_missing_credentials_fails_the_job(env, account, credentials):
    name = f"jm{abs(hash(str(credentials))) % 10**8}"
    env.job(name, cluster="plain", command="ls $AZ_BATCHAI_JOB_MOUNT_ROOT/afs",
            mountVolumes=_share(env, account, credentials))
    job = env.wait_job(name)
    assert job["properties"]["executionState"] == "failed"
    error = job["properties"]["executionInfo"]["errors"][0]
    assert error["code"] == "MountVolumeFailed", error
    assert "secretacct/share1" in error["message"] and "refused" in error["message"] or "no account key" in \
        error["message"], error


def test_a_job_mount_with_the_right_key_runs(env):
    env.job("jgood", cluster="plain", command="test -d $AZ_BATCHAI_JOB_MOUNT_ROOT/afs",
            mountVolumes=_share(env, "secretacct", {"accountKey": SECRET_KEY}))
    assert env.wait_job("jgood")["properties"]["executionState"] == "succeeded"


@pytest.mark.parametrize("credentials", [{}, {"accountKey": DEFAULT_STORAGE_KEY}])
def test_a_cluster_mount_with_wrong_or_missing_credentials_makes_unusable_nodes(env, credentials):
    name = f"c{len(credentials)}"
    c = env.cluster(name, mount_volumes=_share(env, "secretacct", credentials))["properties"]
    assert c["nodeStateCounts"]["unusableNodeCount"] == 1 and c["nodeStateCounts"]["idleNodeCount"] == 0
    assert c["errors"][0]["code"] == "MountVolumeFailed" and "secretacct" in c["errors"][0]["message"]


def test_a_cluster_mount_with_the_right_key_is_usable(env):
    c = env.cluster("cok", mount_volumes=_share(env, "secretacct", {"accountKey": SECRET_KEY}))["properties"]
    assert c["nodeStateCounts"]["idleNodeCount"] == 1 and not c.get("errors")


def test_a_job_the_scheduler_cannot_plan_fails_alone_and_the_others_still_start(env):
    """A job stored before azureFileUrl was checked at create (an older data dir) with a URL that names no share:
    working out its paths raises, and used to stop every tick for every cluster."""
    store = env.live.ext.store
    env.cluster("other")
    with env.live.ext.scheduler._lock:      # stored and corrupted before a tick can see it
        env.job("broken", cluster="plain", mountVolumes=_share(env, DEFAULT_STORAGE_ACCOUNT,
                                                                {"accountKey": DEFAULT_STORAGE_KEY}))
        rec = next(r for r in store.list("job") if r.name == "broken")
        body = dict(rec.body)
        body["spec"]["mount_volumes"]["azure_file_shares"][0]["azure_file_url"] = "https://127.0.0.1/batchaidev/.."
        assert store.compare_and_set(rec.id, rec.version, body)
    env.job("after", cluster="plain")
    env.job("elsewhere", cluster="other")
    assert env.wait_job("elsewhere")["properties"]["executionState"] == "succeeded"
    assert env.wait_job("after")["properties"]["executionState"] == "succeeded"
    broken = env.wait_job("broken")["properties"]
    assert broken["executionState"] == "failed" and "JobLaunchFailed" == broken["executionInfo"]["errors"][0]["code"]
