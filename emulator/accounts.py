"""Storage account lookups shared by every layer that verifies a request or a mount against an account's keys.

Below both the backend (which creates accounts) and the runner (which checks a job's mounts), so neither has to
import the other. Accounts are Store records of kind `storageAccount`; the accounts served from settings
(`--storage-account`) are {name: key} and never stored.
"""
from __future__ import annotations

import base64

from .models import StorageAccount
from .store import Store

KIND = "storageAccount"


def decode_key(key: str) -> bytes:
    try:
        return base64.b64decode(key, validate=True)
    except ValueError:
        # an operator-supplied key that is not base64 still works, as raw bytes (the SDKs would refuse it)
        return key.encode()


def find_by_name(store: Store, name: str) -> StorageAccount | None:
    """The ARM-created account called `name` (names are global), or None."""
    wanted = name.lower()
    for rec in store.list(KIND):
        if rec.name.lower() == wanted:
            return StorageAccount.from_body(rec.body)
    return None


def account_keys(store: Store, static: dict[str, str], name: str) -> tuple[str, list[bytes]] | None:
    """(canonical name, decoded keys) of an account the data planes serve, from settings (`static`) or ARM."""
    for static_name, key in static.items():
        if static_name == name or static_name.lower() == name.lower():
            return static_name, [decode_key(key)]
    account = find_by_name(store, name)
    if account is None:
        return None
    return account.name, [decode_key(k) for k in account.keys]
