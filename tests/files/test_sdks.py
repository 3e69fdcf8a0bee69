"""The quickstart's file-share steps and byte-exact round trips through both file SDKs over a real socket."""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.storage.file import ContentSettings
from azure.storage.fileshare import ContentSettings as ContentSettings12, ShareServiceClient

from .conftest import connection_string, share_dir

QUICKSTART_FILES = ["Train-28x28_cntk_text.txt", "Test-28x28_cntk_text.txt", "ConvNet_MNIST.py"]


def _write(path, size: int, seed: int = 0) -> bytes:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32) + os.urandom(size % 32)
    path.write_bytes(data)
    return data


def test_quickstart_upload_loop_azure_storage_file(fs, live, tmp_path):
    """The quickstart's own calls, unchanged: create_share(fail_on_exist=False) twice, directory, 3 files."""
    share = "batchaisample"
    contents = {name: _write(tmp_path / name, size, i)
                for i, (name, size) in enumerate(zip(QUICKSTART_FILES, [3_000_001, 500_000, 12_345]))}
    for _ in range(2):       # a re-run of the quickstart meets the existing share and directory
        fs.create_share(share, fail_on_exist=False)
        fs.create_directory(share, "mnistcntksample", fail_on_exist=False)
        for name in QUICKSTART_FILES:
            fs.create_file_from_path(share, "mnistcntksample", name, str(tmp_path / name))
    listed = {f.name: f.properties.content_length for f in fs.list_directories_and_files(share, "mnistcntksample")}
    assert listed == {name: len(data) for name, data in contents.items()}
    for name, data in contents.items():
        assert (share_dir(live, share) / "mnistcntksample" / name).read_bytes() == data
        assert fs.get_file_to_bytes(share, "mnistcntksample", name).content == data
    assert share in [s.name for s in fs.list_shares()]


def test_quickstart_upload_loop_azure_storage_file_share(svc, live, tmp_path):
    share = "batchaisample12"
    contents = {name: _write(tmp_path / name, size, i)
                for i, (name, size) in enumerate(zip(QUICKSTART_FILES, [5_000_000, 70_000, 999]))}
    share_client = svc.get_share_client(share)
    share_client.create_share()
    directory = share_client.get_directory_client("mnistcntksample")
    directory.create_directory()
    for name in QUICKSTART_FILES:
        with open(tmp_path / name, "rb") as fh:
            directory.get_file_client(name).upload_file(fh)
    listed = {i.name: i.size for i in directory.list_directories_and_files()}
    assert listed == {name: len(data) for name, data in contents.items()}
    for name, data in contents.items():
        assert (share_dir(live, share) / "mnistcntksample" / name).read_bytes() == data
        assert directory.get_file_client(name).download_file().readall() == data


@pytest.mark.parametrize("size", [10 * 1024 * 1024, 100 * 1024 * 1024 + 7], ids=["10MB", "100MB"])
def test_round_trip_azure_storage_file(fs, share, tmp_path, size):
    src = tmp_path / "src.bin"
    data = _write(src, size)
    fs.create_file_from_path(share, None, "blob.bin", str(src), max_connections=4,
                             content_settings=ContentSettings(content_type="application/x-test"))
    props = fs.get_file_properties(share, None, "blob.bin").properties
    assert props.content_length == size and props.content_settings.content_type == "application/x-test"
    dst = tmp_path / "dst.bin"
    fs.get_file_to_path(share, None, "blob.bin", str(dst), max_connections=4)
    assert dst.read_bytes() == data


@pytest.mark.parametrize("size", [10 * 1024 * 1024, 100 * 1024 * 1024 + 7], ids=["10MB", "100MB"])
def test_round_trip_azure_storage_file_share(svc, share, tmp_path, size):
    data = _write(tmp_path / "src.bin", size, 3)
    fc = svc.get_share_client(share).get_file_client("blob.bin")
    with open(tmp_path / "src.bin", "rb") as fh:
        fc.upload_file(fh, max_concurrency=4,
                       content_settings=ContentSettings12(content_type="text/plain", content_language="en"))
    props = fc.get_file_properties()
    assert props.size == size and props.content_settings.content_type == "text/plain"
    assert props.content_settings.content_language == "en"
    with open(tmp_path / "dst.bin", "wb") as fh:
        fc.download_file(max_concurrency=4).readinto(fh)
    assert (tmp_path / "dst.bin").read_bytes() == data


def test_parallel_uploads_of_different_files(live, share, tmp_path):
    """Eight clients upload different files at once, each in parallel ranges; every byte lands where it should."""
    datas = {f"f{i}.bin": _write(tmp_path / f"f{i}.bin", 9 * 1024 * 1024 + i, i) for i in range(8)}

    def upload(name):
        client = ShareServiceClient.from_connection_string(connection_string(live.http_url))
        with open(tmp_path / name, "rb") as fh:
            client.get_share_client(share).get_file_client(name).upload_file(fh, max_concurrency=3)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, datas))
    for name, data in datas.items():
        assert (share_dir(live, share) / name).read_bytes() == data


def test_https_endpoint_with_the_emulator_certificate(live, share, monkeypatch):
    from azure.storage.file import FileService
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", live.ca_bundle)
    fs = FileService(connection_string=connection_string(live.https_url))
    fs.create_file_from_bytes(share, None, "tls.txt", b"over tls")
    assert fs.get_file_to_bytes(share, None, "tls.txt").content == b"over tls"
    svc = ShareServiceClient.from_connection_string(connection_string(live.https_url),
                                                    connection_verify=live.ca_bundle)
    assert svc.get_share_client(share).get_file_client("tls.txt").download_file().readall() == b"over tls"
    big = os.urandom(9 * 1024 * 1024 + 3)          # several ranges, each received in many TLS records
    fc = svc.get_share_client(share).get_file_client("tls.bin")
    fc.upload_file(big, max_concurrency=2)
    assert fc.download_file().readall() == big


def test_empty_files_in_both_sdks(fs, svc, share, tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    fs.create_file_from_path(share, None, "empty-old", str(empty))
    svc.get_share_client(share).get_file_client("empty-new").upload_file(b"")
    for name in ("empty-old", "empty-new"):
        assert fs.get_file_to_bytes(share, None, name).content == b""
        assert svc.get_share_client(share).get_file_client(name).download_file().readall() == b""
    assert {e.name: e.properties.content_length for e in fs.list_directories_and_files(share)} == \
        {"empty-old": 0, "empty-new": 0}
