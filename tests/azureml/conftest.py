"""Fixtures for driving the emulator with azureml-core 1.61 (its own environment, .venv-azureml) over HTTPS.

The client side is always a separate process of .venv-azureml's python, with the environment that
`batchai-emulator env --azureml` prints (so the env step is tested too), a HOME of its own (the SDK caches the
cloud, the discovery document and the last snapshot under it) and a socket recorder (flows/sitecustomize.py) that
writes every address the client connects to and every name it resolves, so a test can assert that nothing left
loopback.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, venv_python
from tests.served import BIN, Served

AML_PYTHON = Path(os.environ.get("BATCHAI_AZUREML_PYTHON", ROOT / ".venv-azureml" / "bin" / "python"))
FLOWS = Path(__file__).parent / "flows"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="session")
def aml_python() -> Path:
    return venv_python(AML_PYTHON, "the azureml-core environment (tests/azureml/requirements.txt)")


def serve(data_dir: Path, *flags: str, env: dict | None = None) -> Served:
    """An emulator for Azure ML runs: the local executor unless flags say otherwise; runs use .venv-azureml."""
    # the proxy binds a free port itself (no race for it with other processes); `env` reads it back
    extra = {"BATCHAI_EMULATOR_AZUREML_PROXY_PORT": "0",
             "BATCHAI_EMULATOR_AZUREML_PYTHON": str(AML_PYTHON), **(env or {})}
    return Served(data_dir, *(flags or ("--executor", "local")), env=extra)


def client_env(served: Served, home: Path) -> dict[str, str]:
    """The variables `batchai-emulator env --azureml` exports, plus a HOME and the socket recorder."""
    out = subprocess.run([str(BIN), "env", "--data-dir", str(served.data_dir), "--azureml"], capture_output=True,
                         text=True, check=True).stdout
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k not in (
        "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PYTHONPATH")}
    for line in out.splitlines():
        for word in shlex.split(line)[1:]:
            name, _, value = word.partition("=")
            env[name] = value
    home.mkdir(parents=True, exist_ok=True)
    env.update({"HOME": str(home), "PYTHONPATH": str(FLOWS / "recorder"),
                "AML_SOCKET_LOG": str(home / "sockets.log"), "PYTHONUNBUFFERED": "1"})
    return env


def run_client(python: Path, script: Path, *args: str, env: dict, cwd: Path, timeout: float = 420,
               check: bool = True) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run([str(python), str(script), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)
    print(f"{script.name} {' '.join(args)[:60]}: {time.monotonic() - started:.1f} s")
    if check:
        assert proc.returncode == 0, f"{script.name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n" \
                                     f"{proc.stderr[-6000:]}"
    return proc


def report(proc: subprocess.CompletedProcess) -> dict:
    """The JSON report a flow prints on its last line."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


def outbound(env: dict) -> list[str]:
    """Every connection or name lookup the client made that was not loopback."""
    try:
        lines = Path(env["AML_SOCKET_LOG"]).read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines if line.split(" ", 1)[1] not in ("127.0.0.1", "localhost", "::1")]


def make_workspace(python: Path, env: dict, project: Path, name: str = "emu-ws", rg: str = "aml-rg") -> dict:
    project.mkdir(parents=True, exist_ok=True)
    return report(run_client(python, FLOWS / "workspace.py", name, SUBSCRIPTION, rg, str(project), env=env,
                             cwd=project))
