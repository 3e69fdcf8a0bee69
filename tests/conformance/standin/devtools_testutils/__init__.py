"""The project's own live-only stand-in for the parts of devtools_testutils that the azure-storage-file-share
sdist's tests import (devtools_testutils is not on PyPI and its test proxy is a binary fetched at run time).

Everything runs live against the emulator the harness started: recording decorators pass calls through,
sanitizers and matchers do nothing, the environment-variable loader hands the test the accounts the harness put
in the environment. Written for this project from the tests' own use of these names, not copied."""
from __future__ import annotations

import functools
import inspect
import os

import pytest

__all__ = ["EnvironmentVariableLoader", "EnvironmentVariableOptions", "is_live", "recorded_by_proxy",
           "test_proxy"]


def is_live() -> bool:
    return True


class Secret(str):
    """A loaded value the tests read either as a string or as `.secret` (the loader's hidden secrets)."""

    @property
    def secret(self) -> str:
        return str(self)


class EnvironmentVariableOptions:
    def __init__(self, hide_secrets=None):
        self.hide_secrets = list(hide_secrets or [])


def EnvironmentVariableLoader(directory: str, options: EnvironmentVariableOptions | None = None,  # noqa: N802
                              **defaults):
    """Decorator factory: the test gets one keyword argument per default, read from the upper-cased variable."""
    def decorate(fn):
        params = inspect.signature(fn).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for name, default in defaults.items():
                if takes_all or name in params:
                    kwargs.setdefault(name, Secret(os.environ.get(name.upper(), default)))
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def recorded_by_proxy(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        kwargs.pop("variables", None)
        fn(*args, **kwargs)
    return wrapper


def _noop(*_args, **_kwargs) -> None:
    return None


add_body_regex_sanitizer = add_general_regex_sanitizer = add_header_regex_sanitizer = _noop
add_oauth_response_sanitizer = add_uri_string_sanitizer = set_custom_default_matcher = _noop
add_remove_header_sanitizer = add_uri_regex_sanitizer = add_body_key_sanitizer = _noop
set_bodiless_matcher = set_default_session_settings = _noop


@pytest.fixture(scope="session")
def test_proxy():
    """No proxy: requests go straight to the emulator."""
    yield
