"""`python -m cloud demo` (what `make demo` runs): a local emulator, the quickstart against it, then stop.

The emulator runs as a child process with its embedded defaults in a temporary data dir, on free ports
(`--port 0 --https-port 0`; the ports are read back from the line it prints), with jobs executed by Docker when an
engine answers and by local processes otherwise, and the quickstart's CNTK GPU image mapped to the CPU trainer
image. The quickstart then runs exactly as it would against Azure, with `--endpoint <its https URL>` and its
certificate as the CA bundle. The emulator is stopped however the run ends (Ctrl-C included).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from .console import Console, duration

CPU_IMAGE = "batchai-emulator/trainer-cpu:latest"
# 30 epochs of the offline 4,000-image training set: about 2.2% test error, under a minute or two on 2 cores
DEMO_EPOCHS = 30
_LISTENING = re.compile(r"listening on (http://\S+) \(HTTP\) and (https://\S+) \(HTTPS\)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the local emulator")
    group.add_argument("--executor", default="auto", help="how the emulator runs jobs: auto (Docker when an engine "
                                                          "answers, else local processes), docker or local")
    group.add_argument("--cpu-image", default=CPU_IMAGE, help=f"image that stands in for the quickstart's CNTK "
                                                              f"GPU image (default {CPU_IMAGE})")
    group.add_argument("--data-dir", type=Path, help="emulator data dir (default: a temporary one, removed after)")
    group.add_argument("--start-timeout", type=float, default=60.0)
    parser.set_defaults(epochs=DEMO_EPOCHS)


class EmulatorProcess:
    """`python -m emulator serve` as a child process: start, wait until healthy, stop."""

    def __init__(self, data_dir: Path, extra: list[str] | None = None, log_path: Path | None = None):
        self.data_dir = Path(data_dir)
        self.extra = list(extra or [])
        self.log_path = log_path or self.data_dir / "emulator.log"
        self.proc: subprocess.Popen | None = None
        self.http_url = self.https_url = None

    @staticmethod
    def supported_flags() -> str:
        """The serve command's help text (flags that arrived later are passed only when it knows them)."""
        try:
            return subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], capture_output=True,
                                  text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    @property
    def cert(self) -> Path:
        return self.data_dir / "cert.pem"

    def start(self, timeout: float = 60.0) -> "EmulatorProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", "0",
                   "--https-port", "0", "--data-dir", str(self.data_dir), *self.extra]
        log = open(self.log_path, "wb")
        # its own session: Ctrl-C reaches only us, and we stop it ourselves once the quickstart has cleaned up
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the emulator exited with status {self.proc.returncode}:\n{self.log_tail()}")
            m = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if m and self._healthy(m.group(1)):
                self.http_url, self.https_url = m.group(1), m.group(2)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the emulator did not become healthy in {timeout:.0f} s:\n{self.log_tail()}")

    @staticmethod
    def _healthy(http_url: str) -> bool:
        try:  # plain HTTP on loopback, for the health check only
            return requests.get(f"{http_url}/_emulator/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def choose_executor(requested: str, cpu_image: str) -> tuple[str, str | None]:
    """(executor, why) for the demo: `auto` unless Docker answers without the CPU image, which would fail the job."""
    if requested != "auto":
        return requested, None
    try:
        import docker
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception:  # no SDK, no engine: the emulator's auto picks local processes itself
        return "auto", None
    try:
        client.images.get(cpu_image)
    except Exception:
        return "local", (f"Docker answers but {cpu_image} is not built (images/README.md, or "
                         "`sudo bash .ci/docker.sh`): jobs run as local processes")
    return "auto", None


def serve_flags(args, help_text: str) -> list[str]:
    flags = []
    if "--executor" in help_text:
        flags += ["--executor", args.executor]
    if "--image-map" in help_text:
        from .quickstart import CNTK_IMAGE
        flags += ["--image-map", f"{CNTK_IMAGE}={args.cpu_image}"]
    return flags


def main(args, console: Console) -> int:
    from . import quickstart
    from .clients import connect

    began = time.monotonic()
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="batchai-demo-")) if temporary else args.data_dir
    args.executor, why = choose_executor(args.executor, args.cpu_image)
    if why:
        console.line(f"note: {why}")
    emulator = EmulatorProcess(data_dir, serve_flags(args, EmulatorProcess.supported_flags()))
    try:
        with console.step(f"starting the Batch AI emulator (data dir {data_dir})"):
            emulator.start(args.start_timeout)
        console.line(f"  {emulator.https_url} (HTTPS), {emulator.http_url} (HTTP); log {emulator.log_path}")
        console.line(f"  same as: python -m cloud quickstart --endpoint {emulator.https_url} "
                     f"--ca-bundle {emulator.cert}")
        clients = connect(emulator.https_url, ca_bundle=str(emulator.cert))
        try:
            summary = quickstart.run(clients, quickstart.Options.from_args(args), console)
        finally:
            clients.close()
    except Exception:
        tail = emulator.log_tail()
        if tail:
            console.line("last lines of the emulator's log:")
            for line in tail.splitlines():
                console.line(f"  {line}")
        raise
    finally:
        with console.step("stopping the emulator"):
            emulator.stop()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    console.line(f"demo finished in {duration(time.monotonic() - began)}")
    return 0 if summary.succeeded else 1
