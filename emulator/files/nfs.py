"""NFS and provisioned (premium) shares: which accounts have them, the share properties they carry, and the NFS
properties of files and directories (owner, group, mode, file type, link count).

Accounts: a premium FileStorage account (SKU Premium_LRS / Premium_ZRS) has provisioned v1 shares (IOPS and
bandwidth follow the quota; paid bursting) and may create NFS shares; an account with a provisioned v2 SKU
(StandardV2_* / PremiumV2_*) has shares whose IOPS and bandwidth are set per share (NFS too on PremiumV2). The SKU
comes from ARM for accounts created there, from `--storage-account NAME:KEY:SKU` for the accounts served from
settings (Standard_LRS when absent). Everything else is a standard account: SMB shares only.

NFS properties are stored with the entry's other properties (meta.EntryProps), never applied to the host file:
the emulator runs as root and jobs mount the share, so a mode with a setuid bit or a chown would be real there.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from flask import request

from ..accounts import find_by_name
from ..errors import StorageError
from ..storage.headers import invalid_header as _invalid, true_or_false
from .disk import http_date

DEFAULT_OWNER, DEFAULT_GROUP = "0", "0"
DEFAULT_FILE_MODE, DEFAULT_DIR_MODE, SYMLINK_MODE = "0664", "0755", "0777"
PREMIUM_DEFAULT_QUOTA_GIB = 100
_ROOT_SQUASH = {v.lower(): v for v in ("NoRootSquash", "RootSquash", "AllSquash")}
_OCTAL_MODE = re.compile(r"^[0-7]{4}$")
_SYMBOLIC_MODE = re.compile(r"^[r-][w-][xsS-][r-][w-][xsS-][r-][w-][xtT-]$")
_DAY = 24 * 3600


@dataclass(frozen=True)
class Profile:
    """What an account's SKU allows: provisioned v1 (premium), v2, or neither (standard, pay as you go)."""
    sku: str

    @property
    def premium_v1(self) -> bool:
        return self.sku.startswith("Premium_")

    @property
    def v2(self) -> bool:
        return "V2_" in self.sku

    @property
    def nfs(self) -> bool:
        return self.premium_v1 or self.sku.startswith("PremiumV2_")


def profile(settings, store, account: str) -> Profile:
    for name, sku in settings.account_skus().items():
        if name.lower() == account.lower():
            return Profile(sku)
    found = find_by_name(store, account)
    sku = (found.sku or {}).get("name", "Standard_LRS") if found is not None else "Standard_LRS"
    return Profile(sku)


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


# ---- share properties -------------------------------------------------------------------------------------------
def share_request(prof: Profile, current: dict | None) -> dict:
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
    nfs = props.get("protocols") == "NFS"
    squash = request.headers.get("x-ms-root-squash")
    if squash is not None:
        value = _ROOT_SQUASH.get(squash.strip().lower())
        if value is None:
            raise _invalid("x-ms-root-squash", squash, "expected NoRootSquash, RootSquash or AllSquash")
        if nfs:
            props["root_squash"] = value
        elif creating or value != "NoRootSquash":
            # Set Share Properties with NoRootSquash (what SMB does anyway) is taken on SMB shares, as the
            # service's own paid-bursting test sends it there; any squashing is refused
            raise unsupported_header("x-ms-root-squash", "root squash applies to NFS shares only")
    elif nfs and creating:
        props["root_squash"] = "NoRootSquash"
    vda = _bool("x-ms-enable-snapshot-virtual-directory-access")
    if vda is not None:
        if not nfs:
            raise unsupported_header("x-ms-enable-snapshot-virtual-directory-access", "it applies to NFS shares")
        props["snapshot_vda"] = vda
    elif nfs and creating:
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


def note_quota(props: dict, old_quota: int | None, new_quota: int | None) -> dict:
    """Record when the quota last went up (premium shares may lower it only a day after)."""
    if new_quota is not None and (old_quota is None or new_quota > old_quota):
        props["quota_raised"] = time.time()
    return props


