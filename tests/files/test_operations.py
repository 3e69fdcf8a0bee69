"""Share, directory and file operations with their properties, ranges and errors, through both SDKs."""
from __future__ import annotations

import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.common import AzureConflictHttpError, AzureHttpError, AzureMissingResourceHttpError
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.file import ContentSettings
from azure.storage.fileshare import ContentSettings as ContentSettings12

from .conftest import ACCOUNT, share_dir


def test_share_lifecycle_quota_metadata_stats(fs, svc, live):
    assert fs.create_share("ops-share", metadata={"project": "mnist"}, quota=10)
    assert not fs.create_share("ops-share")                      # fail_on_exist=False semantics
    with pytest.raises(AzureConflictHttpError) as err:
        fs.create_share("ops-share", fail_on_exist=True)
    assert "ShareAlreadyExists" in str(err.value)
    with pytest.raises(ResourceExistsError):
        svc.get_share_client("ops-share").create_share()
    props = fs.get_share_properties("ops-share")
    assert props.properties.quota == 10 and props.metadata == {"project": "mnist"} and props.properties.etag
    fs.set_share_properties("ops-share", 20)
    fs.set_share_metadata("ops-share", {"stage": "two"})
    share12 = svc.get_share_client("ops-share").get_share_properties()
    assert share12.quota == 20 and share12.metadata == {"stage": "two"} and share12.etag != props.properties.etag
    assert fs.get_share_metadata("ops-share") == {"stage": "two"}
    fs.create_file_from_bytes("ops-share", None, "one.bin", b"x" * 3000)
    assert svc.get_share_client("ops-share").get_share_stats() == 3000
    assert fs.get_share_stats("ops-share") == 1                   # the old SDK reports whole GiB, rounded up
    assert fs.get_share_acl("ops-share") == {}
    tiered = svc.get_share_client("ops-tier")
    tiered.create_share(access_tier="Cool", quota=3)
    assert tiered.get_share_properties().access_tier == "Cool"
    tiered.set_share_properties(access_tier="Hot")
    assert [s.access_tier for s in svc.list_shares(name_starts_with="ops-tier")] == ["Hot"]
    tiered.delete_share()
    assert fs.delete_share("ops-share")
    assert not share_dir(live, "ops-share").exists()
    assert not fs.delete_share("ops-share")
    with pytest.raises(AzureMissingResourceHttpError) as err:
        fs.delete_share("ops-share", fail_not_exist=True)
    assert "ShareNotFound" in str(err.value)
    assert not fs.exists("ops-share")


def test_directories(fs, svc, share):
    assert fs.create_directory(share, "a", metadata={"k": "v", "with_under_score": "u"})
    assert not fs.create_directory(share, "a")
    with pytest.raises(AzureConflictHttpError):
        fs.create_directory(share, "a", fail_on_exist=True)
    with pytest.raises(AzureMissingResourceHttpError) as err:
        fs.create_directory(share, "missing/child", fail_on_exist=True)
    assert "ParentNotFound" in str(err.value)
    assert fs.get_directory_properties(share, "a").metadata == {"k": "v", "with_under_score": "u"}
    fs.set_directory_metadata(share, "a", {"other": "1"})
    dir12 = svc.get_share_client(share).get_directory_client("a")
    assert dir12.get_directory_properties().metadata == {"other": "1"}
    dir12.create_subdirectory("b")
    fs.create_file_from_bytes(share, "a/b", "f.txt", b"f")
    with pytest.raises(AzureConflictHttpError) as err:
        fs.delete_directory(share, "a", fail_not_exist=True)
    assert "DirectoryNotEmpty" in str(err.value)
    fs.delete_file(share, "a/b", "f.txt")
    dir12.delete_subdirectory("b")
    assert fs.delete_directory(share, "a")
    assert not fs.exists(share, "a")
    root = svc.get_share_client(share).get_directory_client()
    assert root.get_directory_properties().is_directory


