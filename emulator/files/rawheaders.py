"""Metadata names keep their case: Azure stores `x-ms-meta-UP` as `UP`, but WSGI folds header names into
upper-case environ keys. Under cheroot, a header reader records the names of x-ms-meta-* headers exactly as sent
in one extra header (X-Emulator-Meta-Names, which a client cannot set: any it sends is dropped), and
httpio.metadata() takes the case from there. Under other servers metadata names arrive lower-cased, as before.
"""
from __future__ import annotations

import threading

NAMES_HEADER = b"X-Emulator-Meta-Names"
ENVIRON_KEY = "HTTP_X_EMULATOR_META_NAMES"
_PREFIX = b"x-ms-meta-"


def install() -> None:
    """Wrap cheroot's header reader once (process-wide: the emulator's own servers are cheroot's only users)."""
    try:
        from cheroot import server
    except ImportError:
        return
    current = server.HTTPRequest.header_reader
    if getattr(current, "keeps_meta_case", False):
        return
    base = type(current)
    local = threading.local()

    def transform(self, key_name):
        raw = key_name.strip()
        if raw[:len(_PREFIX)].lower() == _PREFIX:
            getattr(local, "names", []).append(raw[len(_PREFIX):])
        return base._transform_key(self, key_name)

    def call(self, rfile, hdict=None):
        local.names = []
        hdict = base.__call__(self, rfile, hdict)
        hdict.pop(NAMES_HEADER, None)
        if local.names:
            hdict[NAMES_HEADER] = b",".join(local.names)
        return hdict

    reader = type("MetaCaseHeaderReader", (base,), {"_transform_key": transform, "__call__": call,
                                                    "keeps_meta_case": True})()
    reader.__dict__.update(getattr(current, "__dict__", {}))
    server.HTTPRequest.header_reader = reader


def original_names(environ: dict) -> dict[str, str]:
    """{lower-case name with '_' for '-': name as sent} for the request's metadata headers."""
    raw = environ.get(ENVIRON_KEY) or ""
    return {n.lower().replace("-", "_"): n for n in raw.split(",") if n}