def _v1(quota: int) -> dict[str, int]:
    # provisioned v1 (premium SSD) formulas of the Azure Files documentation, from the provisioned GiB
    iops = min(3000 + quota, 100000)
    burst = min(max(10000, 3 * quota), 100000)
    ingress = min(40 + math.ceil(0.04 * quota), 4136)
    egress = min(60 + math.ceil(0.06 * quota), 6204)
    return {"iops": iops, "burst": burst, "ingress": ingress, "egress": egress, "mibps": ingress + egress}


def _v2_defaults(prof: Profile, quota: int) -> dict[str, int]:
    # provisioned v2 recommendations of the Azure Files documentation (HDD: StandardV2, SSD: PremiumV2)
    if prof.sku.startswith("StandardV2"):
        return {"iops": min(1000 + math.ceil(0.2 * quota), 50000), "mibps": min(60 + math.ceil(0.02 * quota), 5120)}
    return {"iops": min(3000 + quota, 102400), "mibps": min(100 + math.ceil(0.1 * quota), 10340)}


def share_fields(prof: Profile, quota: int, props: dict, created: float) -> dict[str, object]:
    """The share's protocol and provisioning properties by header name (XML listings use the same values)."""
    out: dict[str, object] = {}
    protocols = props.get("protocols", "SMB")
    out["x-ms-enabled-protocols"] = protocols
    if protocols == "NFS":
        out["x-ms-root-squash"] = props.get("root_squash", "NoRootSquash")
        out["x-ms-enable-snapshot-virtual-directory-access"] = "true" if props.get("snapshot_vda", True) else "false"
    if prof.premium_v1:
        v1 = _v1(quota)
        out.update({"x-ms-share-provisioned-iops": v1["iops"], "x-ms-share-provisioned-ingress-mbps": v1["ingress"],
                    "x-ms-share-provisioned-egress-mbps": v1["egress"],
                    "x-ms-share-provisioned-bandwidth-mibps": v1["mibps"],
                    "x-ms-share-next-allowed-quota-downgrade-time":
                        http_date(props.get("quota_raised", created) + _DAY)})
        out["x-ms-share-paid-bursting-enabled"] = "true" if props.get("paid_bursting") else "false"
        if props.get("paid_bursting"):
            out["x-ms-share-paid-bursting-max-bandwidth-mibps"] = props.get("paid_bursting_mibps", 10340)
            out["x-ms-share-paid-bursting-max-iops"] = props.get("paid_bursting_iops", 102400)
    elif prof.v2:
        defaults = _v2_defaults(prof, quota)
        iops, mibps = props.get("iops", defaults["iops"]), props.get("mibps", defaults["mibps"])
        burst = min(max(3 * iops, 5000 if prof.sku.startswith("StandardV2") else 10000), 102400)
        out.update({"x-ms-share-provisioned-iops": iops, "x-ms-share-provisioned-bandwidth-mibps": mibps,
                    "x-ms-share-included-burst-iops": burst,
                    "x-ms-share-max-burst-credits-for-iops": max(burst - iops, 0) * 3600,
                    "x-ms-share-next-allowed-quota-downgrade-time":
                        http_date(props.get("quota_raised", created) + _DAY),
                    "x-ms-share-next-allowed-provisioned-iops-downgrade-time":
                        http_date(props.get("iops_raised", created) + _DAY),
                    "x-ms-share-next-allowed-provisioned-bandwidth-downgrade-time":
                        http_date(props.get("mibps_raised", created) + _DAY)})
    return out


