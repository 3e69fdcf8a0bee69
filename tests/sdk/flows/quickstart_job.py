"""The Batch AI Python quickstart, end to end, as each SDK generation's article wrote it: upload the sample to a file
share, a one-node GPU cluster with the share mounted, the CNTK job running ConvNet_MNIST.py from the share, monitor,
list stdout/stderr and the model files, delete. Only the credentials and endpoints are swapped for the emulator's.

One script for three generations, each in its own environment (tests/sdk/requirements-*.txt):
* azure-mgmt-batchai 0.2.0 (2017-09-01-preview, MicrosoftDocs azure-docs articles/batch-ai/quickstart-python.md of
  October 2017) and 1.0.1 (2018-03-01): clusters and jobs directly in the resource group, `location` in the bodies;
* azure-mgmt-batchai 2.0.0 (2018-05-01): the same steps inside a workspace and an experiment.

Prints a JSON report last (read by the tests).
"""
import argparse
import json
import sys
import time

import requests
from azure.mgmt.resource import ResourceManagementClient
from azure.storage.file import FileService
from msrest.authentication import BasicTokenAuthentication
import azure.mgmt.batchai as batchai
import azure.mgmt.batchai.models as models

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
p.add_argument("--account", required=True)
p.add_argument("--key", required=True)
p.add_argument("--sample-dir", required=True, help="local directory with the quickstart's three files")
p.add_argument("--resource-group", required=True)
p.add_argument("--share", required=True)
p.add_argument("--subscription", default="00000000-0000-0000-0000-0000000000b1")
p.add_argument("--training-args", default="--epochs 1 --epoch-size 256")
args = p.parse_args()

report = {"checks": {}, "timings": {}}
t_start = time.time()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# credentials: any bearer token is accepted by the emulator (the articles build ServicePrincipalCredentials)
creds = BasicTokenAuthentication({"access_token": "emulator"})
subscription_id = args.subscription
storage_account_name, storage_account_key = args.account, args.key
admin_user_name, admin_user_password = "demoUser", "Dem0Pa$$w0rd"

batchai_client = batchai.BatchAIManagementClient(credentials=creds, subscription_id=subscription_id,
                                                 base_url=args.endpoint)
NEW = hasattr(batchai_client, "workspaces")  # 2.0.0: workspaces and experiments
report["checks"]["api_version"] = batchai_client.api_version

resource_group_name = args.resource_group
resource_management_client = ResourceManagementClient(credentials=creds, subscription_id=subscription_id,
                                                      base_url=args.endpoint)
resource_management_client.resource_groups.create_or_update(resource_group_name, {"location": "eastus"})

# -- prepare the Azure file share (the article: FileService(storage_account_name, storage_account_key)) ------------
azure_file_share_name = args.share
service = FileService(connection_string=f"DefaultEndpointsProtocol={args.endpoint.split(':')[0]};"
                                        f"AccountName={storage_account_name};AccountKey={storage_account_key};"
                                        f"FileEndpoint={args.endpoint}/{storage_account_name};")
service.create_share(azure_file_share_name, fail_on_exist=False)
mnist_dataset_directory = "mnistcntksample"
service.create_directory(azure_file_share_name, mnist_dataset_directory, fail_on_exist=False)
for f in ["Train-28x28_cntk_text.txt", "Test-28x28_cntk_text.txt", "ConvNet_MNIST.py"]:
    service.create_file_from_path(azure_file_share_name, mnist_dataset_directory, f, f"{args.sample_dir}/{f}")

# -- where resources live: the resource group (0.2.0, 1.0.1) or a workspace and an experiment (2.0.0) --------------
if NEW:
    workspace_name, experiment_name = "myworkspace", "myexperiment"
    batchai_client.workspaces.create(resource_group_name, workspace_name, "eastus").result()
    in_group = (resource_group_name, workspace_name)
    in_experiment = (resource_group_name, workspace_name, experiment_name)
    location = {}
else:
    in_group = in_experiment = (resource_group_name,)
    location = {"location": "eastus"}

# -- create the GPU cluster ----------------------------------------------------------------------------------------
cluster_name = "mycluster"
relative_mount_point = "azurefileshare"
parameters = models.ClusterCreateParameters(
    # Location where the cluster will physically be deployed (before 2018-05-01)
    **location,
    # VM size. Use NC or NV series for GPU
    vm_size="STANDARD_NC6",
    # Configure the ssh users
    user_account_settings=models.UserAccountSettings(
        admin_user_name=admin_user_name,
        admin_user_password=admin_user_password),
    # Number of VMs in the cluster
    scale_settings=models.ScaleSettings(
        manual=models.ManualScaleSettings(target_node_count=1)
    ),
    # Configure each node in the cluster
    node_setup=models.NodeSetup(
        # Mount shared volumes to the host
        mount_volumes=models.MountVolumes(
            azure_file_shares=[
                models.AzureFileShareReference(
                    account_name=storage_account_name,
                    credentials=models.AzureStorageCredentialsInfo(
                        account_key=storage_account_key),
                    azure_file_url="https://{0}/{1}".format(
                        service.primary_endpoint, azure_file_share_name),
                    relative_mount_path=relative_mount_point)],
        ),
    ),
)
batchai_client.clusters.create(*in_group, cluster_name, parameters).result()

