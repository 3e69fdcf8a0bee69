"""Share snapshots: read-only copies of a share at one moment, under `<data-dir>/snapshots/<account>/<share>/<id>`.

A snapshot is served as a pseudo-share named `<share>@<id>` (Disk.open_share knows the name), so every read
operation works on it unchanged and its property rows live under that name in meta.py. It sits outside
`shares/`, so no job ever mounts it. The copy walks the share from its directory fd (fwalk, never following
links) and copies only the data ranges of sparse files.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import stat as statmod
import time
from pathlib import Path

from ..errors import StorageError
from .beneath import DIR_FLAGS, O_NOFOLLOW, O_NONBLOCK, open_beneath

SNAPSHOT_ID = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")


def check_id(snapshot: str) -> str:
    if not SNAPSHOT_ID.match(snapshot):
        raise StorageError(400, "InvalidQueryParameterValue", f"sharesnapshot '{snapshot}' is not a snapshot time.",
                           {"QueryParameterName": "sharesnapshot", "QueryParameterValue": snapshot})
    return snapshot if "." in snapshot else snapshot[:-1] + ".0000000Z"


def id_ns(snapshot: str) -> int:
    """A snapshot id's time in epoch nanoseconds."""
    import calendar
    whole, _, frac = check_id(snapshot)[:-1].partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1_000_000_000 + int(frac.ljust(7, "0")) * 100


def snapshots_dir(data_dir: Path, account: str, share: str) -> Path:
    return Path(data_dir) / "snapshots" / account / share


def list_ids(data_dir: Path, account: str, share: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(snapshots_dir(data_dir, account, share)) if SNAPSHOT_ID.match(n))
    except (FileNotFoundError, NotADirectoryError):
        return []


def new_id(data_dir: Path, account: str, share: str) -> str:
    ns = time.time_ns()
    existing = set(list_ids(data_dir, account, share))
    while True:
        whole, rest = divmod(ns, 1_000_000_000)
        sid = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{rest // 100:07d}Z"
        if sid not in existing:
            return sid
        ns += 100


def copy_data(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy the data ranges of a (sparse) file; the holes stay holes."""
    from .ranges import fd_data_ranges
    os.ftruncate(dst_fd, size)
    for start, end in fd_data_ranges(src_fd, 0, size - 1) if size else []:
        pos = start
        while pos <= end:
            n = os.copy_file_range(src_fd, dst_fd, end - pos + 1, pos, pos) if hasattr(os, "copy_file_range") \
                else 0
            if n <= 0:
                chunk = os.pread(src_fd, min(1 << 20, end - pos + 1), pos)
                if not chunk:
                    return
                n = os.pwrite(dst_fd, chunk, pos)
            pos += n


def copy_tree(share_fd: int, dest: Path, on_entry=None) -> None:
    """Copy the share (regular files and directories only; links, FIFOs... are left out) to `dest`.
    `on_entry(path, src_stat, dst_stat)` sees every copied entry (path '' is the root)."""
    dest.mkdir(parents=True)
    for top, dirs, files, dirfd in os.fwalk(".", dir_fd=share_fd):
        rel = os.path.normpath(top)
        rel = "" if rel == "." else rel
        out_dir = dest / rel
        if on_entry is not None:
            on_entry(rel, os.fstat(dirfd), os.stat(out_dir))
        for name in dirs:
            try:
                if statmod.S_ISDIR(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode):
                    os.mkdir(out_dir / name)
            except OSError:
                continue
        for name in files:
            try:
                fd = open_beneath(dirfd, [name], os.O_RDONLY | O_NONBLOCK | O_NOFOLLOW)
            except OSError:
                continue                         # a link, a FIFO, or gone: not part of the snapshot
            try:
                st = os.fstat(fd)
                if not statmod.S_ISREG(st.st_mode):
                    continue
                out = os.open(out_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o644)
                try:
                    copy_data(fd, out, st.st_size)
                    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
                    if on_entry is not None:
                        on_entry(os.path.join(rel, name) if rel else name, st, os.fstat(out))
                finally:
                    os.close(out)
            finally:
                os.close(fd)
        # directories get their times once their files are in
    for top, _dirs, _files, dirfd in os.fwalk(".", dir_fd=share_fd):
        rel = os.path.normpath(top)
        try:
            st = os.fstat(dirfd)
            os.utime(dest / ("" if rel == "." else rel), ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass


def delete(data_dir: Path, account: str, share: str, snapshot: str | None = None) -> None:
    """Remove one snapshot, or all of a share's."""
    base = snapshots_dir(data_dir, account, share)
    path = base / snapshot if snapshot else base
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        if snapshot:
            raise StorageError(404, "ShareNotFound", "The specified share snapshot does not exist.") from None
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def open_dir(data_dir: Path, account: str, share: str, snapshot: str) -> int:
    try:
        return os.open(snapshots_dir(data_dir, account, share) / snapshot, DIR_FLAGS | O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        raise StorageError(404, "ShareNotFound", "The specified share snapshot does not exist.") from None
