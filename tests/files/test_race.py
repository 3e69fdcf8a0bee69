"""A job swapping a share directory with a symbolic link to a host directory (renameat2 RENAME_EXCHANGE, in a
tight loop) while SharedKey requests run: no request may read a host file, create anything outside the share,
list the host directory or answer 5xx.

Two swappers: a thread of this process (fast; run once with openat2 and once with the O_NOFOLLOW walk), and a
real job container on the Docker engine with the share bind-mounted, as in issue 11."""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.fileshare import ShareServiceClient

from emulator.files import beneath
from emulator.settings import CPU_IMAGE
from tests.conftest import in_ci

from .conftest import connection_string, share_dir

SHARE_BYTES = b"bytes that live in the share\n"
HOST_BYTES = b"HOST SECRET: must never be served\n"
SECONDS = 3.0

# Runs in the job container (and in a thread here): exchange <root>/d with <root>/swap -> <host dir> until time
# is up, leaving d the real directory. Needs only python3 and glibc.
SWAPPER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
root, host, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
a, b = os.path.join(root, "d").encode(), os.path.join(root, "swap").encode()
os.symlink(host, b)
def exchange():
    if hasattr(libc, "renameat2"):
        rc = libc.renameat2(-100, a, -100, b, 2)
    else:
        rc = libc.syscall(316, -100, a, -100, b, 2)
    if rc != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
n, end = 0, time.time() + seconds
while time.time() < end:
    exchange()
    n += 1
if os.path.islink(a):
    exchange()
print(n, flush=True)
"""


def _swap_in_thread(root: Path, host: Path, seconds: float) -> threading.Thread:
    # the same script, its arguments written in (sys.argv belongs to the whole process)
    script = SWAPPER.replace("root, host, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])",
                             f"root, host, seconds = {str(root)!r}, {str(host)!r}, {seconds!r}")
    code = compile(script, "swapper", "exec")
    thread = threading.Thread(target=exec, args=(code, {"print": lambda *a, **k: None}), daemon=True)
    thread.start()
    return thread


def _setup(live, svc: ShareServiceClient, tmp_path: Path):
    name = "race" + uuid.uuid4().hex[:12]
    share = svc.get_share_client(name)
    share.create_share()
    share.get_directory_client("d").create_directory()
    share.get_file_client("d/f.txt").upload_file(SHARE_BYTES)
    host = tmp_path / "host"
    host.mkdir()
    (host / "f.txt").write_bytes(HOST_BYTES)
    (host / "host-only.txt").write_bytes(HOST_BYTES)
    return name, share, host


def _hammer(share, until: float) -> dict[str, int]:
    counts = {"share": 0, "refused": 0, "written": 0, "listed": 0}
    lock = threading.Lock()

    def worker(k: int):
        i = 0
        while time.monotonic() < until:
            i += 1
            outcome = None
            try:
                data = share.get_file_client("d/f.txt").download_file().readall()
                assert data != HOST_BYTES, "a host file was served"
                assert data == SHARE_BYTES, data
                outcome = "share"
            except HttpResponseError as err:
                assert err.status_code < 500, err
                outcome = "refused"
            with lock:
                counts[outcome] += 1
            try:
                share.get_file_client(f"d/new-{k}-{i}.txt").upload_file(b"planted")
                with lock:
                    counts["written"] += 1
            except HttpResponseError as err:
                assert err.status_code < 500, err
            try:
                names = {e["name"] for e in share.get_directory_client("d").list_directories_and_files()}
                assert "host-only.txt" not in names, "the host directory was listed"
                with lock:
                    counts["listed"] += 1
            except HttpResponseError as err:
                assert err.status_code < 500, err

    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(worker, k) for k in range(4)]:
            f.result()
    return counts


def _check_host(host: Path) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["f.txt", "host-only.txt"], "something was created outside"
    assert (host / "f.txt").read_bytes() == HOST_BYTES


@pytest.fixture()
def svc12(live) -> ShareServiceClient:
    # no retries: a 5xx must show, not be retried away
    return ShareServiceClient.from_connection_string(connection_string(live.http_url), retry_total=0)


@pytest.mark.parametrize("openat2", [True, False], ids=["openat2", "walk"])
def test_swapping_a_directory_for_a_link_never_reaches_the_host(live, svc12, tmp_path, monkeypatch, openat2):
    if openat2:
        beneath._load()
        if not beneath.use_openat2:
            pytest.skip("this kernel has no openat2: the walk variant covers it")
    monkeypatch.setattr(beneath, "use_openat2", openat2)
    name, share, host = _setup(live, svc12, tmp_path)
    thread = _swap_in_thread(share_dir(live, name), host, SECONDS)
    counts = _hammer(share, time.monotonic() + SECONDS)
    thread.join(30)
    _check_host(host)
    assert counts["share"] > 0 and counts["refused"] > 0, counts     # both sides of the swap were hit
    assert not os.path.islink(share_dir(live, name) / "d")


def _docker():
    try:
        import docker
        client = docker.from_env()
        client.ping()
        client.images.get(CPU_IMAGE)
        return client
    except Exception as exc:        # no engine, no image
        if in_ci():
            pytest.fail(f"Docker engine or job image unavailable in CI: {exc}")
        pytest.skip(f"Docker engine or job image unavailable: {exc}")


@pytest.mark.docker
def test_a_job_container_swapping_links_never_reaches_the_host(live, svc12, tmp_path):
    client = _docker()
    name, share, host = _setup(live, svc12, tmp_path)
    root = share_dir(live, name)
    container = client.containers.run(
        CPU_IMAGE, ["python3", "-c", SWAPPER, "/share", str(host), "6"],
        volumes={str(root): {"bind": "/share", "mode": "rw"}}, user=f"{os.getuid()}:{os.getgid()}",
        name=f"c-files-race-{uuid.uuid4().hex[:8]}", labels={"batchai-emulator.test": "c-files-race"},
        network_mode="none", detach=True)
    try:
        deadline = time.monotonic() + 60
        while not (root / "swap").is_symlink() and time.monotonic() < deadline:
            container.reload()
            assert container.status != "exited", container.logs().decode()
            time.sleep(0.05)
        counts = _hammer(share, time.monotonic() + 5.0)
        status = container.wait(timeout=60)
        logs = container.logs().decode()
        assert status["StatusCode"] == 0, logs
        assert int(logs.split()[-1]) > 100, logs           # the container really swapped, many times
    finally:
        container.remove(force=True)
    _check_host(host)
    assert counts["share"] > 0 and counts["refused"] > 0, counts
