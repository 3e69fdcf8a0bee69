"""The Batch AI quickstart's control-plane calls (seeds: batchai-cntk-quickstart-2018-05-01), written as the
article writes them for azure-mgmt-batchai 2.0.0, with only the credentials and endpoint lines swapped.

Runs inside the .venv-sdk2018 environment (azure-mgmt-batchai 2.0.0 cannot share a venv with 7.0.0), driven by
tests/sdk/test_sdk2.py, which reads the JSON report it prints last.
"""
import argparse
import json
import os
import sys
import time

import requests
from msrest.authentication import BasicTokenAuthentication
from azure.mgmt.resource import ResourceManagementClient
import azure.mgmt.batchai as batchai
import azure.mgmt.batchai.models as models

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
p.add_argument("--account", required=True)
p.add_argument("--key", required=True)
p.add_argument("--data-dir", required=True)
p.add_argument("--prefix", default="q2")
args = p.parse_args()

report = {"timings": {}, "checks": []}


def timed(name, fn):
    t0 = time.perf_counter()
    out = fn()
    report["timings"][name] = time.perf_counter() - t0
    return out


# credentials: any bearer token is accepted by the emulator (the article builds ServicePrincipalCredentials)
creds = BasicTokenAuthentication({"access_token": "emulator"})
subscription_id = "00000000-0000-0000-0000-0000000000a2"
storage_account_name = args.account
storage_account_key = args.key
admin_user_name = "demoUser"
admin_user_password = "Dem0Pa$$w0rd"
mylocation = "eastus"

batchai_client = batchai.BatchAIManagementClient(credentials=creds, subscription_id=subscription_id,
                                                 base_url=args.endpoint)
resource_group_name = args.prefix + "-myresourcegroup"
resource_management_client = ResourceManagementClient(credentials=creds, subscription_id=subscription_id,
                                                      base_url=args.endpoint)
resource = resource_management_client.resource_groups.create_or_update(resource_group_name,
                                                                       {"location": mylocation})
report["checks"].append(["rg", resource.name, resource.location])

azure_file_share_name = "batchaiquickstart"
mnist_dataset_directory = "mnistcntksample"
primary_endpoint = args.endpoint.split("://", 1)[1] + "/" + storage_account_name  # FileService.primary_endpoint

workspace_name = "myworkspace"
ws = timed("workspaces.create", lambda: batchai_client.workspaces.create(resource_group_name, workspace_name,
                                                                         mylocation).result())
report["checks"].append(["workspace", ws.name, ws.location, str(ws.provisioning_state)])

cluster_name = "mycluster"
relative_mount_point = "azurefileshare"
parameters = models.ClusterCreateParameters(
    vm_size="STANDARD_NC6",
    user_account_settings=models.UserAccountSettings(admin_user_name=admin_user_name,
                                                     admin_user_password=admin_user_password),
    scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)),
    node_setup=models.NodeSetup(
        mount_volumes=models.MountVolumes(
            azure_file_shares=[models.AzureFileShareReference(
                account_name=storage_account_name,
                credentials=models.AzureStorageCredentialsInfo(account_key=storage_account_key),
                azure_file_url="https://{0}/{1}".format(primary_endpoint, azure_file_share_name),
                relative_mount_path=relative_mount_point)],
        ),
    ),
)
timed("clusters.create", lambda: batchai_client.clusters.create(resource_group_name, workspace_name, cluster_name,
                                                                parameters).result())

cluster = batchai_client.clusters.get(resource_group_name, workspace_name, cluster_name)
status = ("Cluster state: {0} Target: {1}; Allocated: {2}; Idle: {3}; Unusable: {4}; Running: {5}; "
          "Preparing: {6}; Leaving: {7}".format(
              cluster.allocation_state, cluster.scale_settings.manual.target_node_count,
              cluster.current_node_count, cluster.node_state_counts.idle_node_count,
              cluster.node_state_counts.unusable_node_count, cluster.node_state_counts.running_node_count,
              cluster.node_state_counts.preparing_node_count, cluster.node_state_counts.leaving_node_count))
print(status, file=sys.stderr)
deadline = time.time() + 30
while cluster.allocation_state != "steady" and time.time() < deadline:
    time.sleep(0.1)
    cluster = batchai_client.clusters.get(resource_group_name, workspace_name, cluster_name)
