"""NFS and provisioned (premium) shares: which accounts have them, the share properties they carry, and the NFS
properties of files and directories (owner, group, mode, file type, link count).

Accounts: a premium FileStorage account (SKU Premium_LRS / Premium_ZRS) has provisioned v1 shares (IOPS and
bandwidth follow the quota; paid bursting) and may create NFS shares; an account with a provisioned v2 SKU
(StandardV2_* / PremiumV2_*) has shares whose IOPS and bandwidth are set per share (NFS too on PremiumV2). The SKU
comes from ARM for accounts created there, from `--storage-account NAME:KEY:SKU` for the accounts served from
settings (Standard_LRS when absent). Everything else is a standard account: SMB shares only.

Request headers are read in nfs_headers.py (this module has no Flask). NFS properties are stored with the entry's other properties (meta.EntryProps), never applied to the host file:
the emulator runs as root and jobs mount the share, so a mode with a setuid bit or a chown would be real there.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from ..accounts import find_by_name
from ..errors import StorageError
from .disk import http_date

DEFAULT_OWNER, DEFAULT_GROUP = "0", "0"
DEFAULT_FILE_MODE, DEFAULT_DIR_MODE, SYMLINK_MODE = "0664", "0755", "0777"
PREMIUM_DEFAULT_QUOTA_GIB = 100
ROOT_SQUASH = {v.lower(): v for v in ("NoRootSquash", "RootSquash", "AllSquash")}
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


# ---- share properties -------------------------------------------------------------------------------------------


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
    raise StorageError(400, "InvalidHeaderValue", f"The value '{raw}' of header x-ms-mode is invalid: expected "
                       "4-digit octal (0644) or symbolic (rw-r--r--) notation.",
                       {"HeaderName": "x-ms-mode", "HeaderValue": raw})


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
