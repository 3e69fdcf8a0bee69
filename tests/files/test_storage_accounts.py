"""ARM Microsoft.Storage/storageAccounts through azure-mgmt-storage (track 2, HTTPS): create (synchronous, no
polling), get, list, listKeys, regenerateKey, delete; then the generated key works on the file endpoint."""
from __future__ import annotations

import time

import pytest
from azure.common import AzureHttpError
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters, StorageAccountRegenerateKeyParameters
from azure.storage.file import FileService
from azure.storage.fileshare import ShareServiceClient

from .conftest import ACCOUNT, connection_string

SUB = "00000000-0000-0000-0000-00000000f11e"


class _Token:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("emulator-token", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def mgmt(live):
    live_requests: list = []
    live.ext.observers.append(lambda method, path, status: live_requests.append((method, path, status)))
    client = StorageManagementClient(_Token(), SUB, base_url=live.https_url, connection_verify=live.ca_bundle,
                                     credential_scopes=[live.https_url + "/.default"])
    client.live_requests = live_requests
    import requests
    requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/files-rg?api-version=2021-04-01",
                 json={"location": "eastus"}, headers={"Authorization": "Bearer x"}).raise_for_status()
    return client


def test_create_list_keys_then_use_the_key(live, mgmt, monkeypatch):
    mgmt.live_requests.clear()
    poller = mgmt.storage_accounts.begin_create(
        "files-rg", "flowaccount", StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2",
                                                                  location="eastus", tags={"flow": "quickstart"}))
    assert poller.status() == "Succeeded"                # answered synchronously: nothing left to poll
    account = poller.result()
    assert [m for m, p, s in mgmt.live_requests] == ["PUT"]
    assert account.provisioning_state == "Succeeded" and account.tags == {"flow": "quickstart"}
    assert account.primary_endpoints.file == f"{live.https_url}/flowaccount/"
    assert mgmt.storage_accounts.get_properties("files-rg", "flowaccount").name == "flowaccount"
    assert [a.name for a in mgmt.storage_accounts.list_by_resource_group("files-rg")] == ["flowaccount"]
    assert "flowaccount" in [a.name for a in mgmt.storage_accounts.list()]
    keys = mgmt.storage_accounts.list_keys("files-rg", "flowaccount").keys_property
    assert [k.key_name for k in keys] == ["key1", "key2"] and keys[0].value != keys[1].value

    fs = FileService(connection_string=connection_string(live.http_url, "flowaccount", keys[0].value))
    assert fs.create_share("data")
    fs.create_file_from_bytes("data", None, "hello.txt", b"made with listKeys")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_bundle)
    endpoint = account.primary_endpoints.file.rstrip("/")
    svc = ShareServiceClient(endpoint, credential={"account_name": "flowaccount", "account_key": keys[1].value})
    assert svc.get_share_client("data").get_file_client("hello.txt").download_file().readall() == \
        b"made with listKeys"
    assert (live.settings.data_dir / "shares" / "flowaccount" / "data" / "hello.txt").exists()

    new_keys = mgmt.storage_accounts.regenerate_key(
        "files-rg", "flowaccount", StorageAccountRegenerateKeyParameters(key_name="key1")).keys_property
    assert new_keys[0].value != keys[0].value and new_keys[1].value == keys[1].value
    with pytest.raises(AzureHttpError) as err:
        fs.get_file_to_bytes("data", None, "hello.txt")        # the old key1 no longer works
    assert err.value.status_code == 403

    mgmt.storage_accounts.delete("files-rg", "flowaccount")
    with pytest.raises(ResourceNotFoundError):
        mgmt.storage_accounts.get_properties("files-rg", "flowaccount")
    assert not (live.settings.data_dir / "shares" / "flowaccount").exists()
    fresh = FileService(connection_string=connection_string(live.http_url, "flowaccount", new_keys[0].value))
    with pytest.raises(AzureHttpError) as err:
        fresh.list_shares().items
    assert err.value.status_code == 404
    mgmt.storage_accounts.delete("files-rg", "flowaccount")      # idempotent


def test_names_are_checked_and_global(mgmt):
    params = StorageAccountCreateParameters(sku=Sku(name="Standard_LRS"), kind="StorageV2", location="eastus")
    for bad in ("UPPER", "ab", "has-hyphen"):
        with pytest.raises(HttpResponseError) as err:
            mgmt.storage_accounts.begin_create("files-rg", bad, params).result()
        assert err.value.status_code == 400
    with pytest.raises(HttpResponseError) as err:
        mgmt.storage_accounts.begin_create("files-rg", ACCOUNT, params).result()
    assert err.value.status_code == 409 and err.value.error.code == "StorageAccountAlreadyTaken"
    availability = mgmt.storage_accounts.check_name_availability({"name": ACCOUNT, "type":
                                                                  "Microsoft.Storage/storageAccounts"})
    assert availability.name_available is False and availability.reason == "AlreadyExists"
    assert mgmt.storage_accounts.check_name_availability(
        {"name": "freshname123", "type": "Microsoft.Storage/storageAccounts"}).name_available
    with pytest.raises(ResourceNotFoundError):
        mgmt.storage_accounts.begin_create("no-such-rg", "okname", params).result()
