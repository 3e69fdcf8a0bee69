"""azure-mgmt-batchai 2.0.0 as a line-oriented service: the Slurm tests (pytest, another environment) send one JSON
request per line on stdin and read one JSON answer per line on stdout. Runs inside .venv-sdk2018; every call goes
through the 2.0.0 SDK over a real socket to the emulator.

    {"op": "cluster", "name": "c1", "vm_size": "STANDARD_D2", "nodes": 3}
    {"op": "job", "name": "j1", "cluster": "c1", "nodes": 2, "command": "...", "mpi": 4, "priority": "high"}
"""
import json
import sys
import time
import traceback

import requests
from msrest.authentication import BasicTokenAuthentication
from msrestazure.azure_exceptions import CloudError
from azure.mgmt.resource import ResourceManagementClient
import azure.mgmt.batchai as batchai
import azure.mgmt.batchai.models as models

SUB = "00000000-0000-0000-0000-00000000517a"
SHARE, MOUNT = "slurmshare", "afs"


class Driver:
    def __init__(self, endpoint, account, key, rg):
        creds = BasicTokenAuthentication({"access_token": "emulator"})
        self.endpoint, self.account, self.key = endpoint, account, key
        self.client = batchai.BatchAIManagementClient(credentials=creds, subscription_id=SUB, base_url=endpoint)
        ResourceManagementClient(credentials=creds, subscription_id=SUB, base_url=endpoint).resource_groups \
            .create_or_update(rg, {"location": "eastus"})
        self.rg, self.ws, self.exp = rg, "ws", "exp"
        self.client.workspaces.create(self.rg, self.ws, "eastus").result()
        self.client.experiments.create(self.rg, self.ws, self.exp).result()

    def cluster(self, name, vm_size="STANDARD_D2", nodes=1, wait=30, setup=None):
        """`setup`: {"command", "env": {name: value}, "secrets": {name: value}, "prefix"} for nodeSetup.setupTask."""
        task = None
        if setup:
            task = models.SetupTask(
                command_line=setup["command"], std_out_err_path_prefix=setup.get("prefix", "$AZ_BATCHAI_MOUNT_ROOT/"
                                                                                           + MOUNT + "/setup"),
                environment_variables=[models.EnvironmentVariable(name=k, value=v)
                                       for k, v in (setup.get("env") or {}).items()],
                secrets=[models.EnvironmentVariableWithSecretValue(name=k, value=v)
                         for k, v in (setup.get("secrets") or {}).items()])
        params = models.ClusterCreateParameters(
            vm_size=vm_size,
            user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
            scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)),
            node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_file_shares=[
                models.AzureFileShareReference(
                    account_name=self.account, credentials=models.AzureStorageCredentialsInfo(account_key=self.key),
                    azure_file_url="{}/{}/{}".format(self.endpoint, self.account, SHARE),
                    relative_mount_path=MOUNT)]), setup_task=task))
        self.client.clusters.create(self.rg, self.ws, name, params).result()
        deadline = time.time() + wait
        while True:
            c = self.client.clusters.get(self.rg, self.ws, name)
            if c.allocation_state == "steady" or time.time() > deadline:
                return self.cluster_get(name)
            time.sleep(0.1)

    def cluster_get(self, name):
        c = self.client.clusters.get(self.rg, self.ws, name)
        counts = c.node_state_counts
        task = c.node_setup.setup_task if c.node_setup else None
        return {"allocation_state": str(c.allocation_state), "current_node_count": c.current_node_count,
                "idle": counts.idle_node_count, "running": counts.running_node_count,
                "preparing": counts.preparing_node_count, "unusable": counts.unusable_node_count,
                "errors": [e.code for e in c.errors or []],
                "error_details": [{"code": e.code, "message": e.message,
                                   "details": {d.name: d.value for d in e.details or []}} for e in c.errors or []],
                "setup_suffix": task.std_out_err_path_suffix if task else None,
                "setup_secrets": [(x.name, x.value) for x in task.secrets or []] if task else None,
                "raw": self.client.clusters._client.send(self.client.clusters._client.get(
                    c.id, {"api-version": "2018-05-01"})).text}

    def cluster_resize(self, name, nodes):
        self.client.clusters.update(self.rg, self.ws, name, scale_settings=models.ScaleSettings(
            manual=models.ManualScaleSettings(target_node_count=nodes)))
        return {}

    def cluster_delete(self, name):
        self.client.clusters.delete(self.rg, self.ws, name).result()
        return {}

    def job(self, name, cluster, nodes=1, command="true", mpi=None, priority="normal", image=None, prep=None,
            tensorflow=None):
        cluster_id = self.client.clusters.get(self.rg, self.ws, cluster).id
        kw = {}
        if tensorflow:
            kw["tensor_flow_settings"] = models.TensorFlowSettings(
                python_script_file_path=tensorflow["script"], worker_count=tensorflow.get("workers"),
                parameter_server_count=tensorflow.get("ps"), worker_command_line_args=tensorflow.get("args"),
                parameter_server_command_line_args=tensorflow.get("args"),
                python_interpreter_path=tensorflow.get("python"))
        elif mpi:
            kw["custom_mpi_settings"] = models.CustomMpiSettings(command_line=command, process_count=mpi)
        else:
            kw["custom_toolkit_settings"] = models.CustomToolkitSettings(command_line=command)
        if image:
            kw["container_settings"] = models.ContainerSettings(
                image_source_registry=models.ImageSourceRegistry(image=image))
        if prep:
            kw["job_preparation"] = models.JobPreparation(command_line=prep)
        params = models.JobCreateParameters(
            cluster=models.ResourceId(id=cluster_id), node_count=nodes, scheduling_priority=priority,
            std_out_err_path_prefix="$AZ_BATCHAI_MOUNT_ROOT/" + MOUNT,
            output_directories=[models.OutputDirectory(id="OUT", path_prefix="$AZ_BATCHAI_MOUNT_ROOT/" + MOUNT)],
            **kw)
        try:
            job = self.client.jobs.create(self.rg, self.ws, self.exp, name, params).result()
        except CloudError as exc:
            return {"error": {"status": exc.status_code, "code": exc.error.error, "message": exc.message}}
        return {"state": str(job.execution_state)}

    def job_get(self, name):
        j = self.client.jobs.get(self.rg, self.ws, self.exp, name)
        info = j.execution_info
        return {"state": str(j.execution_state), "exit_code": info.exit_code if info else None,
                "errors": [{"code": e.code, "message": e.message} for e in (info.errors or [])] if info else []}

    def wait(self, name, states=("succeeded", "failed"), timeout=120):
        deadline = time.time() + timeout
        while True:
            out = self.job_get(name)
            if out["state"] in states or time.time() > deadline:
                return out
            time.sleep(0.2)

    def terminate(self, name):
        self.client.jobs.terminate(self.rg, self.ws, self.exp, name).result()
        return {}

    def files(self, name, directory_id="stdouterr"):
        opts = models.JobsListOutputFilesOptions(outputdirectoryid=directory_id)
        return {"files": {f.name: f.download_url for f in self.client.jobs.list_output_files(
            self.rg, self.ws, self.exp, name, opts) if str(f.file_type) == "file"}}

    def read(self, name, filename, directory_id="stdouterr"):
        url = self.files(name, directory_id)["files"].get(filename)
        if url is None:
            return {"text": None}
        return {"text": requests.get(url, timeout=30).text}


def main():
    driver = None
    for line in sys.stdin:
        req = json.loads(line)
        op = req.pop("op")
        try:
            if op == "init":
                driver = Driver(**req)
                out = {}
            else:
                out = getattr(driver, op)(**req)
        except Exception as exc:  # the test sees the SDK's error as an answer, not a dead pipe
            out = {"exception": "{}: {}".format(type(exc).__name__, exc), "trace": traceback.format_exc()[-3000:]}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
