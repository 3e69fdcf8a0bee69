"""The views of NFS shares' own operations: Create Hard Link, Create Symbolic Link, Get Symbolic Link (links.py
does the work; nothing here or there ever makes or follows a symbolic link on the host)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, request

from ..errors import StorageError
from . import httpio, links, nfs_headers
from .disk import http_date
from .context import Ctx
from .httpio import response
from .meta import EntryProps


def _link_headers(node) -> dict[str, str]:
    out = httpio.node_headers(node, metadata=False)
    out.pop("x-ms-server-encrypted", None)
    if node.props.link_text is not None:
        out.pop("x-ms-link-count", None)       # Create Symbolic Link answers no link count
    return out


def create_hard_link(ctx: Ctx) -> Response:
    kind = request.headers.get("x-ms-type")
    if kind is None or kind.strip().lower() != "file":
        raise StorageError(400, "MissingRequiredHeader" if kind is None else "InvalidHeaderValue",
                           "Create Hard Link needs the header x-ms-type: file.", {"HeaderName": "x-ms-type"})
    target = links.target_parts(request.headers.get("x-ms-file-target-file"))
    node = links.create_hard_link(ctx.files, ctx.account, ctx.share, ctx.parts, target)
    return response(201, headers=_link_headers(node))


def create_symbolic_link(ctx: Ctx) -> Response:
    text = links.link_text(request.headers.get("x-ms-link-text"))
    times = ctx.node_times()
    if times.get("nfs", {}).get("mode") is not None:
        raise nfs_headers.unsupported_header("x-ms-mode", "a symbolic link's mode is always 0777")
    props = EntryProps(metadata=httpio.metadata())
    node = links.create_symbolic_link(ctx.files, ctx.account, ctx.share, ctx.parts, text, props, times)
    return response(201, headers=_link_headers(node))


def get_symbolic_link(ctx: Ctx) -> Response:
    node = links.symbolic_link(ctx.files, ctx.account, ctx.share, ctx.parts)
    # the text percent-encoded (clients unquote it), so any UTF-8 text survives an HTTP header
    return response(200, headers={"ETag": node.etag, "Last-Modified": http_date(node.st.st_mtime),
                                  "x-ms-link-text": quote(node.props.link_text, safe="/")})
