"""Fixtures for driving the emulator with SDK generations that need their own environment."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, in_ci

SDK2_PYTHON = Path(os.environ.get("BATCHAI_SDK2_PYTHON", ROOT / ".venv-sdk2018" / "bin" / "python"))
FLOWS = Path(__file__).parent / "flows"


@pytest.fixture(scope="session")
def sdk2_python() -> Path:
    if not SDK2_PYTHON.exists():
        message = (f"{SDK2_PYTHON} is missing: `make install` creates the azure-mgmt-batchai 2.0.0 environment "
                   "(tests/sdk/requirements-2.0.0.txt)")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return SDK2_PYTHON


def run_flow(python: Path, script: str, *args: str, env: dict | None = None, timeout: float = 180) -> dict:
    """Run a flow script in another environment; return the JSON report it prints on its last line."""
    proc = subprocess.run([str(python), str(FLOWS / script), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