def test_file_http_headers_and_metadata(fs, svc, share):
    md5 = base64.b64encode(hashlib.md5(b"hello world").digest()).decode()
    fs.create_file_from_bytes(share, None, "h.txt", b"hello world", metadata={"a": "1"},
                              content_settings=ContentSettings(content_type="text/plain", content_encoding="identity",
                                                               content_language="en-GB", cache_control="no-cache",
                                                               content_disposition="inline", content_md5=md5))
    p = fs.get_file_properties(share, None, "h.txt")
    cs = p.properties.content_settings
    assert (cs.content_type, cs.content_encoding, cs.content_language, cs.cache_control,
            cs.content_disposition, cs.content_md5) == ("text/plain", "identity", "en-GB", "no-cache", "inline", md5)
    assert p.metadata == {"a": "1"} and p.properties.content_length == 11
    fc = svc.get_share_client(share).get_file_client("h.txt")
    fc.set_http_headers(ContentSettings12(content_type="application/json"))
    props = fc.get_file_properties()
    # Set File Properties replaces the content settings: the ones left out are cleared
    assert props.content_settings.content_type == "application/json"
    assert props.content_settings.content_language is None and props.content_settings.content_md5 is None
    fc.set_file_metadata({"b": "2"})
    assert fs.get_file_metadata(share, None, "h.txt") == {"b": "2"}
    download = fc.download_file()
    assert download.readall() == b"hello world" and download.properties.metadata == {"b": "2"}
    assert download.properties.content_settings.content_type == "application/json"


def test_ranges_206_content_range_and_stable_etag(fs, svc, share, raw):
    data = os.urandom(40 * 1024 * 1024 + 123)          # > 32 MiB: the SDKs fetch it in several ranges
    fc = svc.get_share_client(share).get_file_client("big.bin")
    fc.upload_file(data)
    etag = fc.get_file_properties().etag
    seen = []
    for rng in ("bytes=0-1023", "bytes=1024-", "bytes=41943000-99999999"):
        status, headers, body = raw.request("GET", f"/{ACCOUNT}/{share}/big.bin", headers={"x-ms-range": rng})
        assert status == 206
        start = int(rng[6:].split("-")[0])
        assert headers["content-range"].startswith(f"bytes {start}-") and headers["content-range"].endswith(
            f"/{len(data)}")
        assert body == data[start:start + len(body)] and int(headers["content-length"]) == len(body)
        seen.append(headers["etag"])
    status, headers, body = raw.request("GET", f"/{ACCOUNT}/{share}/big.bin", headers={"Range": "bytes=5-9"})
    assert (status, body, headers["content-range"]) == (206, data[5:10], f"bytes 5-9/{len(data)}")
    assert set(seen) == {etag}
    status, headers, _ = raw.request("GET", f"/{ACCOUNT}/{share}/big.bin", headers={"x-ms-range": "bytes=99999999-"})
    assert status == 416 and headers["x-ms-error-code"] == "InvalidRange"
    assert fc.download_file().readall() == data
    assert fs.get_file_to_bytes(share, None, "big.bin").content == data
    fc.upload_range(b"\xff" * 512, offset=0, length=512)
    assert fc.get_file_properties().etag != etag


def test_put_range_out_of_order_in_parallel_clear_and_list_ranges(fs, svc, share, live):
    size = 16 * 4 * 1024 * 1024
    fs.create_file(share, None, "sparse.bin", size)
    chunks = {i: os.urandom(4 * 1024 * 1024) for i in range(16)}
    order = [15, 0, 7, 3, 12, 1, 9, 5, 14, 2, 11, 6, 13, 4, 10, 8]

    def put(i):
        start = i * 4 * 1024 * 1024
        fs.update_range(share, None, "sparse.bin", chunks[i], start, start + len(chunks[i]) - 1)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(put, order))
    expected = b"".join(chunks[i] for i in range(16))
    assert (share_dir(live, share) / "sparse.bin").read_bytes() == expected
    fs.clear_range(share, None, "sparse.bin", 4 * 1024 * 1024, 8 * 1024 * 1024 - 1)
    got = fs.get_file_to_bytes(share, None, "sparse.bin").content
    assert got[4 << 20:8 << 20] == bytes(4 << 20) and got[:4 << 20] == chunks[0] and got[8 << 20:] == expected[8 << 20:]
    ranges = [(r.start, r.end) for r in fs.list_ranges(share, None, "sparse.bin")]
    assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
    covered = sum(e - s + 1 for s, e in ranges)
    assert covered in (size, size - (4 << 20))          # the hole shows where the file system punches holes
    fc = svc.get_share_client(share).get_file_client("sparse.bin")
    fc.resize_file(10)
    assert fc.download_file().readall() == chunks[0][:10]


