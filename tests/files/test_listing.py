"""Listings: 5,000-entry directories paged by both SDKs, prefixes, markers, shares, and entries made on disk."""
from __future__ import annotations

import os

from azure.storage.file import FileService

from .conftest import share_dir

N = 5000


def _fill(live, share: str) -> set[str]:
    """5,000 entries written straight to disk (as a job would), plus a few made through the API."""
    root = share_dir(live, share) / "many"
    root.mkdir()
    names = set()
    for i in range(N - 10):
        name = f"file-{i:05d}.txt"
        (root / name).write_bytes(b"x" * (i % 7))
        names.add(name)
    for i in range(10):
        (root / f"sub-{i}").mkdir()
        names.add(f"sub-{i}")
    return names


def test_5000_entries_page_with_azure_storage_file(fs: FileService, live, share):
    expected = _fill(live, share)
    seen, marker, pages = [], None, 0
    while True:
        page = fs.list_directories_and_files(share, "many", num_results=1000, marker=marker)
        batch = list(page)
        pages += 1
        assert len(batch) <= 1000
        seen += [e.name for e in batch]
        marker = page.next_marker
        if not marker:
            break
    assert pages == 5 and len(seen) == N and set(seen) == expected
    assert seen == sorted(seen)
    everything = list(fs.list_directories_and_files(share, "many"))      # the SDK's own paging loop
    assert len(everything) == N
    sizes = {e.name: e.properties.content_length for e in everything if e.name.startswith("file-")}
    assert sizes["file-00006.txt"] == 6


def test_5000_entries_page_with_azure_storage_file_share(svc, live, share):
    expected = _fill(live, share)
    directory = svc.get_share_client(share).get_directory_client("many")
    pages = list(directory.list_directories_and_files(results_per_page=700).by_page())
    names = []
    for page in pages:
        batch = list(page)
        assert len(batch) <= 700
        names += [i.name for i in batch]
    assert len(pages) == 8 and len(names) == N and set(names) == expected
    dirs = {i.name for i in directory.list_directories_and_files() if i.is_directory}
    assert dirs == {f"sub-{i}" for i in range(10)}


def test_prefix_filters_both_sdks(fs, svc, live, share):
    _fill(live, share)
    assert [e.name for e in fs.list_directories_and_files(share, "many", prefix="file-0498")] == \
        [f"file-0498{i}.txt" for i in range(10)]
    directory = svc.get_share_client(share).get_directory_client("many")
    assert {i.name for i in directory.list_directories_and_files(name_starts_with="sub-")} == \
        {f"sub-{i}" for i in range(10)}


def test_list_shares_prefix_marker_maxresults(fs, svc):
    names = [f"pfx-list-{i:02d}" for i in range(7)]
    for name in names:
        fs.create_share(name, metadata={"n": name[-2:]})
    page = fs.list_shares(prefix="pfx-list-", num_results=3)
    first = [s.name for s in page]
    assert first == names[:3] and page.next_marker
    rest = [s.name for s in fs.list_shares(prefix="pfx-list-", marker=page.next_marker)]
    assert rest == names[3:]
    with_meta = {s.name: s.metadata for s in fs.list_shares(prefix="pfx-list-", include_metadata=True)}
    assert with_meta["pfx-list-04"] == {"n": "04"}
    pages = list(svc.list_shares(name_starts_with="pfx-list-", results_per_page=2).by_page())
    assert [s.name for p in pages for s in p] == names and len(pages) == 4
    quotas = {s.name: s.quota for s in svc.list_shares(name_starts_with="pfx-list-", include_metadata=True)}
    assert quotas["pfx-list-00"] == 5120


def test_disk_entries_are_listed_and_readable(fs, svc, live, share):
    """A job writes into the mounted share: the API sees the files with sensible properties, no rows needed."""
    root = share_dir(live, share)
    (root / "outputs" / "model").mkdir(parents=True)
    (root / "outputs" / "model" / "weights.bin").write_bytes(b"\x01" * 3000)
    (root / "outputs" / "log.txt").write_text("epoch 1\n")
    assert {e.name for e in fs.list_directories_and_files(share, "outputs")} == {"model", "log.txt"}
    assert fs.get_file_to_bytes(share, "outputs/model", "weights.bin").content == b"\x01" * 3000
    fc = svc.get_share_client(share).get_file_client("outputs/log.txt")
    props = fc.get_file_properties()
    assert props.size == 8 and props.content_settings.content_type == "application/octet-stream"
    assert props.etag and props.last_modified
    assert fc.download_file().readall() == b"epoch 1\n"
    # rewritten on disk: a new ETag, the new bytes
    (root / "outputs" / "log.txt").write_text("epoch 1\nepoch 2\n")
    assert fc.get_file_properties().etag != props.etag
    assert fc.download_file().readall() == b"epoch 1\nepoch 2\n"


def test_disk_names_the_api_cannot_address_are_skipped(fs, live, share):
    root = share_dir(live, share)
    (root / "ok.txt").write_bytes(b"1")
    (root / "bad:name").write_bytes(b"2")
    os.mkfifo(root / "pipe")
    os.symlink("/etc", root / "escape")
    assert [e.name for e in fs.list_directories_and_files(share)] == ["ok.txt"]