# List Shares' <Properties> element names for the same values
XML_NAMES = {"x-ms-enabled-protocols": "EnabledProtocols", "x-ms-root-squash": "RootSquash",
             "x-ms-enable-snapshot-virtual-directory-access": "EnableSnapshotVirtualDirectoryAccess",
             "x-ms-share-provisioned-iops": "ProvisionedIops",
             "x-ms-share-provisioned-ingress-mbps": "ProvisionedIngressMBps",
             "x-ms-share-provisioned-egress-mbps": "ProvisionedEgressMBps",
             "x-ms-share-provisioned-bandwidth-mibps": "ProvisionedBandwidthMiBps",
             "x-ms-share-next-allowed-quota-downgrade-time": "NextAllowedQuotaDowngradeTime",
             "x-ms-share-paid-bursting-enabled": "PaidBurstingEnabled",
             "x-ms-share-paid-bursting-max-bandwidth-mibps": "PaidBurstingMaxBandwidthMibps",
             "x-ms-share-paid-bursting-max-iops": "PaidBurstingMaxIops",
             "x-ms-share-included-burst-iops": "IncludedBurstIops",
             "x-ms-share-max-burst-credits-for-iops": "MaxBurstCreditsForIops",
             "x-ms-share-next-allowed-provisioned-iops-downgrade-time": "NextAllowedProvisionedIopsDowngradeTime",
             "x-ms-share-next-allowed-provisioned-bandwidth-downgrade-time":
                 "NextAllowedProvisionedBandwidthDowngradeTime"}


# ---- files and directories --------------------------------------------------------------------------------------
_NFS_HEADERS = ("x-ms-owner", "x-ms-group", "x-ms-mode", "x-ms-file-mode-copy-mode", "x-ms-file-owner-copy-mode")
_SMB_HEADERS = ("x-ms-file-permission", "x-ms-file-permission-key", "x-ms-file-attributes",
                "x-ms-file-permission-copy-mode", "x-ms-file-copy-ignore-readonly", "x-ms-file-copy-set-archive")


def check_protocol_headers(nfs: bool) -> None:
    """NFS-only headers on an SMB share, and SMB-only ones on an NFS share, are refused before anything changes."""
    for name in (_SMB_HEADERS if nfs else _NFS_HEADERS):
        if request.headers.get(name) is not None:
            raise unsupported_header(name, f"it applies to {'SMB' if nfs else 'NFS'} shares and this share is "
                                     f"{'NFS' if nfs else 'SMB'}")


def mode_value(raw: str) -> str:
    """A mode in 4-digit octal (0755) or symbolic (rwxr-xr-x) notation, as 4-digit octal."""
    value = raw.strip()
    if _OCTAL_MODE.match(value):
        return value
    if _SYMBOLIC_MODE.match(value):
        bits, special = 0, 0
        for i, ch in enumerate(value):
            bit = 1 << (8 - i)
            if ch in "rwxst":
                bits |= bit
            if ch in "sStT":
                special |= {2: 4, 5: 2, 8: 1}[i]
        return f"{special}{bits >> 6 & 7}{bits >> 3 & 7}{bits & 7}"
    raise _invalid("x-ms-mode", raw, "expected 4-digit octal (0644) or symbolic (rw-r--r--) notation")


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
            "mode": mode_value(raw_mode) if raw_mode is not None else None}


def apply(props, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is not None:
            setattr(props, key, value)


def file_type(node) -> str:
    if node.is_dir:
        return "Directory"
    return "SymLink" if node.props.link_text is not None else "Regular"


def node_headers(node) -> dict[str, str]:
    """The NFS properties of a file or directory on an NFS share."""
    p = node.props
    default_mode = DEFAULT_DIR_MODE if node.is_dir else (SYMLINK_MODE if p.link_text is not None
                                                         else DEFAULT_FILE_MODE)
    out = {"x-ms-mode": p.mode or default_mode, "x-ms-owner": p.owner or DEFAULT_OWNER,
           "x-ms-group": p.group or DEFAULT_GROUP, "x-ms-file-file-type": file_type(node)}
    if not node.is_dir:
        out["x-ms-link-count"] = str(node.st.st_nlink)
    return out