report["checks"].append(["cluster", str(cluster.allocation_state), cluster.current_node_count,
                         cluster.user_account_settings.admin_user_password,
                         cluster.node_setup.mount_volumes.azure_file_shares[0].credentials.account_key])

experiment_name = "myexperiment"
timed("experiments.create", lambda: batchai_client.experiments.create(resource_group_name, workspace_name,
                                                                      experiment_name).result())

job_name = "myjob"
parameters = models.JobCreateParameters(
    cluster=models.ResourceId(id=cluster.id),
    node_count=1,
    std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/{0}".format(relative_mount_point),
    input_directories=[models.InputDirectory(
        id="SAMPLE",
        path="$AZ_BATCHAI_MOUNT_ROOT/{0}/{1}".format(relative_mount_point, mnist_dataset_directory))],
    output_directories=[models.OutputDirectory(
        id="MODEL",
        path_prefix="$AZ_BATCHAI_MOUNT_ROOT/{0}".format(relative_mount_point),
        path_suffix="Models")],
    container_settings=models.ContainerSettings(
        image_source_registry=models.ImageSourceRegistry(image="microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0")),
    cntk_settings=models.CNTKsettings(
        python_script_file_path="$AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py",
        command_line_args="$AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL"))
timed("jobs.create", lambda: batchai_client.jobs.create(resource_group_name, workspace_name, experiment_name,
                                                        job_name, parameters).result())

job = batchai_client.jobs.get(resource_group_name, workspace_name, experiment_name, job_name)
print("Job state: {0} ".format(job.execution_state), file=sys.stderr)
report["checks"].append(["job", str(job.execution_state), str(job.tool_type), job.job_output_directory_path_segment])

# Stand in for what the job will write (job execution is exercised by the e2e tests): files on the share's disk.
share = os.path.join(args.data_dir, "shares", storage_account_name, azure_file_share_name)
seg = job.job_output_directory_path_segment
for rel, text in [("stdouterr/stdout.txt", "hello from the job\n"), ("stdouterr/stderr.txt", ""),
                  ("outputs/Models/ConvNet_MNIST_0.dnn", "model-bytes")]:
    path = os.path.join(share, seg, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)

files = batchai_client.jobs.list_output_files(resource_group_name, workspace_name, experiment_name, job_name,
                                              models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr"))
listed = []
for file in (f for f in files if f.download_url):
    print("file: {0}, download url: {1}".format(file.name, file.download_url), file=sys.stderr)
    listed.append([file.name, file.content_length, requests.get(file.download_url).text])
report["checks"].append(["stdouterr", listed])
tail = [f for f in batchai_client.jobs.list_output_files(
    resource_group_name, workspace_name, experiment_name, job_name,
    models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr")) if f.name == "stdout.txt"][0]
ranged = requests.get(tail.download_url, headers={"Range": "bytes=6-"})
report["checks"].append(["range", ranged.status_code, ranged.headers.get("Content-Range"), ranged.text])

files = batchai_client.jobs.list_output_files(resource_group_name, workspace_name, experiment_name, job_name,
                                              models.JobsListOutputFilesOptions(outputdirectoryid="MODEL"))
report["checks"].append(["model", [[f.name, f.file_type, f.content_length] for f in files if f.download_url]])

# paging with maxresults=1 follows nextLink with POST (msrest re-sends the first call's method)
paged = list(batchai_client.jobs.list_output_files(
    resource_group_name, workspace_name, experiment_name, job_name,
    models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr", max_results=1)))
report["checks"].append(["paged", sorted(f.name for f in paged)])

jobs = list(batchai_client.jobs.list_by_experiment(resource_group_name, workspace_name, experiment_name))
report["checks"].append(["jobs", [j.name for j in jobs]])

timed("jobs.delete", lambda: batchai_client.jobs.delete(resource_group_name, workspace_name, experiment_name,
                                                        job_name).result())
timed("clusters.delete", lambda: batchai_client.clusters.delete(resource_group_name, workspace_name,
                                                                cluster_name).result())
timed("experiments.delete", lambda: batchai_client.experiments.delete(resource_group_name, workspace_name,
                                                                      experiment_name).result())
timed("workspaces.delete", lambda: batchai_client.workspaces.delete(resource_group_name,
                                                                    workspace_name).result())
delete = resource_management_client.resource_groups.delete(resource_group_name)
timed("resource_groups.delete", delete.result)
report["checks"].append(["rg_exists_after_delete",
                         resource_management_client.resource_groups.check_existence(resource_group_name)])
print(json.dumps(report))
