"""Content (snapshots) and the blob URLs they are uploaded through.

`getblob` hands out service-SAS URLs of the workspace's storage account, container `azureml-snapshots`, at the
host name the SDK rebuilds them to anyway (`https://<account>.blob.<suffix>/...`; it drops any port): the SDK
uploads through the emulator's HTTPS proxy to the Blob plane. Creating the snapshot then reads those blobs back
through the same Blob door (loopback HTTPS with the Host name and the SAS) and keeps the snapshot's files under
`<data-dir>/azureml/snapshots/<id>/files/` — durable, so a restarted emulator still has every snapshot, and the
client's cached snapshot id stays good. Files the client did not upload (unchanged since the parent snapshot the
client diffed against) are taken from that parent.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import requests

from ..errors import EmulatorError
from ..models import now_iso
from ..store import AlreadyExists, Store
from . import ids

CONTAINER = "azureml-snapshots"
SAS_VERSION = "2019-02-02"
STORAGE_SUFFIX = "core.windows.net"


def blob_sas(account: str, key: bytes, container: str, blob: str, permissions: str, hours: float = 24) -> str:
    """A blob service SAS query string (version 2019-02-02 string-to-sign, as Azure Storage computes it)."""
    expiry = (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resource = f"/blob/{account}/{container}/{blob}"
    to_sign = "\n".join([permissions, "", expiry, resource, "", "", "https", SAS_VERSION, "b", "", "", "", "", "",
                         ""])
    sig = base64.b64encode(hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({"sv": SAS_VERSION, "sr": "b", "sp": permissions, "se": expiry, "spr": "https",
                                   "sig": sig})


def account_sas(account: str, key: bytes, permissions: str = "rwdlac", hours: float = 1) -> str:
    """An account SAS query string for the Blob service (version 2019-02-02 string-to-sign)."""
    expiry = (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    to_sign = "\n".join([account, permissions, "b", "sco", "", expiry, "", "https", SAS_VERSION, ""])
    sig = base64.b64encode(hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).digest()).decode()
    return urllib.parse.urlencode({"sv": SAS_VERSION, "ss": "b", "srt": "sco", "sp": permissions, "se": expiry,
                                   "spr": "https", "sig": sig})


def safe_relative(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or "\0" in name:
        raise EmulatorError(400, "BadArgument", f"'{name}' is not a relative file name inside the snapshot.")
    return p


class ContentBackend:
    def __init__(self, store: Store, data_dir: Path, https_port):
        self.store = store
        self.data_dir = Path(data_dir)
        self.https_port = https_port     # a callable: the emulator's bound HTTPS port (the Blob plane's door)
        self._containers: set = set()

    def snapshot_dir(self, snapshot_id: str) -> Path:
        return self.data_dir / "azureml" / "snapshots" / ids.safe(snapshot_id) / "files"

    def _blob(self, method: str, account: str, path: str, query: str) -> requests.Response:
        """A request to the Blob plane's own door: the emulator's HTTPS port, host-style for the account."""
        return requests.request(method, f"https://127.0.0.1:{self.https_port()}{path}?{query}",
                                headers={"Host": f"{account}.blob.{STORAGE_SUFFIX}", "x-ms-version": SAS_VERSION},
                                timeout=60, verify=str(self.data_dir / "cert.pem"),
                                proxies={"http": None, "https": None})

    def ensure_container(self, account: str, key: bytes) -> None:
        if (account, key) in self._containers:
            return
        resp = self._blob("PUT", account, f"/{CONTAINER}", "restype=container&" + account_sas(account, key))
        if resp.status_code not in (201, 409):
            raise EmulatorError(503, "StorageUnavailable", f"The snapshot container could not be made in the "
                                f"workspace's storage account {account} ({resp.status_code}).")
        self._containers.add((account, key))

    def upload_urls(self, account: str, key: bytes, names: list[str]) -> list[dict]:
        self.ensure_container(account, key)
        batch = str(uuid.uuid4())
        out = []
        for name in names:
            rel = safe_relative(name).as_posix()
            blob = f"{batch}/{rel}"
            url = (f"https://{account}.blob.{STORAGE_SUFFIX}/{CONTAINER}/{urllib.parse.quote(blob)}?"
                   f"{blob_sas(account, key, CONTAINER, blob, 'rcw')}")
            out.append({"fullName": rel, "blobUri": url})
        return out

    def latest(self, ws_id: str) -> dict:
        recs = self.store.list(ids.SNAPSHOT, parent=ws_id)
        if not recs:
            return {"id": None, "root": {}}
        latest = max(recs, key=lambda r: r.seq)
        return {"id": latest.name, "root": latest.body["root"]}

    def get(self, ws_id: str, snapshot_id: str) -> dict:
        rec = self.store.get(ids.snapshot(ws_id, snapshot_id))
        if rec is None or rec.kind != ids.SNAPSHOT:
            raise EmulatorError(404, "SnapshotNotFound", f"Snapshot '{snapshot_id}' was not found.")
        return rec.body

    def create(self, ws_id: str, snapshot_id: str, body: dict, account: str) -> dict:
        if self.store.get(ids.snapshot(ws_id, snapshot_id)) is not None:
            return self.get(ws_id, snapshot_id)
        root = body.get("DirTreeNode") or body.get("dirTreeNode") or {}
        revisions = ((body.get("FileRevisionList") or {}).get("FileNodes") or [])
        parent = body.get("ParentSnapshotId")
        files = list(_files(root))
        target = self.snapshot_dir(snapshot_id)
        staging = target.with_name("files.partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        uploaded = {}
        for node in revisions:
            name = safe_relative(node.get("FullName") or "").as_posix()
            uploaded[name] = node.get("BlobUri") or ""
        parent_dir = self.snapshot_dir(parent) if parent else None
        for name in files:
            dst = staging / safe_relative(name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if name in uploaded:
                dst.write_bytes(self._read_blob(uploaded[name], account))
            elif parent_dir is not None and (parent_dir / name).is_file():
                shutil.copyfile(parent_dir / name, dst)
            else:
                raise EmulatorError(400, "SnapshotFileMissing", f"The snapshot lists '{name}', which was neither "
                                    "uploaded nor in its parent snapshot.")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        record = {"id": snapshot_id, "root": root, "parent": parent, "created": now_iso(),
                  "files": files, "properties": body.get("Properties") or {}}
        try:
            self.store.create(ids.SNAPSHOT, ids.snapshot(ws_id, snapshot_id), ws_id, snapshot_id, record,
                              parent_kind=ids.WORKSPACE)
        except AlreadyExists:
            pass
        return record

    def _read_blob(self, url: str, account: str) -> bytes:
        """The uploaded bytes, through the Blob plane's own door: the emulator's HTTP port with the storage host
        name the SDK used, and the SAS the upload carried (it grants read)."""
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != f"{account}.blob.{STORAGE_SUFFIX}":
            raise EmulatorError(400, "BadArgument", f"BlobUri '{url.split('?')[0]}' is not in the workspace's "
                                "storage account.")
        resp = self._blob("GET", account, parts.path, parts.query)
        if resp.status_code != 200:
            raise EmulatorError(400, "SnapshotBlobMissing", f"The snapshot file {parts.path} could not be read "
                                f"back from blob storage ({resp.status_code}): was it uploaded?")
        return resp.content



def _files(node: dict, prefix: str = ""):
    """Relative paths of the files of a DirTreeNode (the dict form: children by name)."""
    for name, child in (node.get("children") or {}).items():
        path = f"{prefix}{name}"
        if child.get("type") == "File":
            yield path
        else:
            yield from _files(child, path + "/")
