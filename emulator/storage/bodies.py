"""Request and response bodies of ranged reads and writes."""
from __future__ import annotations

from flask import Response


def buffer_filler(data: memoryview):
    """A fill(view) -> count callback (what the planes' write paths consume) serving `data` from its start."""
    pos = 0

    def fill(view: memoryview) -> int:
        nonlocal pos
        n = min(len(view), len(data) - pos)
        view[:n] = data[pos:pos + n]
        pos += n
        return n
    return fill


def streamed(chunks, status: int, headers: dict[str, str | None]) -> Response:
    """A response streaming `chunks` as they come, with exactly `headers` (None values left out, no Content-Type
    unless given)."""
    resp = Response(chunks, status=status, direct_passthrough=True)
    resp.headers.pop("Content-Type", None)
    for k, v in headers.items():
        if v is not None:
            resp.headers[k] = v
    return resp
