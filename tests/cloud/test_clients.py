"""cloud.connect: the one endpoint flag, trust, credentials, and public Azure's defaults."""
from __future__ import annotations

import pytest
import responses
from azure.identity import ClientSecretCredential, DefaultAzureCredential

from cloud import PUBLIC_AZURE, ConnectError, connect
from cloud.clients import PLACEHOLDER_SUBSCRIPTION, CloudEndpoints


def _base_url(client) -> str:
    base = client._client._base_url
    # the newest generation (azure-mgmt-storage 25) keeps a `{endpoint}` template and the URL in its config
    return client._config.base_url if base == "{endpoint}" else base


def test_endpoint_reads_the_cloud_from_its_metadata(live, monkeypatch):
    clients = connect(live.https_url, ca_bundle=live.ca_bundle)
    base = live.https_url + "/"
    assert clients.cloud == CloudEndpoints("BatchAIEmulator", live.https_url, base, base)
    assert clients.cloud.scope == live.https_url + "/.default"
    assert clients.subscription_id == PLACEHOLDER_SUBSCRIPTION
    for client in (clients.batchai, clients.resources, clients.storage):
        assert _base_url(client) == live.https_url
    assert clients.notes and "placeholder" in clients.notes[0]
    # a real round trip: a token from the emulator's AAD, then ARM
    group = clients.resources.resource_groups.create_or_update("connect-rg", {"location": "eastus"})
    assert group.name == "connect-rg"
    clients.resources.resource_groups.begin_delete("connect-rg").result()


def test_endpoint_and_ca_bundle_from_the_environment(live, monkeypatch):
    monkeypatch.setenv("BATCHAI_ENDPOINT", live.https_url)
    monkeypatch.setenv("BATCHAI_CA_BUNDLE", live.ca_bundle)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555")
    clients = connect()
    assert clients.cloud.resource_manager == live.https_url + "/"
    assert clients.subscription_id == "11111111-2222-3333-4444-555555555555"
    assert list(clients.resources.resource_groups.list()) is not None


def test_requests_ca_bundle_is_honoured_too(live, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_bundle)
    clients = connect(live.https_url)
    assert clients.resources.resource_groups.check_existence("nothing-here") is False


def test_an_untrusted_certificate_says_how_to_trust_it(live, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(ConnectError, match="--ca-bundle <data-dir>/cert.pem"):
        connect(live.https_url)


def test_plain_http_only_for_the_metadata_on_loopback(live):
    clients = connect(live.http_url, ca_bundle=live.ca_bundle)
    # the document names the HTTPS endpoints: every client talks TLS
    assert clients.cloud.resource_manager == live.https_url + "/"
    assert _base_url(clients.batchai) == live.https_url
    with pytest.raises(ConnectError, match="loopback"):
        connect("http://arm.example.com:8080")
    with pytest.raises(ConnectError, match="https"):
        connect("ftp://127.0.0.1/")


def test_missing_ca_bundle_file(tmp_path):
    with pytest.raises(ConnectError, match="no such file"):
        connect("https://127.0.0.1:1", ca_bundle=str(tmp_path / "missing.pem"))


@responses.activate
def test_azure_stack_style_metadata_without_resource_manager():
    responses.add(responses.GET, "https://management.local.azurestack.external/metadata/endpoints",
                  json={"galleryEndpoint": "https://gallery/", "graphEndpoint": "https://graph/",
                        "authentication": {"loginEndpoint": "https://adfs.local.azurestack.external/adfs",
                                           "audiences": ["https://management.adfs.azurestack.external/1234"]}})
    clients = connect("https://management.local.azurestack.external", subscription_id="sub")
    assert clients.cloud.resource_manager == "https://management.local.azurestack.external/"
    assert clients.cloud.scope == "https://management.adfs.azurestack.external/1234/.default"
    assert _base_url(clients.storage) == "https://management.local.azurestack.external"


@responses.activate
def test_metadata_that_is_not_a_cloud():
    responses.add(responses.GET, "https://arm.example/metadata/endpoints", json={"hello": "world"})
    with pytest.raises(ConnectError, match="loginEndpoint"):
        connect("https://arm.example", subscription_id="sub")
    responses.replace(responses.GET, "https://arm.example/metadata/endpoints", status=404)
    with pytest.raises(ConnectError, match="404"):
        connect("https://arm.example", subscription_id="sub")


def test_public_azure_needs_a_subscription():
    with pytest.raises(ConnectError, match="AZURE_SUBSCRIPTION_ID"):
        connect(environ={})


def test_public_azure_with_a_service_principal():
    environ = {"AZURE_SUBSCRIPTION_ID": "sub", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c",
               "AZURE_CLIENT_SECRET": "s"}
    clients = connect(environ=environ)
    assert clients.cloud is PUBLIC_AZURE
    assert clients.cloud.scope == "https://management.azure.com/.default"
    assert isinstance(clients.credential, ClientSecretCredential)
    for client in (clients.batchai, clients.resources, clients.storage):
        assert _base_url(client) == "https://management.azure.com"
    assert clients.verify is True and not clients.notes


def test_public_azure_falls_back_to_the_default_credential_chain():
    clients = connect(environ={"AZURE_SUBSCRIPTION_ID": "sub"})
    assert isinstance(clients.credential, DefaultAzureCredential)


def test_a_given_credential_is_used_as_is():
    sentinel = object.__new__(ClientSecretCredential)
    clients = connect(environ={"AZURE_SUBSCRIPTION_ID": "sub"}, credential=sentinel)
    assert clients.credential is sentinel
