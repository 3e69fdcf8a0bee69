"""The request headers of NFS and provisioned shares (nfs.py has the rules and values; this module reads and
checks what a request carries, before anything changes)."""
from __future__ import annotations

import time

from flask import request

from ..errors import StorageError
from ..storage.headers import invalid_header as _invalid, true_or_false
from . import nfs

_NFS_HEADERS = ("x-ms-owner", "x-ms-group", "x-ms-mode", "x-ms-file-mode-copy-mode", "x-ms-file-owner-copy-mode")
_SMB_HEADERS = ("x-ms-file-permission", "x-ms-file-permission-key", "x-ms-file-attributes",
                "x-ms-file-permission-copy-mode", "x-ms-file-copy-ignore-readonly", "x-ms-file-copy-set-archive")


def unsupported_header(name: str, why: str) -> StorageError:
    # Unverified code for each case: UnsupportedHeader is the service's code for a header an operation does not take
    return StorageError(400, "UnsupportedHeader", f"The header {name} is not supported here: {why}.",
                        {"HeaderName": name, "HeaderValue": request.headers.get(name) or ""})


def _int(name: str, lo: int, hi: int) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or not lo <= int(raw) <= hi:
        raise _invalid(name, raw, f"expected an integer from {lo} to {hi}")
    return int(raw)


def _bool(name: str) -> bool | None:
    raw = request.headers.get(name)
    return None if raw is None else true_or_false(name, raw)


def share_request(prof: nfs.Profile, current: dict | None) -> dict:
    """The protocol / provisioning properties a Create Share (current None) or Set Share Properties request sets,
    checked against the account and the share: the updated property dict."""
    props = dict(current or {})
    creating = current is None
    if creating:
        raw = (request.headers.get("x-ms-enabled-protocols") or "SMB").strip().upper()
        if raw not in ("SMB", "NFS"):
            raise _invalid("x-ms-enabled-protocols", raw, "expected SMB or NFS")
        if raw == "NFS" and not prof.nfs:
            raise StorageError(400, "FeatureNotSupportedOnStorageAccount", "NFS shares need a premium FileStorage "
                               f"account; this account's SKU is {prof.sku}.")
        props["protocols"] = raw
    elif request.headers.get("x-ms-enabled-protocols") is not None:
        raise unsupported_header("x-ms-enabled-protocols", "a share's protocol is set when it is created")
    is_nfs = props.get("protocols") == "NFS"
    squash = request.headers.get("x-ms-root-squash")
    if squash is not None:
        value = nfs.ROOT_SQUASH.get(squash.strip().lower())
        if value is None:
            raise _invalid("x-ms-root-squash", squash, "expected NoRootSquash, RootSquash or AllSquash")
        if is_nfs:
            props["root_squash"] = value
        elif creating or value != "NoRootSquash":
            # Set Share Properties with NoRootSquash (what SMB does anyway) is taken on SMB shares, as the
            # service's own paid-bursting test sends it there; any squashing is refused
            raise unsupported_header("x-ms-root-squash", "root squash applies to NFS shares only")
    elif is_nfs and creating:
        props["root_squash"] = "NoRootSquash"
    vda = _bool("x-ms-enable-snapshot-virtual-directory-access")
    if vda is not None:
        if not is_nfs:
            raise unsupported_header("x-ms-enable-snapshot-virtual-directory-access", "it applies to NFS shares")
        props["snapshot_vda"] = vda
    elif is_nfs and creating:
        props["snapshot_vda"] = True
    bursting = _bool("x-ms-share-paid-bursting-enabled")
    burst_mibps = _int("x-ms-share-paid-bursting-max-bandwidth-mibps", 0, 10340)
    burst_iops = _int("x-ms-share-paid-bursting-max-iops", 0, 102400)
    if (bursting, burst_mibps, burst_iops) != (None, None, None):
        if not prof.premium_v1:
            raise unsupported_header("x-ms-share-paid-bursting-enabled", "paid bursting is a feature of premium "
                                     f"(provisioned v1) shares; this account's SKU is {prof.sku}")
        if bursting is not None:
            props["paid_bursting"] = bursting
        if (burst_mibps is not None or burst_iops is not None) and not props.get("paid_bursting"):
            raise _invalid("x-ms-share-paid-bursting-enabled", str(bursting), "paid bursting limits need paid "
                           "bursting enabled")
        if burst_mibps is not None:
            props["paid_bursting_mibps"] = burst_mibps
        if burst_iops is not None:
            props["paid_bursting_iops"] = burst_iops
    iops = _int("x-ms-share-provisioned-iops", 0, 102400)
    mibps = _int("x-ms-share-provisioned-bandwidth-mibps", 0, 10340)
    if iops is not None or mibps is not None:
        if not prof.v2:
            raise unsupported_header("x-ms-share-provisioned-iops" if iops is not None else
                                     "x-ms-share-provisioned-bandwidth-mibps", "provisioned IOPS and bandwidth are "
                                     f"set on provisioned v2 accounts; this account's SKU is {prof.sku}")
        now = time.time()
        for key, value in (("iops", iops), ("mibps", mibps)):
            if value is not None:
                if value > props.get(key, 0):
                    props[f"{key}_raised"] = now
                props[key] = value
    return props


def check_protocol_headers(is_nfs: bool) -> None:
    """NFS-only headers on an SMB share, and SMB-only ones on an NFS share, are refused before anything changes."""
    for name in (_SMB_HEADERS if is_nfs else _NFS_HEADERS):
        if request.headers.get(name) is not None:
            raise unsupported_header(name, f"it applies to {'SMB' if is_nfs else 'NFS'} shares and this share is "
                                     f"{'NFS' if is_nfs else 'SMB'}")


def _id(name: str) -> str | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) > 0xFFFFFFFF:
        raise _invalid(name, raw, "expected a numeric id from 0 to 4294967295")
    return str(int(raw))


def node_request() -> dict[str, str | None]:
    """x-ms-owner / x-ms-group / x-ms-mode of a request (None where absent)."""
    raw_mode = request.headers.get("x-ms-mode")
    return {"owner": _id("x-ms-owner"), "group": _id("x-ms-group"),
            "mode": nfs.mode_value(raw_mode) if raw_mode is not None else None}
