"""Start `batchai-emulator serve` as a subprocess on free ports for a benchmark, and stop it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent / "batchai-emulator"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, *flags: str, data_dir: str | None = None):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="batchai-bench-")
        self.port, self.https_port = free_port(), free_port()
        self.flags = flags
        self.proc = None

    def __enter__(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHAI_EMULATOR")}
        self.proc = subprocess.Popen([str(BIN), "serve", "--port", str(self.port), "--https-port",
                                      str(self.https_port), "--data-dir", self.data_dir, *self.flags],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/_emulator/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca_bundle(self) -> str:
        return str(Path(self.data_dir) / "cert.pem")
