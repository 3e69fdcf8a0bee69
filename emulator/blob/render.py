"""Storage XML bodies of the blob service, shaped as azure-storage-blob 12.x (msrest-style deserializer) and the
legacy 2.1.0 (ElementTree) parse them."""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from ..files.disk import http_date
from ..storage.xmlparts import el as _el, metadata as _metadata, paging as _paging
from .plane import BlobInfo, ContainerInfo

_HEAD = '<?xml version="1.0" encoding="utf-8"?>'

DEFAULT_SERVICE_PROPERTIES = (
    _HEAD + "<StorageServiceProperties>"
    "<Logging><Version>1.0</Version><Read>false</Read><Write>false</Write><Delete>false</Delete>"
    "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></Logging>"
    "<HourMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled>"
    "</RetentionPolicy></HourMetrics>"
    "<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled>"
    "</RetentionPolicy></MinuteMetrics>"
    "<Cors /><DeleteRetentionPolicy><Enabled>false</Enabled></DeleteRetentionPolicy>"
    "<StaticWebsite><Enabled>false</Enabled></StaticWebsite></StorageServiceProperties>")


def _opt(name: str, value) -> str:
    return _el(name, value) if value not in (None, "") else f"<{name} />"


def list_containers(endpoint: str, items: list[ContainerInfo], next_marker, prefix, marker, maxresults,
                    with_metadata: bool) -> bytes:
    parts = [_HEAD, f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)}>",
             _paging(prefix, marker, maxresults), "<Containers>"]
    for c in items:
        parts.append("<Container>" + _el("Name", c.name) + "<Properties>"
                     + _el("Last-Modified", http_date(c.last_modified)) + _el("Etag", c.etag)
                     + "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                     + (_el("PublicAccess", c.public) if c.public else "")
                     + "<HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold>"
                     + "</Properties>")
        if with_metadata:
            parts.append(_metadata(c.metadata))
        parts.append("</Container>")
    parts.append("</Containers>" + _el("NextMarker", next_marker or "") + "</EnumerationResults>")
    return "".join(parts).encode("utf-8")


def blob_properties_xml(b: BlobInfo, with_copy: bool) -> str:
    p = b.props
    out = ("<Properties>" + _el("Creation-Time", http_date(b.created)) + _el("Last-Modified", http_date(b.st.st_mtime))
           + _el("Etag", b.etag) + _el("Content-Length", b.size)
           + _el("Content-Type", p.content_type or "application/octet-stream")
           + _opt("Content-Encoding", p.content_encoding) + _opt("Content-Language", p.content_language)
           + _opt("Content-MD5", p.content_md5) + _opt("Content-Disposition", p.content_disposition)
           + _opt("Cache-Control", p.cache_control)
           + "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>"
           + "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
           + "<ServerEncrypted>true</ServerEncrypted>")
    if with_copy and p.copy:
        out += (_el("CopyId", p.copy["id"]) + "<CopyStatus>success</CopyStatus>" + _el("CopySource", p.copy["source"])
                + _el("CopyProgress", f"{p.copy.get('length', b.size)}/{p.copy.get('length', b.size)}")
                + _el("CopyCompletionTime", http_date(p.copy["completed"])))
    return out + "</Properties>"


def list_blobs(endpoint: str, container: str, blobs: list[BlobInfo], prefixes: list[str], next_marker, prefix,
               marker, maxresults, delimiter, include: set[str]) -> bytes:
    parts = [_HEAD, f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)} "
                    f"ContainerName={quoteattr(container)}>",
             _paging(prefix, marker, maxresults, delimiter), "<Blobs>"]
    entries = [(b.name, "b", b) for b in blobs] + [(p, "p", None) for p in prefixes]
    for name, kind, b in sorted(entries, key=lambda e: e[0]):
        if kind == "p":
            parts.append("<BlobPrefix>" + _el("Name", name) + "</BlobPrefix>")
            continue
        parts.append("<Blob>" + _el("Name", name) + blob_properties_xml(b, "copy" in include))
        if "metadata" in include:
            parts.append(_metadata(b.props.metadata))
        parts.append("</Blob>")
    parts.append("</Blobs>" + _el("NextMarker", next_marker or "") + "</EnumerationResults>")
    return "".join(parts).encode("utf-8")


def block_list(committed: list, uncommitted: list, which: str) -> bytes:
    def blocks(items) -> str:
        return "".join("<Block>" + _el("Name", i) + _el("Size", s) + "</Block>" for i, s in items)
    out = _HEAD + "<BlockList>"
    if which in ("committed", "all"):
        out += "<CommittedBlocks>" + blocks(committed) + "</CommittedBlocks>"
    if which in ("uncommitted", "all"):
        out += "<UncommittedBlocks>" + blocks(uncommitted) + "</UncommittedBlocks>"
    return (out + "</BlockList>").encode("utf-8")


def signed_identifiers(acl: list[dict]) -> bytes:
    out = _HEAD + "<SignedIdentifiers>"
    for p in acl:
        out += "<SignedIdentifier>" + _el("Id", p["id"]) + "<AccessPolicy>"
        for key, tag in (("start", "Start"), ("expiry", "Expiry"), ("permission", "Permission")):
            if p.get(key):
                out += _el(tag, p[key])
        out += "</AccessPolicy></SignedIdentifier>"
    return (out + "</SignedIdentifiers>").encode("utf-8")
