"""Async pass-through: the test coroutine runs to completion on a fresh event loop (no pytest-asyncio needed)."""
from __future__ import annotations

import asyncio
import functools


def recorded_by_proxy_async(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        kwargs.pop("variables", None)
        asyncio.run(fn(*args, **kwargs))
    return wrapper
