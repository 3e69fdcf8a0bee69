"""azure-storage-blob 12 against the live Blob port: containers, block blobs, ranges, listing, metadata, copy,
conditions, SAS (the paths Azure ML's snapshot uploads take: PUT + HEAD with a SAS and Content-MD5)."""
from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import (HttpResponseError, ResourceExistsError, ResourceModifiedError,
                                   ResourceNotFoundError)
from azure.storage.blob import (BlobClient, BlobSasPermissions, BlobServiceClient, ContainerClient, ContentSettings,
                                PublicAccess, generate_blob_sas, generate_container_sas)

from .conftest import ACCOUNT, KEY, container_dir


def _future(hours: float = 1) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def test_upload_download_1mb_byte_exact_and_on_disk(live, container):
    data = os.urandom(1 << 20)
    blob = container.get_blob_client("inputs/train.bin")
    blob.upload_blob(data, content_settings=ContentSettings(content_type="application/x-test"))
    assert blob.download_blob().readall() == data
    props = blob.get_blob_properties()
    assert props.size == len(data) and props.blob_type == "BlockBlob"
    assert props.content_settings.content_type == "application/x-test"
    # the service keeps the MD5 of a single-shot Put Blob
    assert bytes(props.content_settings.content_md5) == hashlib.md5(data).digest()
    # a committed blob is a plain file at its name's path
    assert (container_dir(live, container.container_name) / "inputs" / "train.bin").read_bytes() == data


@pytest.mark.slow
def test_upload_download_100mb_parallel_blocks(live, container):
    data = os.urandom(100 << 20)
    blob = container.get_blob_client("big/100mb.bin")
    blob.upload_blob(data, max_concurrency=4)
    blocks = blob.get_block_list("committed")[0]
    assert len(blocks) == 25 and sum(b.size for b in blocks) == len(data)
    got = blob.download_blob(max_concurrency=4).readall()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    # nothing left behind: staging and temporary files are gone once the list is committed
    state = live.settings.data_dir / "blob-state"
    assert not list((state / ".tmp").iterdir())
    assert not (state / ACCOUNT / container.container_name / "staging").exists() or \
        not list((state / ACCOUNT / container.container_name / "staging").iterdir())


def test_ranges_answer_206_with_stable_etag(live, container):
    data = os.urandom(300_000)
    blob = container.get_blob_client("r.bin")
    blob.upload_blob(data)
    etag = blob.get_blob_properties().etag
    assert blob.download_blob(offset=1000, length=5000).readall() == data[1000:6000]
    assert blob.download_blob(offset=299_990).readall() == data[299_990:]
    sas = generate_blob_sas(ACCOUNT, container.container_name, "r.bin", account_key=KEY,
                            permission=BlobSasPermissions(read=True), expiry=_future())
    url = f"{blob.url}?{sas}"
    r = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}" and r.headers["ETag"] == etag
    r = requests.get(url, headers={"x-ms-range": "bytes=0-99", "x-ms-range-get-content-md5": "true"}, timeout=10)
    assert r.headers["Content-MD5"] == base64.b64encode(hashlib.md5(data[:100]).digest()).decode()
    r = requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=10)
    assert r.status_code == 416 and r.headers["x-ms-error-code"] == "InvalidRange"
    assert blob.get_blob_properties().etag == etag


def test_empty_blob_downloads(container):
    blob = container.get_blob_client("empty")
    blob.upload_blob(b"")
    assert blob.download_blob().readall() == b""


def test_listing_5000_blobs_with_paging(container):
    names = [f"set/{i:05d}.txt" for i in range(5000)]

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: container.upload_blob(n, n.encode()), names))
    pages = container.list_blobs(name_starts_with="set/", results_per_page=1200).by_page()
    seen, page_count = [], 0
    for page in pages:
        page_count += 1
        seen += [b.name for b in page]
    assert page_count == 5 and seen == names
    assert [b.name for b in container.walk_blobs()] == ["set/"]
    assert len(list(container.list_blobs(name_starts_with="set/0499"))) == 10


def test_listing_prefix_delimiter_metadata(container):
    for name in ("a/1", "a/2", "a/b/3", "c", "d/4"):
        container.upload_blob(name, b"x", metadata={"who": name.replace("/", "_")})
    top = list(container.walk_blobs())
    assert [(i.name, type(i).__name__) for i in top] == [("a/", "BlobPrefix"), ("c", "BlobProperties"),
                                                          ("d/", "BlobPrefix")] or \
        sorted(i.name for i in top) == ["a/", "c", "d/"]
    assert sorted(b.name for b in container.list_blobs(name_starts_with="a/")) == ["a/1", "a/2", "a/b/3"]
    with_meta = {b.name: b.metadata for b in container.list_blobs(include=["metadata"])}
    assert with_meta["a/b/3"] == {"who": "a_b_3"}
    with pytest.raises(HttpResponseError) as err:
        list(container.list_blobs(include=["versions"]))
    assert err.value.error_code == "NotSupportedByEmulator"


