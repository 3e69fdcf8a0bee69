"""The submission side: the Batch AI quickstart written once against the maintained Azure SDKs.

`connect(endpoint)` builds the clients for public Azure, or, given an endpoint that serves
/metadata/endpoints (the emulator does), for that cloud; nothing else in the package knows the difference.
`python -m cloud quickstart|stream|download|demo` are the commands (see `cloud/__main__.py`).
"""
from .clients import PUBLIC_AZURE, Clients, CloudEndpoints, ConnectError, connect

__all__ = ["connect", "Clients", "CloudEndpoints", "ConnectError", "PUBLIC_AZURE"]