# -- get cluster status --------------------------------------------------------------------------------------------
deadline = time.time() + 60
while True:
    cluster = batchai_client.clusters.get(*in_group, cluster_name)
    log("Cluster state: {0} Target: {1}; Allocated: {2}; Idle: {3}; Unusable: {4}; Running: {5}; Preparing: {6}; "
        "Leaving: {7}".format(cluster.allocation_state, cluster.scale_settings.manual.target_node_count,
                              cluster.current_node_count, cluster.node_state_counts.idle_node_count,
                              cluster.node_state_counts.unusable_node_count,
                              cluster.node_state_counts.running_node_count,
                              cluster.node_state_counts.preparing_node_count,
                              cluster.node_state_counts.leaving_node_count))
    if str(cluster.allocation_state).endswith("steady") and cluster.current_node_count == 1 or time.time() > deadline:
        break
    time.sleep(0.2)
report["checks"]["cluster"] = {"id": cluster.id, "location": getattr(cluster, "location", None),
                               "nodes": cluster.current_node_count,
                               "password": cluster.user_account_settings.admin_user_password,
                               "errors": [e.message for e in cluster.errors or []]}

# -- create the training job ---------------------------------------------------------------------------------------
if NEW:
    batchai_client.experiments.create(resource_group_name, workspace_name, experiment_name).result()
    location = {}
else:
    # The job and cluster must be created in the same location
    location = {"location": cluster.location}
job_name = "myjob"
parameters = models.JobCreateParameters(
    **location,
    # The cluster this job will run on
    cluster=models.ResourceId(id=cluster.id),
    # The number of VMs in the cluster to use
    node_count=1,
    # Write job's standard output and execution log to Azure File Share
    std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/{0}".format(relative_mount_point),
    # Configure location of the training script and MNIST dataset
    input_directories=[models.InputDirectory(
        id="SAMPLE",
        path="$AZ_BATCHAI_MOUNT_ROOT/{0}/{1}".format(relative_mount_point, mnist_dataset_directory))],
    # Specify location where generated model will be stored
    output_directories=[models.OutputDirectory(
        id="MODEL",
        path_prefix="$AZ_BATCHAI_MOUNT_ROOT/{0}".format(relative_mount_point),
        path_suffix="Models")],
    # Container configuration
    container_settings=models.ContainerSettings(
        image_source_registry=models.ImageSourceRegistry(image="microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0")),
    # Toolkit specific settings (the training arguments keep the tests short)
    cntk_settings=models.CNTKsettings(
        python_script_file_path="$AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py",
        command_line_args="$AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL " + args.training_args))
batchai_client.jobs.create(*in_experiment, job_name, parameters).result()

# -- monitor the job -----------------------------------------------------------------------------------------------
deadline = time.time() + 240
while True:
    job = batchai_client.jobs.get(*in_experiment, job_name)
    state = job.execution_state.name if hasattr(job.execution_state, "name") else str(job.execution_state)
    log("Job state: {0} ".format(state))
    if state in ("succeeded", "failed") or time.time() > deadline:
        break
    time.sleep(0.5)
report["checks"]["job"] = {"id": job.id, "state": state, "tool_type": str(job.tool_type).split(".")[-1],
                           "exit_code": job.execution_info.exit_code if job.execution_info else None,
                           "segment": getattr(job, "job_output_directory_path_segment", None),
                           "cluster_id": job.cluster.id}

# -- list stdout and stderr output ---------------------------------------------------------------------------------
files = batchai_client.jobs.list_output_files(*in_experiment, job_name,
                                              models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr"))
stdouterr = {}
for file in (f for f in files if f.download_url):
    log("file: {0}, download url: {1}".format(file.name, file.download_url))
    stdouterr[file.name] = requests.get(file.download_url).text
report["checks"]["stdouterr"] = sorted(stdouterr)
report["checks"]["final_line"] = [line for line in stdouterr.get("stderr.txt", "").splitlines()
                                  if line.startswith("Final Results")]
if state != "succeeded":
    report["checks"]["logs"] = {k: v[-3000:] for k, v in stdouterr.items()}

# -- list generated model files ------------------------------------------------------------------------------------
files = batchai_client.jobs.list_output_files(*in_experiment, job_name,
                                              models.JobsListOutputFilesOptions(outputdirectoryid="MODEL"))
model_files = {}
for file in (f for f in files if f.download_url):
    log("file: {0}, download url: {1}".format(file.name, file.download_url))
    model_files[file.name] = file.content_length
report["checks"]["model"] = model_files
metrics_url = next((f.download_url for f in batchai_client.jobs.list_output_files(
    *in_experiment, job_name, models.JobsListOutputFilesOptions(outputdirectoryid="MODEL"))
    if f.name == "metrics.json"), None)
report["checks"]["metrics_epochs"] = requests.get(metrics_url).json()["epochs"] if metrics_url else None

# -- delete resources ----------------------------------------------------------------------------------------------
batchai_client.jobs.delete(*in_experiment, job_name).result()
jobs_left = [j.name for j in (batchai_client.jobs.list_by_experiment(*in_experiment) if NEW
                              else batchai_client.jobs.list_by_resource_group(resource_group_name))]
report["checks"]["jobs_after_delete"] = jobs_left
batchai_client.clusters.delete(*in_group, cluster_name).result()
if NEW:
    batchai_client.experiments.delete(resource_group_name, workspace_name, experiment_name).result()
    batchai_client.workspaces.delete(resource_group_name, workspace_name).result()
resource_management_client.resource_groups.delete(resource_group_name).result()
report["timings"]["total"] = time.time() - t_start
print(json.dumps(report))
