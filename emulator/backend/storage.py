"""ARM Microsoft.Storage/storageAccounts: create, get, list, listKeys, regenerateKey, delete, name checks.

No Flask, no SQL. Accounts are Store records of kind `storageAccount` whose body is a `models.StorageAccount`
(two generated keys included; wire.py never renders them). Storage account names are global in Azure: one name
is taken once across every subscription and resource group, and the accounts the emulator serves from its
settings (`--storage-account`, or the documented default) are taken too, so their fixed keys never change.

The file plane finds accounts by name through `find_by_name` and verifies requests with `keys`.
"""
from __future__ import annotations

import base64
import re
import secrets
from typing import Callable

from .. import accounts, ids
from ..errors import EmulatorError, ResourceGroupNotFound
from ..models import ResourceGroup, StorageAccount
from ..store import AlreadyExists, ParentNotFound, Store
from .common import Page, load, paged

KIND = accounts.KIND
_NAME = re.compile(r"^[a-z0-9]{3,24}$")
# first path segments the emulator already routes elsewhere: an account of that name could never be reached
RESERVED_NAMES = {"subscriptions", "providers", "metadata", "static"}
SKU_NAMES = {"Standard_LRS", "Standard_GRS", "Standard_RAGRS", "Standard_ZRS", "Premium_LRS", "Premium_ZRS",
             "Standard_GZRS", "Standard_RAGZRS", "StandardV2_LRS", "StandardV2_GRS", "StandardV2_ZRS",
             "StandardV2_GZRS", "PremiumV2_LRS", "PremiumV2_ZRS"}
KINDS = {"Storage", "StorageV2", "BlobStorage", "FileStorage", "BlockBlobStorage"}


