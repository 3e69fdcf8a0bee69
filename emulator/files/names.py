"""The request target of a file-plane request, parsed from the raw URI, and Azure Files naming rules.

The raw request URI (cheroot's REQUEST_URI, or RAW_URI/REQUEST_URI of other WSGI servers) is kept for SharedKey,
which signs the path exactly as sent. For naming, every segment is percent-decoded (UTF-8, strict) and split
again on "/": azure-storage-file-share 12.x sends a directory path's slashes as "%2F", and the service treats them
as separators. Only then are the components checked, so ".." spelled "%2E%2E" or hidden behind "%2F" is still
"..". Anything that could name a place outside the share (".", "..", empty components, backslashes, NUL and other
control characters) is refused with 400 before the disk is touched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from ..errors import StorageError
from ..storage.names import query_arg

SHARE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
ACCOUNT_SEGMENT = re.compile(r"^[A-Za-z0-9]{1,64}$")
# host style: `<account>.file.<suffix>` (core.windows.net, a sovereign cloud's suffix: the account decides)
FILE_HOST = re.compile(r"^([a-z0-9]{3,24})\.file\.", re.IGNORECASE)
# characters Azure Files refuses in directory and file names (and every control character)
_BAD_CHARS = set('"\\/:|<>*?') | {chr(c) for c in range(0x20)}
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL", "CLOCK$"} | {f"COM{i}" for i in range(1, 10)} \
    | {f"LPT{i}" for i in range(1, 10)}
MAX_COMPONENT = 255
MAX_PATH = 2048
MAX_DEPTH = 250


@dataclass
class Target:
    """What a request names: the account segment, an optional share and path parts (decoded), plus the raw URI."""
    raw_path: str                    # path exactly as sent, percent-encoding kept (signed by SharedKey)
    account: str                     # first segment (decoded), or the account of the host name (host style)
    share: str | None = None
    parts: list[str] = field(default_factory=list)
    query: list[tuple[str, str]] = field(default_factory=list)   # decoded (name, value) pairs, in order

    @property
    def path(self) -> str:
        return "/".join(self.parts)

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter (names compared case-insensitively, as the service does)."""
        return query_arg(self.query, name)


def invalid_uri(message: str) -> StorageError:
    return StorageError(400, "InvalidUri", message)


def invalid_name(message: str) -> StorageError:
    return StorageError(400, "InvalidResourceName", message)


def raw_request_uri(environ: dict) -> str:
    """The request target as the client sent it (origin form), falling back to the decoded path if unknown."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not raw:
        from urllib.parse import quote
        raw = quote(environ.get("PATH_INFO", "/"), safe="/~!$&'()*+,;=:@")
        if environ.get("QUERY_STRING"):
            raw += "?" + environ["QUERY_STRING"]
    if "://" in raw.split("?", 1)[0]:
        # absolute form (proxies): drop scheme and authority
        rest = raw.split("://", 1)[1]
        raw = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return raw


def _decode(segment: str) -> str:
    try:
        return unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_uri("The request URI contains a percent-encoded sequence that is not UTF-8.") from None


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    out = []
    for item in raw_query.split("&") if raw_query else []:
        if not item:
            continue
        name, _, value = item.partition("=")
        try:
            out.append((unquote(name.replace("+", " "), errors="strict"),
                        unquote(value.replace("+", " "), errors="strict")))
        except UnicodeDecodeError:
            raise invalid_uri("A query parameter is not valid UTF-8 after percent-decoding.") from None
    return out


def host_account(host: str) -> str | None:
    """The account a host-style name (`<account>.file.<suffix>[:port]`) names, else None."""
    m = FILE_HOST.match(host or "")
    return m.group(1).lower() if m else None


def parse_url(url: str) -> Target:
    """The target of an absolute URL naming a file of this emulator: host style (`https://<account>.file.<suffix>/
    <share>/...`) or path style (`https://127.0.0.1:8443/<account>/<share>/...`)."""
    parts = urlsplit(url)
    raw = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return parse_target(raw, host_account(parts.hostname or ""))


def parse_target(raw_uri: str, host_style_account: str | None = None) -> Target:
    """The target of a raw request URI; with `host_style_account` the path starts at the share (host style)."""
    raw_path, _, raw_query = raw_uri.partition("?")
    if not raw_path.startswith("/"):
        raise invalid_uri("The request URI must be an absolute path.")
    segments = raw_path.split("/")[1:]
    if host_style_account is not None:
        segments = [host_style_account] + segments
    account = _decode(segments[0]) if segments else ""
    target = Target(raw_path=raw_path, account=account, query=parse_query(raw_query))
    if "/" in account:
        raise invalid_uri("The account segment of the request URI contains an encoded '/'.")
    components = [c for s in segments[1:] for c in _decode(s).split("/")]
    if len(components) > 1 and components[-1] == "":
        components = components[:-1]        # one trailing slash is harmless ("/account/share/dir/")
    if components == [""]:
        return target                       # "/account/"
    for name in components:
        if name == "":
            raise invalid_uri("The request URI contains an empty path segment ('//').")
        if name in (".", ".."):
            raise invalid_uri(f"The path segment '{name}' is not allowed: '.' and '..' cannot name files or "
                              "directories, and paths never leave the share.")
    if components:
        target.share, target.parts = components[0], components[1:]
        check_share_name(target.share)
    check_path(target.parts)
    return target


def check_share_name(name: str) -> None:
    if not SHARE_NAME.match(name) or "--" in name:
        raise invalid_name(f"The share name '{name}' is invalid: use 3-63 lower-case letters, digits and single "
                           "hyphens, starting and ending with a letter or digit.")


def check_path(parts: list[str]) -> None:
    if len(parts) > MAX_DEPTH:
        raise invalid_name(f"The path is {len(parts)} levels deep; Azure Files allows {MAX_DEPTH}.")
    if len("/".join(parts)) > MAX_PATH:
        raise invalid_name(f"The path is longer than {MAX_PATH} characters.")
    for name in parts:
        if len(name) > MAX_COMPONENT:
            raise invalid_name(f"The name '{name[:40]}...' is longer than {MAX_COMPONENT} characters.")
        bad = sorted(set(name) & _BAD_CHARS)
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            raise invalid_name(f"The name '{name}' contains characters Azure Files does not allow ({shown}).")


def check_new_name(name: str) -> None:
    """Extra rules for names being created (reserved device names), beyond what any request may name."""
    stem = name.split(".", 1)[0].upper()
    if stem in _DEVICE_NAMES:
        raise invalid_name(f"The name '{name}' is a reserved device name and cannot be used for a file or directory.")


def listable(name: str) -> bool:
    """Whether an entry found on disk can be listed and addressed through the API (valid UTF-8, valid name)."""
    if name in (".", "..") or len(name) > MAX_COMPONENT:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:          # undecodable bytes on disk (surrogate escapes)
        return False
    return not (set(name) & _BAD_CHARS)
