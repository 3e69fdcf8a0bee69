"""kill -9 at every point of the Files plane's newer write paths — Rename File (replacing a leased destination's
neighbour), Rename Directory, Copy File within the account and from a URL with a SAS, and writes guarded by a file
lease (Put Range, Set Properties, Set Metadata, resize) — then a restart on the same data dir, checked through
azure-storage-file-share. A copy from another account (pending: its bytes follow in the background) counts the
steps of its background copier too, and is waited for before each check.

The emulator runs under tests/hardening/crashhook.py, which SIGKILLs it just before its N-th durable step (a
commit of the Files rows, a rename, unlink, truncate, write...) of the operation; N runs from 1 until the
operation finishes unharmed, so every point between two durable steps is hit once. After each restart the share
must look exactly as it did before the operation or exactly as the unharmed run left it (names, bytes,
metadata, content settings, lease state, copy status), with nothing else on disk (no temporary or half-copied
file), every file readable, and a file that says it is leased refusing a write without its lease and accepting
one with it.

Put Range streams the body to disk as it arrives (a client that hangs up midway leaves the bytes it sent), so a
kill during it may leave a prefix of the range written: for it the bytes must be the new range's prefix followed
by the old bytes, with the lease and the file's other properties intact.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.fileshare import ContentSettings, FileSasPermissions, ShareServiceClient, generate_file_sas

from emulator.settings import DEFAULT_STORAGE_ACCOUNT as ACCOUNT, DEFAULT_STORAGE_KEY as KEY
from tests.served import Served

from . import clients

SHARE, OTHER = "crash", "crash-src"
SECOND = "crashother"                # a second served account: copies from it are pending (background) copies
ACCOUNTS = ["--storage-account", f"{ACCOUNT}:{KEY}", "--storage-account", f"{SECOND}:{KEY}"]
LEASE = "0f0f0f0f-1111-2222-3333-444444444444"
MAX_STEPS, EVERY_UNTIL, EVERY = 80, 12, 5


def _bytes(tag: str, size: int) -> bytes:
    out, i = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(f"{tag}{i}".encode()).digest()
        i += 1
    return bytes(out[:size])


A, B = _bytes("a", 300_000), _bytes("b", 200_000)
R = _bytes("r", 1 << 20)
BIG = _bytes("big", 5 << 20)         # above pending.ASYNC_MIN: a copy from another account runs in the background


class Hooked(Served):
    """Served under the crash hook: SIGKILL just before durable step `at` once `arm` exists."""

    def __init__(self, data_dir: Path, at: int, arm: Path):
        super().__init__(data_dir, "--executor", "none", *ACCOUNTS, env={
            "HARDENING_CRASH_AT": str(at), "HARDENING_CRASH_ARM": str(arm),
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2])]
                                          + [p for p in [os.environ.get("PYTHONPATH")] if p])})

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.hardening.crashhook", *super().command()[1:]]


# ---- the scenarios: set-up (no faults), then one operation ---------------------------------------------------
def _setup_rename_file(svc):
    sc = svc.get_share_client(SHARE)
    sc.create_directory("dir")
    sc.get_file_client("dir/a.bin").upload_file(A, metadata={"Who": "a"},
                                                 content_settings=ContentSettings(content_type="text/a"))
    sc.get_file_client("b.bin").upload_file(B, metadata={"who": "b"})
    sc.get_file_client("dir/a.bin").acquire_lease(lease_id=LEASE)


def _rename_file(svc):
    svc.get_share_client(SHARE).get_file_client("dir/a.bin").rename_file("b.bin", overwrite=True,
                                                                          source_lease=LEASE)


def _setup_rename_dir(svc):
    sc = svc.get_share_client(SHARE)
    d = sc.create_directory("old", metadata={"kind": "dir"})
    d.create_subdirectory("sub").upload_file("deep.bin", A, metadata={"x": "1"})
    d.upload_file("top.bin", B, content_settings=ContentSettings(content_type="app/top"))


def _rename_dir(svc):
    svc.get_share_client(SHARE).get_directory_client("old").rename_directory("new")


def _setup_copy(svc):
    sc = svc.get_share_client(SHARE)
    sc.get_file_client("src.bin").upload_file(A, metadata={"from": "src"},
                                              content_settings=ContentSettings(content_type="app/src"))
    sc.get_file_client("dst.bin").upload_file(B, metadata={"old": "dst"})


def _copy(svc):
    sc = svc.get_share_client(SHARE)
    sc.get_file_client("dst.bin").start_copy_from_url(sc.get_file_client("src.bin").url)


def _setup_copy_url(svc):
    svc.create_share(OTHER)
    svc.get_share_client(OTHER).get_file_client("remote.bin").upload_file(
        A, metadata={"from": "url"}, content_settings=ContentSettings(content_type="app/url"))


def _copy_url(svc):
    src = svc.get_share_client(OTHER).get_file_client("remote.bin")
    sas = generate_file_sas(ACCOUNT, OTHER, ["remote.bin"], account_key=KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    svc.get_share_client(SHARE).get_file_client("copied.bin").start_copy_from_url(f"{src.url}?{sas}")


def _second(svc):
    url = svc.url.replace(f"/{ACCOUNT}", f"/{SECOND}")
    return ShareServiceClient(url, credential={"account_name": SECOND, "account_key": KEY}, retry_total=0)


def _setup_copy_async(svc):
    _setup_copy(svc)
    other = _second(svc)
    other.create_share(OTHER)
    other.get_share_client(OTHER).get_file_client("big.bin").upload_file(
        BIG, metadata={"from": "other"}, content_settings=ContentSettings(content_type="app/big"))


def _copy_async(svc):
    src = _second(svc).get_share_client(OTHER).get_file_client("big.bin")
    sas = generate_file_sas(SECOND, OTHER, ["big.bin"], account_key=KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    dst = svc.get_share_client(SHARE).get_file_client("dst.bin")
    assert dst.start_copy_from_url(f"{src.url}?{sas}")["copy_status"] == "pending"


def _settle(svc, timeout: float = 60) -> None:
    """Wait (bounded) until no file of the share has a pending copy."""
    deadline = time.monotonic() + timeout
    sc = svc.get_share_client(SHARE)
    while any(sc.get_file_client(f["name"]).get_file_properties().copy.status == "pending"
              for f in sc.list_directories_and_files() if not f["is_directory"]):
        assert time.monotonic() < deadline, "a copy stayed pending"
        time.sleep(0.1)


def _setup_leased(svc):
    fc = svc.get_share_client(SHARE).get_file_client("leased.bin")
    fc.upload_file(A, metadata={"k": "v"}, content_settings=ContentSettings(content_type="app/old"))
    fc.acquire_lease(lease_id=LEASE)


def _put_range(svc):
    svc.get_share_client(SHARE).get_file_client("leased.bin").upload_range(R[:len(A) // 512 * 512], 0,
                                                                           len(A) // 512 * 512, lease=LEASE)


def _set_properties(svc):
    svc.get_share_client(SHARE).get_file_client("leased.bin").set_http_headers(
        ContentSettings(content_type="app/new", content_language="fr"), lease=LEASE)


def _set_metadata(svc):
    svc.get_share_client(SHARE).get_file_client("leased.bin").set_file_metadata({"k": "new", "n": "2"}, lease=LEASE)


def _resize(svc):
    svc.get_share_client(SHARE).get_file_client("leased.bin").resize_file(len(A) * 3, lease=LEASE)


SCENARIOS = {
    "rename-file-replacing": (_setup_rename_file, _rename_file),
    "rename-directory": (_setup_rename_dir, _rename_dir),
    "copy-file-over-existing": (_setup_copy, _copy),
    "copy-file-from-url-with-sas": (_setup_copy_url, _copy_url),
    "copy-file-from-another-account-pending": (_setup_copy_async, _copy_async),
    "leased-put-range": (_setup_leased, _put_range),
    "leased-set-properties": (_setup_leased, _set_properties),
    "leased-set-metadata": (_setup_leased, _set_metadata),
    "leased-resize": (_setup_leased, _resize),
}


# ---- what the share looks like, through the SDK ----------------------------------------------------------------
def snapshot(svc) -> dict:
    """{path: properties that must survive} for every directory and file of the test's shares."""
    out = {}
    for share in [s.name for s in svc.list_shares() if s.name in (SHARE, OTHER)]:
        sc = svc.get_share_client(share)
        todo = [""]
        while todo:
            d = todo.pop()
            dc = sc.get_directory_client(d)
            if d:
                out[f"{share}/{d}/"] = {"metadata": dc.get_directory_properties().metadata}
            for item in dc.list_directories_and_files():
                path = f"{d}/{item['name']}" if d else item["name"]
                if item["is_directory"]:
                    todo.append(path)
                    continue
                fc = sc.get_file_client(path)
                p = fc.get_file_properties()
                data = fc.download_file().readall()
                out[f"{share}/{path}"] = {
                    "size": p.size, "listed_size": item["size"], "sha256": hashlib.sha256(data).hexdigest(),
                    "metadata": p.metadata, "content_type": p.content_settings.content_type,
                    "content_language": p.content_settings.content_language,
                    "lease": (p.lease.state, p.lease.status), "copy": p.copy.status}
    return out


