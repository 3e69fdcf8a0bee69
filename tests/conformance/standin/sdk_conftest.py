"""pytest plugin standing in for the azure-sdk-for-python repository's root conftest (sdk/conftest.py), which the
sdist does not ship: its marker rules. A test marked `live_test_only` is skipped unless live; one marked
`playback_test_only` is skipped in a live run that records nothing (AZURE_SKIP_LIVE_RECORDING=true), as the
SDK's own live pipeline does; the harness always runs that way. Those tests replay recordings of a manually
prepared account (test_handle's open SMB handles on `test-share`, listings that assume an otherwise empty
account, a provisioned v2 account): live, they cannot hold."""
from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "live_test_only: mark test to be a live test only")
    config.addinivalue_line("markers", "playback_test_only: mark test to be a playback test only")


def pytest_runtest_setup(item):
    from devtools_testutils import is_live
    if any(item.iter_markers(name="live_test_only")) and not is_live():
        pytest.skip("live test only")
    if any(item.iter_markers(name="playback_test_only")) and is_live() \
            and os.environ.get("AZURE_SKIP_LIVE_RECORDING", "").lower() == "true":
        pytest.skip("playback test only: the suite replays a recording of a manually prepared account")
