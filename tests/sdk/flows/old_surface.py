"""The rest of the old SDKs' surface (azure-mgmt-batchai 0.2.0 and 1.0.1) against a live emulator whose jobs do not
run: tags, cluster update, file servers, list options ($filter, $select, maxresults paging), terminate, remote
login, output files (with stand-in files), usages (1.0.1), errors. Prints a JSON report last."""
import argparse
import json
import os
import time

from azure.mgmt.resource import ResourceManagementClient
from msrest.authentication import BasicTokenAuthentication
from msrestazure.azure_exceptions import CloudError
import azure.mgmt.batchai as batchai
import azure.mgmt.batchai.models as models

p = argparse.ArgumentParser()
p.add_argument("--endpoint", required=True)
p.add_argument("--data-dir", required=True)
p.add_argument("--resource-group", required=True)
p.add_argument("--subscription", default="00000000-0000-0000-0000-0000000000b2")
args = p.parse_args()

creds = BasicTokenAuthentication({"access_token": "emulator"})
client = batchai.BatchAIManagementClient(credentials=creds, subscription_id=args.subscription,
                                         base_url=args.endpoint)
rm = ResourceManagementClient(credentials=creds, subscription_id=args.subscription, base_url=args.endpoint)
rg = args.resource_group
rm.resource_groups.create_or_update(rg, {"location": "eastus"})
checks = {"api_version": client.api_version}


def error_code(call):
    try:
        call()
    except CloudError as exc:
        return exc.error.error
    return None


# -- clusters ------------------------------------------------------------------------------------------------------
def cluster_params(vm_size, nodes, tags=None):
    return models.ClusterCreateParameters(
        location="eastus", tags=tags, vm_size=vm_size,
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)))


client.clusters.create(rg, "gpu", cluster_params("STANDARD_NC6", 1, {"team": "vision"})).result()
client.clusters.create(rg, "cpu", cluster_params("STANDARD_D1", 0)).result()
cluster = client.clusters.get(rg, "gpu")
checks["cluster"] = [cluster.location, cluster.tags, str(cluster.vm_priority).split(".")[-1]]
updated = client.clusters.update(rg, "cpu", tags={"size": "small"}, scale_settings=models.ScaleSettings(
    auto_scale=models.AutoScaleSettings(minimum_node_count=0, maximum_node_count=2)))
checks["updated"] = [updated.tags, updated.scale_settings.auto_scale.maximum_node_count]
checks["clusters_filtered"] = [c.name for c in client.clusters.list_by_resource_group(
    rg, models.ClustersListByResourceGroupOptions(filter="properties/vmSize eq 'STANDARD_NC6'"))]
selected = list(client.clusters.list(models.ClustersListOptions(select="location")))
checks["clusters_selected"] = sorted([c.name, c.location, c.vm_size] for c in selected)
checks["clusters_paged"] = [c.name for c in client.clusters.list_by_resource_group(
    rg, models.ClustersListByResourceGroupOptions(max_results=1))]
checks["bad_filter"] = error_code(lambda: list(client.clusters.list(models.ClustersListOptions(
    filter="startswith(name, 'g')"))))
deadline = time.time() + 30
while client.clusters.get(rg, "gpu").current_node_count != 1 and time.time() < deadline:
    time.sleep(0.05)
checks["cluster_nodes"] = [n.port for n in client.clusters.list_remote_login_information(rg, "gpu")]

# -- file servers --------------------------------------------------------------------------------------------------
client.file_servers.create(rg, "nfs", models.FileServerCreateParameters(
    location="eastus", vm_size="STANDARD_D2",
    ssh_configuration=models.SshConfiguration(user_account_settings=models.UserAccountSettings(
        admin_user_name="u", admin_user_password="p")),
    data_disks=models.DataDisks(disk_size_in_gb=10, disk_count=2, storage_account_type="Standard_LRS"))).result()
fs = client.file_servers.get(rg, "nfs")
checks["file_server"] = [fs.location, fs.mount_settings.mount_point,
                         str(fs.mount_settings.file_server_type).split(".")[-1]]
