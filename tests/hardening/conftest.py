"""Fixtures of the hardening suites: a Docker engine and the CPU job image, failing in CI (CI=true) and skipped
elsewhere when missing, as in tests/e2e."""
from __future__ import annotations


import pytest

from emulator.settings import CPU_IMAGE  # noqa: F401  (the hardening tests import it from here)
from tests.conftest import in_ci
HINT = "run `sudo bash .ci/docker.sh` (installs and starts Docker, builds the job images)"


def unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message}; {HINT} (CI=true: Docker tests must not be skipped in CI)", pytrace=False)
    pytest.skip(f"{message}; {HINT}")


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        unavailable(f"no Docker engine answers ({type(exc).__name__}: {exc})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def cpu_image(docker_client) -> str:
    import docker
    try:
        docker_client.images.get(CPU_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"Docker image {CPU_IMAGE} does not exist")
    return CPU_IMAGE
