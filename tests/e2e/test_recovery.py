"""kill -9 of the emulator while jobs run: on restart the runner re-attaches to its containers by label and
finishes each job correctly, never running anything twice; a job whose container vanished fails clearly."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from emulator.settings import Settings

from .jobenv import CNTK_IMAGE, MOUNT, JobEnv

BIN = Path(sys.executable).parent / "batchai-emulator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`batchai-emulator serve` as a subprocess, as a user runs it."""

    def __init__(self, data_dir: Path, image: str):
        self.data_dir, self.image = data_dir, image
        self.port, self.https_port = _free_port(), _free_port()
        self.proc = None

    def start(self):
        log = open(self.data_dir.parent / "serve.log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--port", str(self.port), "--https-port", str(self.https_port), "--data-dir",
             str(self.data_dir), "--executor", "docker", "--gpus", "none", "--allocation-delay", "0.1",
             "--image-map", f"{CNTK_IMAGE}={self.image}"],
            stdout=log, stderr=log, env={k: v for k, v in os.environ.items() if not k.startswith("BATCHAI_EMULATOR")})
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/_emulator/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError("the emulator did not become healthy")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def live(self):
        """What JobEnv needs of a live server."""
        return SimpleNamespace(https_url=f"https://127.0.0.1:{self.https_port}",
                               ca_bundle=str(self.data_dir / "cert.pem"),
                               settings=Settings.from_env(environ={}, data_dir=self.data_dir))


def _runs(env, name: str) -> list[str]:
    path = env.share_dir / f"runs-{name}.txt"
    return path.read_text().split() if path.exists() else []


def test_kill9_restart_reattaches_and_never_runs_twice(tmp_path, cpu_image, docker_client):
    served = Served(tmp_path / "data", cpu_image).start()
    try:
        env = JobEnv(served.live())
        env.cluster("cl", nodes=1)

        def once(name, seconds):
            return f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/runs-{name}.txt; sleep {seconds}; echo done-{name}"

        env.custom("survivor", once("survivor", 4), cpu_image)
        env.custom("waiting", once("waiting", 0), cpu_image)
        survivor = env.wait("survivor", states=("running",))
        deadline = time.time() + 20
        while not _runs(env, "survivor"):
            assert time.time() < deadline
            time.sleep(0.05)
        served.kill9()
        assert docker_client.containers.list(filters={"label": "batchai.emulator.job-id=" + survivor.id})
        served.start()
        env = JobEnv(served.live(), rg=env.rg)
        assert env.wait("survivor").execution_state == "succeeded"
        assert env.read("survivor", "stdout.txt") == "done-survivor\n"
        assert env.wait("waiting").execution_state == "succeeded"
        assert _runs(env, "survivor") == ["survivor"] and _runs(env, "waiting") == ["waiting"]

        env.custom("victim", once("victim", 60), cpu_image)
        victim = env.wait("victim", states=("running",))
        deadline = time.time() + 20
        while not _runs(env, "victim"):
            assert time.time() < deadline
            time.sleep(0.05)
        served.kill9()
        for c in docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id=" + victim.id}):
            c.remove(force=True)
        served.start()
        env = JobEnv(served.live(), rg=env.rg)
        job = env.wait("victim", timeout=30)
        assert job.execution_state == "failed"
        assert job.execution_info.errors[0].code == "ContainerNotFound"
        assert _runs(env, "victim") == ["victim"]
    finally:
        served.stop()
