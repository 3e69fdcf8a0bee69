"""The file plane's newer operations (snapshots, written ranges and diffs, stored access policies, permissions,
leases, rename, copy) as a mixin of FilePlane: the same disk, rows and locks, kept apart to keep modules small."""
from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat as statmod
import time
import uuid

from ..errors import StorageError
from . import journal, leases, names, pending, ranges, sddl, snapshots
from .disk import Disk, ShareDir, _Parent, not_found
from .infos import NodeInfo
from .ranges import fd_data_ranges
from .meta import EntryProps, ShareRow


class PlaneMore:
    # ---- snapshots --------------------------------------------------------------------------------------------
    def snapshot_share(self, account: str, share: str, metadata: dict[str, str]) -> str:
        """Snapshot Share: copy the share and its rows; the snapshot's id."""
        info = self.share(account, share)
        sid = snapshots.new_id(self.disk.data_dir, account, share)
        key = f"{share}@{sid}"
        rows, copied_ranges = [], []

        def on_entry(path: str, src: os.stat_result, dst: os.stat_result) -> None:
            props = self.meta.entry(account, share, path, src.st_ino)
            if props is not None:
                rows.append((path, dst.st_ino, props))
            rec = self.meta.ranges(account, share, path)
            if rec is not None and rec[0] == src.st_ino and rec[1] == src.st_mtime_ns:
                copied_ranges.append((path, dst.st_ino, dst.st_mtime_ns, rec[2]))
        with self.disk.open_share(account, share) as sh:
            snapshots.copy_tree(sh.fd, snapshots.snapshots_dir(self.disk.data_dir, account, share) / sid, on_entry)
        for path, ino, props in rows:
            self.meta.put_entry(account, key, path, ino, props)
        for path, ino, stamp, found in copied_ranges:
            self.meta.put_ranges(account, key, path, ino, stamp, found)
        now = time.time()
        row = self.meta.share(account, share)
        self.meta.put_share(account, key, ShareRow(now, now, info.quota, metadata or info.metadata, info.tier,
                                                   props=dict(row.props) if row else {}))
        return sid

    def snapshot_ids(self, account: str, share: str) -> list[str]:
        return snapshots.list_ids(self.disk.data_dir, account, share)

    def delete_snapshots(self, account: str, share: str, only: str | None = None) -> None:
        for sid in [only] if only else self.snapshot_ids(account, share):
            snapshots.delete(self.disk.data_dir, account, share, sid)
            self.meta.forget(account, f"{share}@{sid}")

    # ---- written ranges (ranges.py) ---------------------------------------------------------------------------
    def _ranges_after(self, account: str, share: str, parts: list[str], op, entry: list):
        """An `after` hook for Disk writes: `op(base(), size) -> ranges` updates the record under the file's lock,
        and `entry` ("w"/"c", start, end | "create" | "size", n) joins its change log (for diffs against share
        snapshots). base() is the record when only API writes touched the file since, else the file system's."""
        path = "/".join(parts)

        def after(fd: int, st: os.stat_result, trusted: set[int]) -> None:
            row = self.meta.ranges(account, share, path)
            valid = row is not None and row[0] == st.st_ino and row[1] in trusted

            def base() -> list[list[int]]:
                if valid:
                    return row[2]
                return [[s, e] for s, e in fd_data_ranges(fd, 0, st.st_size - 1)]
            log = None
            if entry[0] == "create":
                log = [[st.st_mtime_ns, *entry]]
            elif valid and row[3] is not None and len(row[3]) < ranges.MAX_LOG:
                log = row[3] + [[st.st_mtime_ns, *entry]]
            try:
                self.meta.put_ranges(account, share, path, st.st_ino, st.st_mtime_ns, op(base, st.st_size), log)
            except sqlite3.Error:
                # no room for the record (full disk): it goes stale, so List Ranges falls back to the file
                # system's ranges; the request itself fails or succeeds on its own rows, as before
                pass
        return after

    def ranges_diff(self, account: str, share: str, parts: list[str], previous: str, start: int, end: int,
                    support_rename: bool = False
                    ) -> tuple[NodeInfo, list[tuple[int, int]], list[tuple[int, int]]]:
        """List Ranges with prevsharesnapshot: (node, ranges changed since the snapshot, ranges cleared since).
        A file renamed since the snapshot is refused (409) unless `support_rename`: then it is compared with the
        file under its name of then."""
        base_share = share.partition("@")[0]
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_file(sh, parts))
            row = self.meta.ranges(account, share, "/".join(parts))
        since = snapshots.id_ns(previous)
        valid_log = row is not None and row[0] == node.st.st_ino and row[1] == node.st.st_mtime_ns and row[3]
        renamed = [e[2] for e in (row[3] if valid_log else []) if e[1] == "rename" and e[0] > since]
        then = parts
        if renamed:
            if not support_rename:
                raise StorageError(409, "PreviousSnapshotNotFound", "The file was renamed or moved since the "
                                   "previous snapshot; set x-ms-file-support-rename: true to compare it with the "
                                   "file under its former name.")
            then = renamed[0].split("/")
        with self.disk.open_share(account, f"{base_share}@{previous}") as sh:
            prev, _ = self.disk.lookup(sh, then)
        if row is not None and row[0] == node.st.st_ino and row[1] == node.st.st_mtime_ns and row[3] \
                and row[3][0][0] <= since or (row is not None and row[3] and row[3][0][1] == "create"):
            written, cleared = ranges.replay(row[3], since, prev.st_size if prev is not None else 0)
            written = ranges.clip(written, node.size)
            return node, ranges.window(written, start, end), ranges.window(cleared, start, end)
        # no history that reaches back to the snapshot: everything that holds data counts as changed
        with self.disk.open_share(account, share) as sh:
            found = self.disk.data_ranges(sh, parts, start, end, self._recorded_ranges(account, share, parts))
        return node, found, []

    def _log_rename(self, account: str, share: str, src: list[str], dst: list[str], st: os.stat_result) -> None:
        """A renamed file's change log remembers its old name (at the rename's time), so a diff against a share
        snapshot taken before finds it there (x-ms-file-support-rename)."""
        row = self.meta.ranges(account, share, "/".join(dst))
        if row is not None and row[0] == st.st_ino and row[1] == st.st_mtime_ns and row[3] is not None \
                and len(row[3]) < ranges.MAX_LOG:
            self.meta.put_ranges(account, share, "/".join(dst), row[0], row[1], row[2],
                                 row[3] + [[time.time_ns(), "rename", "/".join(src)]])

    def _recorded_ranges(self, account: str, share: str, parts: list[str]):
        def recorded(fd: int, st: os.stat_result):
            row = self.meta.ranges(account, share, "/".join(parts))
            if row is not None and row[0] == st.st_ino and row[1] == st.st_mtime_ns:
                return row[2]
            return None
        return recorded

    # ---- stored access policies ---------------------------------------------------------------------------
    def policy(self, account: str, share: str, sid: str) -> dict[str, str] | None:
        """The stored access policy `sid` of a share: {"start", "expiry", "permission"} (empty when unset)."""
        import xml.etree.ElementTree as ET
        stored = self.meta.acl(account, share)
        if not stored:
            return None
        for si in ET.fromstring(stored).findall("SignedIdentifier"):
            if (si.findtext("Id") or "").strip() == sid:
                return {"start": (si.findtext("AccessPolicy/Start") or "").strip(),
                        "expiry": (si.findtext("AccessPolicy/Expiry") or "").strip(),
                        "permission": (si.findtext("AccessPolicy/Permission") or "").strip()}
        return None

    # ---- permissions ----------------------------------------------------------------------------------------
    def store_permission(self, account: str, share: str, permission: str, fmt: str) -> str:
        """The permission key of a security descriptor, given as SDDL or base64 binary (already checked): stored
        once, in its binary form, so the same descriptor has the same key in either form."""
        binary = sddl.render(sddl.parse(permission, fmt), "binary")
        digest = hashlib.sha256(f"binary\n{binary}".encode()).digest()
        key = f"{int.from_bytes(digest[:8], 'big')}*{int.from_bytes(digest[8:16], 'big')}"
        self.meta.put_permission(account, share, key, binary, "binary")
        return key

    def permission(self, account: str, share: str, key: str, fmt: str) -> str | None:
        """The descriptor stored under `key`, in `fmt` (sddl or binary); None if there is none."""
        found = self.meta.permission(account, share, key)
        if found is None:
            return None
        permission, stored = found
        try:
            return sddl.render(sddl.parse(permission, stored), fmt)
        except ValueError:
            # a row an older emulator stored unchecked: only its own form can be given back
            if stored == fmt:
                return permission
            raise StorageError(400, "NotSupportedByEmulator", f"The permission was stored as {stored} and "
                               f"cannot be converted to {fmt}.") from None

    # ---- leases ---------------------------------------------------------------------------------------------
    def lease_of(self, account: str, share: str, parts: list[str], ino: int) -> leases.Lease | None:
        """The lease of a file (its inode) or, with no parts, of the share."""
        if not self.meta.leased(account, share):
            return None
        data = self.meta.lease(account, share, "/".join(parts), ino if parts else 0)
        return leases.from_json(data) if data else None

    def check_lease(self, account: str, share: str, parts: list[str], write: bool, given: str | None) -> None:
        """412 unless an operation (a write or not) with lease id `given` may run on the file or share."""
        if given is None and not self.meta.leased(account, share):
            return
        ino = 0
        if parts:
            with self.disk.open_share(account, share) as sh:
                st, _ = self.disk.lookup(sh, parts)
            if st is None or not statmod.S_ISREG(st.st_mode):
                if given is not None and st is None:
                    return            # the operation itself answers 404 (or creates the file, without a lease)
                return
            ino = st.st_ino
        leases.check(self.lease_of(account, share, parts, ino), given, write, "File" if parts else "Share")

    def lease(self, account: str, share: str, parts: list[str], action: str | None,
              req: dict[str, str | None]) -> tuple[int, dict[str, str]]:
        """Lease File (parts) or Lease Share: (status, headers)."""
        with self.disk.open_share(account, share) as sh:
            ino = self.disk.require_file(sh, parts)[0].st_ino if parts else 0
            with self._lease_lock:
                current = self.lease_of(account, share, parts, ino)
                new, status, headers = leases.operate(current, action or "", req, share=not parts)
                self.meta.put_lease(account, share, "/".join(parts), ino, leases.to_json(new) if new else None)
        return status, headers

    def rename(self, account: str, share: str, src: list[str], dst: list[str], is_dir: bool, replace: bool,
               ignore_readonly: bool, source_lease: str | None, dest_lease: str | None,
               metadata: dict[str, str] | None, attributes: str | None, times: dict | None,
               content_type: str | None) -> NodeInfo:
        """Rename File / Rename Directory within one share; the renamed entry keeps its properties."""
        names.check_new_name(dst[-1])
        if dst[:len(src)] == src and is_dir and len(dst) > len(src):
            raise StorageError(400, "InvalidInput", "A directory cannot be moved into itself.")
        with self.disk.open_share(account, share) as sh:
            st, _ = self.disk.lookup(sh, src)
            if st is None:
                raise not_found()
            if not is_dir:
                leases.check(self.lease_of(account, share, src, st.st_ino), source_lease, True, "File")

            def may_replace(existing: os.stat_result) -> None:
                props = self.meta.entry(account, share, "/".join(dst), existing.st_ino) or EntryProps()
                if not ignore_readonly and "readonly" in (props.attributes or "").lower():
                    raise StorageError(409, "ReadOnlyAttribute", "The destination has the ReadOnly attribute; "
                                       "set ignore_read_only to replace it.")
                if statmod.S_ISREG(existing.st_mode):
                    leases.check(self.lease_of(account, share, dst, existing.st_ino), dest_lease, True, "File")

            existing, _ = self.disk.lookup(sh, dst)
            if existing is not None and existing.st_ino != st.st_ino:
                if not replace:
                    raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.")
                may_replace(existing)         # before the rows move: they are the destination's own
            node = self._node(account, share, src, st, 0)
            if metadata:
                node.props.metadata = metadata
            if attributes is not None:
                node.props.attributes = attributes
            if content_type is not None:
                node.props.content_type = content_type
            # the rows follow the disk through an intent (journal.py): a kill -9 leaves old or new, never a mix
            intent = [journal.begin(self.meta, account, share, dst, st.st_ino, node.props,
                                    {"written": node.written, **{k: v for k, v in (times or {}).items()
                                                                 if v is not None}}, move="/".join(src))]
            done = journal.carry_out(self, intent, lambda: rename_entry(self.disk, sh, src, dst, is_dir, replace))
            if not is_dir:
                self._log_rename(account, share, src, dst, done.st)
            return done

    def copy_file(self, src: tuple[str, str, list[str]], account: str, share: str, parts: list[str],
                  build_props, source_url: str) -> NodeInfo:
        """Copy File (synchronous): `build_props(source node) -> (props, times)` decides what the copy carries."""
        names.check_new_name(parts[-1])
        s_account, s_share, s_parts = src
        with self.disk.open_share(s_account, s_share) as ssh:
            fd, st, parent_ino = self.disk.open_read(ssh, s_parts)
        try:
            source = self._node(s_account, s_share, s_parts, st, parent_ino)
            props, times = build_props(source)
            with self.disk.open_share(account, share) as sh:
                existing, _ = self.disk.lookup(sh, parts)
                if existing is not None and statmod.S_ISREG(existing.st_mode):
                    old = self.meta.entry(account, share, "/".join(parts), existing.st_ino) or EntryProps()
                    if "readonly" in (old.attributes or "").lower() and not times.pop("ignore_readonly", False):
                        raise StorageError(409, "ReadOnlyAttribute", "The destination file is read-only.")
                times.pop("ignore_readonly", None)
                props.created = time.time_ns()
                check = self._quota_check(account, share, sh, st.st_size)
                # a copy from another account may go on in the background (pending.py): the row says so first
                background = pending.is_async(s_account, account, st.st_size)
                props.copy = self.copies.begin(src, st.st_size, source_url) if background \
                    else {"id": str(uuid.uuid4()), "source": source_url, "status": "success",
                          "progress": f"{st.st_size}/{st.st_size}", "completed": time.time()}
                temp = journal.TempCopy(self.disk, sh)
                try:
                    if temp.usable:
                        # the bytes (or, for a pending copy, the empty file) go in beside the share, then one
                        # rename (journal.py): a kill -9 leaves the destination as it was or complete with its
                        # properties (a pending copy starts again after the restart)
                        temp.write(None if background else fd, st.st_size)
                        intent = []

                        def before(old: os.stat_result | None) -> None:
                            check(old.st_size if old is not None else None)
                            intent.append(journal.begin(self.meta, account, share, parts, temp.st.st_ino, props,
                                                        times, lease_ino=old.st_ino if old is not None else None))
                        node = journal.carry_out(self, intent, lambda: temp.place(self.disk, sh, parts, before))
                        if background:
                            self.copies.start(account, share, parts, props.copy)
                        return node
                finally:
                    temp.close()
                dst, dst_parent, _old = self.disk.create_file(sh, parts, st.st_size, check)
                if not background:
                    dst = self.disk.copy_into(sh, parts, fd, st.st_size)
                node = self._save(account, share, parts, dst, dst_parent, props, times)
                if background:
                    self.copies.start(account, share, parts, props.copy)
                return node
        finally:
            os.close(fd)

    def abort_copy(self, account: str, share: str, parts: list[str], copy_id: str) -> NodeInfo:
        """Abort Copy File: stop the pending copy; the file stays, empty, with its properties (status aborted)."""
        self.copies.abort(account, share, parts, copy_id)
        with self.disk.open_share(account, share) as sh:
            node = self._node(account, share, parts, *self.disk.require_file(sh, parts))
            copy = node.props.copy or {}
            if copy.get("status") != "pending" or copy.get("id") != copy_id:
                # it finished (or was replaced) while being stopped
                raise StorageError(409, "NoPendingCopyOperation", "There is currently no pending copy operation.")
            st = self.disk.resize(sh, parts, 0, None, self._ranges_after(
                account, share, parts, lambda base, new_size: ranges.clip(base(), new_size), ["size", 0]))
            copy.update(status="aborted", completed=time.time())
            copy.pop("from", None)
            return self._save(account, share, parts, st, node.parent_ino, node.props, {"written": node.written})


