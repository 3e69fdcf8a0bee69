"""SDK clients for the load and fault suites, pointed at a served emulator, with every HTTP attempt recorded.

The SDKs retry 5xx and dropped connections on their own, which would hide exactly what these suites look for;
a Recorder sits after the retry policy and sees every attempt's status. Retries are off unless asked for, so
an operation that returns normally is one the emulator acknowledged with a 2xx.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.batchai import BatchAI, models
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.storage.fileshare import ShareServiceClient

from emulator.settings import DEFAULT_STORAGE_ACCOUNT as ACCOUNT, DEFAULT_STORAGE_KEY as KEY

SUB = "00000000-0000-0000-0000-00000000bad1"
LOCATION = "eastus"


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("hardening", int(time.time()) + 3600)


class Recorder(SansIOHTTPPolicy):
    """Counts responses by status and keeps the 5xx (method, url, status); thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.server_errors: list[tuple[str, str, int]] = []

    def on_response(self, request, response):
        code = response.http_response.status_code
        with self._lock:
            self.statuses[code] += 1
            if code >= 500:
                self.server_errors.append((request.http_request.method, request.http_request.url, code))

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def connection_string(http_url: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"FileEndpoint={http_url}/{ACCOUNT};")


def batchai(served, recorder: Recorder, retries: int = 0, timeout: float = 30):
    """azure-mgmt-batchai 7.0.0 and azure-mgmt-resource over HTTPS with a static bearer token."""
    kw = dict(base_url=served.https_url, credential_scopes=[served.https_url + "/.default"],
              connection_verify=served.ca_bundle, per_retry_policies=[recorder], retry_total=retries,
              polling_interval=0, connection_timeout=timeout, read_timeout=timeout)
    return BatchAI(StaticToken(), SUB, **kw), ResourceManagementClient(StaticToken(), SUB, **kw)


def files(served, recorder: Recorder, retries: int = 0, timeout: float = 30) -> ShareServiceClient:
    """azure-storage-file-share over HTTP with the default account's SharedKey."""
    return ShareServiceClient.from_connection_string(
        connection_string(served.http_url), retry_total=retries, _additional_pipeline_policies=[recorder],
        connection_timeout=timeout, read_timeout=timeout)


def cluster_params(served, share: str, nodes: int = 1, mount: str = "afs") -> models.ClusterCreateParameters:
    """A cluster whose nodes mount `share` of the default account at $AZ_BATCHAI_MOUNT_ROOT/<mount>."""
    return models.ClusterCreateParameters(
        vm_size="STANDARD_D1",
        user_account_settings=models.UserAccountSettings(admin_user_name="u", admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)),
        node_setup=models.NodeSetup(mount_volumes=models.MountVolumes(azure_file_shares=[
            models.AzureFileShareReference(
                account_name=ACCOUNT, credentials=models.AzureStorageCredentialsInfo(account_key=KEY),
                azure_file_url=f"{served.https_url}/{ACCOUNT}/{share}", relative_mount_path=mount)])))


def job_params(cluster_id: str, command: str, image: str | None = None,
               mount: str = "afs") -> models.JobCreateParameters:
    container = None
    if image:
        container = models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(image=image))
    return models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id), node_count=1, container_settings=container,
        std_out_err_path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{mount}",
        custom_toolkit_settings=models.CustomToolkitSettings(command_line=command))