def test_metadata_and_properties(container):
    blob = container.get_blob_client("m.txt")
    blob.upload_blob(b"meta")
    first = blob.get_blob_properties().etag
    blob.set_blob_metadata({"stage": "one", "Owner": "me"})
    props = blob.get_blob_properties()
    assert props.metadata == {"stage": "one", "owner": "me"} or props.metadata == {"stage": "one", "Owner": "me"}
    assert props.etag != first
    blob.set_http_headers(ContentSettings(content_type="text/plain", cache_control="no-cache"))
    props = blob.get_blob_properties()
    assert props.content_settings.content_type == "text/plain" and props.content_settings.cache_control == "no-cache"
    assert props.metadata  # Set Blob Properties leaves metadata alone


def test_copy_delete_and_conditions(container):
    src = container.get_blob_client("src.bin")
    src.upload_blob(b"copy me", metadata={"a": "1"})
    dst = container.get_blob_client("dst/copy.bin")
    result = dst.start_copy_from_url(src.url)
    assert result["copy_status"] == "success"
    assert dst.download_blob().readall() == b"copy me" and dst.get_blob_properties().metadata == {"a": "1"}
    assert dst.get_blob_properties().copy.status == "success"
    etag = dst.get_blob_properties().etag
    with pytest.raises(ResourceModifiedError):
        dst.delete_blob(etag='"0xDEADBEEF"', match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ResourceExistsError):
        dst.upload_blob(b"again", overwrite=False)
    # If-None-Match with the current ETag: not modified
    with pytest.raises(HttpResponseError) as err:
        dst.download_blob(etag=etag, match_condition=MatchConditions.IfModified).readall()
    assert err.value.status_code == 304
    dst.download_blob(etag=etag, match_condition=MatchConditions.IfNotModified).readall()
    dst.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
    with pytest.raises(ResourceNotFoundError):
        dst.get_blob_properties()
    with pytest.raises(ResourceNotFoundError):
        dst.delete_blob()


def test_containers_metadata_acl_public_access(svc, container):
    container.set_container_metadata({"team": "ml"})
    assert container.get_container_properties().metadata == {"team": "ml"}
    names = [c.name for c in svc.list_containers(name_starts_with=container.container_name, include_metadata=True)]
    assert names == [container.container_name]
    container.upload_blob("pub.txt", b"public")
    anon = BlobClient.from_blob_url(container.get_blob_client("pub.txt").url)
    with pytest.raises(ResourceNotFoundError):
        anon.download_blob()
    container.set_container_access_policy({}, public_access=PublicAccess.Blob)
    assert anon.download_blob().readall() == b"public"
    anon_container = ContainerClient.from_container_url(container.url)
    with pytest.raises(HttpResponseError):
        list(anon_container.list_blobs())
    container.set_container_access_policy({}, public_access=PublicAccess.Container)
    assert [b.name for b in anon_container.list_blobs()] == ["pub.txt"]
    assert container.get_container_access_policy()["public_access"] == "container"


def test_stored_access_policy_sas(container):
    from azure.storage.blob import AccessPolicy, ContainerSasPermissions
    container.upload_blob("p.txt", b"policy")
    container.set_container_access_policy({"readers": AccessPolicy(ContainerSasPermissions(read=True, list=True),
                                                                   expiry=_future())})
    sas = generate_container_sas(ACCOUNT, container.container_name, account_key=KEY, policy_id="readers")
    via = ContainerClient.from_container_url(f"{container.url}?{sas}")
    assert via.get_blob_client("p.txt").download_blob().readall() == b"policy"
    assert [b.name for b in via.list_blobs()] == ["p.txt"]
    with pytest.raises(HttpResponseError) as err:
        via.upload_blob("nope.txt", b"x")
    assert err.value.status_code == 403
    container.set_container_access_policy({})       # the policy is gone: so is the SAS
    with pytest.raises(HttpResponseError) as err:
        via.get_blob_client("p.txt").download_blob()
    assert err.value.status_code == 403


