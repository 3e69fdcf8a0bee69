"""StorageAccountPreparer: a storage account on the emulator (azure-mgmt-storage, msrestazure generation), passed to
the test with its first key; the emulator's Files and Blob planes accept that key at once."""
from collections import namedtuple

from azure_devtools.scenario_tests import AzureTestError

from .mgmt_testcase import AzureMgmtPreparer
from .resource_testcase import RESOURCE_GROUP_PARAM, ResourceGroupPreparer

FakeStorageAccount = namedtuple("FakeStorageAccount", ["name", "id"])


class StorageAccountPreparer(AzureMgmtPreparer):
    def __init__(self, name_prefix="", sku="Standard_LRS", location="westus", kind="Storage",
                 parameter_name="storage_account", resource_group_parameter_name=RESOURCE_GROUP_PARAM,
                 disable_recording=True, playback_fake_resource=None, client_kwargs=None, random_name_enabled=True):
        super(StorageAccountPreparer, self).__init__(name_prefix, 24, disable_recording=disable_recording,
                                                     playback_fake_resource=playback_fake_resource,
                                                     client_kwargs=client_kwargs)
        self.location = location
        self.sku = sku
        self.kind = kind
        self.resource_group_parameter_name = resource_group_parameter_name
        self.parameter_name = parameter_name
        self.client = None

    def create_resource(self, name, **kwargs):
        from azure.mgmt.storage import StorageManagementClient
        group = self._get_resource_group(**kwargs)
        self.client = self.create_mgmt_client(StorageManagementClient)
        self.resource = self.client.storage_accounts.create(
            group.name, name, {"sku": {"name": self.sku}, "location": self.location, "kind": self.kind}).result()
        keys = self.client.storage_accounts.list_keys(group.name, name).keys
        return {self.parameter_name: self.resource, self.parameter_name + "_key": keys[0].value}

    def remove_resource(self, name, **kwargs):
        if self.client is not None:
            self.client.storage_accounts.delete(self._get_resource_group(**kwargs).name, name)

    def _get_resource_group(self, **kwargs):
        group = kwargs.get(self.resource_group_parameter_name)
        if group is None:
            raise AzureTestError("a storage account needs a resource group: put @{0} before @{1}".format(
                ResourceGroupPreparer.__name__, type(self).__name__))
        return group
