"""A second, private Docker engine for tests that stop and restart one: its own socket, data root, exec root,
pid file and bridge, so the shared engine (and whatever other tests run on it) never notices.

Its bridge is a fresh interface of its own (`--bridge <name>` with iptables, masquerading and forwarding left
alone): a second dockerd started with `--bridge none` deletes the host's docker0 and breaks the main engine.
Its image is tiny (dash, mkdir, sleep, cat and their libraries from this machine, imported as one layer), so it
is ready in a second.
"""
from __future__ import annotations

import io
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import docker

IMAGE = "batchai-emulator/engine-test:latest"
TOOLS = {"/bin/sh": "/bin/dash", "/bin/mkdir": "/bin/mkdir", "/bin/sleep": "/bin/sleep", "/bin/cat": "/bin/cat"}


def tiny_image_tar() -> bytes:
    """A root file system holding a POSIX shell and the few tools the job launcher and the tests use."""
    files: dict[str, str] = dict(TOOLS)
    for source in TOOLS.values():
        out = subprocess.run(["ldd", source], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
            if path.startswith("/"):
                files[path] = path
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for target, source in sorted(files.items()):
            tar.add(os.path.realpath(source), arcname=target.lstrip("/"))
        for d in ("tmp", "mnt", "dev", "proc", "sys"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
    return buf.getvalue()


class SecondEngine:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="bai-eng-", dir="/tmp"))
        self.socket = self.root / "d.sock"
        self.bridge = f"baitest{random.randrange(16 ** 6):06x}"
        self.subnet = f"10.213.{random.randrange(1, 255)}"
        self.proc: subprocess.Popen | None = None
        self.log = self.root / "dockerd.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def proxy_url(self) -> str:
        """The engine through a relay socket: cut() drops every connection and refuses new ones, restore()
        relays again, while the engine and its containers keep running (a crashed dockerd, a lost remote
        DOCKER_HOST, as a client sees them)."""
        return f"unix://{self.root / 'relay.sock'}"

    def cut(self) -> None:
        self.relay.close()

    def restore(self) -> None:
        self.relay = Relay(self.root / "relay.sock", self.socket)

    def command(self) -> list[str]:
        (self.root / "daemon.json").write_text("{}")
        return ["dockerd", "--host", self.url, "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "x"), "--pidfile", str(self.root / "docker.pid"),
                "--config-file", str(self.root / "daemon.json"), "--bridge", self.bridge,
                "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--storage-driver", "vfs",
                "--shutdown-timeout", "1", "--log-level", "warn"]

    def setup(self) -> "SecondEngine":
        for cmd in (["ip", "link", "add", self.bridge, "type", "bridge"],
                    ["ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge],
                    ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        self.start()
        self.relay = Relay(self.root / "relay.sock", self.socket)
        client = self.client()
        try:
            client.api.import_image_from_data(tiny_image_tar(), repository=IMAGE.split(":")[0], tag="latest")
        finally:
            client.close()
        return self

    def start(self, timeout: float = 30) -> float:
        """Start dockerd; the seconds until it answered."""
        t0 = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the second dockerd exited: {self.log.read_text()[-2000:]}")
            try:
                client = self.client()
                client.ping()
                client.close()
                return time.monotonic() - t0
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"the second dockerd did not answer in {timeout}s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL to dockerd (teardown only: a dockerd 20.10 killed so leaves shims whose containerd then hangs
        its next start, so the tests stop the engine as `systemctl stop docker` does, with SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> float:
        """The engine goes away as `systemctl stop docker` makes it: its API closes, then it stops its containers
        (SIGTERM, SIGKILL after --shutdown-timeout) and exits. The seconds that took."""
        t0 = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        return time.monotonic() - t0

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=10)

    def teardown(self) -> None:
        if getattr(self, "relay", None) is not None:
            self.relay.close()
        if self.proc is not None and self.proc.poll() is not None:
            try:
                self.start()        # a crashed engine stops the containers it left when it starts again
            except RuntimeError:
                pass
        self.stop()
        for pid in _pids_mentioning(str(self.root)):      # shims of an engine that could not come back
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # containers the killed engine left running (their shims outlive it) and their mounts
        for line in Path("/proc/mounts").read_text().splitlines():
            mount_point = line.split()[1]
            if mount_point.startswith(str(self.root)):
                subprocess.run(["umount", "-l", mount_point], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _pids_mentioning(text: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


class Relay:
    """A unix-socket relay to the engine (a thread per direction and connection); close() drops them all."""

    def __init__(self, path: Path, target: Path):
        self.path, self.target = path, target
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(str(self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True, name="relay-pump").start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self.lock:
            self.closed = True
            conns, self.conns = self.conns, []
        self.listener.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
