"""pytest plugin: runs `async def` tests (the suite's live-only async tests use pytest-asyncio upstream) on a
fresh event loop each, whether the coroutine function is decorated or not."""
from __future__ import annotations

import asyncio
import inspect

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    names = pyfuncitem._fixtureinfo.argnames
    result = pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names})
    if inspect.isawaitable(result):
        async def run():
            return await result
        asyncio.run(run())
    return True
