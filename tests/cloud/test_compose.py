"""compose.yaml, Dockerfile and .dockerignore: structure always; `compose config` where a compose CLI exists;
`compose up` of the offline-built batchai-emulator/emulator image and a quickstart through sibling containers
wherever Docker answers (in CI always: `make images` builds the image)."""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time

import pytest
import requests
import yaml

from emulator.settings import ENV_PREFIX, Settings
from tests.cloud.conftest import CNTK_IMAGE, CPU_IMAGE, ROOT, compose_command, docker_ready, run_cli

COMPOSE = ROOT / "compose.yaml"


EMULATOR_IMAGE = "batchai-emulator/emulator:latest"


def _services(pwd: str = "/home/user/batchai") -> dict:
    text = COMPOSE.read_text().replace("${PWD:?run docker compose from a shell in the repository root}", pwd)
    text = text.replace("${PWD}", pwd)
    text = re.sub(r"\$\{BATCHAI_COMPOSE_\w+:-(\d+)\}", r"\1", text)  # the port variables' defaults
    assert "${" not in text, "an interpolation the structure test does not know"
    return yaml.safe_load(text)["services"]


def test_compose_structure():
    services = _services()
    assert set(services) == {"emulator", "emulator-gpu"}
    for name, service in services.items():
        assert service["build"] == "." and service["image"] == EMULATOR_IMAGE
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


def _wait_healthy(url: str, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_emulator/health", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


@pytest.mark.docker
@pytest.mark.slow
def test_compose_up_runs_a_quickstart_through_sibling_containers(tmp_path, ctf_data, capsys):
    """`compose up` of compose.yaml as it is (a copy, in a project dir of its own, under a project name and host
    ports unique to this test), a short quickstart against it, `compose down`.

    Needs what `sudo make images` makes: the offline-built batchai-emulator/emulator and trainer-cpu images, and a
    compose CLI (Debian's docker-compose 1.29 or the v2 plugin). Outside CI it skips without them; in CI it fails.
    """
    import docker
    from tests.conftest import in_ci
    from tests.served import free_port
    command = compose_command()
    problem = docker_ready() or (None if command else "no `docker compose` or `docker-compose`")
    if problem is None:
        try:
            docker.from_env().images.get(EMULATOR_IMAGE)
        except docker.errors.DockerException as exc:
            problem = f"{EMULATOR_IMAGE}: {exc}"
    if problem:
        message = f"needs Docker, {CPU_IMAGE}, {EMULATOR_IMAGE} (sudo make images) and a compose CLI: {problem}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(COMPOSE, project / "compose.yaml")
    http, https, blob = free_port(), free_port(), free_port()
    name = f"batchaitest{os.getpid()}{http}"
    env = {**os.environ, "PWD": str(project), "COMPOSE_PROJECT_NAME": name, "BATCHAI_COMPOSE_HTTP_PORT": str(http),
           "BATCHAI_COMPOSE_HTTPS_PORT": str(https), "BATCHAI_COMPOSE_BLOB_PORT": str(blob)}
    compose = [*command, "-p", name, "-f", str(project / "compose.yaml")]
    up = subprocess.run([*compose, "up", "-d", "--no-build", "emulator"], cwd=project, env=env, capture_output=True,
                        text=True, timeout=300)
    logs = ""
    try:
        assert up.returncode == 0, up.stderr
        assert _wait_healthy(f"http://127.0.0.1:{http}"), "the emulator in compose never answered its health check"
        cert = project / ".data" / "cert.pem"
        assert cert.is_file(), "the data dir is not at the same path on the host"
        code, out = run_cli(["quickstart", "--endpoint", f"https://127.0.0.1:{https}", "--ca-bundle", str(cert),
                             "--data", str(ctf_data), "--epochs", "1", "--poll", "0.2", "--out",
                             str(tmp_path / "out")], capsys)
        assert code == 0, out
        assert "Docker executor" in out and "final state:   succeeded, exit code 0" in out
        assert (tmp_path / "out" / "myjob" / "MODEL" / "ConvNet_MNIST_0.npz").is_file()
    finally:
        logs = subprocess.run([*compose, "logs", "--tail", "40"], cwd=project, env=env, capture_output=True,
                              text=True, timeout=60).stdout
        down = subprocess.run([*compose, "down", "--remove-orphans"], cwd=project, env=env, capture_output=True,
                              text=True, timeout=180)
        shutil.rmtree(project / ".data", ignore_errors=True)
    print(logs)
    assert down.returncode == 0, down.stderr
