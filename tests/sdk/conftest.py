"""Fixtures for driving the emulator with SDK generations that need their own environment."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, in_ci

SDK2_PYTHON = Path(os.environ.get("BATCHAI_SDK2_PYTHON", ROOT / ".venv-sdk2018" / "bin" / "python"))
# the older generations: 0.2.0 (2017-09-01-preview) and 1.0.1 (2018-03-01), each in its own environment
SDK0_PYTHON = Path(os.environ.get("BATCHAI_SDK0_PYTHON", ROOT / ".venv-sdk2017" / "bin" / "python"))
SDK1_PYTHON = Path(os.environ.get("BATCHAI_SDK1_PYTHON", ROOT / ".venv-sdk2018-03" / "bin" / "python"))
FLOWS = Path(__file__).parent / "flows"


def _environment(python: Path, version: str) -> Path:
    """The environment's python, or a failure in CI / a skip elsewhere when it was not made."""
    if not python.exists():
        message = (f"{python} is missing: `make install` creates the azure-mgmt-batchai {version} environment "
                   f"(tests/sdk/requirements-{version}.txt)")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def sdk2_python() -> Path:
    return _environment(SDK2_PYTHON, "2.0.0")


@pytest.fixture(scope="session")
def sdk0_python() -> Path:
    return _environment(SDK0_PYTHON, "0.2.0")


@pytest.fixture(scope="session")
def sdk1_python() -> Path:
    return _environment(SDK1_PYTHON, "1.0.1")


def run_flow(python: Path, script: str, *args: str, env: dict | None = None, timeout: float = 180) -> dict:
    """Run a flow script in another environment; return the JSON report it prints on its last line."""
    proc = subprocess.run([str(python), str(FLOWS / script), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
