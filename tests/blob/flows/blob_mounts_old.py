"""A cluster and a job with azureBlobFileSystems mounts through an old azure-mgmt-batchai (0.2.0, 1.0.1 or 2.0.0)
against a live emulator whose jobs run: the job reads input from the cluster-mounted container and writes its
outputs into it (and, where the api-version has job-level mounts, into a job-mounted container). Prints a JSON
report last. Usage: blob_mounts_old.py --endpoint URL --account A --key K --data C1 [--jobdata C2] --rg RG"""
import argparse
import json
import time

from azure.mgmt.resource import ResourceManagementClient
from msrest.authentication import BasicTokenAuthentication
from msrestazure.azure_exceptions import CloudError
import azure.mgmt.batchai as batchai
import azure.mgmt.batchai.models as models

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
p.add_argument("--account", required=True)
p.add_argument("--key", required=True)
p.add_argument("--data", required=True)
p.add_argument("--jobdata")
p.add_argument("--rg", required=True)
args = p.parse_args()

creds = BasicTokenAuthentication({"access_token": "emulator"})
sub = "00000000-0000-0000-0000-0000000000b1"
client = batchai.BatchAIManagementClient(credentials=creds, subscription_id=sub, base_url=args.endpoint)
ResourceManagementClient(credentials=creds, subscription_id=sub, base_url=args.endpoint).resource_groups \
    .create_or_update(args.rg, {"location": "eastus"})
workspaces = hasattr(client, "workspaces")
where = {} if workspaces else {"location": "eastus"}      # the pre-workspace versions need a location
report = {"api_version": client.api_version}


def blob_ref(container, path, key=args.key):
    return models.AzureBlobFileSystemReference(
        account_name=args.account, container_name=container, relative_mount_path=path, mount_options="-o ro=false",
        credentials=models.AzureStorageCredentialsInfo(account_key=key))


cluster_params = models.ClusterCreateParameters(
    **where, vm_size="STANDARD_D2",
    user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
    scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)),
    node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_blob_file_systems=[
        blob_ref(args.data, "data")])))
if workspaces:
    client.workspaces.create(args.rg, "ws", "eastus").result()
    client.experiments.create(args.rg, "ws", "exp").result()
    client.clusters.create(args.rg, "ws", "cl", cluster_params).result()
    get_cluster = lambda: client.clusters.get(args.rg, "ws", "cl")  # noqa: E731
else:
    client.clusters.create(args.rg, "cl", cluster_params).result()
    get_cluster = lambda: client.clusters.get(args.rg, "cl")  # noqa: E731
deadline = time.time() + 30
while str(get_cluster().allocation_state).split(".")[-1] != "steady" and time.time() < deadline:
    time.sleep(0.05)
cluster = get_cluster()
report["cluster"] = [str(cluster.allocation_state).split(".")[-1], cluster.errors or [],
                     [[b.container_name, b.relative_mount_path, b.credentials.account_key]
                      for b in cluster.node_setup.mount_volumes.azure_blob_file_systems]]

command = ("cat $AZ_BATCHAI_MOUNT_ROOT/data/input/words.txt | tr a-z A-Z > $AZ_BATCHAI_OUTPUT_OUT/upper.txt")
job_params = models.JobCreateParameters(
    **where, cluster=models.ResourceId(id=cluster.id), node_count=1,
    std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/data",
    custom_toolkit_settings=models.CustomToolkitSettings(command_line=command),
    output_directories=[models.OutputDirectory(id="OUT", path_prefix="$AZ_BATCHAI_MOUNT_ROOT/data",
                                               path_suffix="results")])
job_mounts = "mount_volumes" in models.JobCreateParameters._attribute_map and args.jobdata
if job_mounts:
    job_params.mount_volumes = models.MountVolumes(azure_blob_file_systems=[blob_ref(args.jobdata, "jobdata")])
    job_params.custom_toolkit_settings.command_line += \
        " && echo from-job > $AZ_BATCHAI_JOB_MOUNT_ROOT/jobdata/written.txt"
if workspaces:
    client.jobs.create(args.rg, "ws", "exp", "job", job_params).result()
    get_job = lambda: client.jobs.get(args.rg, "ws", "exp", "job")  # noqa: E731
    list_files = lambda o: client.jobs.list_output_files(args.rg, "ws", "exp", "job", o)  # noqa: E731
else:
    client.jobs.create(args.rg, "job", job_params).result()
    get_job = lambda: client.jobs.get(args.rg, "job")  # noqa: E731
    list_files = lambda o: client.jobs.list_output_files(args.rg, "job", o)  # noqa: E731
deadline = time.time() + 60
while str(get_job().execution_state).split(".")[-1] not in ("succeeded", "failed") and time.time() < deadline:
    time.sleep(0.1)
job = get_job()
report["job"] = [str(job.execution_state).split(".")[-1], getattr(job, "job_output_directory_path_segment", None),
                 bool(job_mounts)]
report["outputs"] = sorted(f.name for f in list_files(models.JobsListOutputFilesOptions(outputdirectoryid="OUT")))

# a wrong key: the cluster's nodes cannot mount the container
bad = models.ClusterCreateParameters(
    **where, vm_size="STANDARD_D2",
    user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
    scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)),
    node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_blob_file_systems=[
        blob_ref(args.data, "data", key="V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk=")])))
try:
    if workspaces:
        client.clusters.create(args.rg, "ws", "bad", bad).result()
        get_bad = lambda: client.clusters.get(args.rg, "ws", "bad")  # noqa: E731
    else:
        client.clusters.create(args.rg, "bad", bad).result()
        get_bad = lambda: client.clusters.get(args.rg, "bad")  # noqa: E731
    deadline = time.time() + 30
    while not get_bad().errors and time.time() < deadline:
        time.sleep(0.05)
    report["bad_key"] = [e.code for e in get_bad().errors or []]
except CloudError as exc:
    report["bad_key"] = ["refused", exc.error.error]
print(json.dumps(report))