def new_key() -> str:
    """A 512-bit account key, base64 like the service's (88 characters)."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


class StorageBackend:
    def __init__(self, store: Store, static_accounts: Callable[[], dict[str, str]] = dict,
                 on_delete: Callable[[str], None] | None = None):
        self.store = store
        # called with an account's name once it is deleted: the data planes drop its data (the service deletes an
        # account's data with it, so a new account of the same name starts empty)
        self.on_delete = on_delete or (lambda name: None)
        # {name: key} of the accounts served from settings (their names are taken, their keys fixed)
        self.static_accounts = static_accounts

    # ---- name rules -----------------------------------------------------------------------------------------
    def name_problem(self, name: str) -> tuple[str, str] | None:
        """(reason, message) when `name` cannot be used for a new account, else None."""
        if not _NAME.match(name):
            return ("AccountNameInvalid",
                    f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                    "characters in length and use numbers and lower-case letters only.")
        if name in RESERVED_NAMES or name in {n.lower() for n in self.static_accounts()} \
                or self.find_by_name(name) is not None:
            return "AlreadyExists", f"The storage account named {name} is already taken."
        return None

    def check_name_availability(self, name: str) -> dict:
        problem = self.name_problem(name)
        if problem is None:
            return {"name_available": True}
        return {"name_available": False, "reason": problem[0], "message": problem[1]}

    # ---- operations -----------------------------------------------------------------------------------------
    def storage_accounts_create(self, sub: str, rg: str, name: str, location: str, sku: dict, kind: str,
                                tags: dict | None) -> StorageAccount:
        """Create the account, or update tags/sku of an existing one with the same id (PUT is idempotent)."""
        rg_record = self._resource_group(sub, rg)
        rid = ids.storage_account(sub, rg_record.name, name)
        parent = ids.resource_group(sub, rg_record.name)
        for _ in range(10):
            existing, rec = load(self.store, KIND, StorageAccount, rid)
            if existing is None:
                problem = self.name_problem(name)
                if problem is not None:
                    code = "StorageAccountAlreadyTaken" if problem[0] == "AlreadyExists" else problem[0]
                    raise EmulatorError(409 if problem[0] == "AlreadyExists" else 400, code, problem[1],
                                        target="name")
                account = StorageAccount(subscription_id=sub, resource_group=rg_record.name, name=name,
                                         location=location, tags=tags or {}, sku=sku, kind=kind,
                                         keys=[new_key(), new_key()])
                try:   # in one transaction with the check that the group still exists: never an orphan
                    self.store.create(KIND, rid, parent, name, account.to_body(), parent_kind="resourceGroup")
                    return account
                except ParentNotFound:
                    raise ResourceGroupNotFound(rg) from None
                except AlreadyExists:
                    continue
            if existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise EmulatorError(409, "InvalidResourceLocation",
                                    f"The resource '{name}' already exists in location '{existing.location}'.")
            existing.sku, existing.kind = sku, kind
            if tags is not None:
                existing.tags = tags
            if self.store.compare_and_set(rid, rec.version, existing.to_body()) is not None:
                return existing
        raise EmulatorError(409, "Conflict", f"{name} is being created and deleted concurrently; retry.")

    def storage_accounts_get(self, sub: str, rg: str, name: str) -> StorageAccount:
        account, _ = load(self.store, KIND, StorageAccount, ids.storage_account(sub, rg, name))
        if account is None:
            self._resource_group(sub, rg)
            raise EmulatorError(404, "ResourceNotFound",
                                f"The Resource 'Microsoft.Storage/storageAccounts/{name}' under resource group "
                                f"'{rg}' was not found.")
        return account

    def storage_accounts_update(self, sub: str, rg: str, name: str, tags: dict | None,
                                sku: dict | None) -> StorageAccount:
        def change(account: StorageAccount) -> None:
            if tags is not None:
                account.tags = tags
            if sku:
                account.sku = sku
        return self._change(sub, rg, name, change)

    def _change(self, sub: str, rg: str, name: str, change) -> StorageAccount:
        """Apply `change` to the stored account by compare-and-set (a replace could revive an account, or its
        group, deleted meanwhile); 404 if it is gone."""
        while True:
            account = self.storage_accounts_get(sub, rg, name)
            rec = self.store.get(ids.storage_account(sub, account.resource_group, account.name))
            if rec is None:
                continue
            account = StorageAccount.from_body(rec.body)
            change(account)
            if self.store.compare_and_set(rec.id, rec.version, account.to_body()) is not None:
                return account

    def storage_accounts_list_by_resource_group(self, sub: str, rg: str, limit: int, after: str | None) -> Page:
        self._resource_group(sub, rg)
        return paged(self.store.list(KIND, parent=ids.resource_group(sub, rg), after=after, limit=limit + 1),
                     StorageAccount, limit)

    def storage_accounts_list(self, sub: str, limit: int, after: str | None) -> Page:
        return paged(self.store.list(KIND, under=ids.subscription(sub), after=after, limit=limit + 1),
                     StorageAccount, limit)

    def storage_accounts_list_keys(self, sub: str, rg: str, name: str) -> list[dict]:
        account = self.storage_accounts_get(sub, rg, name)
        return [{"key_name": f"key{i + 1}", "value": key, "permissions": "FULL"}
                for i, key in enumerate(account.keys)]

    def storage_accounts_regenerate_key(self, sub: str, rg: str, name: str, key_name: str) -> list[dict]:
        index = {"key1": 0, "key2": 1}.get((key_name or "").lower())
        if index is None:
            self.storage_accounts_get(sub, rg, name)
            raise EmulatorError(400, "InvalidValuesForRequestParameters",
                                f"keyName '{key_name}' is invalid: use key1 or key2.", target="keyName")

        def regenerate(account: StorageAccount) -> None:
            account.keys[index] = new_key()
        self._change(sub, rg, name, regenerate)
        return self.storage_accounts_list_keys(sub, rg, name)

    def storage_accounts_delete(self, sub: str, rg: str, name: str) -> StorageAccount | None:
        """Remove the account record; returns it (None when there was none, as ARM deletes are idempotent)."""
        self._resource_group(sub, rg)
        account, _ = load(self.store, KIND, StorageAccount, ids.storage_account(sub, rg, name))
        if account is None:
            return None
        self.store.delete_tree(ids.storage_account(sub, account.resource_group, account.name))
        self.on_delete(account.name)
        return account

    # ---- request bodies (StorageAccounts_Create / _Update / CheckNameAvailability) ----------------------------
    def create_from_body(self, sub: str, rg: str, name: str, body) -> StorageAccount:
        """Validate a StorageAccounts_Create body (location, sku, kind, tags) and create the account."""
        body = body if isinstance(body, dict) else {}
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise EmulatorError(400, "LocationRequired", "The location property is required for this definition.",
                                target="location")
        sku = body.get("sku")
        if not isinstance(sku, dict) or not isinstance(sku.get("name"), str):
            raise EmulatorError(400, "InvalidRequestContent", "The sku property (with a name) is required.", "sku")
        if sku["name"] not in SKU_NAMES:
            raise EmulatorError(400, "SkuNotSupported", f"The sku '{sku['name']}' is not supported: use one of "
                                f"{', '.join(sorted(SKU_NAMES))}.", "sku.name")
        kind = body.get("kind")
        if kind not in KINDS:
            raise EmulatorError(400, "InvalidRequestContent",
                                f"The kind property is required and must be one of {', '.join(sorted(KINDS))}.",
                                "kind")
        tags = body.get("tags")
        if tags is not None and not isinstance(tags, dict):
            raise EmulatorError(400, "InvalidRequestContent", "tags must be an object of string values.", "tags")
        tier = "Premium" if sku["name"].startswith("Premium") else "Standard"
        return self.storage_accounts_create(sub, rg, name, location, {"name": sku["name"], "tier": tier}, kind, tags)

    def update_from_body(self, sub: str, rg: str, name: str, body) -> StorageAccount:
        """Validate a StorageAccounts_Update body (only tags and sku are supported) and apply it."""
        body = body if isinstance(body, dict) else {}
        unsupported = sorted(set(body) - {"tags", "sku"})
        if unsupported:
            raise EmulatorError(400, "NotSupportedByEmulator",
                                f"Updating {', '.join(unsupported)} of a storage account is not supported by the "
                                "Batch AI emulator (tags and sku are).", target=unsupported[0])
        sku = body.get("sku")
        if sku is not None and (not isinstance(sku, dict) or sku.get("name") not in SKU_NAMES):
            raise EmulatorError(400, "SkuNotSupported", "The sku name is not supported.", "sku.name")
        return self.storage_accounts_update(sub, rg, name, body.get("tags"),
                                            {"name": sku["name"], "tier": sku.get("tier", "Standard")}
                                            if sku else None)

    def check_name_from_body(self, body) -> dict:
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise EmulatorError(400, "InvalidRequestContent", "The name property is required.", "name")
        return self.check_name_availability(name)

    # ---- lookups for the file plane -------------------------------------------------------------------------
    def find_by_name(self, name: str) -> StorageAccount | None:
        """The ARM-created account called `name` (names are global), or None."""
        return accounts.find_by_name(self.store, name)

    def keys(self, name: str) -> tuple[str, list[bytes]] | None:
        """(canonical name, decoded keys) of an account the file plane serves, from settings or ARM; else None."""
        return accounts.account_keys(self.store, self.static_accounts(), name)

    def _resource_group(self, sub: str, rg: str):
        group, rec = load(self.store, "resourceGroup", ResourceGroup, ids.resource_group(sub, rg))
        if group is None:
            raise ResourceGroupNotFound(rg)
        return rec

