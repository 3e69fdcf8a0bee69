"""The job images work, and the engine features the job runner relies on do too.

Containers are driven through the docker SDK only (never the docker CLI).
"""

from __future__ import annotations

import uuid

import docker
import pytest
from docker.types import DeviceRequest, EndpointConfig

from .conftest import run_container as _run

NUMPY_CHECK = "import numpy, sys; print(sys.version_info[:2], numpy.__version__)"


def _assert_numpy(client, image):
    code, out, err = _run(client, image, ["python", "-c", NUMPY_CHECK])
    assert code == 0, err
    assert out.startswith("(3, "), out
    assert len(out.split()) == 3, out


def test_cpu_image_runs_python_with_numpy(docker_client, cpu_image):
    _assert_numpy(docker_client, cpu_image)


def test_mpi_image_has_numpy_and_mpirun(docker_client, mpi_image):
    _assert_numpy(docker_client, mpi_image)
    code, out, err = _run(docker_client, mpi_image, ["mpirun", "--version"])
    assert code == 0, err
    assert "Open MPI" in out, out
    # Two ranks inside one container, as root (the image allows it).
    code, out, err = _run(
        docker_client,
        mpi_image,
        ["mpirun", "-np", "2", "python", "-c", "import os; print('rank', os.environ['OMPI_COMM_WORLD_RANK'])"],
    )
    assert code == 0, err
    assert sorted(out.split("\n")[:2]) == ["rank 0", "rank 1"], out


# --- engine features the job runner builds on -------------------------------------


def test_bind_mount_is_read_write(docker_client, cpu_image, tmp_path):
    (tmp_path / "in.txt").write_text("from host\n")
    code, out, err = _run(
        docker_client,
        cpu_image,
        ["bash", "-c", "cat /mnt/job/in.txt && echo from container > /mnt/job/out.txt"],
        volumes={str(tmp_path): {"bind": "/mnt/job", "mode": "rw"}},
    )
    assert code == 0, err
    assert out == "from host\n"
    assert (tmp_path / "out.txt").read_text() == "from container\n"


def test_shm_size_is_applied(docker_client, cpu_image):
    code, out, err = _run(
        docker_client, cpu_image, ["bash", "-c", "df -k --output=size /dev/shm | tail -n 1"], shm_size="256m"
    )
    assert code == 0, err
    assert int(out.strip()) == 256 * 1024


def test_user_defined_network_resolves_names_and_aliases(docker_client, cpu_image):
    suffix = uuid.uuid4().hex[:8]
    network = docker_client.networks.create(f"batchai-test-{suffix}", driver="bridge")
    server = None
    try:
        server = docker_client.containers.run(
            cpu_image,
            ["python", "-m", "http.server", "8080"],
            name=f"batchai-test-node0-{suffix}",
            hostname="node-0",
            network=network.name,
            networking_config={network.name: EndpointConfig(docker_client.api.api_version, aliases=["master"])},
            detach=True,
        )
        probe = (
            "import socket, sys, time, urllib.request\n"
            "for name in sys.argv[1:]:\n"
            "    for attempt in range(60):\n"
            "        try:\n"
            "            urllib.request.urlopen('http://%s:8080/' % name, timeout=5); break\n"
            "        except OSError:\n"
            "            time.sleep(0.25)\n"
            "    else:\n"
            "        sys.exit('cannot reach ' + name)\n"
            "    print(name, socket.gethostbyname(name))\n"
        )
        code, out, err = _run(
            docker_client, cpu_image, ["python", "-c", probe, server.name, "master"], network=network.name
        )
        assert code == 0, err
        ips = {line.split()[1] for line in out.splitlines()}
        assert len(ips) == 1, out
    finally:
        if server is not None:
            server.remove(force=True)
        network.remove()


def test_gpu_request_without_nvidia_runtime_is_an_api_error(docker_client, cpu_image):
    if "nvidia" in (docker_client.info().get("Runtimes") or {}):
        pytest.skip("this engine has the NVIDIA runtime")
    name = f"batchai-test-gpu-{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(docker.errors.APIError) as excinfo:
            docker_client.containers.run(
                cpu_image,
                ["true"],
                name=name,
                device_requests=[DeviceRequest(device_ids=["0"], capabilities=[["gpu"]])],
                remove=True,
            )
        assert excinfo.value.is_server_error()
        assert "could not select device driver" in str(excinfo.value)
    finally:
        # The container was created before start failed, and run(remove=True) leaves it.
        try:
            docker_client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
