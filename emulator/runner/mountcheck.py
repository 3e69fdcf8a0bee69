"""Mount checks: a storage mount needs a served account, credentials the storage data plane accepts, and an
existing share, as the service's nodes needed to mount it.

`storage_access_problem` is the one check every mount kind calls (Azure file shares and, with service="blob",
blob containers, of clusters and jobs). It does not compare keys itself: it makes the first
request a node's mount would make (Get Share Properties, signed with the given key, or carrying the given SAS)
and has the Files data plane's own verifier (`files.auth.authenticate`) judge it, with the account's keys looked
up where the data plane looks them up. So a mount succeeds exactly when the data plane would serve its requests.

A failure makes a cluster's nodes unusable with an entry in cluster.errors, and fails a job naming the share, as
the service reported mount failures (the exact code the service used is unverified: MountVolumeFailed).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qsl

from .. import mounts
from ..accounts import account_keys, decode_key
from ..errors import EmulatorError, StorageError
from ..properties import AzureBlobFileSystemReference, AzureFileShareReference, MountVolumes, StorageCredentials
from ..store import Store

# the service version a node's mount speaks (any the data plane accepts would do)
_MOUNT_VERSION = "2019-02-02"


def storage_access_problem(settings, store: Store, account: str, container: str,
                           credentials: StorageCredentials | None, service: str = "file") -> str | None:
    """Why a mount of `account`/`container` with `credentials` ({account_key} or {sas_token}) would be refused by
    the storage data plane, or None if it would be served. `container` is the share (or blob container)."""
    from ..files import auth
    from ..files.names import Target

    credentials = credentials or StorageCredentials()
    found = account_keys(store, settings.accounts(), account or "")
    if found is None:
        return f"storage account '{account}' is not served by this emulator"
    name, keys = found
    key, sas = credentials.account_key, credentials.sas_token
    if not key and not sas:
        return f"no account key or SAS token was given for storage account '{name}'"
    now = datetime.now(timezone.utc)
    if service == "blob":
        return _blob_access_problem(name, keys, container, key, sas, now)
    raw = f"/{name}/{container}"
    environ = {"REQUEST_METHOD": "GET", "HTTP_X_MS_VERSION": _MOUNT_VERSION,
               "HTTP_X_MS_DATE": format_datetime(now, usegmt=True)}
    if key:
        target = Target(raw_path=raw, account=name, share=container, query=[("restype", "share")])
        _sign(environ, name, target, key)
    else:
        query = [("restype", "share")] + parse_qsl(sas.lstrip("?"), keep_blank_values=True)
        target = Target(raw_path=raw, account=name, share=container, query=query)
    if service != "file":
        raise ValueError(f"no data plane verifier for service {service!r}")
    return _refusal(auth, environ, target, name, keys, now)


def _sign(environ: dict, name: str, target, key: str) -> None:
    """Sign the request as a mount's client does (SharedKey over the storage services' string to sign)."""
    from ..files.auth import string_to_sign
    text = string_to_sign(environ, name, target, _MOUNT_VERSION)
    signature = base64.b64encode(hmac.new(decode_key(key), text.encode(), hashlib.sha256).digest()).decode()
    environ["HTTP_AUTHORIZATION"] = f"SharedKey {name}:{signature}"


def _refusal(plane_auth, environ: dict, target, name: str, keys: list[bytes], now: datetime) -> str | None:
    """Why the plane's verifier refuses the request, or None. What a mount does: read and write the share's or
    container's files (container-level access, any of read/list permissions)."""
    access = plane_auth.Access(level="container", perms="rl", service_perms="rl")
    try:
        plane_auth.authenticate(environ, target, name, keys, access, now, "https", "127.0.0.1")
    except StorageError as exc:
        why = exc.message.strip().splitlines()[-1]
        return f"the storage service refused the credentials given for account '{name}' ({exc.code}: {why})"
    return None


def _blob_access_problem(name: str, keys: list[bytes], container: str, key: str | None, sas: str | None,
                         now: datetime) -> str | None:
    """The blob side of storage_access_problem: the List Blobs request blobfuse starts with, judged by the Blob
    data plane's verifier (`blob.auth.authenticate`)."""
    from ..blob import auth as blob_auth
    from ..blob.names import BlobTarget

    raw = f"/{name}/{container}"
    environ = {"REQUEST_METHOD": "GET", "HTTP_X_MS_VERSION": _MOUNT_VERSION,
               "HTTP_X_MS_DATE": format_datetime(now, usegmt=True)}
    query = [("restype", "container"), ("comp", "list")]
    if key:
        target = BlobTarget(raw_path=raw, account=name, container=container, query=query)
        _sign(environ, name, target, key)
    else:
        target = BlobTarget(raw_path=raw, account=name, container=container,
                            query=query + parse_qsl(sas.lstrip("?"), keep_blank_values=True))
    return _refusal(blob_auth, environ, target, name, keys, now)


def blob_container_problem(settings, store: Store, ref: AzureBlobFileSystemReference) -> str | None:
    """Why an azureBlobFileSystems entry cannot be mounted, or None."""
    account, container = ref.account_name, ref.container_name
    problem = storage_access_problem(settings, store, account, container, ref.credentials, service="blob")
    if problem is None:
        try:
            exists = mounts.blob_container_dir(settings.data_dir, account, container).is_dir()
        except EmulatorError:
            exists = False
        if not exists:
            problem = f"blob container '{container}' does not exist in account '{account}'"
    return problem


def file_share_problem(settings, store: Store, ref: AzureFileShareReference) -> str | None:
    """Why an azureFileShares entry cannot be mounted, or None."""
    url = ref.azure_file_url
    try:
        account, share = mounts.parse_file_url(url)
    except EmulatorError as exc:
        return exc.message
    account = account or ref.account_name
    problem = storage_access_problem(settings, store, account, share, ref.credentials)
    if problem is None and not _share_exists(settings.data_dir, account, share):
        problem = f"file share '{share}' does not exist in account '{account}'"
    return problem


def mount_errors(settings, store: Store, mount_volumes: MountVolumes) -> list[dict]:
    """cluster.errors / job errors entries for the volumes of a `mountVolumes` object that cannot be mounted."""
    errors = []
    for share in mount_volumes.azure_file_shares:
        problem = file_share_problem(settings, store, share)
        if problem is not None:
            errors.append(_err(share.azure_file_url, problem))
    for blob in mount_volumes.azure_blob_file_systems:
        problem = blob_container_problem(settings, store, blob)
        if problem is not None:
            where = f"{blob.account_name}/{blob.container_name}"
            errors.append({"code": "MountVolumeFailed",
                           "message": f"Mounting the Azure blob container {where} failed: {problem}.",
                           "details": [{"name": "containerName", "value": blob.container_name},
                                       {"name": "accountName", "value": blob.account_name}]})
    return errors


def cluster_mount_errors(settings, store: Store, cluster) -> list[dict]:
    return mount_errors(settings, store, cluster.props.node_setup.mount_volumes)


def _err(url: str, why: str) -> dict:
    return {"code": "MountVolumeFailed", "message": f"Mounting the Azure file share {url} failed: {why}.",
            "details": [{"name": "azureFileUrl", "value": url}]}


def _share_exists(data_dir, account: str, share: str) -> bool:
    try:
        return mounts.share_dir(data_dir, account, share).is_dir()
    except EmulatorError:
        return False
