"""Crash safety of the Files writes that change both the disk and the rows: Rename File / Directory and Copy File.

A rename moves an entry on disk and its rows (properties, lease, written ranges) in SQLite; a copy writes the new
bytes and the copy's properties; Set File Properties with a new size truncates the file and replaces its
properties. Two stores cannot change in one step, so each such write first commits an
intent (`files_intents`, next to meta.py's tables): the path the entry will have, the inode that will be there
once the disk step is done, and the rows to write then. The disk step is one rename(2), so after a kill -9 the
inode at that path says whether it happened:

* it did: the rows are brought in line (moved, written) — at once, or at the next start (`recover`);
* it did not: the intent is dropped and nothing changed (a half-written copy lives outside the shares, in
  `<data dir>/files-copying/`, and is removed).

A resize keeps the inode, so its intent is rolled forward: at the next start the file gets the intended size and
properties whether or not the truncate happened.

So a rename leaves the entry at its old or its new name with its properties and lease, never both or neither,
and a copy leaves the destination as it was or complete with its properties, never half written.
"""
from __future__ import annotations

import json
import os
import shutil
import stat as statmod
import uuid
from dataclasses import asdict

from ..errors import StorageError
from . import snapshots
from .disk import _Parent, not_found
from .meta import EntryProps

COPYING = "files-copying"     # under the data dir: copies being written, on the shares' file system
_SCHEMA = "CREATE TABLE IF NOT EXISTS files_intents (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)"
_TABLES = ("files_entries", "files_leases", "files_ranges")


def _ensure(meta) -> None:
    if not getattr(meta, "_intents_ready", False):
        meta._conn().execute(_SCHEMA)
        meta._intents_ready = True


def begin(meta, account: str, share: str, path: list[str], ino: int, props: EntryProps, times: dict | None,
          **extra) -> tuple[int, dict]:
    """Commit the intent: once `path` holds inode `ino`, it gets `props` (with `times`, as plane._save);
    (its id, its body) for `finish`. `move`: the old path whose rows move along; `lease_ino`: the inode whose
    lease row the new inode inherits."""
    _ensure(meta)
    body = {"account": account, "share": share, "path": path, "ino": ino, "props": asdict(props),
            "times": times or {}, **extra}
    body = json.loads(json.dumps(body))       # as recover() will read it
    with meta._tx() as c:
        return c.execute("INSERT INTO files_intents (body) VALUES (?)", (json.dumps(body),)).lastrowid, body


def drop(meta, iid: int) -> None:
    with meta._tx() as c:
        c.execute("DELETE FROM files_intents WHERE id = ?", (iid,))


def carry_out(plane, intent: list, disk_step):
    """Run `disk_step()`, the disk half of the intent in `intent` ([(id, body)], committed before the step or by
    it): if the step fails the intent is dropped; else its rows are written (`finish`) and the NodeInfo returned,
    NotFound when the inode is no longer at its path."""
    try:
        disk_step()
    except Exception:
        if intent:
            drop(plane.meta, intent[0][0])
        raise
    node = finish(plane, *intent[0])
    if node is None:
        raise not_found()
    return node


