"""Blob throughput against Azurite: one 256 MB upload and download through azure-storage-blob 12 against the
emulator's Blob port and against Azurite (the official Azure Storage emulator), the same bytes, in one run.

Both servers run as their own processes on free loopback ports with their own temporary data dirs (Azurite:
`azurite-blob --location <tmp> --skipApiVersionCheck --loose`, installed with `npm install azurite` into a cache
dir on first use: ~/.cache/batchai-emulator-bench/azurite). The SDK uses the same settings for both: 4 MiB
blocks and chunks, --concurrency parallel requests (default 4). The two servers take turns, --rounds times each
(default 3; the machine's other load changes between turns), and each direction's best round counts. Prints MB/s
both ways for both and the ratios emulator / Azurite (goal >= 1.0 both ways).

Run: .venv/bin/python bench/blob.py [--size-mb 256] [--concurrency 4] [--rounds 3]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.storage.blob import BlobServiceClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emulator.launcher import EmulatorProcess, free_port  # noqa: E402
from emulator.settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY  # noqa: E402

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "batchai-emulator-bench" / "azurite"


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {timeout}s")


def azurite_bin() -> Path:
    binary = CACHE / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"installing azurite into {CACHE} (npm install azurite)...", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "azurite@3"], cwd=CACHE, check=True)
    return binary


def start_emulator(data: Path) -> tuple[subprocess.Popen, str]:
    emulator = EmulatorProcess(data, "--executor", "none").start()
    account = DEFAULT_STORAGE_ACCOUNT
    return emulator.proc, (f"DefaultEndpointsProtocol=http;AccountName={account};"
                           f"AccountKey={DEFAULT_STORAGE_KEY};BlobEndpoint={emulator.blob_url}/{account};")


def start_azurite(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([str(azurite_bin()), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
                             str(data), "--skipApiVersionCheck", "--loose", "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc, "azurite")
    return proc, (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                  f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")


def measure(cs: str, data: bytes, concurrency: int, round_no: int) -> tuple[float, float]:
    svc = BlobServiceClient.from_connection_string(cs, max_single_put_size=4 << 20, max_block_size=4 << 20,
                                                   max_chunk_get_size=4 << 20, max_single_get_size=4 << 20)
    container = svc.get_container_client("bench")
    if round_no == 0:
        container.create_container()
    blob = container.get_blob_client(f"256mb-{round_no}.bin")
    # connections and first-request costs out of the timing
    container.upload_blob("warmup", b"x" * 1024, overwrite=True)
    container.download_blob("warmup").readall()
    t0 = time.perf_counter()
    blob.upload_blob(data, max_concurrency=concurrency)
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = blob.download_blob(max_concurrency=concurrency).readall()
    down = time.perf_counter() - t0
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        raise SystemExit("downloaded bytes differ from the uploaded ones")
    mb = len(data) / 1e6
    return mb / up, mb / down


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data = os.urandom(args.size_mb << 20)
    results: dict[str, tuple[float, float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-blob-"))
    servers = {}
    try:
        for name, start in (("emulator", start_emulator), ("azurite", start_azurite)):
            servers[name] = start(tmp / name)
        for round_no in range(args.rounds):
            for name, (_, cs) in servers.items():
                up, down = measure(cs, data, args.concurrency, round_no)
                best = results.get(name, (0.0, 0.0))
                results[name] = (max(best[0], up), max(best[1], down))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"blob {args.size_mb} MB through azure-storage-blob 12 (4 MiB blocks, max_concurrency={args.concurrency}, "
          f"best of {args.rounds} alternating rounds)")
    for name, (up, down) in results.items():
        print(f"  {name:9s} upload {up:8.1f} MB/s   download {down:8.1f} MB/s")
    (eu, ed), (au, ad) = results["emulator"], results["azurite"]
    print(f"  ratio emulator/azurite: upload {eu / au:.2f}x   download {ed / ad:.2f}x   (goal >= 1.0 both ways)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