def on_disk(data_dir: Path) -> set[str]:
    """Every regular file under the account's share directories, as share/path, and any copy being written
    (files-copying/...: the Files plane's temporary copies, none of which may outlive a restart)."""
    root = data_dir / "shares" / ACCOUNT
    found = {str(Path(top, f).relative_to(root)) for top, _, files in os.walk(root) for f in files}
    return found | {str(Path(top, f).relative_to(data_dir)) for top, _, files in os.walk(data_dir / "files-copying")
                    for f in files}


def check_leases(svc, state: dict) -> list[str]:
    """A file that says it is leased refuses a write without the lease and accepts one with it."""
    problems = []
    for path, props in state.items():
        if props.get("lease", ("available",))[0] != "leased":
            continue
        share, _, name = path.partition("/")
        fc = svc.get_share_client(share).get_file_client(name)
        try:
            fc.set_file_metadata(props["metadata"])
            problems.append(f"{path}: leased, but a write without the lease was accepted")
        except HttpResponseError as err:
            if err.status_code != 412:
                problems.append(f"{path}: a write without the lease got {err.status_code} {err.error_code}")
        try:
            fc.set_file_metadata(props["metadata"], lease=LEASE)
        except HttpResponseError as err:
            problems.append(f"{path}: leased, but the write with its lease got {err.status_code} {err.error_code}")
    return problems


