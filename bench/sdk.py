"""azure-mgmt-batchai 7.0.0 on a benchmark's emulator: the clients and the workspace, experiment and cluster the
benchmarks submit to (resource group rg, workspace ws, experiment exp, cluster cl)."""
from __future__ import annotations

import time

from azure.core.credentials import AccessToken
from azure.mgmt.batchai import BatchAI, models
from azure.mgmt.resource.resources import ResourceManagementClient


class Token:
    def get_token(self, *scopes, **kw):
        return AccessToken("bench", int(time.time()) + 3600)


def clients(emu):
    """(BatchAI, ResourceManagementClient) for an emulator.launcher.EmulatorProcess, over HTTPS, polling at once."""
    kw = dict(base_url=emu.https_url, credential_scopes=[emu.https_url + "/.default"],
              connection_verify=emu.ca_bundle, polling_interval=0)
    return BatchAI(Token(), "bench", **kw), ResourceManagementClient(Token(), "bench", **kw)


def setup(c, rm, nodes: int, vm_size: str = "STANDARD_D2") -> str:
    """rg/ws/exp and a steady cluster cl of `nodes` nodes; its id."""
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    c.workspaces.begin_create("rg", "ws", models.WorkspaceCreateParameters(location="eastus")).result()
    c.experiments.begin_create("rg", "ws", "exp").result()
    cl = c.clusters.begin_create("rg", "ws", "cl", models.ClusterCreateParameters(
        vm_size=vm_size, user_account_settings=models.UserAccountSettings(admin_user_name="u",
                                                                          admin_user_password="p"),
        scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=nodes)))).result()
    while c.clusters.get("rg", "ws", "cl").allocation_state != "steady":
        time.sleep(0.02)
    return cl.id
