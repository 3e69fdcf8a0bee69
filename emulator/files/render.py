"""Storage XML bodies of the file service, shaped as both azure-storage-file 2.1.0 (ElementTree, no namespace,
`int(Content-Length)`) and azure-storage-file-share 12.x parse them."""
from __future__ import annotations

import re
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from . import nfs
from ..storage.xmlparts import el as _el, metadata as _metadata, paging as _paging
from .disk import Entry, etag, http_date, iso7
from .infos import PERMISSION_KEY, NodeInfo, ShareInfo

_HEAD = '<?xml version="1.0" encoding="utf-8"?>'

DEFAULT_SERVICE_PROPERTIES = (
    _HEAD + "<StorageServiceProperties>"
    "<HourMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled>"
    "</RetentionPolicy></HourMetrics>"
    "<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled>"
    "</RetentionPolicy></MinuteMetrics>"
    "<Cors /></StorageServiceProperties>")


_XML_INVALID = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _name(tag: str, value: str) -> str:
    """A name element; names XML cannot carry (U+FFFE...) are sent percent-encoded with Encoded="true"."""
    if _XML_INVALID.search(value):
        return f'<{tag} Encoded="true">{escape(quote(value.encode("utf-8", "surrogatepass"), safe=""))}</{tag}>'
    return _el(tag, value)


def list_shares(endpoint: str, shares: list[ShareInfo], next_marker: str | None, prefix: str | None,
                marker: str | None, maxresults: int | None, with_metadata: bool,
                lease_info: dict[str, dict[str, str]] | None = None) -> bytes:
    parts = [_HEAD, f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)}>",
             _paging(prefix, marker, maxresults), "<Shares>"]
    for s in shares:
        parts.append("<Share>" + _el("Name", s.name) + (_el("Snapshot", s.snapshot) if s.snapshot else "")
                     + "<Properties>" + _el("Last-Modified", http_date(s.last_modified))
                     + _el("Etag", s.etag) + _el("Quota", s.quota) + _el("AccessTier", s.tier)
                     + "".join(_el(nfs.XML_NAMES[k], v) for k, v in s.extra.items() if k in nfs.XML_NAMES)
                     + ("" if s.snapshot else _lease_elements((lease_info or {}).get(s.name))) + "</Properties>")
        if with_metadata:
            parts.append(_metadata(s.metadata))
        parts.append("</Share>")
    parts.append("</Shares>" + _el("NextMarker", next_marker or "") + "</EnumerationResults>")
    return "".join(parts).encode("utf-8")


def _lease_elements(headers: dict[str, str] | None) -> str:
    if not headers:
        return ""
    out = _el("LeaseStatus", headers["x-ms-lease-status"]) + _el("LeaseState", headers["x-ms-lease-state"])
    if "x-ms-lease-duration" in headers:
        out += _el("LeaseDuration", headers["x-ms-lease-duration"])
    return out


def list_directory(endpoint: str, share: str, node: NodeInfo, entries: list[Entry], next_marker: str | None,
                   prefix: str | None, marker: str | None, maxresults: int | None, include: set[str],
                   extended: bool) -> bytes:
    path = node.path if not _XML_INVALID.search(node.path) else quote(node.path.encode("utf-8", "surrogatepass"))
    parts = [_HEAD, f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)} ShareName={quoteattr(share)} "
                    f"DirectoryPath={quoteattr(path)}>",
             (_name("Prefix", prefix) if prefix else "") + _paging(None, marker, maxresults), "<Entries>"]
    timestamps, etags = "timestamps" in include, "etag" in include
    # NFS shares have no SMB attributes or security descriptors to list
    attributes, permission = ("attributes" in include and not node.nfs), ("permissionkey" in include and not node.nfs)
    for e in entries:
        kind = "Directory" if e.is_dir else "File"
        item = f"<{kind}>" + _name("Name", e.name) + _el("FileId", e.st.st_ino)
        props = "" if e.is_dir else _el("Content-Length", e.st.st_size)
        if timestamps:
            props += (_el("CreationTime", iso7(min(e.st.st_mtime_ns, e.st.st_ctime_ns)))
                      + _el("LastAccessTime", iso7(e.st.st_atime_ns)) + _el("LastWriteTime", iso7(e.st.st_mtime_ns))
                      + _el("ChangeTime", iso7(e.st.st_ctime_ns)) + _el("Last-Modified", http_date(e.st.st_mtime)))
        if etags:
            props += _el("Etag", etag(e.st))
        item += f"<Properties>{props}</Properties>" if props else "<Properties />"
        if attributes:
            item += _el("Attributes", "Directory" if e.is_dir else "Archive")
        if permission:
            item += _el("PermissionKey", PERMISSION_KEY)
        parts.append(item + f"</{kind}>")
    parts.append("</Entries>" + _el("NextMarker", next_marker or ""))
    if extended:
        parts.append(_el("DirectoryId", node.st.st_ino))
    parts.append("</EnumerationResults>")
    return "".join(parts).encode("utf-8")


def ranges(found: list[tuple[int, int]], cleared: list[tuple[int, int]] = (), next_marker: str | None = None
           ) -> bytes:
    body = "".join(f"<Range><Start>{s}</Start><End>{e}</End></Range>" for s, e in found)
    body += "".join(f"<ClearRange><Start>{s}</Start><End>{e}</End></ClearRange>" for s, e in cleared)
    if next_marker:
        body += _el("NextMarker", next_marker)
    return (_HEAD + f"<Ranges>{body}</Ranges>").encode()


def share_stats(usage_bytes: int) -> bytes:
    return (_HEAD + f"<ShareStats><ShareUsageBytes>{usage_bytes}</ShareUsageBytes></ShareStats>").encode()


def no_handles() -> bytes:
    return (_HEAD + "<EnumerationResults><Entries /><NextMarker /></EnumerationResults>").encode()


def no_signed_identifiers() -> bytes:
    return (_HEAD + "<SignedIdentifiers />").encode()


def user_delegation_key(fields: dict[str, str], value: str) -> bytes:
    body = (_el("SignedOid", fields["skoid"]) + _el("SignedTid", fields["sktid"]) + _el("SignedStart", fields["skt"])
            + _el("SignedExpiry", fields["ske"]) + _el("SignedService", fields["sks"])
            + _el("SignedVersion", fields["skv"]))
    if fields.get("skdutid"):
        body += _el("SignedDelegatedUserTid", fields["skdutid"])
    return (_HEAD + f"<UserDelegationKey>{body}{_el('Value', value)}</UserDelegationKey>").encode()
