"""Blob containers mounted into clusters (nodeSetup.mountVolumes) and jobs (mountVolumes): a job reads its input
from a container and writes its outputs into it, on the Docker executor and the local one; the outputs are read
back with the Blob SDK and through listOutputFiles. Wrong keys and unknown containers fail the mount."""
from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.batchai import models
from azure.storage.blob import BlobServiceClient

from tests.conftest import start_live
from tests.e2e.conftest import CPU_IMAGE, _require_image, docker_client  # noqa: F401  (fixture)
from tests.e2e.jobenv import CNTK_IMAGE, JobEnv

from .conftest import connection_string

COMMAND = ("cat $AZ_BATCHAI_MOUNT_ROOT/data/input/words.txt | tr a-z A-Z > $AZ_BATCHAI_OUTPUT_OUT/upper.txt && "
           "mkdir -p $AZ_BATCHAI_OUTPUT_OUT/deep && echo nested > $AZ_BATCHAI_OUTPUT_OUT/deep/n.txt && "
           "echo from-job-mount > $AZ_BATCHAI_JOB_MOUNT_ROOT/jobdata/written.txt && "
           "cat $AZ_BATCHAI_JOB_MOUNT_ROOT/jobdata/seed.txt")


def _blob_ref(account, key, container, path, **kw):
    return models.AzureBlobFileSystemReference(
        account_name=account, container_name=container, relative_mount_path=path,
        credentials=models.AzureStorageCredentialsInfo(account_key=key), **kw)


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def executor_live(request, tmp_path_factory):
    overrides = {}
    if request.param == "docker":
        client = request.getfixturevalue("docker_client")
        overrides["image_map"] = [f"{CNTK_IMAGE}={_require_image(client, CPU_IMAGE)}"]
    live = start_live(tmp_path_factory.mktemp(f"blobmount-{request.param}"), executor=request.param, gpus="none",
                      allocation_delay=0.05, **overrides)
    live.kind = request.param
    yield live
    live.server.stop()
    assert not live.server_errors, live.server_errors


def test_job_reads_input_from_a_container_and_writes_outputs_into_it(executor_live):
    live = executor_live
    env = JobEnv(live)
    svc = BlobServiceClient.from_connection_string(connection_string(live.blob_url))
    data = svc.create_container("data" + uuid.uuid4().hex[:6])
    jobc = svc.create_container("job" + uuid.uuid4().hex[:6])
    data.upload_blob("input/words.txt", b"hello blob mount\n")
    jobc.upload_blob("seed.txt", b"seeded-by-sdk\n")
    params = models.ClusterCreateParameters(
        vm_size="STANDARD_D2",
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)),
        node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_blob_file_systems=[
            _blob_ref(env.account, env.key, data.container_name, "data", mount_options="-o attr_timeout=240")])))
    env.client.clusters.begin_create(env.rg, env.ws, "bcl", params).result()
    cluster = env.wait_cluster("bcl")
    assert cluster.allocation_state == "steady" and not cluster.errors
    image = CNTK_IMAGE if live.kind == "docker" else None
    props = dict(
        custom_toolkit_settings=models.CustomToolkitSettings(command_line=COMMAND),
        mount_volumes=models.MountVolumes(azure_blob_file_systems=[
            _blob_ref(env.account, env.key, jobc.container_name, "jobdata")]),
        output_directories=[models.OutputDirectory(id="OUT", path_prefix="$AZ_BATCHAI_MOUNT_ROOT/data",
                                                   path_suffix="results")])
    cluster_id = env.client.clusters.get(env.rg, env.ws, "bcl").id
    if image:
        props["container_settings"] = models.ContainerSettings(
            image_source_registry=models.ImageSourceRegistry(image=image))
    env.client.jobs.begin_create(env.rg, env.ws, env.exp, "bjob", models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id), node_count=1,
        std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/data", **props)).result()
    job = env.wait("bjob")
    assert job.execution_state == "succeeded", env.read("bjob", "stderr.txt")
    seg = job.job_output_directory_path_segment
    # the outputs are blobs of the mounted container, read back through the Blob SDK
    assert data.download_blob(f"{seg}/outputs/results/upper.txt").readall() == b"HELLO BLOB MOUNT\n"
    assert data.download_blob(f"{seg}/outputs/results/deep/n.txt").readall() == b"nested\n"
    assert data.download_blob(f"{seg}/stdouterr/stdout.txt").readall() == b"seeded-by-sdk\n"
    assert jobc.download_blob("written.txt").readall() == b"from-job-mount\n"
    names = sorted(b.name for b in data.list_blobs(name_starts_with=f"{seg}/outputs/"))
    assert names == [f"{seg}/outputs/results/deep/n.txt", f"{seg}/outputs/results/upper.txt"]
    # listOutputFiles under the blob mount lists and signs downloads as it does for shares
    assert [(f.name, f.file_type) for f in env.files("bjob", "OUT")] == [("deep", "directory"),
                                                                       ("upper.txt", "file")]
    assert env.read("bjob", "upper.txt", "OUT") == "HELLO BLOB MOUNT\n"
    log = env.read("bjob", "execution.log")
    assert f"blob container {env.account}/{data.container_name} mounted at $AZ_BATCHAI_MOUNT_ROOT/data" in log
    assert "mountOptions '-o attr_timeout=240' accepted, not applied" in log


def test_wrong_key_unknown_container_and_key_vault_are_refused(executor_live):
    env = JobEnv(executor_live)
    svc = BlobServiceClient.from_connection_string(connection_string(executor_live.blob_url))
    c = svc.create_container("keys" + uuid.uuid4().hex[:6])
    wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    params = models.ClusterCreateParameters(
        vm_size="STANDARD_D2",
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)),
        node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_blob_file_systems=[
            _blob_ref(env.account, wrong, c.container_name, "data")])))
    env.client.clusters.begin_create(env.rg, env.ws, "wrongkey", params).result()
    cluster = env.wait_cluster("wrongkey")
    for _ in range(100):
        cluster = env.client.clusters.get(env.rg, env.ws, "wrongkey")
        if cluster.errors:
            break
        import time
        time.sleep(0.05)
    assert cluster.errors and cluster.errors[0].code == "MountVolumeFailed"
    assert c.container_name in cluster.errors[0].message and "AuthenticationFailed" in cluster.errors[0].message
    # a job-level mount of a container that does not exist fails the job, naming it
    env.cluster("cl")
    env.submit("nocontainer", mount_volumes=models.MountVolumes(azure_blob_file_systems=[
        _blob_ref(env.account, env.key, "no-such-container", "x")]))
    job = env.wait("nocontainer")
    assert job.execution_state == "failed"
    messages = " ".join(e.message for e in job.execution_info.errors or [])
    assert "no-such-container" in messages
    # Key Vault references for the key are refused by name
    vault_ref = models.KeyVaultSecretReference(
        source_vault=models.ResourceId(id="/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/v"),
        secret_url="https://v.vault.azure.net/secrets/k")
    with pytest.raises(HttpResponseError) as err:
        env.submit("kv", mount_volumes=models.MountVolumes(azure_blob_file_systems=[
            models.AzureBlobFileSystemReference(
                account_name=env.account, container_name=c.container_name, relative_mount_path="kv",
                credentials=models.AzureStorageCredentialsInfo(account_key_secret_reference=vault_ref))]))
    assert err.value.status_code == 400 and "NotSupportedByEmulator" in str(err.value)
    assert "accountKeySecretReference" in str(err.value)
