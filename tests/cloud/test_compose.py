"""compose.yaml, Dockerfile and .dockerignore: structure always; `compose config` where a compose CLI exists;
build, `compose up` and a quickstart through sibling containers where the base image can be had."""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import requests
import yaml

from emulator.settings import ENV_PREFIX, Settings
from tests.cloud.conftest import CNTK_IMAGE, CPU_IMAGE, ROOT, compose_command, docker_ready, run_cli

COMPOSE = ROOT / "compose.yaml"


def _services(pwd: str = "/home/user/batchai") -> dict:
    text = COMPOSE.read_text().replace("${PWD:?run docker compose from a shell in the repository root}", pwd)
    text = text.replace("${PWD}", pwd)
    assert "${" not in text, "an interpolation the structure test does not know"
    return yaml.safe_load(text)["services"]


def test_compose_structure():
    services = _services()
    assert set(services) == {"emulator", "emulator-gpu"}
    for name, service in services.items():
        assert service["build"] == "."
        assert service["ports"] == ["127.0.0.1:8080:8080", "127.0.0.1:8443:8443", "127.0.0.1:10000:10000"]
        env = service["environment"]
        assert env["BATCHAI_EMULATOR_HOST"] == "0.0.0.0"
        assert (env["BATCHAI_EMULATOR_PORT"], env["BATCHAI_EMULATOR_HTTPS_PORT"],
                env["BATCHAI_EMULATOR_BLOB_PORT"]) == ("8080", "8443", "10000")
        assert env["BATCHAI_EMULATOR_IMAGE_MAP"] == f"{CNTK_IMAGE}={CPU_IMAGE}"
        # every variable is one the emulator reads
        fields = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
        assert set(env) <= fields, set(env) - fields
        # the data dir: the same absolute path on both sides, and the one the emulator is told to use
        data_dir = env["BATCHAI_EMULATOR_DATA_DIR"]
        assert data_dir == "/home/user/batchai/.data"
        assert f"{data_dir}:{data_dir}" in service["volumes"]
        assert "/var/run/docker.sock:/var/run/docker.sock" in service["volumes"]
        health = service["healthcheck"]
        assert health["test"][0] == "CMD" and "/_emulator/health" in " ".join(health["test"])
    gpu = services["emulator-gpu"]
    assert gpu["profiles"] == ["gpu"] and "profiles" not in services["emulator"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_dockerfile_and_dockerignore():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^EXPOSE 8080 8443 10000$", dockerfile, re.M)
    assert "BATCHAI_EMULATOR_HOST=0.0.0.0" in dockerfile
    assert "/_emulator/health" in dockerfile and "HEALTHCHECK" in dockerfile
    assert re.search(r'^CMD \["batchai-emulator", "serve"\]$', dockerfile, re.M)
    copied = re.findall(r"^COPY (.+) \S+$", dockerfile, re.M)
    sources = [s for line in copied for s in line.split()]
    allowed = [line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    assert sorted(sources) == sorted(allowed)
    for source in sources:
        assert (ROOT / source).exists(), source


def test_compose_config_validates(tmp_path):
    command = compose_command()
    if command is None:
        pytest.skip("no `docker compose` or `docker-compose` here (Debian: apt-get install docker-compose)")
    proc = subprocess.run([*command, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**os.environ, "PWD": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert f"{ROOT}/.data:{ROOT}/.data" in proc.stdout.replace("'", "").replace(":rw", "")
    proc = subprocess.run([*command, "-f", str(COMPOSE), "--profile", "gpu", "config", "--services"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PWD": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {"emulator", "emulator-gpu"}


def _base_image() -> str:
    return os.environ.get("BATCHAI_EMULATOR_BASE_IMAGE", "python:3.11-slim")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.docker
@pytest.mark.slow
def test_compose_up_runs_a_quickstart_through_sibling_containers(tmp_path, ctf_data, capsys):
    """Build the image, `compose up` from a copy of compose.yaml, run a short quickstart, `compose down`.

    Needs the base image locally (`python:3.11-slim`, or BATCHAI_EMULATOR_BASE_IMAGE) and PyPI from inside a
    build; skipped otherwise, also in CI, since no registry serves base images there.
    """
    import docker
    command = compose_command()
    problem = docker_ready()
    if problem or command is None:
        pytest.skip(f"needs Docker, {CPU_IMAGE} and a compose CLI: {problem or 'no compose'}")
    client = docker.from_env()
    try:
        client.images.get(_base_image())
    except docker.errors.ImageNotFound:
        pytest.skip(f"base image {_base_image()} is not available here")
    if not (_port_free(8080) and _port_free(8443)):
        pytest.skip("ports 8080/8443 are taken")
    build = subprocess.run(["docker", "build", "-q", "-t", "batchai-emulator/emulator:latest", "--build-arg",
                            f"BASE_IMAGE={_base_image()}", str(ROOT)], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(COMPOSE, project / "compose.yaml")
    env = {**os.environ, "PWD": str(project)}
    up = subprocess.run([*command, "up", "-d", "--no-build"], cwd=project, env=env, capture_output=True, text=True,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get("http://127.0.0.1:8080/_emulator/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        cert = project / ".data" / "cert.pem"
        assert cert.is_file(), "the data dir is not at the same path on the host"
        code, out = run_cli(["quickstart", "--endpoint", "https://127.0.0.1:8443", "--ca-bundle", str(cert),
                             "--data", str(ctf_data), "--epochs", "1", "--poll", "0.2", "--out",
                             str(tmp_path / "out")], capsys)
        assert code == 0, out
        assert "Docker executor" in out and "final state:   succeeded, exit code 0" in out
    finally:
        logs = subprocess.run([*command, "logs", "--tail", "40"], cwd=project, env=env, capture_output=True,
                              text=True, timeout=60).stdout
        subprocess.run([*command, "down"], cwd=project, env=env, capture_output=True, timeout=120)
        shutil.rmtree(project / ".data", ignore_errors=True)
    print(logs)

