"""Azure Files throughput: upload and download of one 256 MB file through azure-storage-file-share 12.x against a
live emulator (its own process, plain HTTP on 127.0.0.1), and in the same run the same bytes written to and read
from the local disk by this process (same file system as the emulator's data dir, no fsync on either side: both
land in the page cache; the dirty pages are synced before each timed phase, untimed). Reads are measured warm (the
bytes still in the page cache, as right after writing them) and cold (evicted first, for the local file and for
the emulator's copy alike). The figure is the ratio SDK MB/s / disk MB/s; goal >= 0.5.

For scale, the same SDK calls are also timed against a do-nothing endpoint (its own process: it discards uploads
and serves zeros), which is what the SDK itself can move on this machine whatever the server does.

Run: .venv/bin/python bench/files.py [--size-mb 256] [--concurrency 1] [--rounds 3] [--baseline-tree DIR]
(--concurrency is the SDK's max_concurrency for both directions; 1 is its default for uploads and downloads.)

--baseline-tree DIR also serves another checkout of the project (e.g. `git worktree add /tmp/base <commit>`)
from DIR, as a second emulator with its own data dir, and times it in the same rounds (interleaved with this
tree's, so machine noise spreads over both): the figures of both, and per direction the median over rounds of
this tree / baseline (each round times both back to back) with its range, which shows how noisy the machine is;
and each emulator's CPU time per GiB moved, which a busy machine disturbs far less than MB/s.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emulator.launcher import EmulatorProcess, free_port  # noqa: E402
from emulator.settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY  # noqa: E402

CHUNK = 4 << 20


def tree_emulator(tree: Path, data_dir: Path) -> EmulatorProcess:
    """An emulator serving `tree`'s own `emulator` package (first on its sys.path, whatever the current directory
    or the installed project)."""
    boot = (f"import sys; sys.path.insert(0, {str(tree)!r}); from emulator.__main__ import main; "
            "sys.exit(main(sys.argv[1:]))")
    return EmulatorProcess(data_dir, "--executor", "none", program=[sys.executable, "-c", boot])


def cpu_seconds(proc) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_null(port: int) -> None:
    """A do-nothing file endpoint: answers every SDK call of a round, discards bodies, serves zeros."""
    sizes: dict[str, int] = {}
    zeros = memoryview(bytes(8 << 20))

    def handle(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = conn.makefile("rb", buffering=1 << 16)
        sink = memoryview(bytearray(256 << 10))
        while True:
            line = rfile.readline()
            if not line:
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while (h := rfile.readline()) not in (b"\r\n", b"\n", b""):
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            left = int(headers.get("content-length") or 0)
            while left:
                left -= rfile.readinto(sink[:min(left, len(sink))])
            path = target.split("?")[0]
            common = f"Last-Modified: {formatdate(usegmt=True)}\r\nETag: \"0x1\"\r\n"
            if method == "PUT" and "x-ms-content-length" in headers:
                sizes[path] = int(headers["x-ms-content-length"])
            if method == "GET" and "?" not in target:
                size = sizes.get(path, 0)
                start, _, end = headers.get("x-ms-range", f"bytes=0-{size - 1}")[6:].partition("-")
                start, end = int(start), min(int(end), size - 1)
                left = end - start + 1
                conn.sendall(f"HTTP/1.1 206 Partial Content\r\nContent-Length: {left}\r\nContent-Range: bytes "
                             f"{start}-{end}/{size}\r\n{common}\r\n".encode())
                while left:
                    conn.sendall(zeros[:min(left, len(zeros))])
                    left -= min(left, len(zeros))
            else:
                status = {"PUT": "201 Created", "DELETE": "202 Accepted"}.get(method, "200 OK")
                conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n{common}\r\n".encode())

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def null_round(file_client, data: bytes, concurrency: int) -> dict[str, float]:
    t0 = time.perf_counter()
    file_client.upload_file(data, max_concurrency=concurrency)
    out = {"write": _mbps(len(data), time.perf_counter() - t0)}
    sink = io.BytesIO()
    t0 = time.perf_counter()
    file_client.download_file(max_concurrency=concurrency).readinto(sink)
    out["warm"] = out["cold"] = _mbps(len(data), time.perf_counter() - t0)
    assert sink.getbuffer().nbytes == len(data)
    return out


def _mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def _evict(path: Path) -> None:
    """Drop a file's pages from the page cache (synced first, so they are clean), for a cold read."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _read_file(path: Path, size: int) -> bytearray:
    out = bytearray(size)
    view = memoryview(out)
    with open(path, "rb", buffering=0) as fh:
        got = 0
        while got < size:
            n = fh.readinto(view[got:got + CHUNK])
            if not n:
                break
            got += n
    return out


def disk_round(path: Path, data: bytes) -> dict[str, float]:
    view = memoryview(data)
    os.sync()           # every timed phase starts with no dirty pages queued by the one before
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        for i in range(0, len(data), CHUNK):
            fh.write(view[i:i + CHUNK])
    write = time.perf_counter() - t0
    os.sync()
    t0 = time.perf_counter()
    warm = _read_file(path, len(data))
    read_warm = time.perf_counter() - t0
    _evict(path)
    t0 = time.perf_counter()
    cold = _read_file(path, len(data))
    read_cold = time.perf_counter() - t0
    assert warm == data and cold == data
    path.unlink()
    return {"write": _mbps(len(data), write), "warm": _mbps(len(data), read_warm),
            "cold": _mbps(len(data), read_cold)}