def finish(plane, iid: int, body: dict, recovering: bool = False):
    """Write the rows of an intent whose disk step is done (the inode is at its path): the NodeInfo; else drop
    the intent and return None. Idempotent, so a crash inside it is finished again at the next start."""
    account, share, parts = body["account"], body["share"], body["path"]
    path = "/".join(parts)
    with plane.disk.open_share(account, share) as sh:
        st, parent_ino = plane.disk.lookup(sh, parts)
    if st is None or st.st_ino != body["ino"]:
        drop(plane.meta, iid)
        return None
    if body.get("size") is not None and st.st_size != body["size"]:
        with plane.disk.open_share(account, share) as sh:      # Set File Properties' new size: rolled forward
            fd = plane.disk._open(sh, parts, os.O_WRONLY)
            try:
                os.ftruncate(fd, body["size"])
                st = os.fstat(fd)
            finally:
                os.close(fd)
    move = body.get("move")
    if move and (not recovering or _has_rows(plane.meta, account, share, move)):
        plane.meta.move(account, share, move, path)
    if body.get("lease_ino"):
        with plane.meta._tx() as c:       # Copy File replaced the inode: the destination's lease stays on it
            c.execute("UPDATE files_leases SET ino = ? WHERE account = ? AND share = ? AND path = ? AND ino = ?",
                      (st.st_ino, account, share, path, body["lease_ino"]))
        plane.meta._leased = None
    times = dict(body["times"])
    if isinstance(times.get("permission"), list):
        times["permission"] = tuple(times["permission"])
    node = plane._save(account, share, parts, st, parent_ino, EntryProps(**body["props"]), times)
    drop(plane.meta, iid)
    return node


def _has_rows(meta, account: str, share: str, old: str) -> bool:
    """Whether rows still describe `old` or anything below it (the move of a rename is not done yet)."""
    for table in _TABLES:
        if meta._conn().execute(f"SELECT 1 FROM {table} WHERE account = ? AND share = ? AND (path = ? OR "
                                "substr(path, 1, ?) = ?) LIMIT 1", (account, share, old, len(old) + 1,
                                                                     old + "/")).fetchone():
            return True
    return False


def recover(plane) -> None:
    """At start: finish or drop every intent a crash left, then remove the copies that never got in place."""
    _ensure(plane.meta)
    for iid, text in plane.meta._conn().execute("SELECT id, body FROM files_intents ORDER BY id").fetchall():
        try:
            finish(plane, iid, json.loads(text), recovering=True)
        except StorageError:          # the share went away meanwhile: nothing left to bring in line
            drop(plane.meta, iid)
    leftover = plane.disk.data_dir / COPYING
    if leftover.is_dir() and not leftover.is_symlink():
        shutil.rmtree(leftover, ignore_errors=True)


class TempCopy:
    """The bytes of a copy, written outside the shares (`<data dir>/files-copying/<uuid>`), then renamed into
    place. `usable` is False when that directory is on another file system than the share (an operator's link to
    a share elsewhere): the caller then copies in place, as before."""

    def __init__(self, disk, sh):
        self.dir = os.path.join(disk.data_dir, COPYING)
        os.makedirs(self.dir, exist_ok=True)
        self.dir_fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        self.name = uuid.uuid4().hex
        self.usable = os.fstat(self.dir_fd).st_dev == os.fstat(sh.fd).st_dev
        self.placed = False
        self.st: os.stat_result | None = None

    def write(self, src_fd: int | None, size: int) -> os.stat_result:
        """The copy of `size` bytes of `src_fd` (None: `size` zero bytes, sparse, for the copier to fill)."""
        fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666,
                     dir_fd=self.dir_fd)
        try:
            if src_fd is None:
                os.ftruncate(fd, size)
            else:
                snapshots.copy_data(src_fd, fd, size)
            self.st = os.fstat(fd)
        finally:
            os.close(fd)
        return self.st

    def place(self, disk, sh, parts: list[str], before) -> os.stat_result | None:
        """Rename the copy to `parts` under the file's lock; `before(existing stat or None)` runs first (checks,
        the intent). 409 when a directory is there."""
        with _Parent(sh, parts) as parent, disk.locks.exclusive(sh.lock_key(parts)):
            old = parent.stat()
            if old is not None and not statmod.S_ISREG(old.st_mode):
                raise StorageError(409, "ResourceAlreadyExists",
                                   "Something other than a file exists at the specified path.")
            before(old)
            os.rename(self.name, parent.name, src_dir_fd=self.dir_fd, dst_dir_fd=parent.fd)
            self.placed = True
            return old

    def close(self) -> None:
        if not self.placed:
            try:
                os.unlink(self.name, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass
        os.close(self.dir_fd)
