"""A full disk or an unwritable data dir: a clear error, never corruption.

The data dir sits on a small tmpfs (a size-limited file system; the tests mount it, so they need root, as CI
has). Choices (see the store's StoreFull and files/views.py):
* Azure Files requests that need room answer 413 InsufficientStorage naming the disk: 413 is what the service
  answers for a share that is full (ShareSizeLimitReached), and the storage SDKs do not retry it, where they
  retry a 5xx for 15-24 s before saying anything.
* ARM/Batch AI writes answer 507 InsufficientStorage: the emulator's own failure, so a 5xx as the service
  answered its own; the ARM SDKs retry it a few times (about 5 s) and then raise the message, which names the
  directory to free.
* Reads keep working, a failed create leaves nothing behind, and once space is freed everything works again,
  across a restart, with the SQLite file intact.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.batchai import models

from . import clients
from .clients import Recorder
from .conftest import unavailable
from tests.served import Served

MIB = 1 << 20


def _mount_tmpfs(size_mib: int, read_only: bool = False) -> Path:
    where = Path(tempfile.mkdtemp(prefix="batchai-smallfs-"))
    options = f"size={size_mib}m" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                          text=True)
    if done.returncode:
        where.rmdir()
        unavailable(f"cannot mount a {size_mib} MiB tmpfs for the data dir: {done.stderr.strip()} (needs root)")
    return where


def _unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=False)
    where.rmdir()


@pytest.fixture()
def small_fs():
    where = _mount_tmpfs(32)
    yield where
    _unmount(where)


def _exits(served: Served, timeout: float = 30) -> int:
    served.spawn()
    try:
        return served.proc.wait(timeout)
    finally:
        served.kill9()


def test_read_only_data_dir_refuses_to_start_with_a_clear_message(tmp_path):
    where = _mount_tmpfs(1, read_only=True)
    try:
        served = Served(where / "data", "--executor", "none", log=tmp_path / "serve.log")
        assert _exits(served) == 2
        text = served.log_text()
        assert f"cannot use the data dir {where / 'data'}: Read-only file system" in text
        assert "Traceback" not in text
    finally:
        _unmount(where)


def test_a_data_dir_that_is_a_file_or_a_damaged_state_file_refuses_to_start(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    served = Served(tmp_path / "file", "--executor", "none", log=tmp_path / "a.log")
    assert _exits(served) == 2
    assert f"cannot use the data dir {tmp_path / 'file'}" in served.log_text()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "emulator.db").write_bytes(b"this is not SQLite" * 100)
    served = Served(tmp_path / "data", "--executor", "none", log=tmp_path / "b.log")
    assert _exits(served) == 2
    text = served.log_text()
    assert "cannot open the emulator's state" in text and "file is not a database" in text
    assert "Traceback" not in text


def _code(err: HttpResponseError) -> str | None:
    return getattr(err, "error_code", None) or getattr(getattr(err, "error", None), "code", None)


def test_full_disk_answers_clear_errors_and_damages_nothing(small_fs, tmp_path):
    data = small_fs / "data"
    served = Served(data, "--executor", "local", "--gpus", "none", "--allocation-delay", "0.1",
                    log=tmp_path / "serve.log").start()      # the log off the full disk
    recorder = Recorder()
    try:
        ai, rm = clients.batchai(served, recorder)
        fs = clients.files(served, recorder)
        rm.resource_groups.create_or_update("rg", {"location": "eastus"})
        ai.workspaces.begin_create("rg", "ws", models.WorkspaceCreateParameters(location="eastus")).result()
        ai.experiments.begin_create("rg", "ws", "exp").result()
        share = fs.get_share_client("data")
        share.create_share()
        fs.get_share_client("jobs").create_share()
        cluster = ai.clusters.begin_create("rg", "ws", "cl", clients.cluster_params(served, "jobs")).result()
        kept = {f"keep{i}.bin": os.urandom(MIB + i) for i in range(3)}
        for name, body in kept.items():
            share.get_file_client(name).upload_file(body)
        _run_job(ai, cluster.id, "before")

        # fill the disk with one upload bigger than what is left
        free = os.statvfs(small_fs).f_bavail * os.statvfs(small_fs).f_frsize
        with pytest.raises(HttpResponseError) as err:
            share.get_file_client("filler.bin").upload_file(os.urandom(free + 4 * MIB))
        assert err.value.status_code == 413 and _code(err.value) == "InsufficientStorage"
        assert "disk holding the emulator's data dir is full" in str(err.value)

        # while full: writes answer clearly and leave nothing behind; reads work
        with pytest.raises(HttpResponseError) as err:
            ai.experiments.begin_create("rg", "ws", "during").result()
        assert err.value.status_code == 507 and _code(err.value) == "InsufficientStorage"
        assert f"data dir ({data})" in str(err.value)
        with pytest.raises(HttpResponseError) as err:
            ai.jobs.begin_create("rg", "ws", "exp", "during", clients.job_params(cluster.id, "true")).result()
        assert err.value.status_code == 507
        for attempt in (lambda: share.get_directory_client("dir").create_directory(),
                        lambda: share.get_file_client("small.bin").upload_file(b"x" * 100_000)):
            with pytest.raises(HttpResponseError) as err:
                attempt()
            assert err.value.status_code == 413 and _code(err.value) == "InsufficientStorage"
        # a failed upload's file exists, as on the service (create succeeded, the ranges did not): filler.bin always;
        # small.bin when its create found the few free blocks that closing the store's WAL left
        listed = {f.name for f in share.list_directories_and_files()}
        assert {*kept, "filler.bin"} <= listed <= {*kept, "filler.bin", "small.bin"}
        assert [e.name for e in ai.experiments.list_by_workspace("rg", "ws")] == ["exp"]
        assert [j.name for j in ai.jobs.list_by_experiment("rg", "ws", "exp")] == ["before"]
        for name, body in kept.items():
            assert share.get_file_client(name).download_file().readall() == body

        # space freed through the API: everything works again
        share.get_file_client("filler.bin").delete_file()
        ai.experiments.begin_create("rg", "ws", "after").result()
        share.get_file_client("small.bin").upload_file(b"x" * 100_000)
        _run_job(ai, cluster.id, "after")
    finally:
        served.stop()
    assert {code for _, _, code in recorder.server_errors} <= {507}
    assert served.unhandled_errors() == []

    with sqlite3.connect(f"file:{data / 'emulator.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    served.start()
    try:
        ai, _ = clients.batchai(served, recorder)
        share = clients.files(served, recorder).get_share_client("data")
        assert sorted(e.name for e in ai.experiments.list_by_workspace("rg", "ws")) == ["after", "exp"]
        assert {j.name: j.execution_state for j in ai.jobs.list_by_experiment("rg", "ws", "exp")} == {
            "before": "succeeded", "after": "succeeded"}
        for name, body in kept.items():
            got = share.get_file_client(name).download_file().readall()
            assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
        assert (data / "shares" / clients.ACCOUNT / "jobs" / "runs.txt").read_text().split() == ["before", "after"]
    finally:
        served.stop()


def _run_job(ai, cluster_id: str, name: str, timeout: float = 30) -> None:
    ai.jobs.begin_create("rg", "ws", "exp", name, clients.job_params(
        cluster_id, f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs.txt")).result()
    deadline = time.monotonic() + timeout
    while (state := ai.jobs.get("rg", "ws", "exp", name).execution_state) not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"job {name} still {state}"
        time.sleep(0.1)
    assert state == "succeeded"


def test_a_restart_on_a_full_disk_names_the_full_disk(small_fs, tmp_path):
    data = small_fs / "data"
    served = Served(data, "--executor", "none", log=tmp_path / "serve.log")
    served.start()
    served.stop()                            # a clean stop: the restart must make SQLite's WAL files again
    with open(small_fs / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * MIB)
        except OSError:
            pass
    again = Served(data, "--executor", "none", log=tmp_path / "restart.log")
    again.port, again.https_port = served.port, served.https_port
    assert _exits(again) == 2
    text = again.log_text()
    assert f"the disk holding the data dir {data} is full" in text, text
    assert "disk I/O error" not in text and "Traceback" not in text
    (small_fs / "filler").unlink()           # room again: it starts, with its state intact
    again.start()
    again.stop()
    assert again.proc.returncode == 0
