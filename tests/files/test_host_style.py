"""Host-style Files addressing: `https://<account>.file.core.windows.net/...` reaches the emulator's Files plane
through its HTTPS proxy (HTTPS_PROXY), and `Host: <account>.file.<suffix>` on any of its ports."""
from __future__ import annotations

import json
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from azure.storage.fileshare import (FileSasPermissions, ShareFileClient, ShareServiceClient,
                                     generate_file_sas)

from .conftest import ACCOUNT, KEY, sign


@pytest.fixture(scope="module")
def proxy_port(live) -> int:
    return json.loads((Path(live.settings.data_dir) / "azureml" / "endpoints.json").read_text())["proxy_port"]


@pytest.fixture(scope="module")
def hosted(live, proxy_port) -> ShareServiceClient:
    return ShareServiceClient(f"https://{ACCOUNT}.file.core.windows.net", credential=KEY,
                              proxies={"https": f"http://127.0.0.1:{proxy_port}"}, connection_verify=live.ca_bundle)


def test_the_sdk_works_on_the_services_own_url(hosted, live):
    name = "h" + uuid.uuid4().hex[:12]
    share = hosted.create_share(name)
    assert share.url == f"https://{ACCOUNT}.file.core.windows.net/{name}"
    directory = share.create_directory("dir")
    fc = directory.upload_file("a b.txt", b"hello host style")
    assert fc.url == f"https://{ACCOUNT}.file.core.windows.net/{name}/dir/a%20b.txt"
    assert fc.download_file().readall() == b"hello host style"
    assert [i.name for i in directory.list_directories_and_files()] == ["a b.txt"]
    assert name in [s.name for s in hosted.list_shares(name_starts_with=name)]
    # the same share, path style on the emulator's own port
    path_style = ShareServiceClient(f"{live.http_url}/{ACCOUNT}", credential=KEY)
    assert path_style.get_share_client(name).get_file_client("dir/a b.txt").download_file().readall() \
        == b"hello host style"


def test_copy_and_rename_sources_may_be_host_style(hosted, live, proxy_port):
    name = "h" + uuid.uuid4().hex[:12]
    share = hosted.create_share(name)
    src = share.get_file_client("src.bin")
    src.upload_file(b"x" * 1000)
    sas = generate_file_sas(ACCOUNT, name, ["src.bin"], KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    dest = share.get_file_client("dest.bin")
    copy = dest.start_copy_from_url(f"{src.url}?{sas}")
    assert copy["copy_status"] == "success"
    assert dest.download_file().readall() == b"x" * 1000
    moved = dest.rename_file("moved.bin")
    assert moved.url.startswith(f"https://{ACCOUNT}.file.core.windows.net/{name}/")
    assert moved.download_file().readall() == b"x" * 1000
    fc = ShareFileClient(f"https://{ACCOUNT}.file.core.windows.net", name, "range.bin", credential=KEY,
                         proxies={"https": f"http://127.0.0.1:{proxy_port}"}, connection_verify=live.ca_bundle)
    fc.create_file(1000)
    fc.upload_range_from_url(f"{src.url}?{sas}", offset=0, length=512, source_offset=0)
    assert fc.download_file(0, 512).readall() == b"x" * 512


def test_a_host_style_request_on_the_plain_port(live, share):
    """No proxy: the Host header alone decides (as for the Blob plane); the path starts at the share."""
    date = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers = {"x-ms-date": date, "x-ms-version": "2021-06-08"}
    headers["Authorization"] = sign("GET", f"/{share}", "restype=share", headers)
    r = requests.get(f"{live.http_url}/{share}?restype=share", timeout=30,
                     headers=headers | {"Host": f"{ACCOUNT}.file.core.windows.net"})
    assert r.status_code == 200, r.text
    assert "ETag" in r.headers
    # an account the emulator does not serve: not found, whatever the path
    r = requests.get(f"{live.http_url}/{share}?restype=share", timeout=30,
                     headers=headers | {"Host": "nosuchaccount1.file.core.windows.net"})
    assert r.status_code == 404


def test_the_proxy_still_reaches_only_the_emulator(proxy_port):
    def connect(target: str) -> bytes:
        with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as s:
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            return s.recv(200)

    assert connect(f"{ACCOUNT}.file.core.windows.net:443").startswith(b"HTTP/1.1 200")
    for target in ("example.com:443", f"{ACCOUNT}.file.core.windows.net:445",
                   f"{ACCOUNT}.file.core.windows.net.example.com:443", f"a.{ACCOUNT}.file.core.windows.net:443",
                   f"{ACCOUNT}.queue.core.windows.net:443"):
        assert connect(target).startswith(b"HTTP/1.1 403"), target


def test_the_proxy_relays_when_the_process_holds_over_1024_descriptors(live, proxy_port):
    """A long test run (or a busy emulator) holds more than 1023 descriptors; select() refuses those, and a relay
    built on it dropped the connection without closing it, so the client hung until its read timeout."""
    import os
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1400:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1400, hard), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        client = ShareServiceClient(f"https://{ACCOUNT}.file.core.windows.net", credential=KEY,
                                    proxies={"https": f"http://127.0.0.1:{proxy_port}"},
                                    connection_verify=live.ca_bundle, connection_timeout=10, read_timeout=20,
                                    retry_total=0)
        name = "d" + uuid.uuid4().hex[:12]
        client.create_share(name)
        assert name in [s.name for s in client.list_shares(name_starts_with=name)]
    finally:
        for fd in held:
            os.close(fd)
