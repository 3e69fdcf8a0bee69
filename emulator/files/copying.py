"""Copy File and Put Range From URL: the source is a file of a share this emulator serves, named by URL.

The source is authorised as the service does: a SAS in the source URL (verified like any SAS, for read), a
bearer token in x-ms-copy-source-authorization, or, within the same account, the request's own SharedKey or
token. Sources on other hosts are never fetched (the emulator reaches no network): they answer
CannotVerifyCopySource. Copies complete before the response (x-ms-copy-status: success), so there is never a
pending copy to abort.
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from ..errors import StorageError
from . import auth, snapshots
from .auth import Access
from .names import host_account, parse_url

READ = Access("object", "r", "r", True)


def cannot_verify(why: str, source_status: int | None = None, source_code: str | None = None) -> StorageError:
    """403 CannotVerifyCopySource; with the status and error code the source itself answered (as headers)."""
    err = StorageError(403, "CannotVerifyCopySource", f"The copy source could not be verified: {why}.")
    if source_status is not None:
        err.headers = {"x-ms-copy-source-status-code": str(source_status),
                       "x-ms-copy-source-error-code": source_code or ""}
    return err


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
        if not source_auth.lower().startswith("bearer ") or verify_token is None \
                or not verify_token(source_auth[7:].strip()):
            raise cannot_verify("x-ms-copy-source-authorization is not a bearer token the emulator issued")
    elif account != dest_account or principal.scheme == "SAS" or not same_account:
        raise cannot_verify("the source needs its own SAS (or x-ms-copy-source-authorization)", 401,
                            "NoAuthenticationInformation")
    share = target.share
    snap = target.arg("sharesnapshot") or target.arg("snapshot")
    if snap:
        share = f"{share}@{snapshots.check_id(snap)}"
    return account, share, target.parts
