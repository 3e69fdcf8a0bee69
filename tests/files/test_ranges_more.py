"""List Ranges in pages (maxresults / marker) and range diffs of a file renamed since the snapshot."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError


def test_ranges_come_in_pages(svc, share):
    fc = svc.get_share_client(share).get_file_client("paged.bin")
    fc.create_file(8192)
    for offset in (0, 1024, 2048, 4096, 6144):
        fc.upload_range(b"p" * 512, offset=offset, length=512)
    pages = [[(r["start"], r["end"]) for r in page] for page in fc.list_ranges(results_per_page=2).by_page()]
    assert pages == [[(0, 511), (1024, 1535)], [(2048, 2559), (4096, 4607)], [(6144, 6655)]]
    assert [(r["start"], r["end"]) for r in fc.list_ranges()] == [p for page in pages for p in page]
    with pytest.raises(HttpResponseError) as err:
        list(fc.list_ranges(results_per_page=2).by_page(continuation_token="not-a-marker"))
    assert err.value.status_code == 400


def test_a_diff_across_a_rename_needs_support_rename(svc, share):
    sc = svc.get_share_client(share)
    fc = sc.get_file_client("before.bin")
    fc.create_file(2048)
    fc.upload_range(b"a" * 1536, offset=0, length=1536)
    snapshot = sc.create_snapshot()
    fc.clear_range(offset=512, length=512)
    fc.upload_range(b"b" * 512, offset=512, length=512)
    fc.upload_range(b"c" * 512, offset=1536, length=512)
    moved = fc.rename_file("after.bin")
    with pytest.raises(ResourceExistsError):
        moved.get_ranges_diff(previous_sharesnapshot=snapshot)
    with pytest.raises(ResourceExistsError):
        moved.get_ranges_diff(previous_sharesnapshot=snapshot, include_renames=False)
    written, cleared = moved.get_ranges_diff(previous_sharesnapshot=snapshot, include_renames=True)
    assert [(r["start"], r["end"]) for r in written] == [(512, 1023), (1536, 2047)] and cleared == []
    # a snapshot taken after the rename needs nothing special
    later = sc.create_snapshot()
    moved.clear_range(offset=0, length=512)
    written, cleared = moved.get_ranges_diff(previous_sharesnapshot=later)
    assert written == [] and [(r["start"], r["end"]) for r in cleared] == [(0, 511)]
