"""Path safety: traversal in any spelling is a 400 that touches nothing outside the share; names map to the disk
one to one; symbolic links are never followed."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.common import AzureHttpError
from azure.core.exceptions import HttpResponseError

from .conftest import ACCOUNT, share_dir


def _tree(root: Path) -> dict[str, bytes | None]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = None if p.is_dir() or p.is_symlink() else p.read_bytes()
    return out


TRAVERSALS = [
    "{share}/../escaped.txt",
    "{share}/%2e%2e/escaped.txt",
    "{share}/%2E%2E/%2e%2e/escaped.txt",
    "{share}/d/..%2F..%2Fescaped.txt",
    "{share}/d/%2F/escaped.txt",
    "{share}/d/..%5C..%5Cescaped.txt",
    "{share}/./escaped.txt",
    "{share}//escaped.txt",
    "{share}/d%00/escaped.txt",
    "../{share}/escaped.txt",
    "%2e%2e/escaped.txt",
]


@pytest.mark.parametrize("template", TRAVERSALS)
@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_traversal_is_400_and_touches_nothing(live, raw, fs, share, template, method):
    fs.create_directory(share, "d")
    before = _tree(Path(live.settings.data_dir))
    target = f"/{ACCOUNT}/" + template.format(share=share)
    headers = {"x-ms-type": "file", "x-ms-content-length": "5"} if method == "PUT" else {}
    status, resp_headers, body = raw.request(method, target, headers=headers)
    assert status == 400, (target, status, body)
    assert resp_headers["x-ms-error-code"] in ("InvalidUri", "InvalidResourceName")
    assert b"<Error>" in body
    after = _tree(Path(live.settings.data_dir))
    assert {k for k in after if "escaped" in k} == set()
    assert {k: v for k, v in after.items() if not k.startswith("emulator.db")} == \
        {k: v for k, v in before.items() if not k.startswith("emulator.db")}


def test_traversal_in_directory_listing_and_share_level(raw, share):
    for target in (f"/{ACCOUNT}/{share}/..?restype=directory&comp=list",
                   f"/{ACCOUNT}/{share}/%2e%2e%2f%2e%2e?restype=directory&comp=list",
                   f"/{ACCOUNT}/..?restype=share", f"/{ACCOUNT}/%2e%2e?comp=list"):
        status, headers, _ = raw.request("GET", target)
        assert status == 400, target


@pytest.fixture()
def outside(tmp_path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(b"top secret")
    return out


def test_symlinks_leaving_the_share_are_refused(live, fs, svc, share, outside):
    root = share_dir(live, share)
    os.symlink(outside, root / "out")
    os.symlink(outside / "secret.txt", root / "secret-link.txt")
    before = _tree(outside)
    calls = [
        lambda: fs.get_file_to_bytes(share, "out", "secret.txt"),
        lambda: fs.get_file_to_bytes(share, None, "secret-link.txt"),
        lambda: fs.get_file_properties(share, None, "secret-link.txt"),
        lambda: fs.create_file_from_bytes(share, "out", "planted.txt", b"x"),
        lambda: fs.create_file_from_bytes(share, None, "secret-link.txt", b"overwrite"),
        lambda: fs.update_range(share, None, "secret-link.txt", b"0123", 0, 3),
        lambda: fs.create_directory(share, "out/newdir"),
        lambda: list(fs.list_directories_and_files(share, "out")),
        lambda: fs.delete_file(share, "out", "secret.txt"),
        lambda: fs.delete_file(share, None, "secret-link.txt"),
        lambda: fs.resize_file(share, None, "secret-link.txt", 1),
    ]
    for call in calls:
        with pytest.raises(AzureHttpError) as err:
            call()
        assert err.value.status_code == 400, err.value
    fc = svc.get_share_client(share).get_file_client("out/secret.txt")
    with pytest.raises(HttpResponseError) as err12:
        fc.download_file()
    assert err12.value.status_code == 400
    assert _tree(outside) == before
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_symlinks_inside_the_share_are_not_followed_either(live, fs, share):
    """A link that points inside the share today can be re-pointed by a job tomorrow: links are never followed
    (nor listed), wherever they point."""
    root = share_dir(live, share)
    (root / "real").mkdir()
    (root / "real" / "data.txt").write_bytes(b"inside")
    os.symlink("real", root / "alias")
    os.symlink("real/data.txt", root / "alias.txt")
    assert fs.get_file_to_bytes(share, "real", "data.txt").content == b"inside"
    for call in (lambda: fs.get_file_to_bytes(share, "alias", "data.txt"),
                 lambda: fs.get_file_to_bytes(share, None, "alias.txt")):
        with pytest.raises(AzureHttpError) as err:
            call()
        assert err.value.status_code == 400 and "InvalidResourceName" in str(err.value)
    assert {e.name for e in fs.list_directories_and_files(share)} == {"real"}


def test_api_names_map_one_to_one_onto_the_disk(live, fs, svc, share):
    fs.create_directory(share, "dír ü")
    fs.create_directory(share, "dír ü/sub dir (1)")
    fs.create_file_from_bytes(share, "dír ü/sub dir (1)", "файл 1+2=3 & 'x'.txt", b"unicode")
    on_disk = share_dir(live, share) / "dír ü" / "sub dir (1)" / "файл 1+2=3 & 'x'.txt"
    assert on_disk.read_bytes() == b"unicode"
    fc = svc.get_share_client(share).get_file_client("dír ü/sub dir (1)/файл 1+2=3 & 'x'.txt")
    assert fc.download_file().readall() == b"unicode"
    names = [i.name for i in svc.get_share_client(share).get_directory_client("dír ü/sub dir (1)")
             .list_directories_and_files()]
    assert names == ["файл 1+2=3 & 'x'.txt"]


@pytest.mark.parametrize("name", ["bad:name.txt", "a|b", "what?", "star*", "quote\"d", "CON", "lpt1.txt"])
def test_invalid_names_are_400(fs, share, name):
    with pytest.raises(AzureHttpError) as err:
        fs.create_file_from_bytes(share, None, name, b"x")
    assert err.value.status_code == 400 and "InvalidResourceName" in str(err.value)


@pytest.mark.parametrize("name", ["ab", "Upper", "two--hyphens", "-lead", "trail-", "x" * 64, "under_score"])
def test_invalid_share_names_are_400(fs, name):
    with pytest.raises(AzureHttpError) as err:
        fs.create_share(name, fail_on_exist=True)
    assert err.value.status_code == 400
