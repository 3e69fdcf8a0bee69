"""azure-storage-blob 2.1.0 (BlockBlobService, what the 2018 Batch AI samples used) against the emulator's Blob port.
Runs in .venv-blob2018; prints one JSON report on its last line. Usage: legacy_blob.py BLOB_URL ACCOUNT KEY"""
import hashlib
import json
import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from azure.common import AzureConflictHttpError, AzureHttpError, AzureMissingResourceHttpError
from azure.storage.blob import BlobPermissions, BlockBlobService, ContentSettings

url, account, key = sys.argv[1:4]
cs = f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={url}/{account};"
svc = BlockBlobService(connection_string=cs)
svc.MAX_SINGLE_PUT_SIZE = 4 << 20
svc.MAX_BLOCK_SIZE = 4 << 20
report = {}
container = "legacy" + uuid.uuid4().hex[:8]
report["created"] = svc.create_container(container)

small = os.urandom(1 << 20)
svc.create_blob_from_bytes(container, "in/1mb.bin", small, metadata={"kind": "small"},
                           content_settings=ContentSettings(content_type="application/x-small"))
report["small"] = svc.get_blob_to_bytes(container, "in/1mb.bin").content == small
big = os.urandom(int(sys.argv[4]) << 20 if len(sys.argv) > 4 else 100 << 20)
svc.create_blob_from_bytes(container, "in/big.bin", big, max_connections=4)
got = svc.get_blob_to_bytes(container, "in/big.bin", max_connections=4).content
report["big"] = [len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(big).hexdigest()]
report["blocks"] = len(svc.get_block_list(container, "in/big.bin", block_list_type="committed").committed_blocks)
report["range"] = svc.get_blob_to_bytes(container, "in/1mb.bin", start_range=100, end_range=199).content == \
    small[100:200]
props = svc.get_blob_properties(container, "in/1mb.bin")
report["props"] = [props.properties.content_length, props.properties.content_settings.content_type, props.metadata]
svc.set_blob_metadata(container, "in/1mb.bin", {"kind": "changed"})
report["metadata"] = svc.get_blob_metadata(container, "in/1mb.bin")

names = [f"many/{i:04d}" for i in range(5000)]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda n: svc.create_blob_from_bytes(container, n, n.encode()), names))
listed, marker, pages = [], None, 0
while True:
    page = svc.list_blobs(container, prefix="many/", num_results=1000, marker=marker)
    listed += [b.name for b in page]
    pages += 1
    marker = page.next_marker
    if not marker:
        break
report["listing"] = [pages, listed == names]
report["delimited"] = sorted(b.name for b in svc.list_blobs(container, delimiter="/"))

svc.copy_blob(container, "copied/1mb.bin", svc.make_blob_url(container, "in/1mb.bin"))
report["copy"] = svc.get_blob_to_bytes(container, "copied/1mb.bin").content == small

etag = svc.get_blob_properties(container, "copied/1mb.bin").properties.etag
try:
    svc.delete_blob(container, "copied/1mb.bin", if_match='"0x1"')
    report["if_match"] = "deleted"
except AzureHttpError as exc:
    report["if_match"] = exc.status_code
try:
    svc.create_blob_from_bytes(container, "copied/1mb.bin", b"x", if_none_match="*")
    report["if_none_match"] = "overwritten"
except AzureHttpError as exc:
    report["if_none_match"] = exc.status_code
svc.delete_blob(container, "copied/1mb.bin", if_match=etag)
report["deleted"] = not svc.exists(container, "copied/1mb.bin")

sas = svc.generate_blob_shared_access_signature(container, "in/1mb.bin", permission=BlobPermissions.READ,
                                                expiry=datetime.utcnow() + timedelta(hours=1))
reader = BlockBlobService(account_name=account, sas_token=sas, custom_domain=f"{url}/{account}")
report["sas_read"] = reader.get_blob_to_bytes(container, "in/1mb.bin").content == small
try:
    reader.create_blob_from_bytes(container, "in/denied", b"x")
    report["sas_write"] = "allowed"
except AzureHttpError as exc:
    report["sas_write"] = exc.status_code
bad = BlockBlobService(connection_string=cs.replace(key, "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="))
try:
    bad.get_blob_to_bytes(container, "in/1mb.bin")
    report["wrong_key"] = "allowed"
except AzureHttpError as exc:
    report["wrong_key"] = exc.status_code
try:
    svc.get_blob_to_bytes(container, "in/none")
except AzureMissingResourceHttpError as exc:
    report["missing"] = exc.status_code
try:
    svc.create_container(container, fail_on_exist=True)
except AzureConflictHttpError as exc:
    report["conflict"] = exc.status_code
report["container_deleted"] = svc.delete_container(container)
print(json.dumps(report))
