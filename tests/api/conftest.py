"""Fixtures for request-level tests through the Flask test client (no socket)."""
from __future__ import annotations

import pytest

from emulator import create_app
from emulator.settings import Settings

AUTH = {"Authorization": "Bearer test-token"}
V = "2018-05-01"


class Client:
    """The Flask test client with a bearer token, and a watcher for 5xx answers."""

    def __init__(self, app):
        self.app = app
        self.raw = app.test_client()
        self.server_errors: list = []
        app.extensions["batchai"].observers.append(
            lambda m, p, s: self.server_errors.append((m, p, s)) if s >= 500 else None)

    def call(self, method: str, path: str, body=None, api_version: str | None = V, headers=None, **kw):
        if api_version is not None:
            path += ("&" if "?" in path else "?") + f"api-version={api_version}"
        return self.raw.open(path, method=method, json=body, headers={**AUTH, **(headers or {})}, **kw)


def make_app(data_dir):
    return create_app(Settings.from_env(environ={}, data_dir=data_dir, allocation_delay=0, executor="none"))


@pytest.fixture()
def client(tmp_path):
    c = Client(make_app(tmp_path))
    yield c
    c.app.extensions["batchai"].store.close()
    assert not c.server_errors, f"the emulator answered 5xx: {c.server_errors}"
