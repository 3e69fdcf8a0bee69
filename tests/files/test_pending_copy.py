"""A copy between accounts of a large source is pending (x-ms-copy-status), finishes in the background, can be
aborted while it runs, and survives kill -9 of the emulator (it is copied again after the restart)."""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.fileshare import FileSasPermissions, ShareServiceClient, generate_file_sas

from emulator.launcher import EmulatorProcess
from tests.conftest import start_live

from .conftest import ACCOUNT, KEY

OTHER, OTHER_KEY = "copysource", "Y29weSBzb3VyY2UgYWNjb3VudCBvZiB0aGUgZmlsZXMgdGVzdHM="
SIZE = 6 << 20                  # over the 4 MiB above which a cross-account copy is asynchronous
DATA = os.urandom(SIZE)
ACCOUNTS = [f"{ACCOUNT}:{KEY}", f"{OTHER}:{OTHER_KEY}"]


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """An emulator whose background copies crawl (64 KiB/s): a copy stays pending until aborted."""
    server = start_live(tmp_path_factory.mktemp("pending-copy"), storage_accounts=ACCOUNTS,
                        files_copy_rate=64 << 10)
    yield server
    server.server.stop()


def _source(url: str) -> str:
    """A share in the other account with DATA in src.bin; the file's URL with a read SAS."""
    other = ShareServiceClient(f"{url}/{OTHER}", credential=OTHER_KEY)
    share = "s" + uuid.uuid4().hex[:12]
    other.create_share(share)
    other.get_share_client(share).get_file_client("src.bin").upload_file(DATA, max_concurrency=2)
    sas = generate_file_sas(OTHER, share, ["src.bin"], OTHER_KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    return f"{url}/{OTHER}/{share}/src.bin?{sas}"


def _dest(url: str):
    svc = ShareServiceClient(f"{url}/{ACCOUNT}", credential=KEY)
    share = "d" + uuid.uuid4().hex[:12]
    svc.create_share(share)
    return svc.get_share_client(share).get_file_client("dest.bin")


def _wait(fc, status: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        props = fc.get_file_properties()
        if props.copy.status == status or time.monotonic() > deadline:
            return props
        time.sleep(0.2)


def test_a_pending_copy_is_aborted(slow):
    dest = _dest(slow.http_url)
    copy = dest.start_copy_from_url(_source(slow.http_url))
    assert copy["copy_status"] == "pending"
    props = dest.get_file_properties()
    assert props.copy.status == "pending" and props.copy.id == copy["copy_id"] and props.size == SIZE
    assert props.copy.progress.endswith(f"/{SIZE}")
    with pytest.raises(HttpResponseError) as err:
        dest.abort_copy("00000000-0000-0000-0000-000000000000")
    assert err.value.error_code == "CopyIdMismatch"
    # the copy would overwrite bytes written meanwhile: such writes are refused, not lost
    with pytest.raises(HttpResponseError) as err:
        dest.upload_range(b"w" * 512, offset=0, length=512)
    assert err.value.error_code == "PendingCopyOperation"
    with pytest.raises(HttpResponseError) as err:
        dest.resize_file(10)
    assert err.value.error_code == "PendingCopyOperation"
    dest.abort_copy(copy)
    download = dest.download_file()
    assert download.readall() == b""
    assert download.properties.copy.status == "aborted" and download.properties.copy.id == copy["copy_id"]
    with pytest.raises(HttpResponseError) as err:
        dest.abort_copy(copy)
    assert err.value.error_code == "NoPendingCopyOperation"
    dest.resize_file(512)
    dest.upload_range(b"w" * 512, offset=0, length=512)
    assert dest.download_file().readall() == b"w" * 512


def test_a_replaced_destination_takes_writes_again(slow):
    dest = _dest(slow.http_url)
    assert dest.start_copy_from_url(_source(slow.http_url))["copy_status"] == "pending"
    dest.create_file(512)           # a new file at the name: the pending copy is no longer its own
    dest.upload_range(b"n" * 512, offset=0, length=512)
    assert dest.get_file_properties().copy.id is None
    assert dest.download_file().readall() == b"n" * 512


def test_a_pending_copy_completes(slow):
    dest = _dest(slow.http_url)
    source = _source(slow.http_url)
    slow.settings.files_copy_rate = 0           # the default speed: the copy now finishes
    try:
        copy = dest.start_copy_from_url(source)
        props = _wait(dest, "success")
    finally:
        slow.settings.files_copy_rate = 64 << 10
    assert copy["copy_status"] == "pending"
    assert props.copy.status == "success" and props.copy.progress == f"{SIZE}/{SIZE}"
    assert dest.download_file().readall() == DATA


def test_small_copies_between_accounts_complete_at_once(slow):
    other = ShareServiceClient(f"{slow.http_url}/{OTHER}", credential=OTHER_KEY)
    share = "s" + uuid.uuid4().hex[:12]
    other.create_share(share)
    other.get_share_client(share).get_file_client("small.bin").upload_file(b"small")
    sas = generate_file_sas(OTHER, share, ["small.bin"], OTHER_KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    dest = _dest(slow.http_url)
    copy = dest.start_copy_from_url(f"{slow.http_url}/{OTHER}/{share}/small.bin?{sas}")
    assert copy["copy_status"] == "success"
    assert dest.download_file().readall() == b"small"


def test_a_pending_copy_survives_kill_9(tmp_path):
    accounts = [a for acc in ACCOUNTS for a in ("--storage-account", acc)]
    slow_run = EmulatorProcess(tmp_path / "data", "--executor", "none", *accounts, "--files-copy-rate",
                               str(256 << 10))
    with slow_run:
        dest = _dest(slow_run.http_url)
        copy = dest.start_copy_from_url(_source(slow_run.http_url))
        assert copy["copy_status"] == "pending"
        deadline = time.monotonic() + 60
        while dest.get_file_properties().copy.progress.startswith("0/") and time.monotonic() < deadline:
            time.sleep(0.1)
        slow_run.kill9()
    with EmulatorProcess(tmp_path / "data", "--executor", "none", *accounts) as again:
        dest = ShareServiceClient(f"{again.http_url}/{ACCOUNT}", credential=KEY).get_share_client(
            dest.share_name).get_file_client("dest.bin")
        props = _wait(dest, "success")
        assert props.copy.status == "success" and props.copy.id == copy["copy_id"]
        assert dest.download_file().readall() == DATA
