"""Put Range From URL with a blob of the emulator's own Blob plane as the source: on its Blob port (path style)
or host style (https://<account>.blob.core.windows.net/...), authorised by a SAS, a bearer token in
x-ms-copy-source-authorization, or a public container."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

from .conftest import ACCOUNT, KEY

DATA = bytes(range(256)) * 4


@pytest.fixture(scope="module")
def blobs(live) -> BlobServiceClient:
    return BlobServiceClient(f"{live.blob_url}/{ACCOUNT}", credential=KEY)


def _blob(blobs: BlobServiceClient, public: str | None = None):
    container = blobs.create_container("c" + uuid.uuid4().hex[:12], public_access=public)
    client = container.get_blob_client("source.bin")
    client.upload_blob(DATA)
    return client


def test_a_blob_source_needs_its_own_authorisation(svc, share, blobs, live):
    source = _blob(blobs)
    fc = svc.get_share_client(share).get_file_client("from-blob.bin")
    fc.create_file(2048)
    with pytest.raises(HttpResponseError) as err:
        fc.upload_range_from_url(source.url, offset=0, length=512, source_offset=0)
    assert err.value.error_code == "CannotVerifyCopySource"
    sas = generate_blob_sas(ACCOUNT, source.container_name, source.blob_name, account_key=KEY,
                            permission=BlobSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    fc.upload_range_from_url(f"{source.url}?{sas}", offset=512, length=512, source_offset=256)
    token = ClientSecretCredential("tenant", "client", "secret", authority=live.https_url,
                                   disable_instance_discovery=True, connection_verify=live.ca_bundle
                                   ).get_token("https://storage.azure.com/.default").token
    fc.upload_range_from_url(source.url, offset=0, length=512, source_offset=0,
                             source_authorization=f"Bearer {token}")
    assert fc.download_file(0, 1024).readall() == DATA[:512] + DATA[256:768]
    with pytest.raises(HttpResponseError) as err:
        fc.upload_range_from_url(source.url, offset=1024, length=512, source_offset=768,
                                 source_authorization=f"Bearer {token}")      # past the blob's end
    assert err.value.status_code == 416


def test_a_public_blob_named_host_style(svc, share, blobs, live):
    source = _blob(blobs, public="blob")
    proxy = json.loads((Path(live.settings.data_dir) / "azureml" / "endpoints.json").read_text())["proxy_port"]
    hosted = BlobServiceClient(f"https://{ACCOUNT}.blob.core.windows.net", credential=KEY,
                               proxies={"https": f"http://127.0.0.1:{proxy}"}, connection_verify=live.ca_bundle)
    url = hosted.get_blob_client(source.container_name, source.blob_name).url
    assert url.startswith(f"https://{ACCOUNT}.blob.core.windows.net/")
    fc = svc.get_share_client(share).get_file_client("public.bin")
    fc.create_file(512)
    fc.upload_range_from_url(url, offset=0, length=512, source_offset=512)
    assert fc.download_file().readall() == DATA[512:1024]
