"""Share snapshots through azure-storage-file-share: a snapshot keeps the bytes and properties of its moment,
is read-only, is listed with include=snapshots, and a share with snapshots is deleted only with them."""
from __future__ import annotations

import os

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError

from .conftest import share_dir


def test_snapshot_reads_the_past_and_refuses_writes(live, svc, share):
    sc = svc.get_share_client(share)
    sc.create_directory("d").upload_file("f.txt", b"before", metadata={"v": "1"})
    snap = sc.create_snapshot(metadata={"kind": "nightly"})
    sc.get_file_client("d/f.txt").upload_file(b"after!")
    at = svc.get_share_client(share, snapshot=snap["snapshot"])
    old = at.get_file_client("d/f.txt")
    assert old.download_file().readall() == b"before"
    assert old.get_file_properties().metadata == {"v": "1"}
    assert [i["name"] for i in at.get_directory_client("d").list_directories_and_files()] == ["f.txt"]
    assert at.get_share_properties().metadata == {"kind": "nightly"}
    with pytest.raises(HttpResponseError) as err:
        old.upload_range(b"x", 0, 1)
    assert err.value.status_code == 400
    listed = [(s.name, s.snapshot) for s in svc.list_shares(name_starts_with=share, include_snapshots=True)]
    assert listed == [(share, snap["snapshot"]), (share, None)]
    assert not any(snap["snapshot"] in p for p in os.listdir(share_dir(live, share).parent))


def test_a_share_with_snapshots_is_deleted_only_with_them(svc, share):
    sc = svc.get_share_client(share)
    snap = sc.create_snapshot()
    with pytest.raises(ResourceExistsError) as err:
        sc.delete_share()
    assert err.value.error_code == "ShareHasSnapshots"
    svc.get_share_client(share, snapshot=snap["snapshot"]).delete_share()
    sc.create_snapshot()
    sc.delete_share(delete_snapshots=True)
    assert share not in [s.name for s in svc.list_shares(name_starts_with=share, include_snapshots=True)]