def rename_entry(disk: Disk, sh: ShareDir, src: list[str], dst: list[str], is_dir: bool,
                 replace: bool, may_replace=None) -> tuple[os.stat_result, int]:
    """Rename src to dst inside one share (both looked up from the share's fd, never through links):
    (stat of the renamed entry, its new parent's inode). `may_replace(stat)` vets an existing destination."""
    with _Parent(sh, src) as sp, _Parent(sh, dst) as dp, \
            disk.locks.exclusive(sh.lock_key(src)), disk.locks.exclusive(sh.lock_key(dst)):
        st = sp.stat()
        if st is None or statmod.S_ISDIR(st.st_mode) != is_dir or not (is_dir or statmod.S_ISREG(st.st_mode)):
            raise not_found()
        existing = dp.stat()
        if existing is not None and (st.st_ino, st.st_dev) != (existing.st_ino, existing.st_dev):
            if not replace:
                raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.")
            if statmod.S_ISDIR(existing.st_mode):
                if not is_dir:
                    raise StorageError(409, "ResourceTypeMismatch", "The destination is a directory.")
            elif is_dir:
                os.unlink(dp.name, dir_fd=dp.fd)        # a directory replaces a file, as the service does
            if may_replace is not None:
                may_replace(existing)
        try:
            os.rename(sp.name, dp.name, src_dir_fd=sp.fd, dst_dir_fd=dp.fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL,):
                raise StorageError(400, "InvalidInput", "A directory cannot be moved into itself.") from None
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise StorageError(409, "DirectoryNotEmpty", "The destination directory is not empty.") from None
            raise
        moved = dp.stat()
        if moved is None:
            raise not_found()
        return moved, dp.ino
