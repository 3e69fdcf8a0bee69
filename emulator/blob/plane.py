"""Operation semantics of the blob service: containers and block blobs. No Flask here.

Methods take decoded names (checked by names.py), work on the disk (disk.py) and the rows (meta.py), and return
small info objects the handlers render; failures are StorageErrors with the service's codes. Bodies arrive as a
`fill(view) -> n` function and are received completely into a temporary file (and checked against Content-MD5 /
x-ms-content-crc64) before anything becomes visible; `check` callables carry the request's conditional headers
and are evaluated against the current blob under the blob's lock, right before a write replaces it.
"""
from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from ..backend.storage import StorageBackend
from ..errors import StorageError
from ..files.disk import etag, tag
from ..crc64 import Crc64
from .disk import BlobDisk, container_not_found, copy_into
from .meta import BlobMeta, BlobProps, ContainerRow
from .staging import Staging
from .names import ACCOUNT_NAME

EXTENSION = "azure_blob"
MAX_BLOCK = 4000 << 20            # Put Block (service version 2019-12-12 on)
MAX_PUT_BLOB = 5000 << 20         # Put Blob
MAX_BLOCKS = 50_000
_CHUNK = 1 << 20


@dataclass
class ContainerInfo:
    name: str
    etag: str
    last_modified: float
    metadata: dict[str, str] = field(default_factory=dict)
    public: str | None = None
    acl: list[dict] = field(default_factory=list)


@dataclass
class BlobInfo:
    name: str
    st: os.stat_result
    aside: bool
    props: BlobProps

    @property
    def etag(self) -> str:
        return etag(self.st)

    @property
    def size(self) -> int:
        return self.st.st_size

    @property
    def created(self) -> float:
        return self.props.created if self.props.created is not None else min(self.st.st_mtime, self.st.st_ctime)


Check = Callable[["BlobInfo | None"], None]


def blob_not_found() -> StorageError:
    return StorageError(404, "BlobNotFound", "The specified blob does not exist.")


def receive(fd: int, fill, length: int, md5: str | None, crc64: str | None, always_md5: bool = False) -> str | None:
    """Write exactly `length` body bytes to `fd`; verify the digests given. Returns the body's MD5 (base64) when
    computed."""
    hasher = hashlib.md5() if (md5 or always_md5) else None
    crc = Crc64() if crc64 else None
    buf = memoryview(bytearray(min(_CHUNK, max(length, 1))))
    got = 0
    while got < length:
        n = fill(buf[:min(len(buf), length - got)])
        if not n:
            raise StorageError(400, "InvalidInput", f"The request body ended after {got} of {length} bytes; "
                               "nothing was stored.")
        piece = buf[:n]
        written = 0
        while written < n:
            written += os.write(fd, piece[written:])
        if hasher:
            hasher.update(piece)
        if crc:
            crc.update(piece)
        got += n
    digest = base64.b64encode(hasher.digest()).decode() if hasher else None
    if md5 and digest != md5:
        raise StorageError(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 "
                           f"value calculated by the server (sent {md5}, computed {digest}); nothing was stored.",
                           {"UserSpecifiedMd5": md5, "ServerCalculatedMd5": digest or ""})
    if crc and crc.b64() != crc64:
        raise StorageError(400, "Crc64Mismatch", "The CRC64 value specified in the request did not match with the "
                           f"CRC64 value calculated by the server (sent {crc64}, computed {crc.b64()}); nothing was "
                           "stored.")
    return digest


