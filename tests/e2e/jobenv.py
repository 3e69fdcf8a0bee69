"""Helpers for end-to-end job tests: a live emulator that runs jobs, driven by azure-mgmt-batchai 7.0.0 over
HTTPS with a static bearer token."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

from azure.core.credentials import AccessToken
from azure.mgmt.batchai import BatchAI, models
from azure.mgmt.resource.resources import ResourceManagementClient

SUB = "00000000-0000-0000-0000-0000000000e2"
CNTK_IMAGE = "microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0"
SHARE = "jobshare"
MOUNT = "afs"


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("e2e-token", int(time.time()) + 3600)


class JobEnv:
    """One resource group + workspace + experiment on a live emulator, and helpers to make clusters and jobs."""

    def __init__(self, live, rg: str | None = None):
        self.live = live
        kw = dict(base_url=live.https_url, credential_scopes=[live.https_url + "/.default"],
                  connection_verify=live.ca_bundle)
        self.client = BatchAI(StaticToken(), SUB, **kw)
        self.rm = ResourceManagementClient(StaticToken(), SUB, **kw)
        self.rg = rg or "rg-" + uuid.uuid4().hex[:8]
        self.ws, self.exp = "ws", "exp"
        self.rm.resource_groups.create_or_update(self.rg, {"location": "eastus"})
        self.client.workspaces.begin_create(self.rg, self.ws, models.WorkspaceCreateParameters(
            location="eastus")).result()
        self.client.experiments.begin_create(self.rg, self.ws, self.exp).result()
        self.account, self.key = next(iter(live.settings.accounts().items()))
        self.share_dir = Path(live.settings.data_dir) / "shares" / self.account / SHARE
        self.share_dir.mkdir(parents=True, exist_ok=True)

    def cluster(self, name: str = "cl", nodes: int = 1, vm_size: str = "STANDARD_D2", wait: bool = True):
        params = models.ClusterCreateParameters(
            vm_size=vm_size,
            user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
            scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)),
            node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_file_shares=[
                models.AzureFileShareReference(
                    account_name=self.account, credentials=models.AzureStorageCredentialsInfo(account_key=self.key),
                    azure_file_url=f"{self.live.https_url}/{self.account}/{SHARE}", relative_mount_path=MOUNT)])))
        cluster = self.client.clusters.begin_create(self.rg, self.ws, name, params).result()
        if wait:
            cluster = self.wait_cluster(name)
        return cluster

    def wait_cluster(self, name: str, timeout: float = 30):
        deadline = time.time() + timeout
        while True:
            cluster = self.client.clusters.get(self.rg, self.ws, name)
            if cluster.allocation_state == "steady" or time.time() > deadline:
                return cluster
            time.sleep(0.05)

    def submit(self, name: str, cluster_name: str = "cl", image: str | None = None, node_count: int = 1, **props):
        cluster_id = self.client.clusters.get(self.rg, self.ws, cluster_name).id
        if "custom_toolkit_settings" not in props and not any(k.endswith("_settings") for k in props):
            props["custom_toolkit_settings"] = models.CustomToolkitSettings(command_line="true")
        if image:
            props.setdefault("container_settings", models.ContainerSettings(
                image_source_registry=models.ImageSourceRegistry(image=image)))
        params = models.JobCreateParameters(
            cluster=models.ResourceId(id=cluster_id), node_count=node_count,
            std_out_err_path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}", **props)
        return self.client.jobs.begin_create(self.rg, self.ws, self.exp, name, params).result()

    def custom(self, name: str, command: str, image: str | None, **kw):
        return self.submit(name, image=image, custom_toolkit_settings=models.CustomToolkitSettings(
            command_line=command), **kw)

    def job(self, name: str):
        return self.client.jobs.get(self.rg, self.ws, self.exp, name)

    def wait(self, name: str, states=("succeeded", "failed"), timeout: float = 120):
        deadline = time.time() + timeout
        while True:
            job = self.job(name)
            if job.execution_state in states:
                return job
            if time.time() > deadline:
                raise AssertionError(f"job {name} still {job.execution_state} after {timeout}s")
            time.sleep(0.1)

    def files(self, name: str, directory_id: str = "stdouterr", directory: str = "."):
        return list(self.client.jobs.list_output_files(self.rg, self.ws, self.exp, name,
                                                       models.JobsListOutputFilesOptions(
                                                           outputdirectoryid=directory_id, directory=directory)))

    def read(self, name: str, filename: str, directory_id: str = "stdouterr") -> str:
        import requests
        entry = next(f for f in self.files(name, directory_id) if f.name == filename)
        return requests.get(entry.download_url, verify=self.live.ca_bundle).text
