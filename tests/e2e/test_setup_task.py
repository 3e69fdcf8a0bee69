"""The cluster setup task (nodeSetup.setupTask) through the SDK, on both executors: it runs on every node as it
joins (allocation and scale-up) before any job, with the cluster's mounts in place; its output lands under
{prefix}/{stdOutErrPathSuffix}; a failing one makes its node unusable; secrets are never echoed."""
from __future__ import annotations

import time

import pytest
from azure.mgmt.batchai import models

from tests.conftest import start_live

from .jobenv import CNTK_IMAGE, MOUNT, SHARE, JobEnv

SETUP = ("echo \"hello $GREETING $SECRET\"; test -d $AZ_BATCHAI_MOUNT_ROOT/afs && "
         "echo ran >> $AZ_BATCHAI_MOUNT_ROOT/afs/setup-ran.txt; echo warn >&2")


def _cluster(e: JobEnv, name: str, command: str, nodes: int = 1):
    params = models.ClusterCreateParameters(
        vm_size="STANDARD_D2",
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)),
        node_setup=models.NodeSetup(
            mount_volumes=models.MountVolumes(azure_file_shares=[models.AzureFileShareReference(
                account_name=e.account, credentials=models.AzureStorageCredentialsInfo(account_key=e.key),
                azure_file_url=f"{e.live.https_url}/{e.account}/{SHARE}", relative_mount_path=MOUNT)]),
            setup_task=models.SetupTask(
                command_line=command, std_out_err_path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/setup",
                environment_variables=[models.EnvironmentVariable(name="GREETING", value="hi")],
                secrets=[models.EnvironmentVariableWithSecretValue(name="SECRET", value="s3cret-value")])))
    return e.client.clusters.begin_create(e.rg, e.ws, name, params).result()


def _until(get, check, timeout=90):
    deadline = time.time() + timeout
    while True:
        value = get()
        if check(value):
            return value
        assert time.time() < deadline, f"timed out; last: {value}"
        time.sleep(0.1)


def _counts(e, name):
    c = e.client.clusters.get(e.rg, e.ws, name)
    n = c.node_state_counts
    return c, (c.current_node_count, n.idle_node_count, n.preparing_node_count, n.unusable_node_count)


def _scenario(live, image):
    e = JobEnv(live)
    created = _cluster(e, "cl", SETUP)
    # a job submitted at once waits for the setup task: it sees what the setup task left on the share
    e.custom("job", f"cat $AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/setup-ran.txt", image)
    job = e.wait("job")
    assert job.execution_state == "succeeded" and e.read("job", "stdout.txt") == "ran\n"
    cluster, counts = _until(lambda: _counts(e, "cl"), lambda v: v[1] == (1, 1, 0, 0))
    task = cluster.node_setup.setup_task
    assert task.secrets[0].name == "SECRET" and task.secrets[0].value is None
    assert created.node_setup.setup_task.secrets[0].value is None
    raw = e.client.clusters._client.get(cluster.id + "?api-version=2018-05-01")
    body = e.client.clusters._client.send_request(raw).text()
    assert "s3cret-value" not in body and "SECRET" in body
    suffix = task.std_out_err_path_suffix
    assert suffix.startswith(f"{e.client._config.subscription_id}/{e.rg}/workspaces/{e.ws}/clusters/cl/")
    out = e.share_dir / "setup" / suffix      # where azure-mgmt-batchai's own test reads them
    first = sorted(p.name for p in out.iterdir())
    assert len(first) == 2 and first[0].startswith("stderr-tvm-") and first[1].startswith("stdout-tvm-")
    assert (out / first[1]).read_text() == "hello hi s3cret-value\n" and (out / first[0]).read_text() == "warn\n"

    # scale-up: the new node runs it too (and only it: the first node is not set up again)
    e.client.clusters.update(e.rg, e.ws, "cl", models.ClusterUpdateParameters(scale_settings=models.ScaleSettings(
        manual=models.ManualScaleSettings(target_node_count=2))))
    _until(lambda: _counts(e, "cl")[1], lambda v: v == (2, 2, 0, 0))
    assert len(list(out.iterdir())) == 4
    assert (e.share_dir / "setup-ran.txt").read_text() == "ran\nran\n"

    # a failing setup task: the node is unusable with the error (code, exit code), and no job runs on it
    _cluster(e, "bad", "echo broken >&2; exit 3")
    bad, _ = _until(lambda: _counts(e, "bad"), lambda v: v[1] == (1, 0, 0, 1))
    assert [x.code for x in bad.errors] == ["SetupTaskFailed"]
    assert {d.name: d.value for d in bad.errors[0].details}["exitCode"] == "3"
    cid = bad.id
    e.client.jobs.begin_create(e.rg, e.ws, e.exp, "never", models.JobCreateParameters(
        cluster=models.ResourceId(id=cid), node_count=1, std_out_err_path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}",
        custom_toolkit_settings=models.CustomToolkitSettings(command_line="true"),
        **({"container_settings": models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(
            image=image))} if image else {}))).result()
    time.sleep(1.5)
    assert e.job("never").execution_state == "queued"


def test_setup_task_local_executor(tmp_path):
    server = start_live(tmp_path, executor="local", gpus="none", allocation_delay=0.05)
    try:
        _scenario(server, None)
    finally:
        server.server.stop()


@pytest.mark.docker
def test_setup_task_docker_executor(tmp_path, cpu_image):
    server = start_live(tmp_path, executor="docker", gpus="none", allocation_delay=0.05,
                        image_map=[f"{CNTK_IMAGE}={cpu_image}", f"batchai-emulator/trainer-cpu:latest={cpu_image}"])
    try:
        _scenario(server, CNTK_IMAGE)
    finally:
        server.server.stop()
