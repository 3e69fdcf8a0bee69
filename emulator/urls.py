"""The emulator's own base URLs, for links it writes into responses (nextLink, downloadUrl, file endpoints, token
issuers and the cloud metadata).

A request's Host header is the client's word, not the emulator's address: it is used only when it names a loopback
address or the address the emulator is bound to (so a client that said `localhost` gets `localhost` links, which
its certificate and proxies expect); any other name is replaced by the bound address. The port is always the real
bound port of the scheme. `--public-url` (settings public_http_url / public_https_url) overrides all of it, for an
emulator behind a proxy or reached under a container name.
"""
from __future__ import annotations

import socket

from flask import current_app, request

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_WILDCARD = {"0.0.0.0", "::", ""}


def _split_host(host: str) -> tuple[str, str | None]:
    """('name', 'port' or None) of a Host header value; IPv6 literals lose their brackets."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, None


def _bracket(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def trusted_names(bind_host: str) -> set[str]:
    names = set(LOOPBACK_NAMES)
    if bind_host not in _WILDCARD:
        names.add(bind_host.lower())
    else:
        # bound to every interface: the machine's own name is also a true address of it
        names.add(socket.gethostname().lower())
    return names


def link_host() -> str:
    """The host part of links for this request: the name it used if that is a trusted one, else the bound address
    (IPv6 in brackets)."""
    settings = current_app.extensions["batchai"].settings
    name, _ = _split_host(request.host or "")
    if name.lower() not in trusted_names(settings.host):
        name = "127.0.0.1" if settings.host in _WILDCARD else settings.host
    return _bracket(name)


def same_port_base() -> str:
    """Base URL of the port this request came in on (its real bound port, from the WSGI server), trusted host."""
    port = request.environ.get("SERVER_PORT") or ""
    default = {"http": "80", "https": "443"}.get(request.scheme, "")
    suffix = f":{port}" if port and port != default else ""
    return f"{request.scheme}://{link_host()}{suffix}"


def public_base(scheme: str | None = None) -> str:
    """Base URL (no trailing slash) of this emulator for `scheme` (default: the request's), never from a forged Host."""
    scheme = scheme or request.scheme
    ext = current_app.extensions["batchai"]
    settings = ext.settings
    configured = settings.public_https_url if scheme == "https" else settings.public_http_url
    if configured:
        return configured.rstrip("/")
    name, port = _split_host(request.host or "")
    replaced = name.lower() not in trusted_names(settings.host)
    if replaced:
        name = "127.0.0.1" if settings.host in _WILDCARD else settings.host
    bound = ext.bound_https_port if scheme == "https" else ext.bound_http_port
    if bound:
        port = str(bound)
    elif replaced or scheme != request.scheme:
        # no bound port known (the Flask test client): the configured one
        port = str(settings.https_port if scheme == "https" else settings.port)
    default = {"http": "80", "https": "443"}[scheme]
    suffix = f":{port}" if port and port != default else ""
    return f"{scheme}://{_bracket(name)}{suffix}"
