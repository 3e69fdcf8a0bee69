"""Fixtures for end-to-end tests that need a Docker engine and the job images.

Every test collected under tests/e2e is marked ``docker``. When the engine or an
image is missing, the tests fail in CI (``CI=true``: CI must not silently skip
Docker tests) and are skipped elsewhere with a hint on how to set things up.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.settings import CPU_IMAGE  # noqa: F401
from tests.conftest import in_ci, start_live

from .jobenv import CNTK_IMAGE

E2E_DIR = Path(__file__).resolve().parent

MPI_IMAGE = "batchai-emulator/mpi-cpu:latest"
AZUREML_IMAGE = "batchai-emulator/azureml-cpu:latest"

SETUP_HINT = "run `sudo bash .ci/docker.sh` (installs and starts Docker, builds the job images)"


def _unavailable(message: str, hint: str = SETUP_HINT) -> None:
    """Fail in CI, skip locally. Never returns."""
    if in_ci():
        pytest.fail(f"{message}; {hint} (CI=true: Docker tests must not be skipped in CI)", pytrace=False)
    pytest.skip(f"{message}; {hint}")


def pytest_collection_modifyitems(config, items):
    # Conftest hooks see every collected item, not only this directory's.
    for item in items:
        try:
            Path(str(item.path)).resolve().relative_to(E2E_DIR)
        except ValueError:
            continue
        item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client():
    """A ``docker.DockerClient`` connected to an engine that answers ping."""
    try:
        import docker
    except ImportError as exc:  # the SDK is a project dependency
        _unavailable(f"the docker Python SDK is not importable ({exc})")

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # DockerException, requests errors, OSError...
        _unavailable(f"no Docker engine answers ({type(exc).__name__}: {exc})")
    try:
        yield client
    finally:
        client.close()


def _require_image(client, name: str) -> str:
    import docker

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        _unavailable(
            f"Docker image {name} does not exist",
            "build it with `sudo bash .ci/docker.sh` (offline debootstrap build, see images/README.md)",
        )
    return name


@pytest.fixture(scope="session")
def cpu_image(docker_client) -> str:
    """Name of the CPU trainer image (python + numpy), checked to exist."""
    return _require_image(docker_client, CPU_IMAGE)


@pytest.fixture(scope="session")
def mpi_image(docker_client) -> str:
    """Name of the MPI image (trainer image + Open MPI + ssh client), checked to exist."""
    return _require_image(docker_client, MPI_IMAGE)


@pytest.fixture(scope="session")
def azureml_image(docker_client) -> str:
    """Name of the Azure ML run image (python 3.11, numpy 1.26.4, chainer 7.8.1, azureml-core), checked to exist."""
    return _require_image(docker_client, AZUREML_IMAGE)


def run_container(client, image, command, timeout=120, **kwargs) -> tuple[int, str, str]:
    """Run a container to completion: (exit code, stdout, stderr); always removed."""
    container = client.containers.run(image, command, detach=True, **kwargs)
    try:
        status = container.wait(timeout=timeout)
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
        return status["StatusCode"], out, err
    finally:
        container.remove(force=True)


@contextmanager
def docker_emulator(data_dir: Path, cpu_image: str):
    """A live emulator whose jobs run in Docker (the quickstart's CNTK image mapped to the CPU image); on leaving,
    stopped and checked to have answered no 5xx."""
    server = start_live(data_dir, executor="docker", gpus="none", image_map=[f"{CNTK_IMAGE}={cpu_image}"],
                        allocation_delay=0.1)
    yield server
    server.server.stop()
    assert not server.server_errors, server.server_errors
