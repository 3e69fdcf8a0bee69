"""Mount checks at node allocation: an Azure file share needs a known account, the right key and an existing
share, as the service's nodes needed to mount it. A failure makes the cluster's nodes unusable with an entry in
cluster.errors, as the service reported mount failures (the exact code the service used is unverified).
"""
from __future__ import annotations

from .. import mounts
from ..errors import EmulatorError
from ..store import Store


def known_accounts(settings, store: Store) -> dict[str, set[str]]:
    """Account name -> its valid keys: the configured accounts and those created through ARM."""
    out = {name: {key} for name, key in settings.accounts().items()}
    for rec in store.list("storageAccount"):
        out.setdefault(rec.name, set()).update(k for k in rec.body.get("keys", []) if isinstance(k, str))
    return out


def mount_errors(settings, store: Store, cluster) -> list[dict]:
    node_setup = cluster.spec.get("node_setup") or {}
    shares = (node_setup.get("mount_volumes") or {}).get("azure_file_shares") or []
    if not shares:
        return []
    accounts = known_accounts(settings, store)
    errors = []
    for ref in shares:
        url = ref.get("azure_file_url", "")
        try:
            account, share = mounts.parse_file_url(url)
        except EmulatorError as exc:
            errors.append(_err(url, exc.message))
            continue
        account = account or ref.get("account_name")
        key = (ref.get("credentials") or {}).get("account_key")
        if account not in accounts:
            errors.append(_err(url, f"storage account '{account}' is not served by this emulator"))
        elif key is not None and key not in accounts[account]:
            errors.append(_err(url, f"the account key given for '{account}' is wrong"))
        elif not _share_exists(settings.data_dir, account, share):
            errors.append(_err(url, f"file share '{share}' does not exist in account '{account}'"))
    return errors


def _err(url: str, why: str) -> dict:
    return {"code": "MountVolumeFailed", "message": f"Mounting the Azure file share {url} failed: {why}.",
            "details": [{"name": "azureFileUrl", "value": url}]}


def _share_exists(data_dir, account: str, share: str) -> bool:
    try:
        return mounts.share_dir(data_dir, account, share).is_dir()
    except EmulatorError:
        return False
