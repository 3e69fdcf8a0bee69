"""The installed package's version, in a module of its own so the views that report it (health, the dashboard)
need not import the package that creates them."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("batchai-emulator")
    except PackageNotFoundError:     # run from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