checks["file_servers"] = [f.name for f in client.file_servers.list_by_resource_group(rg)]
client.file_servers.delete(rg, "nfs").result()
checks["file_servers_after_delete"] = [f.name for f in client.file_servers.list()]

# -- jobs ----------------------------------------------------------------------------------------------------------
share = os.path.join(args.data_dir, "shares", "batchaidev", "oldsurface")
os.makedirs(share, exist_ok=True)
job_params = models.JobCreateParameters(
    location="eastus", cluster=models.ResourceId(id=cluster.id), node_count=1, priority=100,
    experiment_name="first-experiment", std_out_err_path_prefix="$AZ_BATCHAI_JOB_MOUNT_ROOT/afs",
    custom_toolkit_settings=models.CustomToolkitSettings(command_line="echo hi"),
    output_directories=[models.OutputDirectory(id="OUT", path_prefix="$AZ_BATCHAI_JOB_MOUNT_ROOT/afs",
                                               type="model")])
if "mount_volumes" in models.JobCreateParameters._attribute_map:  # 2018-03-01: job-level mounts
    job_params.mount_volumes = models.MountVolumes(azure_file_shares=[models.AzureFileShareReference(
        account_name="batchaidev", azure_file_url="https://batchaidev.file.core.windows.net/oldsurface",
        credentials=models.AzureStorageCredentialsInfo(account_key="k"), relative_mount_path="afs")])
else:  # the preview mounts at cluster level only: write the outputs on the node's file system
    job_params.std_out_err_path_prefix = "/tmp/outputs"
    job_params.output_directories[0].path_prefix = "/tmp/outputs"
client.jobs.create(rg, "job1", job_params).result()
job = client.jobs.get(rg, "job1")
checks["job"] = [job.location, job.priority, job.experiment_name, str(job.output_directories[0].type).split(".")[-1],
                 job.output_directories[0].create_new, str(job.execution_state).split(".")[-1]]
checks["jobs_queued"] = [j.name for j in client.jobs.list(models.JobsListOptions(
    filter="properties/executionState eq 'queued'"))]

if "mount_volumes" in models.JobCreateParameters._attribute_map:
    segment = job.job_output_directory_path_segment
    for rel, text in [("stdouterr/stdout.txt", "hello\n"), ("stdouterr/stderr.txt", ""),
                      ("stdouterr/logs/x.log", "x"), ("outputs/model.bin", "model")]:
        path = os.path.join(share, segment, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    files = client.jobs.list_output_files(rg, "job1", models.JobsListOutputFilesOptions(
        outputdirectoryid="stdouterr", max_results=1))
    checks["stdouterr"] = [[f.name, f.is_directory, f.content_length] for f in files]
    checks["subdirectory"] = [f.name for f in client.jobs.list_output_files(
        rg, "job1", models.JobsListOutputFilesOptions(outputdirectoryid="stdouterr", directory="logs"))]
    checks["model"] = [f.name for f in client.jobs.list_output_files(
        rg, "job1", models.JobsListOutputFilesOptions(outputdirectoryid="OUT"))]
    checks["usages"] = {u.name.value: u.current_value for u in client.usage.list("eastus")}
else:
    checks["outputs_not_on_storage"] = error_code(lambda: list(client.jobs.list_output_files(
        rg, "job1", models.JobsListOutputFilesOptions("stdouterr"))))

checks["job_nodes"] = [n.node_id for n in client.jobs.list_remote_login_information(rg, "job1")]
client.jobs.terminate(rg, "job1").result()
job = client.jobs.get(rg, "job1")
checks["terminated"] = [str(job.execution_state).split(".")[-1], job.execution_info.errors[0].code]
checks["missing_job"] = error_code(lambda: client.jobs.get(rg, "nope"))

client.jobs.delete(rg, "job1").result()
client.clusters.delete(rg, "gpu").result()
client.clusters.delete(rg, "cpu").result()
checks["left"] = [[c.name for c in client.clusters.list()], [j.name for j in client.jobs.list_by_resource_group(rg)]]
rm.resource_groups.delete(rg).result()
print(json.dumps({"checks": checks}))
