"""A pytest plugin for your own integration tests against the emulator (entry point `pytest11`, loaded when the
package is installed).

Fixtures (nothing starts unless a test uses one):
- `batchai_emulator` (session): an emulator in a subprocess on free loopback ports with a temporary data dir,
  local-process executor (`--batchai-emulator-executor docker` or BATCHAI_EMULATOR_TEST_EXECUTOR=docker for the
  Docker one), started with --allow-reset. Gives the URLs, credentials, storage connection strings, the CA path
  and, with the `cloud` extra, a ready azure-mgmt-batchai 7.0.0 client (`.batchai`; the test is skipped without it).
- `batchai_emulator_clean` (function): the same emulator, reset (POST /_emulator/reset) before the test.
- `batchai_emulator_docker` (session): another emulator whose jobs run in Docker containers.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from .launcher import EmulatorProcess
from .settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY

SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000e4a1a"
TENANT_ID = "emulator-tenant"
CLIENT_ID = "emulator-client"
CLIENT_SECRET = "any-secret"          # the emulator's token endpoints accept any client and secret
START_TIMEOUT = 60.0


def pytest_addoption(parser):
    group = parser.getgroup("batchai-emulator")
    group.addoption("--batchai-emulator-executor", default=None, choices=["local", "docker"],
                    help="how the batchai_emulator fixture's emulator runs jobs (default local; "
                         "BATCHAI_EMULATOR_TEST_EXECUTOR)")


@dataclass
class EmulatorEndpoints:
    """A running emulator, as a test needs it."""
    http_url: str
    https_url: str
    blob_url: str
    ca_path: str
    data_dir: Path
    log_path: Path
    executor: str
    subscription_id: str = SUBSCRIPTION_ID
    tenant_id: str = TENANT_ID
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    storage_account: str = DEFAULT_STORAGE_ACCOUNT
    storage_key: str = DEFAULT_STORAGE_KEY
    _clients: dict = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        """The ARM endpoint for SDKs (HTTPS: azure-core refuses bearer tokens over HTTP)."""
        return self.https_url

    @property
    def files_connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.storage_account};AccountKey={self.storage_key};"
                f"FileEndpoint={self.http_url}/{self.storage_account};")

    @property
    def blob_connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.storage_account};AccountKey={self.storage_key};"
                f"BlobEndpoint={self.blob_url}/{self.storage_account};")

    @property
    def connection_string(self) -> str:
        """Files and Blob endpoints in one string (azure-storage-file-share and azure-storage-blob both take it)."""
        return self.files_connection_string + f"BlobEndpoint={self.blob_url}/{self.storage_account};"

    @property
    def credential(self):
        """An azure-identity ClientSecretCredential that gets tokens from the emulator's AAD (cloud extra)."""
        return self._client("credential", "azure.identity", "ClientSecretCredential", "azure-identity",
                            lambda cls: cls(self.tenant_id, self.client_id, self.client_secret,
                                            authority=self.https_url, disable_instance_discovery=True,
                                            connection_verify=self.ca_path))

    @property
    def batchai(self):
        """azure-mgmt-batchai 7.0.0's client on the emulator over HTTPS; skips the test without the cloud extra."""
        return self._client("batchai", "azure.mgmt.batchai", "BatchAI", "azure-mgmt-batchai 7.0.0",
                            lambda cls: cls(self.credential, self.subscription_id, base_url=self.https_url,
                                            credential_scopes=[f"{self.https_url}/.default"],
                                            connection_verify=self.ca_path))

    def _client(self, key: str, module: str, name: str, package: str, make):
        """One client per endpoints object, made on first use from module.name; skips the test without it."""
        if key not in self._clients:
            try:
                cls = getattr(importlib.import_module(module), name)
            except ImportError:
                pytest.skip(f"{package} is not installed (pip install 'batchai-emulator[cloud]')")
            self._clients[key] = make(cls)
        return self._clients[key]

    def resource_group(self, name: str, location: str = "eastus") -> None:
        """Create (or keep) a resource group, without needing azure-mgmt-resource."""
        r = requests.put(f"{self.http_url}/subscriptions/{self.subscription_id}/resourcegroups/{name}"
                         "?api-version=2021-04-01", json={"location": location},
                         headers={"Authorization": "Bearer pytest"}, timeout=30)
        r.raise_for_status()

    def wait_job(self, resource_group: str, workspace: str, experiment: str, job: str, timeout: float = 300):
        """Poll a Batch AI job (through `.batchai`) until it succeeded or failed; returns the SDK's Job."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.batchai.jobs.get(resource_group, workspace, experiment, job)
            if found.execution_state in ("succeeded", "failed"):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job} still {found.execution_state} after {timeout:.0f}s")
            time.sleep(0.2)

    def reset(self) -> None:
        """Wipe all state: resources, shares, blobs, job directories (running jobs are stopped)."""
        r = requests.post(f"{self.http_url}/_emulator/reset", timeout=60)
        r.raise_for_status()

    def health(self) -> dict:
        return requests.get(f"{self.http_url}/_emulator/health", timeout=10).json()


def start(data_dir: Path, executor: str = "local", extra: list[str] | None = None,
          timeout: float = START_TIMEOUT) -> tuple[subprocess.Popen, EmulatorEndpoints]:
    """Start `batchai-emulator serve` on free ports; returns once /_emulator/health answers (stop it with stop())."""
    emulator = EmulatorProcess(data_dir, "--executor", executor, "--gpus", "none", "--allocation-delay", "0.2",
                               "--allow-reset", *(extra or []), port=0, https_port=0, blob_port=0,
                               log=data_dir.parent / "emulator.log")
    data_dir.mkdir(parents=True, exist_ok=True)
    emulator.start(timeout)
    return emulator.proc, EmulatorEndpoints(http_url=emulator.http_url, https_url=emulator.https_url,
                                       blob_url=emulator.blob_url, ca_path=emulator.ca_bundle, data_dir=data_dir,
                                       log_path=emulator.log, executor=executor)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the emulator has not exited in 30 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def batchai_emulator(request):
    """The session's emulator (started on first use, stopped at the end of the session)."""
    executor = (request.config.getoption("--batchai-emulator-executor")
                or os.environ.get("BATCHAI_EMULATOR_TEST_EXECUTOR") or "local")
    root = Path(tempfile.mkdtemp(prefix="batchai-emulator-pytest-"))
    proc, info = start(root / "data", executor=executor)
    yield info
    stop(proc)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def batchai_emulator_docker():
    """A second session emulator whose jobs run in Docker containers (needs an engine and the job images)."""
    root = Path(tempfile.mkdtemp(prefix="batchai-emulator-pytest-"))
    proc, info = start(root / "data", executor="docker")
    yield info
    stop(proc)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def batchai_emulator_clean(batchai_emulator):
    """The session's emulator, emptied before this test."""
    batchai_emulator.reset()
    return batchai_emulator
