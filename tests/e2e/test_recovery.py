"""kill -9 of the emulator while jobs run: on restart the runner re-attaches to its containers by label and
finishes each job correctly, never running anything twice; a job whose container vanished fails clearly."""
from __future__ import annotations

import time

from tests.served import Served

from .jobenv import CNTK_IMAGE, MOUNT, JobEnv


def _runs(env, name: str) -> list[str]:
    path = env.share_dir / f"runs-{name}.txt"
    return path.read_text().split() if path.exists() else []


def _kill9_once_running(served, env, name: str):
    """SIGKILL the emulator once the job is running and its command has started; the job as it was then."""
    job = env.wait(name, states=("running",))
    deadline = time.time() + 20
    while not _runs(env, name):
        assert time.time() < deadline
        time.sleep(0.05)
    served.kill9()
    return job


def test_kill9_restart_reattaches_and_never_runs_twice(tmp_path, cpu_image, docker_client):
    served = Served(tmp_path / "data", "--executor", "docker", "--gpus", "none", "--allocation-delay", "0.1",
                    "--image-map", f"{CNTK_IMAGE}={cpu_image}").start()
    try:
        env = JobEnv(served.live())
        env.cluster("cl", nodes=1)

        def once(name, seconds):
            return f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/runs-{name}.txt; sleep {seconds}; echo done-{name}"

        env.custom("survivor", once("survivor", 4), cpu_image)
        env.custom("waiting", once("waiting", 0), cpu_image)
        survivor = _kill9_once_running(served, env, "survivor")
        assert docker_client.containers.list(filters={"label": "batchai.emulator.job-id=" + survivor.id})
        served.start()
        env = JobEnv(served.live(), rg=env.rg)
        assert env.wait("survivor").execution_state == "succeeded"
        assert env.read("survivor", "stdout.txt") == "done-survivor\n"
        assert env.wait("waiting").execution_state == "succeeded"
        assert _runs(env, "survivor") == ["survivor"] and _runs(env, "waiting") == ["waiting"]

        env.custom("victim", once("victim", 60), cpu_image)
        victim = _kill9_once_running(served, env, "victim")
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
