"""The Docker engine going away mid-job: the jobs it ran fail clearly (DockerEngineUnavailable), the emulator
keeps serving, queued jobs wait for the engine and run when it is back, nothing runs twice. On a second,
private dockerd (engine.py); the shared engine is never touched, and is checked to still work afterwards.

Two ways an engine goes away:
* it becomes unreachable while its containers keep running (a crashed dockerd, a remote DOCKER_HOST lost;
  here the emulator reaches the engine through a relay socket, and the relay goes away): after the grace period (runner/engine.py)
  the running job fails; when the engine is back, its container is removed and queued jobs start;
* it stops as `systemctl stop docker` stops it (SIGTERM: it stops the containers, then closes): the job fails
  at once, naming the engine and the exit code its container was stopped with.
"""
from __future__ import annotations

import subprocess
import time

import docker
import pytest
from azure.mgmt.batchai import models

from emulator.runner.engine import GRACE_SECONDS

from . import clients
from .clients import Recorder
from .conftest import unavailable
from .engine import IMAGE, SecondEngine
from tests.served import Served

RG, WS, EXP = "rg", "ws", "exp"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture()
def engine(docker_client):
    interfaces_before = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    second = SecondEngine()
    try:
        second.setup()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        second.teardown()
        unavailable(f"cannot start a second dockerd: {exc}")
    try:
        yield second
    finally:
        second.teardown()
        assert docker_client.ping(), "the shared engine stopped answering"
        assert "docker0" in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout or \
            "docker0" not in interfaces_before


class Env:
    def __init__(self, served):
        self.recorder = Recorder()
        self.served = served
        self.ai, rm = clients.batchai(served, self.recorder)
        rm.resource_groups.create_or_update(RG, {"location": "eastus"})
        self.ai.workspaces.begin_create(RG, WS, models.WorkspaceCreateParameters(location="eastus")).result()
        self.ai.experiments.begin_create(RG, WS, EXP).result()
        self.fs = clients.files(served, self.recorder)
        self.fs.get_share_client("jobs").create_share()
        self.cluster = self.ai.clusters.begin_create(RG, WS, "cl", clients.cluster_params(served, "jobs",
                                                                                         nodes=2)).result()
        self.runs = served.data_dir / "shares" / clients.ACCOUNT / "jobs" / "runs.txt"

    def submit(self, name: str, seconds: float = 0):
        command = f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs.txt; sleep {seconds}"
        self.ai.jobs.begin_create(RG, WS, EXP, name, clients.job_params(self.cluster.id, command, IMAGE)).result()

    def wait(self, name: str, until, timeout: float = 40):
        deadline = time.monotonic() + timeout
        while True:
            job = self.ai.jobs.get(RG, WS, EXP, name)
            if until(job):
                return job
            assert time.monotonic() < deadline, f"job {name}: {job.execution_state} {job.execution_info}"
            time.sleep(0.1)

    def ran(self, name: str) -> int:
        return self.runs.read_text().split().count(name) if self.runs.exists() else 0

    def wait_ran(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.ran(name):
            assert time.monotonic() < deadline, f"job {name} never started"
            time.sleep(0.05)

    def still_serving(self, tag: str) -> None:
        """Control plane and files answer while the engine is away."""
        self.ai.experiments.begin_create(RG, WS, f"exp-{tag}").result()
        assert {e.name for e in self.ai.experiments.list_by_workspace(RG, WS)} >= {EXP, f"exp-{tag}"}
        self.ai.clusters.get(RG, WS, "cl")
        f = self.fs.get_share_client("jobs").get_file_client(f"during-{tag}.txt")
        f.upload_file(b"still serving")
        assert f.download_file().readall() == b"still serving"


def _final(job) -> bool:
    return job.execution_state in ("succeeded", "failed")


def test_engine_going_away_fails_its_jobs_clearly_and_the_emulator_keeps_serving(tmp_path, engine):
    served = Served(tmp_path / "data", "--executor", "docker", "--gpus", "none", "--allocation-delay", "0.1",
                    env={"DOCKER_HOST": engine.proxy_url}).start()
    try:
        env = Env(served)
        env.submit("warmup")
        assert env.wait("warmup", _final).execution_state == "succeeded"

        # unreachable, containers running: the job fails after the grace period, queued jobs wait
        env.submit("lost", seconds=120)
        env.wait("lost", lambda j: j.execution_state == "running")
        env.wait_ran("lost")
        t_cut = time.monotonic()
        engine.cut()
        env.still_serving("a")
        env.submit("queued")
        job = env.wait("lost", _final, timeout=GRACE_SECONDS + 20)
        unreachable = time.monotonic() - t_cut
        assert job.execution_state == "failed"
        error = job.execution_info.errors[0]
        assert error.code == "DockerEngineUnavailable" and "stopped answering" in error.message, error.message
        assert unreachable >= GRACE_SECONDS
        assert env.ai.jobs.get(RG, WS, EXP, "queued").execution_state == "queued"
        env.still_serving("b")
        engine.restore()
        unreachable = time.monotonic() - t_cut
        assert env.wait("queued", _final).execution_state == "succeeded"
        deadline = time.monotonic() + 20                 # the container the failed job left is removed
        c = engine.client()
        try:
            while any(ct.labels.get("batchai.emulator.job-id", "").endswith("/jobs/lost")
                      for ct in c.containers.list(all=True)):
                assert time.monotonic() < deadline, "the failed job's container was not removed"
                time.sleep(0.2)
        finally:
            c.close()

        # stopped (and started again): the engine stops the job's container, the job fails naming the engine
        env.submit("stopped", seconds=120)
        env.wait("stopped", lambda j: j.execution_state == "running")
        env.wait_ran("stopped")
        t_stop = time.monotonic()
        engine.stop()
        env.still_serving("c")
        job = env.wait("stopped", _final, timeout=30)
        assert job.execution_state == "failed"
        error = job.execution_info.errors[0]
        assert error.code == "DockerEngineUnavailable" and "stopped the job's containers" in error.message, \
            error.message
        engine.start()
        stopped = time.monotonic() - t_stop
        env.submit("after")
        assert env.wait("after", _final).execution_state == "succeeded"
        assert {n: env.ran(n) for n in ("warmup", "lost", "queued", "stopped", "after")} == {
            "warmup": 1, "lost": 1, "queued": 1, "stopped": 1, "after": 1}
    finally:
        served.stop()
    assert env.recorder.server_errors == []
    assert served.unhandled_errors() == []
    print(f"second engine unreachable {unreachable:.1f} s, stopped {stopped:.1f} s")
    main = docker.from_env()
    try:
        assert main.ping(), "the shared engine stopped answering"
    finally:
        main.close()
