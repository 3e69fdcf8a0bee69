"""Each node's container gets its VM size's cores and memory (scaled down to what the engine's machine has, saying
so), a /dev/shm of half the memory unless the job sets shmSize, and a name that contains the job's name."""
from __future__ import annotations

import pytest

from tests.conftest import start_live
from tests.security.armjobs import Arm

GIB = 2 ** 30


@pytest.fixture()
def env(tmp_path, cpu_image, docker_client):
    live = start_live(tmp_path / "data", executor="docker", gpus="none", allocation_delay=0.05,
                      keep_containers=True)
    arm = Arm(live)
    arm.image, arm.docker = cpu_image, docker_client
    yield arm
    live.server.stop()
    for c in docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id"}):
        if "/subscriptions/00000000-0000-0000-0000-00000000c0de/" in c.labels.get("batchai.emulator.job-id", "") \
                and str(live.settings.data_dir) in str(c.attrs["Mounts"]):
            c.remove(force=True)
    assert not live.server_errors


def _container(env, job_name: str):
    job = env.wait_job(job_name)
    assert job["properties"]["executionState"] == "succeeded", job
    (container,) = env.docker.containers.list(all=True, filters={"label": f"batchai.emulator.job-id={job['id']}"})
    return container


def test_containers_get_the_size_cores_memory_and_shm(env):
    info = env.docker.info()
    env.cluster("d2", vm_size="STANDARD_D2")
    env.job("train-mnist_v1", cluster="d2", image=env.image, command="df -k /dev/shm | tail -1")
    c = _container(env, "train-mnist_v1")
    host = c.attrs["HostConfig"]
    cores = min(2, info["NCPU"])
    memory = min(7 * GIB, info["MemTotal"])
    assert host["NanoCpus"] == cores * 10 ** 9 and host["Memory"] == memory and host["ShmSize"] == memory // 2
    assert "train-mnist_v1" in c.name


def test_a_size_larger_than_the_machine_is_scaled_down_and_the_job_shm_wins(env):
    info = env.docker.info()
    env.cluster("big", vm_size="STANDARD_NC24")         # 24 cores, 224 GiB; no GPUs here (--gpus none)
    env.job("big-job", cluster="big", image=env.image, command="true",
            containerSettings={"imageSourceRegistry": {"image": env.image}, "shmSize": "256m"})
    c = _container(env, "big-job")
    host = c.attrs["HostConfig"]
    assert host["NanoCpus"] == min(24, info["NCPU"]) * 10 ** 9
    assert host["Memory"] == min(224 * GIB, info["MemTotal"]) and host["ShmSize"] == 256 * 2 ** 20
    assert "big-job" in c.name
    data = env.live.settings.data_dir
    (log,) = [p for p in data.rglob("execution.log")]
    text = log.read_text()
    if info["NCPU"] < 24:
        assert "scaled down from 24 cores and 224 GiB" in text, text