def _torn_put_range(state: dict, before: dict, after: dict, data_dir: Path) -> bool:
    """Whether leased.bin holds a prefix of the new range then the old bytes, all else as before."""
    path = f"{SHARE}/leased.bin"
    got = (data_dir / "shares" / ACCOUNT / path).read_bytes()
    n = len(A) // 512 * 512
    if len(got) != len(A) or not any(got == R[:k] + A[k:] for k in range(0, n + 1, 512)):
        return False
    same = {k: v for k, v in state[path].items() if k != "sha256"}
    return same == {k: v for k, v in before[path].items() if k != "sha256"} and \
        {k: v for k, v in state.items() if k != path} == {k: v for k, v in before.items() if k != path}


def _steps():
    """Every step up to EVERY_UNTIL (the request's own), then every EVERY-th (a background copier's chunks
    repeat the same few steps)."""
    at = 1
    while at <= MAX_STEPS:
        yield at
        at += 1 if at < EVERY_UNTIL else EVERY


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kill9_at_every_step_leaves_the_share_as_before_or_after(tmp_path, scenario):
    setup, operation = SCENARIOS[scenario]
    crashed: list[tuple[int, dict, set[str]]] = []
    before = after = None
    problems: list[str] = []
    for at in _steps():
        data = tmp_path / f"n{at}" / "data"
        arm = tmp_path / f"n{at}" / "armed"
        data.parent.mkdir()
        hooked = Hooked(data, at, arm).start()
        try:
            svc = clients.files(hooked, clients.Recorder(), timeout=10)
            svc.create_share(SHARE)
            setup(svc)
            before = snapshot(svc)
            arm.touch()
            try:
                operation(svc)
                _settle(svc)           # a background copy goes on after the answer: its steps count too
                error = None
            except AzureError as exc:
                error = exc
            if error is not None:
                try:
                    hooked.proc.wait(10)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"step {at}: the operation failed though the emulator lives") from error
            alive = hooked.proc.poll() is None
            if alive:
                arm.unlink()
                after, after_files = snapshot(svc), on_disk(data)
                break
        finally:
            hooked.stop()
        plain = Served(data, "--executor", "none", *ACCOUNTS).start()
        try:
            svc = clients.files(plain, clients.Recorder(), timeout=10)
            _settle(svc)               # a copy left pending starts again after the restart
            state = snapshot(svc)
            crashed.append((at, state, on_disk(data)))
            problems += [f"step {at}: {p}" for p in check_leases(svc, state)]
            assert plain.unhandled_errors() == []
        finally:
            plain.kill9()          # checked: no need to wait for a clean stop (this data dir is not used again)
    else:
        pytest.fail(f"the operation took more than {MAX_STEPS} durable steps")
    print(f"{scenario}: killed at {len(crashed)} points (each of its first {EVERY_UNTIL} durable steps, then every "
          f"{EVERY}th; it has fewer than {at}), restarted, checked")
    assert after != before, "the unharmed operation changed nothing: the scenario tests nothing"
    assert crashed, "no step was hit"
    for at, state, files in crashed:
        data = tmp_path / f"n{at}" / "data"
        if state not in (before, after) and not (scenario == "leased-put-range"
                                                 and _torn_put_range(state, before, after, data)):
            diff = {k: (before.get(k), after.get(k), state.get(k)) for k in set(before) | set(after) | set(state)
                    if state.get(k) not in (before.get(k), after.get(k)) or (k in state) != (k in before)}
            problems.append(f"step {at}: neither before nor after; (before, after, got) per path: {diff}")
        expected = {p for p in state if not p.endswith("/")}
        if files != expected:
            problems.append(f"step {at}: files on disk {sorted(files)} but the share lists {sorted(expected)}")
    assert after_files == {p for p in after if not p.endswith("/")}
    assert problems == [], "\n".join(problems)
