"""The moments a kill -9 can hit a job, reproduced exactly: a scheduler is stopped at a chosen point of a launch
(or after its node finished), and a second scheduler on the same SQLite file and data dir — the restarted
emulator — must end the job correctly and never run it twice. Real store, real executors (local processes, and
Docker containers when an engine answers); the random kill trials (test_kill9.py) hit these windows by chance.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.backend import ArmBackend, BatchAIBackend
from emulator.runner.local import LocalExecutor
from emulator.runner.scheduler import Scheduler
from emulator.settings import CPU_IMAGE, Settings
from emulator.store.sqlite import SqliteStore

SUB, RG, WS, EXP = "00000000-0000-0000-0000-0000000c4a5e", "rg", "ws", "exp"
IMAGE = CPU_IMAGE


class Crash(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler of the scheduler turns it into a clean failure."""


class World:
    """One data dir and store; schedulers come and go on it like emulator processes."""

    def __init__(self, tmp_path: Path, executor_kind: str):
        self.kind = executor_kind
        self.settings = Settings.from_env(environ={}, data_dir=tmp_path / "data", executor=executor_kind,
                                          allocation_delay=0, gpus="none")
        self.store = SqliteStore(self.settings.data_dir / "emulator.db")
        arm = ArmBackend(self.store)
        self.backend = BatchAIBackend(self.store, arm, self.settings.data_dir)
        arm.resource_groups_create_or_update(SUB, RG, "eastus", None)
        self.backend.workspaces_create(SUB, RG, WS, "eastus", None)
        self.backend.experiments_create(SUB, RG, WS, EXP)
        account, key = next(iter(self.settings.accounts().items()))
        self.share = self.settings.data_dir / "shares" / account / "jobs"
        self.share.mkdir(parents=True)
        self.cluster = self.backend.clusters_create(SUB, RG, WS, "cl", {
            "vm_size": "STANDARD_D1", "scale_settings": {"manual": {"target_node_count": 1}},
            "user_account_settings": {"admin_user_name": "u", "admin_user_password": "p"},
            "node_setup": {"mount_volumes": {"azure_file_shares": [{
                "account_name": account, "credentials": {"account_key": key}, "relative_mount_path": "afs",
                "azure_file_url": f"https://127.0.0.1/{account}/jobs"}]}}})
        self.schedulers: list[Scheduler] = []

    def executor(self):
        if self.kind == "local":
            return LocalExecutor()
        import docker
        from emulator.runner.docker import DockerExecutor
        return DockerExecutor(docker.from_env(), {})

    def scheduler(self) -> Scheduler:
        s = Scheduler(self.store, self.settings, executor=self.executor())
        self.schedulers.append(s)
        return s

    def submit(self, name: str, seconds: float = 0):
        spec = {"cluster": {"id": self.cluster_id()}, "node_count": 1,
                "std_out_err_path_prefix": "$AZ_BATCHAI_MOUNT_ROOT/afs",
                "custom_toolkit_settings": {"command_line":
                                            f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs.txt; sleep {seconds}"}}
        if self.kind == "docker":
            spec["container_settings"] = {"image_source_registry": {"image": IMAGE}}
        return self.backend.jobs_create(SUB, RG, WS, EXP, name, spec)

    def cluster_id(self) -> str:
        return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI/workspaces/{WS}/clusters/cl"

    def job(self, name: str):
        return self.backend.jobs_get(SUB, RG, WS, EXP, name)

    def runs(self, name: str) -> list[str]:
        path = self.share / "runs.txt"
        return [line for line in path.read_text().split() if line == name] if path.exists() else []

    def drive(self, scheduler: Scheduler, name: str, until, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while True:
            scheduler.tick(time.time())
            job = self.job(name)
            if until(job):
                return job
            assert time.monotonic() < deadline, f"job {name} stayed {job.execution_state}: {job.execution_info}"
            time.sleep(0.05)

    def close(self):
        for s in self.schedulers:
            s._pool.shutdown(wait=True)
        self.store.close()


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def world(request, tmp_path):
    if request.param == "docker":
        request.getfixturevalue("cpu_image")
    w = World(tmp_path, request.param)
    yield w
    w.close()


def _finished(job) -> bool:
    return job.execution_state in ("succeeded", "failed")


def _running(world, scheduler, name: str):
    return world.drive(scheduler, name, lambda j: j.execution_state == "running")


def _restarted_runs_once(world, name: str) -> None:
    """A second scheduler (the restarted emulator) finishes the job, which ran exactly once and succeeded."""
    job = world.drive(world.scheduler(), name, _finished)
    assert job.execution_state == "succeeded", job.execution_info
    assert world.runs(name) == [name]


def test_killed_after_the_job_was_marked_running_before_any_node_started(world):
    first = world.scheduler()
    first._pool.submit = lambda *a, **k: None          # the launch never happens: the process died first
    world.submit("j1")
    _running(world, first, "j1")
    _restarted_runs_once(world, "j1")


def test_killed_after_the_container_was_created_before_it_started(world):
    first = world.scheduler()
    first.executor.run = _raise_crash          # created (Docker) or about to be spawned (local), never started
    world.submit("j2")
    _running(world, first, "j2")
    _wait_for_launch(first)
    _restarted_runs_once(world, "j2")


def test_killed_after_the_node_started_before_its_handle_was_recorded(world):
    first = world.scheduler()
    real_run = first.executor.run

    def run_then_die(handle, node):
        real_run(handle, node)
        raise Crash()
    first.executor.run = run_then_die
    world.submit("j3", seconds=1)
    _running(world, first, "j3")
    _wait_for_launch(first)
    _restarted_runs_once(world, "j3")


def test_killed_after_the_node_exited_and_was_removed_before_the_state_was_written(world):
    first = world.scheduler()
    world.submit("j4")
    real_cas = first.store.compare_and_set

    def die_on_final_write(rid, version, body):
        if body.get("execution_state") in ("succeeded", "failed"):
            raise Crash()
        return real_cas(rid, version, body)
    first.store = _StoreProxy(first.store, die_on_final_write)
    with pytest.raises(Crash):
        world.drive(first, "j4", _finished)
    assert world.job("j4").execution_state == "running"
    second = world.scheduler()
    job = world.drive(second, "j4", _finished)
    assert job.execution_state == "succeeded" and job.execution_info.get("exit_code") == 0
    assert world.runs("j4") == ["j4"]


def test_a_node_that_started_and_vanished_fails_the_job_and_is_not_run_again(world):
    first = world.scheduler()
    world.submit("j5", seconds=30)
    job = world.drive(first, "j5", lambda j: j.execution_state == "running" and j.handles and all(j.handles))
    deadline = time.monotonic() + 20
    while not world.runs("j5"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.executor.stop(job.handles)          # gone while nobody watched (an engine restart, an operator)
    first.executor.cleanup(first.planner.job_dir(job).name, job.handles)
    second = world.scheduler()
    job = world.drive(second, "j5", _finished)
    assert job.execution_state == "failed" and job.execution_info["errors"][0]["code"] == "ContainerNotFound"
    assert world.runs("j5") == ["j5"]


def _raise_crash(*args, **kwargs):
    raise Crash()


def _wait_for_launch(scheduler: Scheduler, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while scheduler._launching:
        assert time.monotonic() < deadline
        time.sleep(0.02)


class _StoreProxy:
    def __init__(self, store, compare_and_set):
        self._store = store
        self.compare_and_set = compare_and_set

    def __getattr__(self, name):
        return getattr(self._store, name)
