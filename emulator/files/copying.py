"""Copy File and Put Range From URL: the source is a file of a share this emulator serves, named by URL (path or
host style), or for Put Range From URL also a blob of its Blob plane (`<account>.blob.<suffix>` or its Blob port).

The source is authorised as the service does: a SAS in the source URL (verified like any SAS, for read), a
bearer token in x-ms-copy-source-authorization, or, within the same account, the request's own SharedKey or
token. Sources on other hosts are never fetched (the emulator reaches no network): they answer
CannotVerifyCopySource. Copies within an account complete before the response (x-ms-copy-status: success);
large ones between accounts are pending (pending.py).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from ..blob import auth as blob_auth
from ..blob.names import parse_target as parse_blob_target
from ..errors import StorageError
from . import auth, snapshots
from .auth import Access
from .names import host_account, parse_url

READ = Access("object", "r", "r", True)
BLOB_READ = blob_auth.Access("object", "r", "r", True, "blob")
_BLOB_HOST = re.compile(r"^([a-z0-9]{3,24})\.blob\.", re.IGNORECASE)


def cannot_verify(why: str, source_status: int | None = None, source_code: str | None = None) -> StorageError:
    """403 CannotVerifyCopySource; with the status and error code the source itself answered (as headers)."""
    err = StorageError(403, "CannotVerifyCopySource", f"The copy source could not be verified: {why}.")
    if source_status is not None:
        err.headers = {"x-ms-copy-source-status-code": str(source_status),
                       "x-ms-copy-source-error-code": source_code or ""}
    return err


def _check_bearer(source_auth: str, verify_token) -> None:
    """x-ms-copy-source-authorization must be a bearer token the emulator issued."""
    if not source_auth.lower().startswith("bearer ") or verify_token is None \
            or not verify_token(source_auth[7:].strip()):
        raise cannot_verify("x-ms-copy-source-authorization is not a bearer token the emulator issued")


def resolve_source(files, dest_account: str, principal, url: str, source_auth: str | None,
                   allow_trailing_dot: bool, remote_addr: str, request_host: str, verify_token=None,
                   same_account: bool = True):
    """(account, share key, parts) of a copy source URL after checking the caller may read it. The share key is
    `share@<id>` for a source in a snapshot. `same_account`: whether the request's own credential authorises a
    source in its own account (Copy File: yes; Put Range From URL: no, the source needs its own SAS or token)."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StorageError(400, "InvalidHeaderValue", "The copy source must be an absolute http(s) URL.",
                           {"HeaderName": "x-ms-copy-source"})
    host = (parsed.hostname or "").lower()
    # `<account>.file.<suffix>` names an account of this emulator (host style, as through its HTTPS proxy)
    if host not in ("127.0.0.1", "localhost", "::1", request_host.split(":")[0].lower()) \
            and host_account(host) is None:
        raise cannot_verify(f"the emulator reads copy sources only from itself, not from {parsed.netloc}")
    target = parse_url(url)
    served = files.account(target.account)
    if served is None or target.share is None or not target.parts:
        raise cannot_verify("the URL does not name a file of an account this emulator serves")
    account, keys = served
    if not allow_trailing_dot:
        target.parts = [p.rstrip(".") for p in target.parts]
    sas = {k: v for k, v in target.query if k in auth.SAS_FIELDS}
    if "sig" in sas:
        try:
            auth.verify_sas(sas, account, keys, target, READ, datetime.now(timezone.utc),
                            parsed.scheme, remote_addr)
        except StorageError as err:
            raise cannot_verify(err.message.splitlines()[-1], err.status, err.code) from None
    elif source_auth:
        _check_bearer(source_auth, verify_token)
    elif account != dest_account or principal.scheme == "SAS" or not same_account:
        raise cannot_verify("the source needs its own SAS (or x-ms-copy-source-authorization)", 401,
                            "NoAuthenticationInformation")
    share = target.share
    snap = target.arg("sharesnapshot") or target.arg("snapshot")
    if snap:
        share = f"{share}@{snapshots.check_id(snap)}"
    return account, share, target.parts


def blob_source(blobs, url: str, source_auth: str | None, remote_addr: str, blob_port: int | None,
                verify_token=None) -> tuple[str, str, str] | None:
    """(account, container, blob) when the source URL names a blob of this emulator (host style
    `<account>.blob.<suffix>`, or path style on its Blob port), after checking the caller may read it: a SAS in
    the URL, a bearer token in x-ms-copy-source-authorization, or a container open to anonymous reads; None when
    the URL is not a blob URL."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").lower()
    m = _BLOB_HOST.match(host)
    on_blob_port = host in ("127.0.0.1", "localhost", "::1") and blob_port is not None and parsed.port == blob_port
    if not m and not on_blob_port:
        return None
    try:
        target = parse_blob_target(parsed.path + ("?" + parsed.query if parsed.query else ""),
                                   m.group(1).lower() if m else None)
    except StorageError:
        target = None
    served = blobs.account(target.account) if target is not None else None
    if served is None or target.container is None or target.blob is None:
        raise cannot_verify("the URL does not name a blob of an account this emulator serves")
    account, keys = served
    sas = {k: v for k, v in target.query if k in auth.SAS_FIELDS}
    if "sig" in sas:
        try:
            blob_auth.verify_sas(sas, account, keys, target, BLOB_READ, datetime.now(timezone.utc), parsed.scheme,
                                 remote_addr, blobs.public_access(account, target.container)[1])
        except StorageError as err:
            raise cannot_verify(err.message.splitlines()[-1], err.status, err.code) from None
    elif source_auth:
        _check_bearer(source_auth, verify_token)
    elif blobs.public_access(account, target.container)[0] not in ("blob", "container"):
        raise cannot_verify("the source needs its own SAS (or x-ms-copy-source-authorization)", 401,
                            "NoAuthenticationInformation")
    return account, target.container, target.blob
