"""`batchai-emulator serve` as a subprocess on free loopback ports, as a user runs it: started, health-checked,
stopped, or killed with SIGKILL. Tests (recovery, load, faults) and the benchmarks share it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent / "batchai-emulator"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One data dir, served by successive processes (start, kill9, start again on the same ports)."""

    def __init__(self, data_dir: Path, *flags: str, env: dict[str, str] | None = None, log: Path | None = None):
        self.data_dir = Path(data_dir)
        self.flags = list(flags)
        self.port, self.https_port, self.blob_port = free_port(), free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BATCHAI_EMULATOR")}
        self.env.update(env or {})
        self.log = Path(log) if log else self.data_dir.parent / (self.data_dir.name + "-serve.log")
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--https-port",
                str(self.https_port), "--blob-port", str(self.blob_port), "--data-dir", str(self.data_dir), *self.flags]

    def spawn(self) -> subprocess.Popen:
        """Start the process without waiting for it to answer."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self.proc

    def start(self, timeout: float = 30) -> "Served":
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the emulator exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if requests.get(f"{self.http_url}/_emulator/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"the emulator did not become healthy in {timeout}s:\n{self.log_text()[-3000:]}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def unhandled_errors(self) -> list[str]:
        """Tracebacks the emulator logged for requests it answered 500."""
        return [line for line in self.log_text().splitlines() if "unhandled error on" in line]

    def __enter__(self) -> "Served":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def live(self):
        """What tests/e2e/jobenv.JobEnv needs of a live server, for this process's data dir and ports."""
        from types import SimpleNamespace
        from emulator.settings import Settings
        return SimpleNamespace(https_url=self.https_url, ca_bundle=self.ca_bundle,
                               settings=Settings.from_env(environ={}, data_dir=self.data_dir))

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def blob_url(self) -> str:
        return f"http://127.0.0.1:{self.blob_port}"

    @property
    def ca_bundle(self) -> str:
        return str(self.data_dir / "cert.pem")