def test_range_errors_write_nothing(fs, share, raw, live):
    fs.create_file_from_bytes(share, None, "r.bin", b"a" * 1024)
    target = f"/{ACCOUNT}/{share}/r.bin?comp=range"
    status, headers, _ = raw.request("PUT", target, b"b" * 10, {"x-ms-range": "bytes=1020-1029",
                                                                 "x-ms-write": "update"})
    assert status == 416 and headers["x-ms-error-code"] == "InvalidRange"
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, headers, _ = raw.request("PUT", target, b"b" * 10, {"x-ms-range": "bytes=0-9", "x-ms-write": "update",
                                                                 "Content-MD5": wrong})
    assert status == 400 and headers["x-ms-error-code"] == "Md5Mismatch"
    status, headers, _ = raw.request("PUT", target, b"b" * 10, {"x-ms-range": "bytes=0-19", "x-ms-write": "update"})
    assert status == 400
    status, headers, _ = raw.request("PUT", target, b"", {"x-ms-range": f"bytes=0-{(4 << 20)}",
                                                           "x-ms-write": "update"})
    assert status == 413 and headers["x-ms-error-code"] == "RequestBodyTooLarge"
    assert (share_dir(live, share) / "r.bin").read_bytes() == b"a" * 1024
    good = base64.b64encode(hashlib.md5(b"c" * 4).digest()).decode()
    status, headers, _ = raw.request("PUT", target, b"c" * 4, {"x-ms-range": "bytes=0-3", "x-ms-write": "update",
                                                                "Content-MD5": good})
    assert status == 201 and headers["content-md5"] == good and headers["last-modified"]
    assert (share_dir(live, share) / "r.bin").read_bytes() == b"cccc" + b"a" * 1020


def test_missing_things_are_404_with_service_codes(fs, svc, share):
    with pytest.raises(AzureMissingResourceHttpError) as err:
        fs.get_file_to_bytes(share, None, "nope.txt")
    assert "ResourceNotFound" in str(err.value)
    with pytest.raises(AzureMissingResourceHttpError) as err:
        fs.get_file_to_bytes("no-such-share", None, "nope.txt")
    assert "ShareNotFound" in str(err.value)
    with pytest.raises(ResourceNotFoundError):
        svc.get_share_client(share).get_file_client("nope/deeper.txt").upload_file(b"x")
    assert not fs.exists(share, None, "nope.txt")
    fs.create_file_from_bytes(share, None, "gone.txt", b"x")
    fs.delete_file(share, None, "gone.txt")
    with pytest.raises(AzureMissingResourceHttpError):
        fs.delete_file(share, None, "gone.txt")


def test_nfs_operations_on_an_smb_share_are_refused(fs, svc, share):
    fs.create_file_from_bytes(share, None, "src.txt", b"x")
    with pytest.raises(HttpResponseError) as err12:
        svc.get_share_client(share).get_file_client("hard.txt").create_hardlink("src.txt")
    assert err12.value.status_code == 400 and err12.value.error_code == "UnsupportedOperation"
    assert "SMB" in str(err12.value)


