"""emulator/safeio.py, the one way the emulator touches job-writable places: links (of files and of directories on
the way) are never followed, fifos never opened for real nor waited on, reads bounded, trees copied without
leaving the tree."""
from __future__ import annotations

import os

import pytest

from emulator import safeio


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "data"
    (root / "job" / "out" / "sub").mkdir(parents=True)
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("HOST SECRET")
    (root / "job" / "out" / "kept.txt").write_text("kept")
    (root / "job" / "out" / "sub" / "deep.txt").write_text("deep")
    os.symlink(host / "secret", root / "job" / "out" / "link.txt")
    os.symlink(host, root / "job" / "out" / "dirlink")
    os.mkfifo(root / "job" / "out" / "pipe")
    return root, host


def test_links_and_fifos_are_refused_for_reading_and_writing(tree):
    root, host = tree
    for name in ("link.txt", "pipe", "dirlink/secret"):
        with pytest.raises(safeio.UnsafePath):
            safeio.read_text(root, f"job/out/{name}")
        with pytest.raises(safeio.UnsafePath):
            safeio.append_text(root, root / "job" / "out" / name, "line\n")
        assert not safeio.exists(root, f"job/out/{name}")
    with pytest.raises(safeio.UnsafePath):
        safeio.makedirs(root, "job/out/dirlink/new")
    with pytest.raises(safeio.UnsafePath):
        safeio.read_text(root, host / "secret")             # outside the root altogether
    assert (host / "secret").read_text() == "HOST SECRET" and sorted(os.listdir(host)) == ["secret"]


def test_regular_files_are_read_bounded_and_appended(tree):
    root, _ = tree
    assert safeio.read_text(root, "job/out/kept.txt", limit=2) == "ke"
    safeio.append_text(root, "job/new/dir/execution.log", "a\n")
    safeio.append_text(root, root / "job/new/dir/execution.log", "b\n")
    assert (root / "job/new/dir/execution.log").read_text() == "a\nb\n"


def test_copy_tree_copies_only_regular_files_inside(tree, tmp_path):
    root, _ = tree
    copied = safeio.copy_tree(root, root / "job" / "out", tmp_path / "copy")
    assert sorted(copied) == ["kept.txt", "sub/deep.txt"]
    assert not (tmp_path / "copy" / "link.txt").exists() and not (tmp_path / "copy" / "dirlink").exists()
    os.symlink(root, root / "job" / "swapped")
    assert safeio.copy_tree(root, root / "job" / "swapped", tmp_path / "none") == []
    assert not safeio.copy_file(root, root / "job" / "out" / "link.txt", tmp_path / "x")
    assert safeio.copy_file(root, root / "job" / "out" / "kept.txt", tmp_path / "y")
    assert (tmp_path / "y").read_text() == "kept"
