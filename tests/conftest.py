"""Shared fixtures: a live emulator on free ports (HTTP + HTTPS) with a 5xx watcher.

Every response the live servers send is recorded; a test that made the emulator answer 5xx fails at teardown,
whatever it asserted itself.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.server import EmulatorServer  # noqa: E402
from emulator.settings import Settings  # noqa: E402


class Live:
    """A running emulator: URLs, its settings and app, and the 5xx it answered."""

    def __init__(self, server: EmulatorServer):
        self.server = server
        self.settings = server.settings
        self.app = server.app
        self.ext = server.ext
        self.server_errors: list[tuple[str, str, int]] = []
        self.ext.observers.append(self._observe)

    def _observe(self, method: str, path: str, status: int) -> None:
        if status >= 500:
            self.server_errors.append((method, path, status))

    @property
    def http_url(self) -> str:
        return self.server.http_url

    @property
    def https_url(self) -> str:
        return self.server.https_url

    @property
    def blob_url(self) -> str:
        return self.server.blob_url

    @property
    def ca_bundle(self) -> str:
        return str(self.server.cert)


def start_live(data_dir: Path, **overrides) -> Live:
    """A live emulator; jobs do not run unless `executor` is given (control-plane tests keep them queued)."""
    overrides.setdefault("executor", "none")
    overrides.setdefault("allocation_delay", 0.2)
    settings = Settings.from_env(environ={}, data_dir=data_dir, port=0, https_port=0, blob_port=0,
                                 tick_interval=0.05,
                                 **overrides)
    return Live(EmulatorServer(settings, threads=8).start())


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_live(tmp_path_factory.mktemp("emulator-data"))
    yield server
    server.server.stop()
    assert not server.server_errors, f"the emulator answered 5xx: {server.server_errors}"


@pytest.fixture(autouse=True)
def _no_server_errors(request):
    """Fail the test during which a module's live server answered a 5xx (the module fixture reports it too)."""
    yield
    live_server = request.node.funcargs.get("live") if hasattr(request.node, "funcargs") else None
    if live_server is not None and live_server.server_errors:
        errors, live_server.server_errors[:] = list(live_server.server_errors), []
        pytest.fail(f"the emulator answered 5xx during this test: {errors}")


def in_ci() -> bool:
    """CI=true (also 1 or yes): tests that need Docker, Slurm or a browser fail there instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(message: str):
    """Something a test needs is missing (an environment, an image): the test fails in CI and is skipped elsewhere."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def venv_python(path: Path, what: str) -> Path:
    """The interpreter of an environment `make install` creates (`what`), or the test is unavailable."""
    if not path.is_file():
        unavailable(f"{path} is missing: `make install` creates {what}")
    return path
