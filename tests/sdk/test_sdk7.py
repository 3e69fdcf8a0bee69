"""The quickstart's control-plane calls through the maintained generation: azure-mgmt-batchai 7.0.0,
azure-mgmt-resource (track 2) and azure-identity's ClientSecretCredential against the emulator's own AAD, over
HTTPS with the emulator's certificate trusted."""
from __future__ import annotations

import time

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.batchai import BatchAI
from azure.mgmt.batchai import models
from azure.mgmt.resource.resources import ResourceManagementClient

SUB = "00000000-0000-0000-0000-0000000000a7"
LRO_LIMIT = 0.5


@pytest.fixture()
def clients(live, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_bundle)
    base = live.https_url
    cred = ClientSecretCredential("my-tenant", "my-client", "my-secret", authority=base,
                                  disable_instance_discovery=True)
    scopes = [base + "/.default"]
    return (BatchAI(cred, SUB, base_url=base, credential_scopes=scopes),
            ResourceManagementClient(cred, SUB, base_url=base, credential_scopes=scopes))


def _timed(timings, name, fn):
    t0 = time.perf_counter()
    out = fn()
    timings[name] = time.perf_counter() - t0
    return out


def test_quickstart_control_plane_sdk7(live, clients):
    batchai_client, rm = clients
    timings: dict[str, float] = {}
    rg = rm.resource_groups.create_or_update("q7-rg", {"location": "eastus"})
    assert rg.name == "q7-rg" and rm.resource_groups.check_existence("q7-rg")
    ws = _timed(timings, "workspaces.begin_create", lambda: batchai_client.workspaces.begin_create(
        "q7-rg", "ws", models.WorkspaceCreateParameters(location="eastus", tags={"team": "ml"})).result())
    assert ws.location == "eastus" and ws.tags == {"team": "ml"}
    account, key = next(iter(live.settings.accounts().items()))
    (live.settings.data_dir / "shares" / account / "batchaiquickstart").mkdir(parents=True, exist_ok=True)
    params = models.ClusterCreateParameters(
        vm_size="STANDARD_NC6",
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p@ss"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=2)),
        node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_file_shares=[
            models.AzureFileShareReference(account_name=account,
                                           credentials=models.AzureStorageCredentialsInfo(account_key=key),
                                           azure_file_url=f"{live.https_url}/{account}/batchaiquickstart",
                                           relative_mount_path="azurefileshare")])))
    cluster = _timed(timings, "clusters.begin_create",
                     lambda: batchai_client.clusters.begin_create("q7-rg", "ws", "cl", params).result())
    assert cluster.allocation_state == "resizing" and cluster.current_node_count == 0
    deadline = time.time() + 20
    while cluster.allocation_state != "steady" and time.time() < deadline:
        time.sleep(0.05)
        cluster = batchai_client.clusters.get("q7-rg", "ws", "cl")
    assert cluster.allocation_state == "steady" and cluster.current_node_count == 2
    assert cluster.node_state_counts.idle_node_count == 2
    assert cluster.user_account_settings.admin_user_password is None
    logins = list(batchai_client.clusters.list_remote_login_information("q7-rg", "ws", "cl"))
    assert len(logins) == 2 and len({n.node_id for n in logins}) == 2
    _timed(timings, "experiments.begin_create",
           lambda: batchai_client.experiments.begin_create("q7-rg", "ws", "exp").result())
    job_params = models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster.id), node_count=1,
        std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/azurefileshare",
        input_directories=[models.InputDirectory(id="SAMPLE", path="$AZ_BATCHAI_MOUNT_ROOT/azurefileshare/mnist")],
        output_directories=[models.OutputDirectory(id="MODEL", path_prefix="$AZ_BATCHAI_MOUNT_ROOT/azurefileshare",
                                                   path_suffix="Models")],
        container_settings=models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(
            image="microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0")),
        environment_variables=[models.EnvironmentVariable(name="A", value="1")],
        secrets=[models.EnvironmentVariableWithSecretValue(name="TOKEN", value="s3cret")],
        cntk_settings=models.CNTKsettings(python_script_file_path="$AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py",
                                          command_line_args="$AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL"))
    job = _timed(timings, "jobs.begin_create",
                 lambda: batchai_client.jobs.begin_create("q7-rg", "ws", "exp", "job", job_params).result())
    assert job.execution_state == "queued" and job.tool_type == "cntk"
    assert job.scheduling_priority == "normal"
    assert job.constraints.max_wall_clock_time is not None
    assert [s.name for s in job.secrets] == ["TOKEN"] and job.secrets[0].value is None
    raw = requests.get(f"{live.http_url}{job.id}?api-version=2018-05-01", headers={"Authorization": "Bearer x"})
    assert "s3cret" not in raw.text and "p@ss" not in raw.text
    files = list(batchai_client.jobs.list_output_files("q7-rg", "ws", "exp", "job",
                                                       models.JobsListOutputFilesOptions(outputdirectoryid="MODEL")))
    assert files == []  # queued: nothing written yet
    # paging of a POST list is fetched with GET by azure-core: write 3 files and page one by one
    share = live.settings.data_dir / "shares" / account / "batchaiquickstart" / job.job_output_directory_path_segment
    (share / "stdouterr").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "c.txt"):
        (share / "stdouterr" / name).write_text(name)
    paged = list(batchai_client.jobs.list_output_files(
        "q7-rg", "ws", "exp", "job", models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr", max_results=1)))
    assert [f.name for f in paged] == ["a.txt", "b.txt", "c.txt"]
    assert requests.get(paged[1].download_url, verify=live.ca_bundle).text == "b.txt"
    jobs = list(batchai_client.jobs.list_by_experiment("q7-rg", "ws", "exp"))
    assert [j.name for j in jobs] == ["job"]
    _timed(timings, "jobs.begin_terminate",
           lambda: batchai_client.jobs.begin_terminate("q7-rg", "ws", "exp", "job").result())
    assert batchai_client.jobs.get("q7-rg", "ws", "exp", "job").execution_state == "failed"
    _timed(timings, "jobs.begin_delete",
           lambda: batchai_client.jobs.begin_delete("q7-rg", "ws", "exp", "job").result())
    with pytest.raises(ResourceNotFoundError) as err:
        batchai_client.jobs.get("q7-rg", "ws", "exp", "job")
    assert "JobNotFound" in str(err.value)
    _timed(timings, "clusters.begin_delete",
           lambda: batchai_client.clusters.begin_delete("q7-rg", "ws", "cl").result())
    _timed(timings, "resource_groups.begin_delete", lambda: rm.resource_groups.begin_delete("q7-rg").result())
    assert not rm.resource_groups.check_existence("q7-rg")
    with pytest.raises(HttpResponseError) as err:
        batchai_client.workspaces.get("q7-rg", "ws")
    assert "ResourceGroupNotFound" in str(err.value)
    slow = {name: t for name, t in timings.items() if t >= LRO_LIMIT}
    assert not slow, f"LROs slower than {LRO_LIMIT}s: {slow}"
