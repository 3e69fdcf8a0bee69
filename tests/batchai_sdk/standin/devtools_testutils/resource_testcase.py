"""ResourceGroupPreparer: a resource group on the emulator, made with azure-mgmt-resource and deleted after the
test (with everything in it: the emulator's group delete removes workspaces, clusters and jobs)."""
from collections import namedtuple

from .mgmt_testcase import AzureMgmtPreparer

RESOURCE_GROUP_PARAM = "resource_group"

FakeResource = namedtuple("FakeResource", ["name", "id"])


class ResourceGroupPreparer(AzureMgmtPreparer):
    def __init__(self, name_prefix="batchaisdk", random_name_length=24, parameter_name=RESOURCE_GROUP_PARAM,
                 parameter_name_for_location="location", location="westus", disable_recording=True,
                 playback_fake_resource=None, client_kwargs=None, random_name_enabled=True):
        super(ResourceGroupPreparer, self).__init__(name_prefix, random_name_length,
                                                    disable_recording=disable_recording,
                                                    playback_fake_resource=playback_fake_resource,
                                                    client_kwargs=client_kwargs)
        self.location = location
        self.parameter_name = parameter_name
        self.parameter_name_for_location = parameter_name_for_location
        self.client = None

    def create_resource(self, name, **kwargs):
        from azure.mgmt.resource import ResourceManagementClient
        self.client = self.create_mgmt_client(ResourceManagementClient)
        self.resource = self.client.resource_groups.create_or_update(name, {"location": self.location})
        return {self.parameter_name: self.resource, self.parameter_name_for_location: self.location}

    def remove_resource(self, name, **kwargs):
        if self.client is not None:
            self.client.resource_groups.delete(name).result()
