"""`batchai-emulator serve` in a child process, as a user runs it: on free loopback ports with a data dir, ready when
/_emulator/health answers (with a deadline), stopped with SIGTERM (SIGKILL when it hangs), or killed with SIGKILL.

The one starter behind the pytest plugin, the tests, the benchmarks and `python -m cloud demo` / `demo-azureml`.
Needs only what the emulator itself installs (requests). One data dir may be served by successive processes
(start, kill9, start again): they keep the ports of the first.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import urlsplit

import requests

HOST = "127.0.0.1"
_BANNER = re.compile(r"listening on (http://\S+) \(HTTP\) and (https://\S+) \(HTTPS\)")
_BLOB = re.compile(r"blob:\s+(http://\S+)")


class EmulatorStartError(RuntimeError):
    """The emulator exited before it answered, or did not answer in time (the message ends with its log's tail)."""


def free_port() -> int:
    """A loopback port nobody listens on now (the emulator binds it moments later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def child_environment(extra: Mapping[str, str] | None = None, keep_settings: bool = False) -> dict[str, str]:
    """This process's environment for the emulator: without BATCHAI_EMULATOR_* settings (unless keep_settings),
    unbuffered (its banner reaches the log at once), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if keep_settings or not k.startswith("BATCHAI_EMULATOR")}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


class EmulatorProcess:
    """One data dir, served by successive `serve` processes.

    A port given as None is a free one chosen now; 0 lets `serve` pick one (-1: serve's default, for the blob port
    10000 when free), read back from its banner at start. `env` is added to this process's environment as it is
    at each spawn; `program` is the command before `serve` (default: this interpreter's `-m emulator`).
    """

    def __init__(self, data_dir: Path | str, *flags: str, port: int | None = None, https_port: int | None = None,
                 blob_port: int | None = None, env: Mapping[str, str] | None = None, keep_settings: bool = False,
                 log: Path | str | None = None, program: Sequence[str] | None = None, own_session: bool = False):
        self.data_dir = Path(data_dir)
        self.flags = list(flags)
        chosen: list[int] = []
        for asked in (port, https_port, blob_port):
            p = asked
            while p is None or (asked is None and p in chosen):
                p = free_port()     # the kernel may hand the same free port out twice in a row: never reuse one
            chosen.append(p)
        self.port, self.https_port, self.blob_port = chosen
        self.env = dict(env or {})
        self.keep_settings = keep_settings
        self.log = Path(log) if log else self.data_dir.parent / (self.data_dir.name + "-serve.log")
        self.program = list(program or [sys.executable, "-m", "emulator"])
        # its own session: a Ctrl-C at the terminal reaches only the parent, which stops the emulator when it is done
        self.own_session = own_session
        self.proc: subprocess.Popen | None = None
        self._log_offset = 0

    def command(self) -> list[str]:
        return [*self.program, "serve", "--host", HOST, "--port", str(self.port), "--https-port",
                str(self.https_port), "--blob-port", str(self.blob_port), "--data-dir", str(self.data_dir),
                *self.flags]

    def spawn(self) -> subprocess.Popen:
        """Start the process without waiting for it to answer."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self._log_offset = out.tell()
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=child_environment(self.env, self.keep_settings),
                                         start_new_session=self.own_session)
        return self.proc

    def start(self, timeout: float = 60) -> "EmulatorProcess":
        """Spawn, then wait until /_emulator/health answers 200; EmulatorStartError (process killed) otherwise."""
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmulatorStartError(f"the emulator exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._ports_known() and self._healthy():
                return self
            time.sleep(0.05)
        self.kill9()
        raise EmulatorStartError(f"the emulator did not become healthy in {timeout:.0f}s:\n{self.log_tail()}")

    def _ports_known(self) -> bool:
        """True once every port is known: given, or (for 0 and -1) read from this process's banner."""
        if min(self.port, self.https_port, self.blob_port) > 0:
            return True
        text = self._new_log()
        banner, blob = _BANNER.search(text), _BLOB.search(text)
        if not (banner and blob):
            return False
        self.port, self.https_port, self.blob_port = (urlsplit(u).port for u in (*banner.groups(), blob.group(1)))
        return True

    def _new_log(self) -> str:
        try:
            with open(self.log, "rb") as fh:
                fh.seek(self._log_offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _healthy(self) -> bool:
        try:  # plain HTTP on loopback, for the health check only
            return requests.get(f"{self.http_url}/_emulator/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited in `timeout` s; its exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def unhandled_errors(self) -> list[str]:
        """Tracebacks the emulator logged for requests it answered 500."""
        return [line for line in self.log_text().splitlines() if "unhandled error on" in line]

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # the ARM, Batch AI and Files endpoints (HTTP and HTTPS), and the Blob endpoint
    http_url = property(lambda self: f"http://{HOST}:{self.port}")
    https_url = property(lambda self: f"https://{HOST}:{self.https_port}")
    blob_url = property(lambda self: f"http://{HOST}:{self.blob_port}")

    @property
    def ca_bundle(self) -> str:
        """The self-signed certificate the HTTPS port presents (the emulator makes it in the data dir)."""
        return str(self.data_dir / "cert.pem")