def sdk_round(file_client, on_disk: Path, data: bytes, concurrency: int) -> dict[str, float]:
    os.sync()
    t0 = time.perf_counter()
    file_client.upload_file(data, max_concurrency=concurrency)
    up = time.perf_counter() - t0
    out = {"write": _mbps(len(data), up)}
    for mode in ("warm", "cold"):
        if mode == "cold":
            _evict(on_disk)       # the emulator's own copy of the bytes, under its data dir
        else:
            os.sync()
        sink = io.BytesIO()
        t0 = time.perf_counter()
        file_client.download_file(max_concurrency=concurrency).readinto(sink)
        out[mode] = _mbps(len(data), time.perf_counter() - t0)
        assert sink.getbuffer().nbytes == len(data) and sink.getvalue() == data
    file_client.delete_file()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-tree", metavar="DIR",
                        help="another checkout of the project, served and timed in the same rounds")
    parser.add_argument("--serve-null", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_null:
        serve_null(args.serve_null)
        return 0

    from azure.storage.fileshare import ShareServiceClient, __version__ as sdk_version

    size = args.size_mb * 1024 * 1024
    data = os.urandom(size)
    work = Path(tempfile.mkdtemp(prefix="batchai-bench-files-"))
    base_tree = Path(args.baseline_tree).resolve() if args.baseline_tree else None
    if base_tree is not None and not (base_tree / "emulator" / "__main__.py").is_file():
        parser.error(f"--baseline-tree {base_tree} is not a checkout of this project")
    try:
        with contextlib.ExitStack() as stack:
            targets = [(ROOT, work / "data")] + ([(base_tree, work / "base-data")] if base_tree else [])
            clients, emulators = [], []
            for tree, data_dir in targets:
                emu = stack.enter_context(tree_emulator(tree, data_dir))
                emulators.append(emu)
                cs = (f"DefaultEndpointsProtocol=http;AccountName={DEFAULT_STORAGE_ACCOUNT};"
                      f"AccountKey={DEFAULT_STORAGE_KEY};FileEndpoint={emu.http_url}/{DEFAULT_STORAGE_ACCOUNT};")
                share = ShareServiceClient.from_connection_string(cs).get_share_client("bench")
                share.create_share()
                clients.append((share.get_file_client("bench.bin"),
                                data_dir / "shares" / DEFAULT_STORAGE_ACCOUNT / "bench" / "bench.bin"))
            disk, sdk, baseline = [], [], []
            cpu = [cpu_seconds(e.proc) for e in emulators]
            for i in range(args.rounds):          # interleaved, so machine noise spreads over all of them
                disk.append(disk_round(work / "data" / "baseline.bin", data))
                order = clients if i % 2 == 0 else clients[::-1]     # neither tree always goes first
                for file_client, on_disk in order:
                    (sdk if file_client is clients[0][0] else baseline).append(
                        sdk_round(file_client, on_disk, data, args.concurrency))
            moved = args.rounds * 3 * size / 2 ** 30          # GiB through each emulator: 1 upload, 2 downloads
            cpu = [(cpu_seconds(e.proc) - c) / moved for e, c in zip(emulators, cpu)]
        null_port = free_port()
        null = subprocess.Popen([sys.executable, __file__, "--serve-null", str(null_port)])
        try:
            time.sleep(0.5)
            null_cs = (f"DefaultEndpointsProtocol=http;AccountName={DEFAULT_STORAGE_ACCOUNT};"
                       f"AccountKey={DEFAULT_STORAGE_KEY};FileEndpoint=http://127.0.0.1:{null_port}/"
                       f"{DEFAULT_STORAGE_ACCOUNT};")
            null_client = ShareServiceClient.from_connection_string(null_cs).get_share_client("bench") \
                .get_file_client("bench.bin")
            ceiling = [null_round(null_client, data, args.concurrency) for _ in range(args.rounds)]
        finally:
            null.kill()
            null.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    print(f"Azure Files bench: {args.size_mb} MiB file, azure-storage-file-share {sdk_version}, "
          f"max_concurrency={args.concurrency}, HTTP on 127.0.0.1, median of {args.rounds} rounds")
    rows = [("upload", "write", "local disk write"),
            ("download", "warm", "local disk read"),
            ("download (cold)", "cold", "disk read (cold)")]
    ratios = []
    for label, key, base in rows:
        ratio = med(sdk, key) / med(disk, key)
        ratios.append(ratio)
        print(f"  {label:16s} {med(sdk, key):8.1f} MB/s   {base:17s} {med(disk, key):8.1f} MB/s   ratio {ratio:5.2f}")
    print("  (cold: both the local file and the emulator's copy evicted from the page cache before reading)")
    print(f"  for scale, the SDK against a do-nothing endpoint: upload {med(ceiling, 'write'):.1f} MB/s, download "
          f"{med(ceiling, 'warm'):.1f} MB/s; the emulator reaches {med(sdk, 'write') / med(ceiling, 'write'):.2f} "
          f"and {med(sdk, 'warm') / med(ceiling, 'warm'):.2f} of that")
    print(f"  goal: ratio >= 0.5 for upload and download -> {'met' if min(ratios[:2]) >= 0.5 else 'NOT met'}")
    if baseline:
        print(f"  baseline tree {base_tree}, same rounds (interleaved):")
        print(f"  emulator CPU time per GiB moved: this tree {cpu[0]:.2f} s, baseline {cpu[1]:.2f} s, this tree / "
              f"baseline {cpu[0] / cpu[1]:.2f}")
        for label, key, _ in rows:
            b = med(baseline, key)
            # each round times both trees back to back: the median of those paired ratios, and their spread
            paired = sorted(mine[key] / theirs[key] for mine, theirs in zip(sdk, baseline))
            print(f"  {label:16s} {b:8.1f} MB/s (ratio to disk {b / med(disk, key):5.2f});  this tree / baseline "
                  f"{statistics.median(paired):5.2f} (rounds {paired[0]:.2f}..{paired[-1]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