def test_sas_put_and_head_with_content_md5(live, container):
    """What Azure ML's snapshot upload does: PUT a block blob with a blob SAS and Content-MD5, then HEAD it."""
    data = b"snapshot bytes " * 1000
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    sas = generate_blob_sas(ACCOUNT, container.container_name, "snap/run.zip", account_key=KEY,
                            permission=BlobSasPermissions(read=True, create=True, write=True), expiry=_future())
    url = f"{live.blob_url}/{ACCOUNT}/{container.container_name}/snap/run.zip?{sas}"
    r = requests.put(url, data=data, headers={"x-ms-blob-type": "BlockBlob", "Content-MD5": md5,
                                              "x-ms-version": "2019-07-07"}, timeout=10)
    assert r.status_code == 201, r.text
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.headers["Content-MD5"] == md5
    assert int(head.headers["Content-Length"]) == len(data)
    # the same through BlobClient.from_blob_url (127.0.0.1: one path segment is the account)
    client = BlobClient.from_blob_url(url)
    assert client.container_name == container.container_name and client.blob_name == "snap/run.zip"
    assert client.download_blob().readall() == data
    client.upload_blob(b"v2", overwrite=True, validate_content=True)
    assert client.download_blob().readall() == b"v2"


def test_names_that_cannot_be_paths_are_served(live, container):
    odd = ["a//b", "dir/", "x/" + "n" * 300, "file", "file/child"]
    for name in odd:
        container.upload_blob(name, name.encode())
    for name in odd:
        assert container.download_blob(name).readall() == name.encode()
    assert sorted(b.name for b in container.list_blobs()) == sorted(odd)
    on_disk = container_dir(live, container.container_name)
    assert (on_disk / "file").read_bytes() == b"file"       # path-placed
    assert not (on_disk / "a").exists()                     # a//b is stored aside
    for name in odd:
        container.delete_blob(name)
    assert list(container.list_blobs()) == [] and not list(on_disk.iterdir())


def test_files_written_on_disk_are_blobs(live, container):
    d = container_dir(live, container.container_name) / "outputs" / "run1"
    d.mkdir(parents=True)
    (d / "model.bin").write_bytes(b"weights")
    os.symlink("/etc/passwd", d / "leak")
    assert sorted(b.name for b in container.list_blobs()) == ["outputs/run1/model.bin"]
    assert container.download_blob("outputs/run1/model.bin").readall() == b"weights"
    with pytest.raises(ResourceNotFoundError):
        container.download_blob("outputs/run1/leak").readall()


def test_unsupported_blob_kinds_are_named(container):
    blob = container.get_blob_client("kinds")
    with pytest.raises(HttpResponseError) as err:
        blob.create_append_blob()
    assert err.value.error_code == "NotSupportedByEmulator" and "Append" in str(err.value)
    with pytest.raises(HttpResponseError) as err:
        blob.create_page_blob(512)
    assert err.value.error_code == "NotSupportedByEmulator" and "Page" in str(err.value)
    blob.upload_blob(b"x")
    with pytest.raises(HttpResponseError) as err:
        blob.set_standard_blob_tier("Cool")
    assert err.value.error_code == "NotSupportedByEmulator" and "tier" in str(err.value)
    with pytest.raises(HttpResponseError) as err:
        blob.create_snapshot()
    assert err.value.error_code == "NotSupportedByEmulator"


def test_service_properties_and_account_info(svc):
    props = svc.get_service_properties()
    assert props["delete_retention_policy"].enabled is False
    svc.set_service_properties(cors=[])
    from azure.storage.blob import RetentionPolicy
    with pytest.raises(HttpResponseError) as err:
        svc.set_service_properties(delete_retention_policy=RetentionPolicy(enabled=True, days=3))
    assert err.value.error_code == "NotSupportedByEmulator"
    assert svc.get_account_information()["sku_name"] == "Standard_LRS"


def test_host_style_on_the_main_port(live, container):
    container.upload_blob("h.txt", b"host style")
    host_port = live.http_url.rsplit(":", 1)[1]
    sas = generate_blob_sas(ACCOUNT, container.container_name, "h.txt", account_key=KEY,
                            permission=BlobSasPermissions(read=True), expiry=_future())
    r = requests.get(f"http://127.0.0.1:{host_port}/{container.container_name}/h.txt?{sas}",
                     headers={"Host": f"{ACCOUNT}.blob.localhost:{host_port}"}, timeout=10)
    assert r.status_code == 200 and r.content == b"host style"
    # without the blob host name, the same path on the main port is not the blob service
    r = requests.get(f"{live.http_url}/{ACCOUNT}/{container.container_name}/h.txt?{sas}", timeout=10)
    assert r.status_code != 200


def test_delete_container(svc):
    name = "gone" + uuid.uuid4().hex[:8]
    c = svc.create_container(name)
    c.upload_blob("x", b"1")
    with pytest.raises(ResourceExistsError):
        svc.create_container(name)
    c.delete_container()
    with pytest.raises(ResourceNotFoundError):
        c.get_container_properties()
    assert name not in [x.name for x in svc.list_containers()]


