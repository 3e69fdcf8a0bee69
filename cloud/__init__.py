"""The submission side: the Batch AI quickstart written once against the maintained Azure SDKs.

`connect(endpoint)` builds the clients for public Azure, or, given an endpoint that serves
/metadata/endpoints (the emulator does), for that cloud; nothing else in the package knows the difference.
`python -m cloud quickstart|stream|download|demo` are the commands (see `cloud/__main__.py`).
"""
import sys

try:
    from .clients import PUBLIC_AZURE, Clients, CloudEndpoints, ConnectError, connect
except ModuleNotFoundError as _missing:
    if sys.argv and sys.argv[0] == "-m":  # `python -m cloud` run by a Python without the project's dependencies
        sys.exit(f"python -m cloud: {_missing.name} is not installed for {sys.executable}; run it with the "
                 "project's environment: .venv/bin/python -m cloud ... (`make demo` creates .venv)")
    raise

__all__ = ["connect", "Clients", "CloudEndpoints", "ConnectError", "PUBLIC_AZURE"]
