"""An Azure ML run on the Docker executor: the run's container (batchai-emulator/azureml-cpu) reaches its services
through the emulator's relay on the Docker bridge's gateway; metrics and outputs arrive as on the local executor."""
from __future__ import annotations

import pytest

from tests.conftest import in_ci

from .conftest import FLOWS, client_env, make_workspace, report, run_client, serve

IMAGE = "batchai-emulator/azureml-cpu:latest"


@pytest.fixture(scope="module")
def docker_ready():
    message = None
    try:
        import docker
        client = docker.from_env(timeout=10)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:
        message = f"no Docker engine or no {IMAGE} ({type(exc).__name__}: {exc}); run `sudo bash .ci/docker.sh`"
    if message:
        if in_ci():
            pytest.fail(message + " (CI=true: Docker tests must not be skipped)")
        pytest.skip(message)


def test_run_in_a_container(docker_ready, aml_python, tmp_path):
    served = serve(tmp_path / "data", "--executor", "docker")
    with served:
        env = client_env(served, tmp_path / "home")
        make_workspace(aml_python, env, tmp_path)
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "m.py").write_bytes((FLOWS / "tiny_chainer_mnist.py").read_bytes())
        run_client(aml_python, FLOWS / "compute.py", "create", "cpu-cluster", "STANDARD_D2_V2", env=env,
                   cwd=tmp_path)
        proc = run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "m.py", "--epochs", "3",
                          env=env, cwd=tmp_path)
        out = report(proc)
        assert out["status"] == "Completed", proc.stdout[-3000:]
        assert out["metrics"]["Accuracy"] == [0.5, 0.51, 0.52]
        assert "outputs/model.npz" in out["files"]
        assert f"Running in {IMAGE} instead" in proc.stdout
    assert not served.unhandled_errors(), served.unhandled_errors()
