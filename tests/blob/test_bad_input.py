"""Bad input to the Blob port: wrong keys, tampered / expired / under-privileged SAS, traversal in names, bodies
whose digest does not match, block lists naming unknown blocks; kill -9 in the middle of an upload."""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import os
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import formatdate

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.storage.blob import (AccountSasPermissions, BlobBlock, BlobSasPermissions,
                                BlobServiceClient, ContainerClient, ResourceTypes, generate_account_sas,
                                generate_blob_sas, generate_container_sas)

from emulator.crc64 import Crc64
from tests.served import Served

from .conftest import ACCOUNT, KEY, connection_string, container_dir

WRONG_KEY = base64.b64encode(os.urandom(64)).decode()


def _when(hours: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def test_wrong_key_is_403_and_nothing_is_made(live, svc):
    bad = BlobServiceClient.from_connection_string(connection_string(live.blob_url, key=WRONG_KEY))
    name = "never" + uuid.uuid4().hex[:8]
    with pytest.raises(ClientAuthenticationError) as err:
        bad.create_container(name)
    assert err.value.status_code == 403 and err.value.error_code == "AuthenticationFailed"
    assert name not in [c.name for c in svc.list_containers()]


def test_no_credentials_on_a_private_container(live, container):
    container.upload_blob("x", b"1")
    r = requests.get(f"{container.url}/x", timeout=10)
    assert r.status_code == 404 and r.headers["x-ms-error-code"] == "ResourceNotFound"
    r = requests.put(f"{container.url}/y", data=b"2", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert r.status_code == 401 and r.headers["x-ms-error-code"] == "NoAuthenticationInformation"


def test_sas_tampered_expired_and_without_permission(live, container):
    container.upload_blob("s.txt", b"sas")
    blob_url = container.get_blob_client("s.txt").url
    good = generate_blob_sas(ACCOUNT, container.container_name, "s.txt", account_key=KEY,
                             permission=BlobSasPermissions(read=True), expiry=_when(1))
    assert requests.get(f"{blob_url}?{good}", timeout=10).content == b"sas"
    tampered = good.replace("sp=r", "sp=rw")
    r = requests.put(f"{blob_url}?{tampered}", data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert r.status_code == 403 and r.headers["x-ms-error-code"] == "AuthenticationFailed"
    expired = generate_blob_sas(ACCOUNT, container.container_name, "s.txt", account_key=KEY,
                                permission=BlobSasPermissions(read=True), expiry=_when(-1))
    r = requests.get(f"{blob_url}?{expired}", timeout=10)
    assert r.status_code == 403 and "expired" in r.text
    r = requests.put(f"{blob_url}?{good}", data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert r.status_code == 403 and r.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    # a blob SAS does not reach another blob; a container SAS without l cannot list
    other = f"{container.url}/other.txt?{good}"
    assert requests.get(other, timeout=10).status_code == 403
    csas = generate_container_sas(ACCOUNT, container.container_name, account_key=KEY, permission="r",
                                  expiry=_when(1))
    with pytest.raises(HttpResponseError) as err:
        list(ContainerClient.from_container_url(f"{container.url}?{csas}").list_blobs())
    assert err.value.status_code == 403
    # account SAS: blob service, but without the object resource type
    asas = generate_account_sas(ACCOUNT, KEY, ResourceTypes(service=True, container=True),
                                AccountSasPermissions(read=True, list=True), _when(1))
    assert requests.get(f"{blob_url}?{asas}", timeout=10).status_code == 403
    asas = generate_account_sas(ACCOUNT, KEY, ResourceTypes(object=True), AccountSasPermissions(read=True), _when(1))
    assert requests.get(f"{blob_url}?{asas}", timeout=10).content == b"sas"


def test_shared_key_lite(live, container, raw):
    container.upload_blob("lite.txt", b"lite")
    path = f"/{ACCOUNT}/{container.container_name}/lite.txt"
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2019-02-02"}
    # Lite: VERB, Content-MD5, Content-Type, Date (empty with x-ms-date), x-ms-* headers, /account + path
    text = "GET\n\n\n\n" + "".join(f"{k}:{v}\n" for k, v in sorted(headers.items())) + f"/{ACCOUNT}{path}"
    import hmac
    mac = base64.b64encode(hmac.new(base64.b64decode(KEY), text.encode(), hashlib.sha256).digest()).decode()
    status, _, body = raw.request("GET", path, headers={**headers, "Authorization": f"SharedKeyLite {ACCOUNT}:{mac}"},
                                  signed=False)
    assert status == 200 and body == b"lite"
    forged = f"SharedKeyLite {ACCOUNT}:{mac[:-4]}AAA="
    status, _, _ = raw.request("GET", path, headers={**headers, "Authorization": forged}, signed=False)
    assert status == 403


@pytest.mark.parametrize("name", ["../ZZESC", "a/../../ZZESC", "%2E%2E/ZZESC", "a/%2e%2e%2F%2e%2e/ZZESC",
                                  "a/./ZZESC", "..%2FZZESC"])
def test_traversal_names_are_refused(live, container, raw, name):
    status, headers, _ = raw.request("PUT", f"/{ACCOUNT}/{container.container_name}/{name}", body=b"x",
                                     headers={"x-ms-blob-type": "BlockBlob"})
    assert status == 400 and headers["x-ms-error-code"] == "InvalidResourceName"
    assert not list(live.settings.data_dir.rglob("ZZESC"))


def test_encoded_traversal_in_container_segment(raw):
    status, headers, _ = raw.request("GET", f"/{ACCOUNT}/%2E%2E/x")
    assert status == 400 and headers["x-ms-error-code"] == "InvalidResourceName"


@pytest.mark.slow
def test_100mb_body_with_wrong_md5_is_refused_and_nothing_stored(live, container):
    data = os.urandom(100 << 20)
    wrong = base64.b64encode(hashlib.md5(data[:-1]).digest()).decode()
    sas = generate_blob_sas(ACCOUNT, container.container_name, "wrong.bin", account_key=KEY,
                            permission=BlobSasPermissions(create=True, write=True), expiry=_when(1))
    r = requests.put(f"{container.url}/wrong.bin?{sas}", data=data,
                     headers={"x-ms-blob-type": "BlockBlob", "Content-MD5": wrong}, timeout=120)
    assert r.status_code == 400 and r.headers["x-ms-error-code"] == "Md5Mismatch"
    with pytest.raises(ResourceNotFoundError):
        container.get_blob_client("wrong.bin").get_blob_properties()
    assert not (container_dir(live, container.container_name) / "wrong.bin").exists()
    assert not list((live.settings.data_dir / "blob-state" / ".tmp").iterdir())


def test_crc64_checked(live, container):
    data = b"crc body" * 100
    crc = Crc64()
    crc.update(data)
    sas = generate_blob_sas(ACCOUNT, container.container_name, "crc.bin", account_key=KEY,
                            permission=BlobSasPermissions(create=True, write=True, read=True), expiry=_when(1))
    url = f"{container.url}/crc.bin?{sas}"
    r = requests.put(url, data=data, headers={"x-ms-blob-type": "BlockBlob", "x-ms-content-crc64": crc.b64()},
                     timeout=10)
    assert r.status_code == 201
    r = requests.put(url, data=data + b"!", headers={"x-ms-blob-type": "BlockBlob", "x-ms-content-crc64": crc.b64()},
                     timeout=10)
    assert r.status_code == 400 and r.headers["x-ms-error-code"] == "Crc64Mismatch"
    assert requests.get(url, timeout=10).content == data


def test_block_list_naming_an_unknown_block(container):
    blob = container.get_blob_client("blocks.bin")
    blob.stage_block("YmxvY2stMDAx", b"one")
    with pytest.raises(HttpResponseError) as err:
        blob.commit_block_list([BlobBlock("YmxvY2stMDAx"), BlobBlock("YmxvY2stMDAy")])
    assert err.value.status_code == 400 and err.value.error_code == "InvalidBlockList"
    with pytest.raises(ResourceNotFoundError):
        blob.get_blob_properties()
    committed, uncommitted = blob.get_block_list("all")
    assert committed == [] and [b.id for b in uncommitted] == ["YmxvY2stMDAx"]
    blob.commit_block_list([BlobBlock("YmxvY2stMDAx")])
    assert blob.download_blob().readall() == b"one"
    # a committed block can be reused with new ones
    blob.stage_block("YmxvY2stMDAy", b"two")
    from azure.storage.blob import BlockState
    blob.commit_block_list([BlobBlock("YmxvY2stMDAx", BlockState.COMMITTED), BlobBlock("YmxvY2stMDAy")])
    assert blob.download_blob().readall() == b"onetwo"


@pytest.mark.slow
def test_kill9_during_large_uploads_leaves_no_partial_blob(tmp_path):
    served = Served(tmp_path / "data", "--executor", "none").start()
    try:
        svc = BlobServiceClient.from_connection_string(connection_string(served.blob_url), retry_total=0,
                                                       max_single_put_size=4 << 20, max_block_size=4 << 20)
        container = svc.create_container("killed")
        data = os.urandom(48 << 20)
        sas = generate_blob_sas(ACCOUNT, "killed", "single.bin", account_key=KEY,
                                permission=BlobSasPermissions(create=True, write=True), expiry=_when(1))

        def single():
            conn = http.client.HTTPConnection("127.0.0.1", served.blob_port, timeout=60)
            try:
                conn.putrequest("PUT", f"/{ACCOUNT}/killed/single.bin?{sas}")
                conn.putheader("x-ms-blob-type", "BlockBlob")
                conn.putheader("Content-Length", str(len(data)))
                conn.endheaders()
                for i in range(0, len(data), 1 << 20):
                    conn.send(data[i:i + (1 << 20)])
                    time.sleep(0.05)
                conn.getresponse().read()
            except OSError:
                pass
            finally:
                conn.close()

        class SlowStream(io.RawIOBase):
            """The bytes, handed out at about 20 MiB/s: the upload is still going when the kill comes."""
            pos = 0

            def readable(self):
                return True

            def read(self, n=-1):
                n = min(len(data) - self.pos, len(data) if n is None or n < 0 else n)
                time.sleep(0.05 * n / (1 << 20))
                out = data[self.pos:self.pos + n]
                self.pos += len(out)
                return out

        def blocks():
            try:
                container.upload_blob("blocks.bin", SlowStream(), length=len(data), max_concurrency=2)
            except Exception:
                pass
        threads = [threading.Thread(target=single), threading.Thread(target=blocks)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        tmp = served.data_dir / "blob-state" / ".tmp"
        staging = served.data_dir / "blob-state" / ACCOUNT / "killed" / "staging"

        def received(d):
            return sum(f.stat().st_blocks * 512 for f in d.rglob("*") if f.is_file()) if d.exists() else 0
        while time.monotonic() < deadline and (received(tmp) < (8 << 20) or received(staging) < (8 << 20)):
            time.sleep(0.02)
        served.kill9()
        for t in threads:
            t.join(60)
        served.start()
        container = ContainerClient.from_connection_string(connection_string(served.blob_url), "killed")
        assert [(b.name, b.size) for b in container.list_blobs()] == []
        for name in ("single.bin", "blocks.bin"):
            with pytest.raises(ResourceNotFoundError):
                container.get_blob_client(name).get_blob_properties()
        assert not list((served.data_dir / "blobs" / ACCOUNT / "killed").iterdir())
        assert not list(tmp.iterdir())
        # the same container takes a whole upload afterwards
        container.upload_blob("blocks.bin", data, max_concurrency=2)
        assert container.download_blob("blocks.bin").readall() == data
        assert not served.unhandled_errors()
    finally:
        served.stop()
