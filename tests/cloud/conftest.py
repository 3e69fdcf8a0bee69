"""Fixtures for the submission side: tiny MNIST data, an emulator that runs jobs as local processes, a CLI runner."""
from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from tests.conftest import ROOT, in_ci, start_live

CNTK_IMAGE = "microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0"
from emulator.settings import CPU_IMAGE  # noqa: F401
SUBSCRIPTION = "00000000-0000-0000-0000-00000000c10d"

# variables that would point the flow somewhere else than the test says
_TARGET_VARIABLES = ("BATCHAI_ENDPOINT", "BATCHAI_CA_BUNDLE", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID",
                     "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST")


@pytest.fixture(autouse=True)
def _clean_target_environment(monkeypatch):
    for name in _TARGET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def ctf_data(tmp_path_factory) -> Path:
    """300 training and 300 test images of the offline MNIST subset, as trainer.data writes them."""
    from trainer import data
    out = tmp_path_factory.mktemp("ctf")
    with redirect_stderr(io.StringIO()):
        data.prepare(str(out), source="offline", limit=300)
    return out


def _stop(server) -> None:
    server.server.stop()
    assert not server.server_errors, f"the emulator answered 5xx: {server.server_errors}"


@pytest.fixture(scope="module")
def local_emulator(tmp_path_factory):
    """A live emulator whose jobs run as local processes (no Docker needed)."""
    server = start_live(tmp_path_factory.mktemp("emulator-local"), executor="local", gpus="none",
                        image_map=[f"{CNTK_IMAGE}={CPU_IMAGE}"])
    yield server
    _stop(server)


def docker_ready() -> str | None:
    """None when a Docker engine answers and the CPU trainer image exists; else why not."""
    try:
        import docker
        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(CPU_IMAGE)
    except Exception as exc:  # no SDK, no engine, no image: all mean "cannot run here"
        return f"{exc.__class__.__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def docker_emulator(tmp_path_factory):
    problem = docker_ready()
    if problem:
        message = f"needs a Docker engine and {CPU_IMAGE} (sudo bash .ci/docker.sh): {problem}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    server = start_live(tmp_path_factory.mktemp("emulator-docker"), executor="docker", gpus="none",
                        image_map=[f"{CNTK_IMAGE}={CPU_IMAGE}"])
    yield server
    _stop(server)


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1), whichever is installed."""
    import subprocess
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """`python -m cloud ...` in this process; (exit status, what it printed)."""
    from cloud.__main__ import main
    code = main(argv)
    out = capsys.readouterr().out
    return code, out