class BlobPlane:
    def __init__(self, settings, store):
        self.settings = settings
        self.store = store
        self.disk = BlobDisk(settings.data_dir)
        self.staging = Staging(self.disk)
        self.meta = BlobMeta(settings.data_dir / "emulator.db")

    # ---- accounts -------------------------------------------------------------------------------------------
    def account(self, name: str) -> tuple[str, list[bytes]] | None:
        if not ACCOUNT_NAME.match(name or ""):
            return None
        return StorageBackend(self.store, self.settings.accounts).keys(name)

    def forget_account(self, account: str) -> None:
        self.disk.delete_account(account)
        self.meta.forget(account)

    # ---- containers -----------------------------------------------------------------------------------------
    def _container_info(self, account: str, name: str, row: ContainerRow | None = None) -> ContainerInfo:
        row = row or self.meta.container(account, name)
        if row is not None:
            return ContainerInfo(name, tag("container", row.created, row.seq), row.modified, row.metadata,
                                 row.public, row.acl)
        st = os.stat(self.disk.container_dir(account, name))
        return ContainerInfo(name, etag(st), st.st_mtime)

    def create_container(self, account: str, name: str, metadata: dict, public: str | None) -> ContainerInfo:
        if not self.disk.create_container(account, name):
            raise StorageError(409, "ContainerAlreadyExists", "The specified container already exists.")
        self.meta.forget(account, name)
        row = self.meta.put_container(account, name, ContainerRow(time.time(), metadata=metadata, public=public))
        return self._container_info(account, name, row)

    def container(self, account: str, name: str) -> ContainerInfo:
        if not self.disk.container_exists(account, name):
            raise container_not_found()
        return self._container_info(account, name)

    def public_access(self, account: str, name: str) -> tuple[str | None, list[dict]]:
        row = self.meta.container(account, name)
        return (row.public, row.acl) if row else (None, [])

    def delete_container(self, account: str, name: str) -> None:
        self.disk.delete_container(account, name)
        self.meta.forget(account, name)

    def update_container(self, account: str, name: str, metadata: dict | None = None, acl=None,
                         public: str | None | bool = False) -> ContainerInfo:
        """metadata / acl when given; public when not False (None clears it)."""
        self.container(account, name)
        row = self.meta.container(account, name)
        if row is None:
            row = ContainerRow(os.stat(self.disk.container_dir(account, name)).st_mtime)
        if metadata is not None:
            row.metadata = metadata
        if acl is not None:
            row.acl = acl
        if public is not False:
            row.public = public
        return self._container_info(account, name, self.meta.put_container(account, name, row))

    def list_containers(self, account: str, prefix: str, marker: str | None,
                        limit: int) -> tuple[list[ContainerInfo], str | None]:
        found = [n for n in self.disk.container_names(account) if n.startswith(prefix) and (not marker or n >= marker)]
        rows = self.meta.containers(account)
        page = []
        for name in found[:limit]:
            try:
                page.append(self._container_info(account, name, rows.get(name)))
            except FileNotFoundError:
                continue
        return page, found[limit] if len(found) > limit else None

    # ---- blobs ----------------------------------------------------------------------------------------------
    def _info(self, account: str, container: str, name: str, st: os.stat_result, aside: bool) -> BlobInfo:
        row = self.meta.blob(account, container, name)
        props = row[2] if row is not None and row[0] == aside and row[1] == st.st_ino else BlobProps()
        return BlobInfo(name, st, aside, props)

    def find(self, account: str, container: str, name: str) -> BlobInfo | None:
        found = self.disk.stat_blob(account, container, name)
        return None if found is None else self._info(account, container, name, *found)

    def blob(self, account: str, container: str, name: str) -> BlobInfo:
        info = self.find(account, container, name)
        if info is None:
            raise blob_not_found()
        return info

    def open_blob(self, account: str, container: str, name: str) -> tuple[int, BlobInfo]:
        """A read fd of the blob's current version and its info (the fd keeps that version readable)."""
        found = self.disk.open_blob(account, container, name)
        if found is None:
            raise blob_not_found()
        fd, aside = found
        return fd, self._info(account, container, name, os.fstat(fd), aside)

    def _commit(self, account: str, container: str, name: str, tmp: str, props: BlobProps, check: Check | None,
                keep_created: bool = True) -> BlobInfo:
        with self.disk.locks.hold((account, container, name)):
            current = self.find(account, container, name)
            if check:
                check(current)
            if keep_created and current is not None:
                props.created = current.created
            props.created = props.created or time.time()
            st, aside = self.disk.commit(account, container, name, tmp)
            self.meta.put_blob(account, container, name, aside, st.st_ino, props)
            return BlobInfo(name, st, aside, props)

    def put_blob(self, account: str, container: str, name: str, fill, length: int, props: BlobProps,
                 md5: str | None, crc64: str | None, check: Check | None) -> BlobInfo:
        self.container(account, container)
        fd, tmp = self.disk.new_temp()
        try:
            try:
                computed = receive(fd, fill, length, md5, crc64, always_md5=True)
            finally:
                os.close(fd)
            # the service keeps the MD5 it computed when the client sends none in x-ms-blob-content-md5
            props.content_md5 = props.content_md5 or computed
            with self.staging.exclusive(account, container, name):
                info = self._commit(account, container, name, tmp, props, check)
                self.staging.clear(account, container, name)     # a Put Blob drops uncommitted blocks
        except BaseException:
            self.disk.discard(tmp)
            raise
        return info

    def put_block(self, account: str, container: str, name: str, block_id: str, fill, length: int,
                  md5: str | None, crc64: str | None) -> None:
        self.container(account, container)
        with self.staging.shared(account, container, name):
            self.staging.put(account, container, name, block_id, length,
                             lambda fd: receive(fd, fill, length, md5, crc64))

    def block_lists(self, account: str, container: str,
                    name: str) -> tuple[BlobInfo | None, list[list], list[tuple[str, int]]]:
        """(the blob or None, committed [[id, size]], uncommitted [(id, size)] in upload order)."""
        self.container(account, container)
        info = self.find(account, container, name)
        staged = self.staging.blocks(account, container, name)
        if info is None and not staged:
            raise blob_not_found()
        uncommitted = [(i, s[1]) for i, s in sorted(staged.items(), key=lambda kv: (kv[1][2], kv[1][0]))]
        return info, (info.props.blocks if info else []), uncommitted

    def put_block_list(self, account: str, container: str, name: str, entries: list[tuple[str, str]],
                       props: BlobProps, check: Check | None) -> BlobInfo:
        """entries: (kind, block id) with kind Committed | Uncommitted | Latest."""
        self.container(account, container)
        if len(entries) > MAX_BLOCKS:
            raise StorageError(400, "BlockListTooLong", f"The block list may name at most {MAX_BLOCKS} blocks.")
        with self.staging.exclusive(account, container, name):
            found = self.disk.open_blob(account, container, name)
            current_fd = found[0] if found else None
            try:
                info = self._assemble(account, container, name, entries, props, check, found)
            finally:
                if current_fd is not None:
                    os.close(current_fd)
            self.staging.clear(account, container, name)
        return info

    def _assemble(self, account, container, name, entries, props, check, found) -> BlobInfo:
        staged = self.staging.blocks(account, container, name)
        committed: dict[str, tuple[int, int]] = {}
        if found:
            current = self._info(account, container, name, os.fstat(found[0]), found[1])
            if check:
                check(current)         # before the staged blocks are moved around
            offset = 0
            for block_id, size in current.props.blocks:
                committed.setdefault(block_id, (offset, size))
                offset += size
        elif check:
            check(None)
        plan = []          # (block id, from the assembly?, offset, size)
        for kind, block_id in entries:
            if kind in ("Uncommitted", "Latest") and block_id in staged:
                plan.append((block_id, True, staged[block_id][0], staged[block_id][1]))
            elif kind in ("Committed", "Latest") and block_id in committed:
                plan.append((block_id, False, *committed[block_id]))
            else:
                raise StorageError(400, "InvalidBlockList", f"The specified block list is invalid: the block "
                                   f"'{block_id}' ({kind}) is not among the blob's "
                                   f"{'committed' if kind == 'Committed' else 'uncommitted'} blocks.")
        props.blocks = [[block_id, size] for block_id, _, _, size in plan]
        in_place = None
        if all(from_staging for _, from_staging, _, _ in plan):
            in_place = self.staging.assemble_in_place(account, container, name, [(o, s) for _, _, o, s in plan])
        if in_place is not None:
            try:
                return self._commit(account, container, name, in_place, props, check)
            except BaseException:
                self.staging.clear(account, container, name)    # its blocks were moved: the records are stale
                raise
        fd, tmp = self.disk.new_temp()
        try:
            try:
                assembly = None
                for _, from_staging, offset, size in plan:
                    if not from_staging:
                        copy_into(fd, found[0], offset, size)
                        continue
                    if assembly is None:
                        assembly = os.open(self.disk.staging_dir(account, container, name) / "assembly",
                                           os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                    copy_into(fd, assembly, offset, size)
            finally:
                os.close(fd)
                if assembly is not None:
                    os.close(assembly)
            return self._commit(account, container, name, tmp, props, check)
        except BaseException:
            self.disk.discard(tmp)
            raise

    def update_blob(self, account: str, container: str, name: str, check: Check | None,
                    content: dict | None = None, metadata: dict | None = None) -> BlobInfo:
        """Set Blob Properties (content settings) or Set Blob Metadata: a new ETag and Last-Modified."""
        with self.disk.locks.hold((account, container, name)):
            found = self.disk.open_blob(account, container, name)
            if found is None:
                self.container(account, container)
                raise blob_not_found()
            fd, aside = found
            try:
                info = self._info(account, container, name, os.fstat(fd), aside)
                if check:
                    check(info)
                if content is not None:
                    for key, value in content.items():
                        setattr(info.props, key, value)
                if metadata is not None:
                    info.props.metadata = metadata
                st = os.fstat(fd)
                os.utime(fd, ns=(st.st_atime_ns, max(time.time_ns(), st.st_mtime_ns + 1000)))
                info.st = os.fstat(fd)
                info.props.created = info.created
                self.meta.put_blob(account, container, name, aside, info.st.st_ino, info.props)
                return info
            finally:
                os.close(fd)

    def delete_blob(self, account: str, container: str, name: str, check: Check | None) -> None:
        with self.disk.locks.hold((account, container, name)):
            info = self.find(account, container, name)
            if info is None:
                raise blob_not_found()
            if check:
                check(info)
            self.disk.delete_blob(account, container, name, info.aside)
            self.meta.drop_blob(account, container, name)
        with self.staging.exclusive(account, container, name):
            self.staging.clear(account, container, name)

    def copy_blob(self, account: str, src_container: str, src_name: str, container: str, name: str,
                  metadata: dict | None, source_url: str, check: Check | None,
                  source_check: Check | None) -> BlobInfo:
        self.container(account, container)
        try:
            src_fd, src = self.open_blob(account, src_container, src_name)
        except StorageError as exc:
            raise StorageError(404, "CannotVerifyCopySource", f"The copy source {source_url} cannot be read: "
                               f"{exc.message}") from None
        try:
            if source_check:
                source_check(src)
            fd, tmp = self.disk.new_temp()
            try:
                try:
                    copy_into(fd, src_fd, 0, src.size)
                finally:
                    os.close(fd)
                props = BlobProps(**{k: getattr(src.props, k) for k in (
                    "content_type", "content_encoding", "content_language", "content_disposition", "cache_control",
                    "content_md5")})
                props.metadata = dict(src.props.metadata) if metadata is None else metadata
                props.blocks = list(src.props.blocks)
                props.copy = {"id": str(uuid.uuid4()), "source": source_url, "completed": time.time(),
                              "length": src.size}
                return self._commit(account, container, name, tmp, props, check, keep_created=False)
            except BaseException:
                self.disk.discard(tmp)
                raise
        finally:
            os.close(src_fd)

    def list_blobs(self, account: str, container: str, prefix: str, delimiter: str | None, marker: str | None,
                   limit: int) -> tuple[list[BlobInfo], list[str], str | None]:
        """One page: (blobs, blob prefixes, next marker), in name order; blobs and prefixes count together."""
        self.container(account, container)
        stats = {n: (st, False) for n, st in self.disk.names(account, container, prefix).items()
                 if _listable(n)}
        for name in self.meta.aside_names(account, container, prefix):
            if name not in stats:
                try:
                    stats[name] = (os.stat(self.disk.aside_path(account, container, name)), True)
                except FileNotFoundError:
                    continue
        blobs, prefixes, taken = [], [], 0
        last_prefix = None
        for name in sorted(stats):
            key = name
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    key = name[:cut + len(delimiter)]
            if marker and key < marker:
                continue
            if key == last_prefix:
                continue
            if taken == limit:
                return self._with_rows(account, container, prefix, blobs, stats), prefixes, key
            taken += 1
            if key != name:
                prefixes.append(key)
                last_prefix = key
            else:
                blobs.append(name)
        return self._with_rows(account, container, prefix, blobs, stats), prefixes, None

    def _with_rows(self, account, container, prefix, names: list[str], stats) -> list[BlobInfo]:
        rows = self.meta.blobs(account, container, prefix) if names else {}
        out = []
        for name in names:
            st, aside = stats[name]
            row = rows.get(name)
            props = row[2] if row is not None and row[0] == aside and row[1] == st.st_ino else BlobProps()
            out.append(BlobInfo(name, st, aside, props))
        return out


def _listable(name: str) -> bool:
    return not any(ord(c) < 0x20 or c == "\x7f" for c in name)
