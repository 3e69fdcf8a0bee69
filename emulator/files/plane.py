"""Operation semantics of the file service: shares, directories and files. No Flask here.

Each method takes decoded names (already checked by names.py), works on the disk (disk.py) and the property
rows (meta.py), and returns small info objects the views render; failures are StorageErrors with the service's
codes. Validation of everything a request carries happens before anything is written.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat as statmod
import threading
import time

from ..backend.storage import StorageBackend
from ..errors import StorageError
from . import journal, names, nfs, ranges, snapshots
from .disk import Disk, Entry, etag, tag
from .infos import NodeInfo, ShareInfo
from .plane_more import PlaneMore
from .pending import Copies
from .meta import DEFAULT_QUOTA_GIB, DEFAULT_TIER, EntryProps, MetaStore, ShareRow

EXTENSION = "azure_files"          # app.extensions key of the FilePlane
MAX_QUOTA_GIB = 102400


class FilePlane(PlaneMore):
    def __init__(self, settings, store):
        self.settings = settings
        self.store = store
        self.disk = Disk(settings.data_dir)
        self.meta = MetaStore(settings.data_dir / "emulator.db")
        self._usage: dict[tuple[str, str], list] = {}     # (account, share) -> [bytes used, monotonic time]
        self._usage_lock = threading.Lock()
        self._lease_lock = threading.Lock()
        self._protocols: dict[tuple[str, str], bool] = {}   # (account, share) -> NFS (set at creation, immutable)
        journal.recover(self)            # what a kill -9 left half done (rename, copy...) is finished or undone
        self.copies = Copies(self)
        self.copies.resume_all()         # copies a previous run left pending (pending.py)

    # ---- accounts -------------------------------------------------------------------------------------------
    def account(self, name: str) -> tuple[str, list[bytes]] | None:
        """(canonical name, keys) of a served account: from settings, or created through ARM."""
        if not names.ACCOUNT_SEGMENT.match(name):
            return None
        return StorageBackend(self.store, self.settings.accounts).keys(name)

    def forget_account(self, account: str) -> None:
        """Drop an account's shares and rows (the account was deleted through ARM)."""
        self.disk.delete_account(account)
        shutil.rmtree(snapshots.snapshots_dir(self.disk.data_dir, account, "x").parent, ignore_errors=True)
        self.meta.forget(account)
        for key in [k for k in self._protocols if k[0] == account]:
            self._protocols.pop(key, None)

    # ---- shares ---------------------------------------------------------------------------------------------
    def profile(self, account: str) -> nfs.Profile:
        """What the account's SKU allows (premium / provisioned v2 / standard shares)."""
        return nfs.profile(self.settings, self.store, account)

    def is_nfs(self, account: str, share: str) -> bool:
        """Whether the share (or the share of a snapshot `share@id`) is an NFS share."""
        key = (account, share.partition("@")[0])
        found = self._protocols.get(key)
        if found is None:
            row = self.meta.share(*key)
            found = self._protocols[key] = bool(row and row.props.get("protocols") == "NFS")
        return found

    def _share_info(self, account: str, share: str, row: ShareRow | None = None,
                    prof: nfs.Profile | None = None) -> ShareInfo:
        row = row or self.meta.share(account, share)
        prof = prof or self.profile(account)
        if row is not None:
            return ShareInfo(share, tag("share", row.created, row.seq), row.modified, row.quota, row.metadata,
                             row.tier, extra=nfs.share_fields(prof, row.quota, row.props, row.created))
        st = os.stat(self.disk.share_path(account, share))
        return ShareInfo(share, etag(st), st.st_mtime, DEFAULT_QUOTA_GIB, {},
                         extra=nfs.share_fields(prof, DEFAULT_QUOTA_GIB, {}, st.st_mtime))

    def create_share(self, account: str, share: str, quota: int | None, metadata: dict[str, str],
                     tier: str | None, props: dict | None = None) -> ShareInfo:
        prof = self.profile(account)
        if not self.disk.create_share(account, share):
            raise StorageError(409, "ShareAlreadyExists", "The specified share already exists.")
        self._protocols.pop((account, share), None)
        now = time.time()
        quota = quota or (nfs.PREMIUM_DEFAULT_QUOTA_GIB if prof.premium_v1 else DEFAULT_QUOTA_GIB)
        tier = tier or ("Premium" if prof.premium_v1 else DEFAULT_TIER)
        row = self.meta.put_share(account, share, ShareRow(now, now, quota, metadata, tier,
                                                           props=nfs.note_quota(dict(props or {}), None, quota)))
        return self._share_info(account, share, row, prof)

    def share(self, account: str, share: str) -> ShareInfo:
        self.disk.open_share(account, share).close()
        return self._share_info(account, share)

    def delete_share(self, account: str, share: str) -> None:
        self.disk.open_share(account, share).close()
        self.disk.delete_share(account, share)
        self.meta.forget(account, share)
        self._usage.pop((account, share), None)
        self._protocols.pop((account, share), None)

    def _update_share(self, account: str, share: str, quota: int | None = None,
                      metadata: dict[str, str] | None = None, tier: str | None = None,
                      props=None) -> ShareInfo:
        """`props(current dict) -> new dict` updates the share's protocol and provisioning properties."""
        self.disk.open_share(account, share).close()
        row = self.meta.share(account, share)
        if row is None:
            st = os.stat(self.disk.share_path(account, share))
            row = ShareRow(created=st.st_mtime, modified=st.st_mtime)
        if props is not None:
            row.props = props(row.props)
        if quota is not None:
            row.props = nfs.note_quota(row.props, row.quota, quota)
            row.quota = quota
        if metadata is not None:
            row.metadata = metadata
        if tier is not None:
            row.tier = tier
        return self._share_info(account, share, self.meta.put_share(account, share, row))

    def set_share_metadata(self, account: str, share: str, metadata: dict[str, str]) -> ShareInfo:
        return self._update_share(account, share, metadata=metadata)

    def set_share_properties(self, account: str, share: str, quota: int | None, tier: str | None,
                             props=None) -> ShareInfo:
        return self._update_share(account, share, quota=quota, tier=tier, props=props)

    def list_shares(self, account: str, prefix: str, marker: str | None,
                    limit: int) -> tuple[list[ShareInfo], str | None]:
        found = [n for n in self.disk.share_names(account) if n.startswith(prefix) and (not marker or n >= marker)]
        rows = self.meta.shares(account)
        prof = self.profile(account)
        page = []
        for name in found[:limit]:
            try:
                page.append(self._share_info(account, name, rows.get(name), prof))
            except FileNotFoundError:
                continue      # deleted while listing
        return page, found[limit] if len(found) > limit else None

    def share_usage(self, account: str, share: str) -> int:
        with self.disk.open_share(account, share) as sh:
            return self._measure(account, share, sh)

    # ---- quota ----------------------------------------------------------------------------------------------
    def _measure(self, account: str, share: str, sh) -> int:
        used = self.disk.usage(sh)
        self._usage[(account, share)] = [used, time.monotonic()]
        return used

    def _quota_check(self, account: str, share: str, sh, new_size: int):
        """check(old_size) for Disk.create_file / resize: 413 ShareSizeLimitReached when the share's files would
        add up to more than its quota. Usage is measured by a walk at most once a second (jobs write the share
        directly, so a count kept by the API alone would drift) or whenever the cached figure says no."""
        def check(old_size: int | None) -> None:
            growth = new_size - (old_size or 0)
            if growth <= 0:
                return
            row = self.meta.share(account, share)
            limit = (row.quota if row else DEFAULT_QUOTA_GIB) << 30
            with self._usage_lock:
                cached = self._usage.get((account, share))
                if cached is None or time.monotonic() - cached[1] > 1.0 or cached[0] + growth > limit:
                    used = self._measure(account, share, sh)
                else:
                    used = cached[0]
                if used + growth > limit:
                    # Unverified status: the service's error-code table lists no status for this code; 413 is
                    # what "the request is too large for what is left" means in HTTP.
                    raise StorageError(413, "ShareSizeLimitReached",
                                       f"The specified share is full: its quota is {limit >> 30} GiB, "
                                       f"{used} bytes are used and the request needs {growth} more.")
                self._usage[(account, share)][0] = used + growth
        return check

    # ---- directories and files ------------------------------------------------------------------------------
    def _node(self, account: str, share: str, parts: list[str], st: os.stat_result, parent_ino: int) -> NodeInfo:
        path = "/".join(parts)
        props = self.meta.entry(account, share, path, st.st_ino)
        if props is None and st.st_nlink > 1 and statmod.S_ISREG(st.st_mode):
            # a name without its own row (a hard link a job made, or one whose row a crash lost): the file's
            # properties are those of its other names
            props = self.meta.entry_of_inode(account, share, st.st_ino)
        return NodeInfo(path, statmod.S_ISDIR(st.st_mode), st, parent_ino, props or EntryProps(),
                        self.is_nfs(account, share))

    def _save(self, account: str, share: str, parts: list[str], st: os.stat_result, parent_ino: int,
              props: EntryProps, times: dict | None) -> NodeInfo:
        """Store `props` for the entry now at `st`, with the SMB times a request set (times: created / written /
        changed in ns, None for those it left alone)."""
        times = times or {}
        if times.get("created") is not None:
            props.created = times["created"]
        if times.get("permission") is not None:
            props.permission_key = self.store_permission(account, share, *times["permission"])
        elif times.get("permission_key"):
            props.permission_key = times["permission_key"]
        if times.get("nfs"):
            nfs.apply(props, times["nfs"])
        node = NodeInfo("/".join(parts), statmod.S_ISDIR(st.st_mode), st, parent_ino, props,
                        self.is_nfs(account, share))
        node.stamp(times.get("written"), times.get("changed"))
        self.meta.put_entry(account, share, node.path, st.st_ino, node.props,
                            linked=not node.is_dir and st.st_nlink > 1)
        return node

    def directory(self, account: str, share: str, parts: list[str]) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            return self._node(account, share, parts, *self.disk.require_dir(sh, parts))

    def create_directory(self, account: str, share: str, parts: list[str], props: EntryProps,
                         times: dict | None = None) -> NodeInfo:
        names.check_new_name(parts[-1])
        with self.disk.open_share(account, share) as sh:
            st, parent_ino = self.disk.create_dir(sh, parts)
            props.created = time.time_ns()
            try:
                return self._save(account, share, parts, st, parent_ino, props, times)
            except sqlite3.Error:
                self.disk.remove_new_dir(sh, parts)   # the request fails (disk full): it leaves no directory
                raise

    def delete_directory(self, account: str, share: str, parts: list[str]) -> None:
        with self.disk.open_share(account, share) as sh:
            self.disk.delete_dir(sh, parts)
        self.meta.forget(account, share, "/".join(parts))

    def update_directory(self, account: str, share: str, parts: list[str], metadata: dict[str, str] | None = None,
                         attributes: str | None = None, times: dict | None = None) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_dir(sh, parts))
            if metadata is not None:
                node.props.metadata = metadata
            if attributes is not None:
                node.props.attributes = attributes
            st = self.disk.touch_dir(sh, parts)
            if (times or {}).get("written") is None:
                times = dict(times or {}, written=node.written)     # properties do not count as a write
            return self._save(account, share, parts, st, node.parent_ino, node.props, times)

    def list_directory(self, account: str, share: str, parts: list[str], prefix: str, marker: str | None,
                       limit: int) -> tuple[NodeInfo, list[Entry], str | None]:
        with self.disk.open_share(account, share) as sh:
            st, found = self.disk.list_dir(sh, parts)
        node = self._node(account, share, parts, st, 0)
        entries = [e for e in found if e.name.startswith(prefix) and (not marker or e.name >= marker)]
        return node, entries[:limit], entries[limit].name if len(entries) > limit else None

    def file(self, account: str, share: str, parts: list[str]) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            return self._node(account, share, parts, *self.disk.require_file(sh, parts))

    def create_file(self, account: str, share: str, parts: list[str], size: int, props: EntryProps,
                    data: bytes | memoryview = b"", times: dict | None = None) -> NodeInfo:
        """Create (or replace) a file of `size` bytes holding `data` at its start (Create File with a body)."""
        names.check_new_name(parts[-1])
        with self.disk.open_share(account, share) as sh:
            written = [[0, len(data) - 1]] if len(data) else []
            st, parent_ino, old_size = self.disk.create_file(
                sh, parts, size, self._quota_check(account, share, sh, size), data,
                self._ranges_after(account, share, parts, lambda base, _size: written, ["create"]))
            props.created = time.time_ns()
            try:
                return self._save(account, share, parts, st, parent_ino, props, times)
            except sqlite3.Error:
                if old_size is None:
                    self.disk.delete_file(sh, parts)   # the request fails (disk full): a new file is not left behind
                raise

    def set_file_properties(self, account: str, share: str, parts: list[str], size: int | None,
                            content: dict[str, str | None], attributes: str | None,
                            times: dict | None = None) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_file(sh, parts))
            # Set File Properties replaces every content setting: one the request leaves out is cleared
            for key, value in content.items():
                setattr(node.props, key, value)
            if attributes is not None:
                node.props.attributes = attributes
            if size is not None:
                # new size and properties through an intent (journal.py): a kill -9 leaves both or neither
                intent = [journal.begin(self.meta, account, share, parts, node.st.st_ino, node.props, times,
                                        size=size)]
                return journal.carry_out(self, intent, lambda: self.disk.resize(
                    sh, parts, size, self._quota_check(account, share, sh, size),
                    self._ranges_after(account, share, parts, lambda base, new_size: ranges.clip(base(), new_size),
                                       ["size", size])))
            else:
                st = self.disk.touch_file(sh, parts)
            if (times or {}).get("written") is None and node.props.written_stamp is not None and size is None:
                times = dict(times or {}, written=node.written)     # properties do not count as a write
            return self._save(account, share, parts, st, node.parent_ino, node.props, times)

    def set_file_metadata(self, account: str, share: str, parts: list[str], metadata: dict[str, str]) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_file(sh, parts))
            node.props.metadata = metadata
            written = node.written
            st = self.disk.touch_file(sh, parts)
            # metadata is not a write of the file: its last-write time stays what it was
            return self._save(account, share, parts, st, node.parent_ino, node.props, {"written": written})

    def read_range(self, account: str, share: str, parts: list[str], start: int, length: int) -> bytes:
        with self.disk.open_share(account, share) as sh:
            return self.disk.read_range(sh, parts, start, length)

    def write_range(self, account: str, share: str, parts: list[str], offset: int, length: int,
                    fill, preserve: bool = False) -> NodeInfo:
        """Write a range; `preserve` keeps the file's last-write time (x-ms-file-last-write-time: preserve)."""
        with self.disk.open_share(account, share) as sh:
            before = self._node(account, share, parts, *self.disk.require_file(sh, parts)) if preserve else None
            st = self.disk.write_range(sh, parts, offset, length, fill, self._ranges_after(
                account, share, parts, lambda base, _size: ranges.add(base(), offset, offset + length - 1),
                ["w", offset, offset + length - 1]))
            if before is not None:
                return self._save(account, share, parts, st, before.parent_ino, before.props,
                                  {"written": before.written})
        return NodeInfo("/".join(parts), False, st, 0)

    def clear_range(self, account: str, share: str, parts: list[str], offset: int, length: int,
                    preserve: bool = False) -> NodeInfo:
        with self.disk.open_share(account, share) as sh:
            before = self._node(account, share, parts, *self.disk.require_file(sh, parts)) if preserve else None
            st = self.disk.clear_range(sh, parts, offset, length, self._ranges_after(
                account, share, parts, lambda base, _size: ranges.subtract(base(), offset, offset + length - 1),
                ["c", offset, offset + length - 1]))
            if before is not None:
                return self._save(account, share, parts, st, before.parent_ino, before.props,
                                  {"written": before.written})
        return NodeInfo("/".join(parts), False, st, 0)

    def file_ranges(self, account: str, share: str, parts: list[str], start: int,
                    end: int) -> tuple[NodeInfo, list[tuple[int, int]]]:
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_file(sh, parts))
            return node, self.disk.data_ranges(sh, parts, start, end,
                                               self._recorded_ranges(account, share, parts))

    def open_file(self, account: str, share: str, parts: list[str]) -> tuple[int, NodeInfo]:
        """An open fd and the node it belongs to (fstat of that very fd, so the ETag matches the bytes)."""
        with self.disk.open_share(account, share) as sh:
            fd, st, parent_ino = self.disk.open_read(sh, parts)
        try:
            return fd, self._node(account, share, parts, st, parent_ino)
        except BaseException:
            os.close(fd)
            raise

    def delete_file(self, account: str, share: str, parts: list[str]) -> None:
        with self.disk.open_share(account, share) as sh:
            size = self.disk.delete_file(sh, parts)
        self.meta.forget(account, share, "/".join(parts))
        with self._usage_lock:
            cached = self._usage.get((account, share))
            if cached is not None:
                cached[0] -= size