BAD_REQUESTS = [
    ("GET", "/{a}/{s}?restype=share&comp=bogus", {}),
    ("PUT", "/{a}/{s}/f.txt", {}),                                      # no x-ms-type
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "-1"}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "1" * 30}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "directory", "x-ms-content-length": "1"}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "1", "x-ms-file-attributes": "Bogus"}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "1", "x-ms-content-md5": "not base64!"}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "1", "x-ms-meta-bad-name": "v"}),
    ("PUT", "/{a}/{s}/f.txt", {"x-ms-type": "file", "x-ms-content-length": "1",
                               "x-ms-file-creation-time": "last tuesday"}),
    ("PUT", "/{a}/{s}/existing.txt?comp=range", {"x-ms-write": "sideways", "x-ms-range": "bytes=0-0"}),
    ("PUT", "/{a}/{s}/existing.txt?comp=range", {"x-ms-write": "update", "x-ms-range": "bytes=9-1"}),
    ("PUT", "/{a}/{s}/existing.txt?comp=range", {"x-ms-write": "update", "x-ms-range": "lines=0-1"}),
    ("GET", "/{a}/{s}/existing.txt", {"x-ms-range": "bytes=-5"}),
    ("GET", "/{a}/{s}/existing.txt", {"x-ms-range": "bytes=0-99999999", "x-ms-range-get-content-md5": "true"}),
    ("GET", "/{a}/{s}?restype=directory&comp=list&maxresults=0", {}),
    ("GET", "/{a}/?comp=list&maxresults=lots", {}),
    ("PUT", "/{a}/{s}?restype=share&comp=properties", {"x-ms-share-quota": "999999999"}),
    ("PUT", "/{a}/?restype=service&comp=properties", {}),
    ("GET", "/{a}/{s}/existing.txt?restype=share", {}),
    ("GET", "/{a}/{s}", {}),
    ("POST", "/{a}/{s}/existing.txt", {}),
    ("GET", "/{a}/{s}/existing.txt?sharesnapshot=2020-01-01T00:00:00.0000000Z", {}),
    ("GET", "/{a}/{s}/existing.txt", {"x-ms-lease-id": "abc"}),
    ("GET", "/{a}/{s}/%ff%fe.txt", {}),
    ("GET", "/{a}/{s}/existing.txt?comp=%ff", {}),
    ("DELETE", "/{a}/{s}?restype=directory", {}),
    ("PUT", "/{a}/{s}?restype=share&comp=acl", {}),
]


@pytest.mark.parametrize("method,template,headers", BAD_REQUESTS)
def test_bad_input_is_a_clear_4xx_and_loses_nothing(fs, raw, live, share, method, template, headers):
    fs.create_file_from_bytes(share, None, "existing.txt", b"keep me")
    body = b"x" if method == "PUT" and "comp=range" in template and headers.get("x-ms-write") == "update" else b""
    status, resp_headers, resp_body = raw.request(method, template.format(a=ACCOUNT, s=share), body, headers)
    if template.endswith("comp=acl"):
        assert status == 200                         # an empty ACL is accepted (no policies to store)
    elif "x-ms-meta-bad-name" in headers:
        assert status == 400 and resp_headers["x-ms-error-code"] == "InvalidMetadata"
    else:
        assert 400 <= status < 500, (status, resp_body)
        assert resp_headers.get("x-ms-error-code") and b"<Code>" in resp_body
    assert (share_dir(live, share) / "existing.txt").read_bytes() == b"keep me"
    assert not (share_dir(live, share) / "f.txt").exists()


def test_unknown_account_is_not_the_file_plane(raw):
    status, headers, body = raw.request("GET", "/nosuchaccount/share?restype=share", signed=False)
    assert status == 404 and "x-ms-error-code" not in headers


def test_client_request_id_is_echoed_unchanged(raw, share):
    status, headers, _ = raw.request("GET", f"/{ACCOUNT}/{share}?restype=share",
                                     headers={"x-ms-client-request-id": "my id 42"})
    assert status == 200 and headers["x-ms-client-request-id"] == "my id 42"


