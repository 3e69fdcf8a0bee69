"""Rename File and Rename Directory through azure-storage-file-share: bytes, properties and subtrees move, an
existing destination is replaced only when asked (and never when read-only unless told)."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.fileshare import ContentSettings, NTFSAttributes

from .conftest import share_dir


def test_rename_file_keeps_bytes_and_properties(live, svc, share):
    sc = svc.get_share_client(share)
    sc.create_directory("dir2")
    src = sc.get_file_client("file1")
    src.upload_file(b"moved bytes", metadata={"k": "v"})
    new = src.rename_file("dir2/file2")
    assert new.download_file().readall() == b"moved bytes"
    assert new.get_file_properties().metadata == {"k": "v"}
    assert not src.exists()
    assert (share_dir(live, share) / "dir2" / "file2").read_bytes() == b"moved bytes"


def test_rename_replaces_only_when_asked_and_respects_read_only(svc, share):
    sc = svc.get_share_client(share)
    a, b = sc.get_file_client("a"), sc.get_file_client("b")
    a.upload_file(b"A")
    b.upload_file(b"B")
    with pytest.raises(ResourceExistsError):
        a.rename_file("b")
    b.set_http_headers(ContentSettings(), file_attributes=NTFSAttributes(read_only=True))
    with pytest.raises(HttpResponseError) as err:
        a.rename_file("b", overwrite=True)
    assert err.value.error_code == "ReadOnlyAttribute"
    assert a.rename_file("b", overwrite=True, ignore_read_only=True).download_file().readall() == b"A"


def test_rename_directory_moves_its_subtree(svc, share):
    sc = svc.get_share_client(share)
    d = sc.create_directory("old")
    d.create_subdirectory("sub").upload_file("f.txt", b"deep", metadata={"x": "1"})
    moved = d.rename_directory("new")
    assert moved.get_file_client("sub/f.txt").download_file().readall() == b"deep"
    assert moved.get_file_client("sub/f.txt").get_file_properties().metadata == {"x": "1"}
    assert not d.exists()
    with pytest.raises(HttpResponseError):
        moved.rename_directory("new/sub/inside")
