"""The GPU path, tested by inspecting what the engine was asked for (no GPU here): each node's DeviceRequest
carries its own device ids; a host without the NVIDIA runtime fails the job naming nvidia-container-toolkit;
more GPUs than exist make nodes unusable with a cluster error."""
from __future__ import annotations

import docker
import pytest

from tests.conftest import start_live

from .jobenv import JobEnv


@pytest.fixture()
def glive(tmp_path, cpu_image):
    """A fresh emulator per test: GPUs held by one test's clusters must not leak into the next."""
    server = start_live(tmp_path, executor="docker", gpus="0,1,2", keep_containers=True, allocation_delay=0.05)
    yield server
    server.server.stop()
    executor = server.ext.scheduler.executor
    # the raw list (it carries Mounts): other emulators' containers on a shared engine come and go meanwhile
    for c in executor.client.api.containers(all=True, filters={"label": "batchai.emulator.job"}):
        if str(tmp_path) in str(c.get("Mounts")):
            try:
                executor.client.api.remove_container(c["Id"], force=True)
            except docker.errors.NotFound:
                pass
    for net in executor.client.networks.list(filters={"label": "batchai.emulator.job"}):
        net.reload()
        if not net.containers:
            net.remove()
    assert not server.server_errors


def _device_requests(docker_client, job_id):
    out = {}
    for c in docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id=" + job_id}):
        reqs = c.attrs["HostConfig"]["DeviceRequests"]
        out[int(c.labels["batchai.emulator.node"])] = [(r["DeviceIDs"], r["Capabilities"]) for r in reqs]
        assert not c.attrs["HostConfig"]["Privileged"] and c.attrs["HostConfig"]["NetworkMode"] != "host"
        assert all("docker.sock" not in m["Source"] for m in c.attrs["Mounts"])
    return out


def test_nc12_node_asks_the_engine_for_its_two_gpus(glive, cpu_image, docker_client):
    e = JobEnv(glive)
    cluster = e.cluster("nc12", nodes=1, vm_size="STANDARD_NC12")
    assert cluster.node_state_counts.idle_node_count == 1 and not cluster.errors
    e.custom("gpujob", 'echo "gpus=$AZ_BATCHAI_NUM_GPUS"', cpu_image, cluster_name="nc12")
    job = e.wait("gpujob")
    info = docker_client.info()
    if "nvidia" in str(info.get("Runtimes", {})).lower():  # a host with the NVIDIA runtime really runs it
        assert job.execution_state == "succeeded" and e.read("gpujob", "stdout.txt") == "gpus=2\n"
    else:
        assert job.execution_state == "failed"
        err = job.execution_info.errors[0]
        assert err.code == "GpuRuntimeNotAvailable" and "nvidia-container-toolkit" in err.message
    assert _device_requests(docker_client, job.id) == {0: [(["0", "1"], [["gpu"]])]}


def test_each_node_gets_its_own_device_ids(glive, cpu_image, docker_client):
    e = JobEnv(glive)
    e.cluster("nc6x2", nodes=2, vm_size="STANDARD_NC6")
    e.custom("pair", "true", cpu_image, cluster_name="nc6x2", node_count=2)
    job = e.wait("pair")
    requests = _device_requests(docker_client, job.id)
    assert sorted(requests) == [0, 1]
    ids = [requests[n][0][0] for n in (0, 1)]
    assert all(len(i) == 1 for i in ids) and ids[0] != ids[1]
    assert set(ids[0] + ids[1]) <= {"0", "1", "2"}


def test_more_gpus_than_exist_make_unusable_nodes(glive):
    e = JobEnv(glive)
    cluster = e.cluster("nc24", nodes=1, vm_size="STANDARD_NC24")  # 4 GPUs per node; the machine has 3
    assert cluster.node_state_counts.unusable_node_count == 1 and cluster.node_state_counts.idle_node_count == 0
    assert cluster.errors[0].code == "InsufficientGpus"
    assert "need 4 GPU(s)" in cluster.errors[0].message


def test_cpu_only_nodes_say_so(tmp_path, cpu_image):
    server = start_live(tmp_path, executor="docker", gpus="none", allocation_delay=0.05)
    try:
        e = JobEnv(server)
        e.cluster("nc6", nodes=1, vm_size="STANDARD_NC6")
        e.custom("cpu", 'echo "gpus=$AZ_BATCHAI_NUM_GPUS"', cpu_image, cluster_name="nc6")
        assert e.wait("cpu").execution_state == "succeeded"
        assert e.read("cpu", "stdout.txt") == "gpus=0\n"
        assert "no GPU: running on CPU" in e.read("cpu", "execution.log")
    finally:
        server.server.stop()
