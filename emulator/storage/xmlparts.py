"""Pieces of the services' XML bodies: elements, metadata, and the paging echo of a listing."""
from __future__ import annotations

from xml.sax.saxutils import escape


def el(name: str, value) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def metadata(values: dict[str, str]) -> str:
    return "<Metadata>" + "".join(el(k, v) for k, v in sorted(values.items())) + "</Metadata>"


def paging(prefix: str | None, marker: str | None, maxresults: int | None, delimiter: str | None = None) -> str:
    """The listing's request echoed back: Prefix, Marker, MaxResults and (blob listings) Delimiter, each if given."""
    out = ""
    if prefix:
        out += el("Prefix", prefix)
    if marker:
        out += el("Marker", marker)
    if maxresults is not None:
        out += el("MaxResults", maxresults)
    if delimiter:
        out += el("Delimiter", delimiter)
    return out
