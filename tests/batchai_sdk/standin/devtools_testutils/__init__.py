"""The batchai-emulator harness's stand-in for devtools_testutils (the azure-sdk-for-python test kit).

The real kit records and replays traffic against real Azure; this one has a live mode only, against the emulator
the harness started (tests/batchai_sdk/harness.py), named by these environment variables:

* BATCHAI_SDK_ENDPOINT        the emulator's ARM endpoint (https://127.0.0.1:PORT), trusted via REQUESTS_CA_BUNDLE
* BATCHAI_SDK_FILE_ENDPOINT   its path-style Files endpoint (default: BATCHAI_SDK_ENDPOINT)
* BATCHAI_SDK_BLOB_ENDPOINT   its path-style Blob endpoint
* BATCHAI_SDK_SUBSCRIPTION    the subscription the tests create their resources in

Resource groups and storage accounts are created through the ARM SDKs (azure-mgmt-resource, azure-mgmt-storage)
on the emulator and deleted after the test, like the real preparers did against Azure.
"""
from .mgmt_testcase import AzureMgmtPreparer, AzureMgmtTestCase
from .resource_testcase import RESOURCE_GROUP_PARAM, FakeResource, ResourceGroupPreparer
from .storage_testcase import FakeStorageAccount, StorageAccountPreparer

__all__ = ["AzureMgmtPreparer", "AzureMgmtTestCase", "RESOURCE_GROUP_PARAM", "FakeResource", "ResourceGroupPreparer",
           "FakeStorageAccount", "StorageAccountPreparer"]