def test_arm_account_endpoints(live):
    """Storage accounts made through ARM name the Blob endpoint, and their keys work there."""
    from tests.blob.conftest import connection_string
    import json
    token = "Bearer x.y.z"
    sub, rg, name = "00000000-0000-0000-0000-000000000001", "blobrg", "blobarm" + uuid.uuid4().hex[:6]
    base = live.http_url
    h = {"Authorization": token, "Content-Type": "application/json"}
    assert requests.put(f"{base}/subscriptions/{sub}/resourcegroups/{rg}?api-version=2021-04-01",
                        data=json.dumps({"location": "eastus"}), headers=h, timeout=10).status_code in (200, 201)
    r = requests.put(f"{base}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
                     f"{name}?api-version=2023-01-01", data=json.dumps({"location": "eastus", "kind": "StorageV2",
                                                                         "sku": {"name": "Standard_LRS"}}),
                     headers=h, timeout=10)
    assert r.status_code == 200, r.text
    endpoint = r.json()["properties"]["primaryEndpoints"]["blob"]
    assert endpoint == f"{live.blob_url}/{name}/"
    keys = requests.post(f"{base}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/"
                         f"storageAccounts/{name}/listKeys?api-version=2023-01-01", headers=h, timeout=10).json()
    key = keys["keys"][0]["value"]
    svc = BlobServiceClient.from_connection_string(connection_string(live.blob_url, name, key))
    svc.create_container("armmade").upload_blob("k", b"v")
    assert svc.get_container_client("armmade").download_blob("k").readall() == b"v"


def test_block_lists_in_any_order_restaged_and_repeated(container):
    """Staged blocks committed out of upload order, a block staged twice (the latest bytes win), a block listed
    twice, and blocks of different sizes."""
    from azure.storage.blob import BlobBlock
    blob = container.get_blob_client("order.bin")
    parts = {f"{i:04d}": os.urandom(100_000 + i * 7) for i in range(6)}
    ids = {k: base64.b64encode(k.encode()).decode() for k in parts}
    for k, v in parts.items():
        blob.stage_block(ids[k], v)
    blob.stage_block(ids["0002"], b"restaged")
    parts["0002"] = b"restaged"
    order = ["0005", "0001", "0002", "0000", "0004", "0003"]
    blob.commit_block_list([BlobBlock(ids[k]) for k in order])
    assert blob.download_blob().readall() == b"".join(parts[k] for k in order)
    assert [b.id for b in blob.get_block_list("committed")[0]] == [ids[k] for k in order]
    for k in ("0000", "0001"):
        blob.stage_block(ids[k], parts[k])
    blob.commit_block_list([BlobBlock(ids["0001"]), BlobBlock(ids["0000"]), BlobBlock(ids["0001"])])
    assert blob.download_blob().readall() == parts["0001"] + parts["0000"] + parts["0001"]
    assert blob.get_block_list("uncommitted")[1] == []


def test_parallel_style_out_of_order_commit(container):
    """Blocks that tile the staging area but arrived out of list order (what parallel uploads produce) are put in
    list order; an in-order list is taken as staged."""
    from azure.storage.blob import BlobBlock
    blocks = [(base64.b64encode(f"blk{i:03d}".encode()).decode(), os.urandom(65_536 + (i == 4) * 1000))
              for i in range(5)]
    for order, name in (([1, 0, 3, 2, 4], "swapped.bin"), ([0, 1, 2, 3, 4], "inorder.bin"),
                        ([4, 3, 2, 1, 0], "reversed.bin")):
        blob = container.get_blob_client(name)
        for block_id, data in blocks:
            blob.stage_block(block_id, data)
        blob.commit_block_list([BlobBlock(blocks[i][0]) for i in order])
        assert blob.download_blob().readall() == b"".join(blocks[i][1] for i in order), name
        assert blob.get_blob_properties().size == sum(len(blocks[i][1]) for i in order)


def test_readers_never_see_half_a_blob(container):
    """While two versions of a blob are uploaded in turn (single Put Blob and block lists), every download is
    exactly one of them."""
    import threading
    versions = [bytes([65 + i]) * (6 << 20) for i in range(2)]
    blob = container.get_blob_client("flip.bin")
    blob.upload_blob(versions[0])
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            blob.upload_blob(versions[i % 2], overwrite=True, max_concurrency=2)
            i += 1
    t = threading.Thread(target=writer)
    t.start()
    try:
        seen = set()
        for _ in range(12):
            got = blob.download_blob(max_concurrency=1).readall()
            assert got in versions, "a download mixed two versions or saw a partial blob"
            seen.add(got[:1])
    finally:
        stop.set()
        t.join(60)
