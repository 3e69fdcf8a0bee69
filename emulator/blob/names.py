"""The request target of a Blob request, parsed from the raw URI, and Azure Blob naming rules.

Two shapes reach the plane (views.py tells them apart before parsing):
  path style, on the Blob port:       /<account>/<container>/<blob name>
  host style (Host: <account>.blob.*): /<container>/<blob name>
The raw path is kept for SharedKey, which signs it exactly as sent. A blob name is everything after the
container segment, percent-decoded as a whole: "/" inside it (sent raw or as %2F) is part of the name, so `a//b`
and `dir/` are names like any other. Names whose "." or ".." segments would read as a way out of the container
(also when spelled %2E%2E) are refused with 400; so are control characters, which no file system or XML listing
can carry.

Where a name lives on disk (placement): a name that is a clean relative path (no empty, "." or ".." segments, each
segment at most 255 bytes) is stored as that path under the container's directory, so a mount shows it; any other
name is stored aside, by its hash, outside the mounted directory (served over REST, never visible in a mount).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import StorageError
from ..storage.names import query_arg
from ..files.names import parse_query, raw_request_uri

__all__ = ["BlobTarget", "parse_target", "raw_request_uri", "check_container_name", "path_parts", "MAX_NAME"]

CONTAINER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
MAX_NAME = 1024
MAX_SEGMENT_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class BlobTarget:
    """What a request names: account, optional container and blob name (decoded), plus the raw URI pieces."""
    raw_path: str                   # path exactly as sent (signed by SharedKey)
    account: str
    container: str | None = None
    blob: str | None = None
    query: list[tuple[str, str]] = field(default_factory=list)

    def arg(self, name: str) -> str | None:
        return query_arg(self.query, name)


def _decode(raw: str) -> str:
    from urllib.parse import unquote_to_bytes
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise StorageError(400, "InvalidUri", "The request URI contains a percent-encoded sequence that is not "
                           "UTF-8.") from None


def parse_target(raw_uri: str, host_account: str | None) -> BlobTarget:
    """Parse `raw_uri`; `host_account` is the account of a host-style request (None for path style)."""
    raw_path, _, raw_query = raw_uri.partition("?")
    if not raw_path.startswith("/"):
        raise StorageError(400, "InvalidUri", "The request URI must be an absolute path.")
    rest = raw_path[1:]
    if host_account is None:
        first, _, rest = rest.partition("/")
        account = _decode(first)
    else:
        account = host_account
    target = BlobTarget(raw_path=raw_path, account=account, query=parse_query(raw_query))
    container_raw, slash, blob_raw = rest.partition("/")
    if container_raw == "":
        if blob_raw:
            raise StorageError(400, "InvalidUri", "The request URI has an empty container segment.")
        return target
    target.container = _decode(container_raw)
    if slash and blob_raw:
        target.blob = _decode(blob_raw)
        check_blob_name(target.blob)
    return target


def check_container_name(name: str) -> None:
    if name.startswith("$"):
        raise StorageError(400, "NotSupportedByEmulator", f"The system container '{name}' ($root, $logs, $web) "
                           "is not supported by the Batch AI emulator's blob service.")
    if not CONTAINER_NAME.match(name):
        raise StorageError(400, "InvalidResourceName", f"The container name '{name}' is invalid: use 3-63 "
                           "lower-case letters, digits and single hyphens, starting and ending with a letter or "
                           "digit.")


def check_blob_name(name: str) -> None:
    if len(name) > MAX_NAME:
        raise StorageError(400, "InvalidResourceName", f"The blob name is {len(name)} characters long; the "
                           f"limit is {MAX_NAME}.")
    if _CONTROL.search(name):
        raise StorageError(400, "InvalidResourceName", "The blob name contains a control character.")
    if any(seg in (".", "..") for seg in name.split("/")):
        raise StorageError(400, "InvalidResourceName", f"The blob name '{name}' has a '.' or '..' segment; the "
                           "emulator refuses such names rather than guess how they resolve.")


def path_parts(name: str) -> list[str] | None:
    """The directory components of a name that can be a file under the container directory, else None."""
    parts = name.split("/")
    for p in parts:
        if p in ("", ".", "..") or len(p.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return None
    return parts
