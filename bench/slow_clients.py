"""Slow clients and size limits against one `batchai-emulator serve` process.

1. p50 of a resource-group GET (plain HTTP and HTTPS, a new connection per request, as a client without a pool
   does) with 0, 17 and 200 idle connections open that never send a byte; printed as ratios against the 0-idle
   baseline of the same scheme in the same run (goal: 200 idle add < 100 ms).
2. The size limits: time to refuse a 200 MB JSON body and a 100 MB header block, and the emulator's resident memory
   (RSS) after each, against its RSS before.

Run: .venv/bin/python bench/slow_clients.py [--requests 50]
"""
from __future__ import annotations

import argparse
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from emulator.launcher import EmulatorProcess  # noqa: E402

SUB = "00000000-0000-0000-0000-0000000000b5"
RG_PATH = f"/subscriptions/{SUB}/resourcegroups/bench?api-version=2021-04-01"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_request(port: int, tls: ssl.SSLContext | None, payload: bytes) -> tuple[float, bytes]:
    """Seconds for one request on a fresh connection (connect, TLS, answer read whole), and the status line."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as raw:
        sock = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        sock.sendall(payload)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return time.perf_counter() - t0, head.split(b"\r\n", 1)[0]


def p50_with_idle(served: EmulatorProcess, scheme: str, idle: int, n: int, tls: ssl.SSLContext) -> float:
    port = served.port if scheme == "http" else served.https_port
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(idle)]
    try:
        time.sleep(0.2)
        request = (f"GET {RG_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n"
                   "Connection: close\r\n\r\n").encode()
        times = []
        for _ in range(n):
            seconds, status = one_request(port, tls if scheme == "https" else None, request)
            if not status.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected answer {status!r} with {idle} idle connections")
            times.append(seconds)
        return statistics.median(times)
    finally:
        for s in held:
            s.close()


def refuse(served: EmulatorProcess, what: str, size: int) -> tuple[float, str, float]:
    """(seconds until the refusal arrived, status line, RSS MiB after) for a body or header block of `size` bytes."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=120) as s:
        t0 = time.perf_counter()
        if what == "body":
            s.sendall((f"PUT {RG_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode())
        else:
            s.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        chunk = b"x" * (1 << 20)
        sent, answer = 0, b""
        s.setblocking(False)
        while sent < size and not answer:
            try:
                sent += s.send(chunk[: size - sent])
            except BlockingIOError:
                try:
                    answer = s.recv(65536)
                except BlockingIOError:
                    time.sleep(0.001)
            except OSError:
                break
        s.setblocking(True)
        try:
            while b"\r\n" not in answer:
                more = s.recv(65536)
                if not more:
                    break
                answer += more
        except OSError:
            pass
        seconds = time.perf_counter() - t0
    return seconds, answer.split(b"\r\n", 1)[0].decode(errors="replace"), rss_mib(served.proc.pid)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=50, help="requests per measurement (default 50)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served = EmulatorProcess(Path(tmp) / "data", "--executor", "none").start()
        try:
            tls = ssl.create_default_context(cafile=served.ca_bundle)
            setup = (f"PUT {RG_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\nContent-Type: "
                     "application/json\r\nContent-Length: 22\r\nConnection: close\r\n\r\n"
                     '{"location": "eastus"}').encode()
            one_request(served.port, None, setup)
            print(f"slow clients: p50 of a resource-group GET on a new connection, {args.requests} requests each")
            print(f"{'scheme':<7} {'idle':>5} {'p50 ms':>9} {'ratio':>7} {'added ms':>9}")
            for scheme in ("http", "https"):
                base = None
                p50_with_idle(served, scheme, 0, 10, tls)  # warm-up, not counted
                for idle in (0, 17, 200):
                    p50 = p50_with_idle(served, scheme, idle, args.requests, tls)
                    base = base or p50
                    print(f"{scheme:<7} {idle:>5} {p50 * 1000:>9.2f} {p50 / base:>6.2f}x "
                          f"{(p50 - base) * 1000:>9.2f}", flush=True)
            before = rss_mib(served.proc.pid)
            print(f"\nsize limits: emulator RSS before {before:.0f} MiB")
            for what, size in (("body", 200 << 20), ("header", 100 << 20)):
                seconds, status, after = refuse(served, what, size)
                print(f"  {size >> 20} MB {what:<6}: refused in {seconds * 1000:.0f} ms with '{status}'; "
                      f"RSS after {after:.0f} MiB ({after / before:.2f}x)", flush=True)
        finally:
            served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
