"""Fixtures for the Slurm executor's tests: a real 3-node Slurm cluster on this machine (tests/slurm/cluster.py,
session-scoped), an emulator serving with `--executor slurm` against it (a subprocess, as a user runs it), and
azure-mgmt-batchai 2.0.0 driving that emulator (tests/slurm/sdk2_driver.py in .venv-sdk2018).

Needs root, slurm-wlm, munge and openmpi-bin (`.ci/slurm.sh`): fails in CI when missing, skips elsewhere.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, in_ci
from tests.served import Served

from .cluster import PARTITION, SlurmTestCluster

SDK2_PYTHON = Path(os.environ.get("BATCHAI_SDK2_PYTHON", ROOT / ".venv-sdk2018" / "bin" / "python"))
DRIVER = Path(__file__).parent / "sdk2_driver.py"


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI=true: the Slurm tests must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        _unavailable("the Slurm test cluster needs root (network namespaces)")
    if not shutil.which("slurmctld") or not shutil.which("munged") or not shutil.which("mpirun"):
        _unavailable("slurm-wlm, munge or openmpi-bin is missing: run `sudo bash .ci/slurm.sh`")
    cluster = SlurmTestCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.up()
    except Exception:
        cluster.down(quiet=True)
        raise
    yield cluster
    cluster.down()


class Sdk2:
    """azure-mgmt-batchai 2.0.0 in its own environment, one JSON request and answer per line."""

    def __init__(self, served: Served, rg: str):
        if not SDK2_PYTHON.exists():
            _unavailable(f"{SDK2_PYTHON} is missing: `make install` creates the azure-mgmt-batchai 2.0.0 environment")
        self.proc = subprocess.Popen([str(SDK2_PYTHON), str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        from emulator.settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY
        self.call("init", endpoint=served.http_url, account=DEFAULT_STORAGE_ACCOUNT, key=DEFAULT_STORAGE_KEY, rg=rg)

    def call(self, op: str, **kw):
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        line = self.proc.stdout.readline()
        assert line, f"the SDK driver died ({self.proc.poll()})"
        out = json.loads(line)
        assert "exception" not in out, out.get("trace") or out["exception"]
        return out

    def __getattr__(self, op: str):
        return lambda **kw: self.call(op, **kw)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class SlurmEmulator:
    """An emulator subprocess with `--executor slurm` on the test cluster's partition, and its SDK driver."""

    def __init__(self, cluster: SlurmTestCluster, data_dir: Path, *flags: str):
        self.cluster = cluster
        env = {**cluster.env(), "PYTHONPATH": str(ROOT)}
        self.served = Served(data_dir, "--executor", "slurm", "--slurm-partition", PARTITION,
                             "--slurm-containers", "none", "--allocation-delay", "0.2", *flags, env=env)
        self.served.start()
        self.share = data_dir / "shares" / "batchaidev" / "slurmshare"
        self.share.mkdir(parents=True, exist_ok=True)
        self.rg = "rg-" + uuid.uuid4().hex[:8]
        self.sdk = Sdk2(self.served, self.rg)

    def restart_after_kill9(self) -> None:
        """SIGKILL the emulator, start it again on the same data dir and ports, and a new SDK driver."""
        self.served.kill9()
        self.sdk.close()
        self.served.start()
        self.sdk = Sdk2(self.served, self.rg)

    def close(self) -> None:
        self.sdk.close()
        self.served.stop()
        errors = self.served.unhandled_errors()
        assert not errors, errors


@pytest.fixture(scope="module")
def slurm_emulator(slurm_cluster, tmp_path_factory):
    emu = SlurmEmulator(slurm_cluster, tmp_path_factory.mktemp("slurm-emulator"))
    yield emu
    emu.close()
    # nothing of this module's jobs may stay in Slurm's queue for the next module
    slurm_cluster.command("scancel", "--partition", PARTITION, check=False)