def test_host_file_system_refusals_are_4xx(fs, live, share):
    """A file the emulator's host will not let it change (here: immutable) is a clear 403, not a 5xx."""
    import shutil
    import subprocess
    path = share_dir(live, share) / "locked.txt"
    fs.create_file_from_bytes(share, None, "locked.txt", b"locked")
    if os.geteuid() != 0:
        path.chmod(0o444)
        share_dir(live, share).chmod(0o555)
    elif not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("cannot make a file read-only for root here")
    try:
        with pytest.raises(AzureHttpError) as err:
            fs.update_range(share, None, "locked.txt", b"X", 0, 0)
        assert err.value.status_code == 403 and "AuthorizationFailure" in str(err.value)
        with pytest.raises(AzureHttpError) as err:
            fs.delete_file(share, None, "locked.txt")
        assert err.value.status_code == 403
        assert fs.get_file_to_bytes(share, None, "locked.txt").content == b"locked"
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        else:
            share_dir(live, share).chmod(0o755)


def test_share_quota_is_enforced_and_a_refused_write_loses_nothing(svc, share):
    """Writes past the quota answer ShareSizeLimitReached; the files already stored keep their bytes."""
    sc = svc.get_share_client(share)
    sc.set_share_quota(1)
    keep = sc.get_file_client("keep.txt")
    keep.upload_file(b"stored before the share filled up")
    big = sc.get_file_client("big.bin")
    big.create_file((1 << 30) - 100)                 # sparse: fills the quota without using the disk
    for call in (lambda: sc.get_file_client("more.bin").create_file(200),
                 lambda: keep.create_file(1000),         # replacing a file with a larger one
                 lambda: big.resize_file(1 << 30),
                 lambda: sc.get_file_client("up.bin").upload_file(b"x" * 500)):
        with pytest.raises(HttpResponseError) as err:
            call()
        assert err.value.status_code == 413 and err.value.error_code == "ShareSizeLimitReached", err.value
    assert keep.download_file().readall() == b"stored before the share filled up"
    assert big.get_file_properties().size == (1 << 30) - 100
    assert not sc.get_file_client("more.bin").exists()
    big.resize_file((1 << 30) - 1000)                 # shrinking is always allowed, and frees room
    sc.get_file_client("small.bin").create_file(800)
    sc.set_share_quota(2)
    big.resize_file(1 << 30)


def test_create_file_with_a_body_stores_it(svc, share, raw):
    """Create File with a body (newer x-ms-version) once answered success and stored zeros: a lost write."""
    fc = svc.get_share_client(share).get_file_client("body.txt")
    fc.create_file(9, data=b"abcabcabc")
    assert fc.download_file().readall() == b"abcabcabc"
    fc.create_file(12, data=b"abc", validate_content="md5")       # shorter than the file: the rest is zeros
    assert fc.download_file().readall() == b"abc" + bytes(9)
    status, headers, _ = raw.request("PUT", f"/{ACCOUNT}/{share}/md5.txt", b"abcabcabc",
                                     {"x-ms-type": "file", "x-ms-content-length": "9",
                                      "Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()})
    assert status == 400 and headers["x-ms-error-code"] == "Md5Mismatch"
    assert not svc.get_share_client(share).get_file_client("md5.txt").exists()


def test_a_body_the_emulator_does_not_act_on_is_refused(svc, share, raw):
    svc.get_share_client(share).get_file_client("f.txt").upload_file(b"kept")
    for target, headers in ((f"/{ACCOUNT}/{share}/f.txt?comp=metadata", {"x-ms-meta-a": "1"}),
                            (f"/{ACCOUNT}/{share}/d?restype=directory", {}),
                            (f"/{ACCOUNT}/{share}/f.txt?comp=properties", {"x-ms-content-length": "4"})):
        status, resp, body = raw.request("PUT", target, b"lost bytes", headers)
        assert status == 400 and resp["x-ms-error-code"] == "InvalidInput", (target, status, body)
        assert b"takes no request body" in body
    assert not svc.get_share_client(share).get_directory_client("d").exists()
    assert svc.get_share_client(share).get_file_client("f.txt").get_file_properties().metadata == {}
