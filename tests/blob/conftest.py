"""Fixtures of the blob-plane tests: azure-storage-blob 12 pointed at the live emulator's Blob port, unique
container names, the container directories on disk, and a raw HTTP helper for requests the SDK cannot send."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from emulator.settings import DEFAULT_STORAGE_ACCOUNT as ACCOUNT, DEFAULT_STORAGE_KEY as KEY
from tests.files.conftest import Raw


def connection_string(blob_url: str, account: str = ACCOUNT, key: str = KEY) -> str:
    return f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={blob_url}/{account};"


@pytest.fixture(scope="module")
def cs(live) -> str:
    return connection_string(live.blob_url)


@pytest.fixture(scope="module")
def svc(cs) -> BlobServiceClient:
    # small single-put and block sizes, so modest bodies already go through Put Block + Put Block List
    return BlobServiceClient.from_connection_string(cs, max_single_put_size=4 << 20, max_block_size=4 << 20)


@pytest.fixture()
def container(svc):
    name = "c" + uuid.uuid4().hex[:16]
    client = svc.create_container(name)
    return client


def container_dir(live, name: str, account: str = ACCOUNT) -> Path:
    return Path(live.settings.data_dir) / "blobs" / account / name


@pytest.fixture(scope="module")
def raw(live) -> Raw:
    """Raw requests to the Blob port (path style: targets start with /<account>/)."""
    return Raw(live.blob_url)
