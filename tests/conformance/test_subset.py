"""A bounded subset of the azure-storage-file-share sdist's own tests, live against a fresh emulator (the whole
suite: `make conformance`). Every test of these files must pass."""
from __future__ import annotations

from .harness import run

SUBSET = ["test_sas.py", "test_file_service_properties.py", "test_file_service_properties_async.py", "test_nfs.py",
          "test_nfs_async.py"]


def test_the_sdk_suite_subset_passes_live():
    report = run(SUBSET)
    counts = report.counts()
    assert set(counts) == set(SUBSET), report.render()
    assert not report.failures(), report.render()
    assert sum(c["passed"] for c in counts.values()) >= 15, report.render()
