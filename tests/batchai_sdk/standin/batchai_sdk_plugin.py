"""pytest plugin the harness loads (`-p batchai_sdk_plugin`) into the run of azure-mgmt-batchai's live tests.

* The legacy storage SDKs' default endpoints go to the emulator (devtools_testutils.environment).
* The tests' helpers poll every 20 s, sized for Azure VMs; against the emulator a node or a job is ready in
  seconds, so the interval becomes BATCHAI_SDK_POLL_SECONDS (default 1). Their timeouts keep their meaning (the
  helpers count the interval per poll), except that the ones sized in many minutes for VM allocation
  (`*_TIMEOUT_SEC` constants above BATCHAI_SDK_MAX_WAIT_SECONDS, default 300) are capped, so that a test the
  emulator fails ends in minutes, not in half an hour. Nothing in the tests' own assertions changes.
* The tests named in BATCHAI_SDK_EXCLUDE (comma-separated `file::Class::test` node ids, set by the harness) are
  deselected at collection, whatever paths or -k the command line gave.
"""
import os
import sys

import pytest

POLL_SECONDS = float(os.environ.get("BATCHAI_SDK_POLL_SECONDS", "1"))
MAX_WAIT_SECONDS = int(os.environ.get("BATCHAI_SDK_MAX_WAIT_SECONDS", "300"))


def pytest_configure(config):
    from devtools_testutils import environment
    environment.redirect_legacy_storage()


def excluded():
    return {n.strip() for n in os.environ.get("BATCHAI_SDK_EXCLUDE", "").split(",") if n.strip()}


def pytest_collection_modifyitems(config, items):
    names = excluded()
    dropped = [item for item in items if item.nodeid in names]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid not in names]


def _cap(namespace):
    for name in dir(namespace):
        if name.endswith("TIMEOUT_SEC"):
            value = getattr(namespace, name)
            if isinstance(value, (int, float)) and value > MAX_WAIT_SECONDS:
                setattr(namespace, name, MAX_WAIT_SECONDS)


def tune(helpers_module):
    """Apply the poll interval and the timeout cap to the tests' `helpers` module (idempotent)."""
    helpers = getattr(helpers_module, "Helpers", None)
    if helpers is None:
        return
    helpers._POLL_INTERVAL_SEC = POLL_SECONDS
    _cap(helpers)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "helpers" in sys.modules:
        tune(sys.modules["helpers"])
    module = getattr(item, "module", None)
    if module is not None:
        _cap(module)
