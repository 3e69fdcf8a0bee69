"""The bytes of Azure file shares: real directories and files under `<data-dir>/shares/<account>/<share>`.

Cluster and job mounts are bind mounts of these directories, so everything here is plain POSIX: a directory is
a directory, a file is a (sparse) file of exactly the share file's size.

Safety: jobs change these directories while requests run, so no path string is ever checked and then used.
A request opens its share's directory once (ShareDir) and every lookup, open, create, delete and listing goes
from that fd or from a directory fd opened beneath it (beneath.py: openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
or a component-by-component O_NOFOLLOW walk). A symbolic link anywhere on a path is refused with 400; files are
opened non-blocking and checked to be regular files after opening, so a FIFO or device a job plants is never
read, written or blocked on.

Concurrency: range writes and clears of one file run in parallel (pwrite at their own offsets) under the shared
side of that file's lock; anything that changes a file's size (create, resize, delete) takes the exclusive side.
Every write through the API moves the file's mtime strictly forward, so the ETag (inode, size, mtime) is new
for every version while staying identical across the chunked GETs of one version.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat as statmod
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from ..errors import StorageError
from ..mounts import share_dir
from ..storage.dirs import remove_account_dir, subdirectories
from . import names, ranges, snapshots
from .ranges import fd_data_ranges
from .locks import FileLocks, bump_mtime as _bump_mtime
from .beneath import O_CLOEXEC, O_NOFOLLOW, O_NONBLOCK, DIR_FLAGS, open_beneath, open_dir, punch_hole, \
    stat_beneath

# Downloads yield 256 KiB pieces: cheroot's pure-Python writer copies a piece again for every partial socket
# send, so pieces much larger than a send cost measurably more server CPU per GB (measured ~40% more at 1 MiB).
READ_CHUNK = 256 << 10
# Range bodies go to disk in 256 KiB pieces: the piece just received is still in the CPU cache when pwrite copies
# it into the page cache.
WRITE_CHUNK = 256 << 10
MAX_FILE_SIZE = 4 << 40          # 4 TiB, the service's largest file



# ---- formats --------------------------------------------------------------------------------------------------
def tag(*parts) -> str:
    """A quoted ETag in the service's style ("0x" + 16 hex digits) that changes whenever any part does."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).hexdigest()
    return f'"0x{digest.upper()}"'


def etag(st: os.stat_result) -> str:
    """The ETag of a file or directory version: inode, size and (nanosecond) mtime."""
    return tag(st.st_ino, st.st_size, st.st_mtime_ns)


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def iso7(ns: int) -> str:
    """ISO 8601 with 7 fractional digits and Z, as the service writes x-ms-file-*-time values, from integer
    nanoseconds (exact: a time a client set reads back to the 100 ns tick)."""
    whole, rest = divmod(int(ns), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{rest // 100:07d}Z"


# ---- the disk -------------------------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    is_dir: bool
    st: os.stat_result


def not_found(code: str = "ResourceNotFound", message: str = "The specified resource does not exist.") -> StorageError:
    return StorageError(404, code, message)


def parent_not_found() -> StorageError:
    return not_found("ParentNotFound", "The specified parent path does not exist.")


def through_link(path: str) -> StorageError:
    return StorageError(400, "InvalidResourceName",
                        f"The path '{path}' goes through a symbolic link; the emulator never follows links in a "
                        "share (they could lead outside it).")


class ShareDir:
    """An open share directory: every path of one request is looked up from its fd (close it when done)."""

    def __init__(self, fd: int, key: str):
        self.fd = fd
        self.key = key

    def lock_key(self, parts: list[str]) -> str:
        return self.key + "/" + "/".join(parts)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "ShareDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_MISSING = (errno.ENOENT, errno.ENOTDIR)


class _Parent:
    """The directory fd of parts[:-1] (ParentNotFound when it is missing) and the name of parts[-1] in it."""

    def __init__(self, sh: ShareDir, parts: list[str]):
        self.name = parts[-1]
        try:
            self.fd = open_dir(sh.fd, parts[:-1])
        except OSError as exc:
            if exc.errno in _MISSING:
                raise parent_not_found() from None
            if exc.errno == errno.ELOOP:
                raise through_link("/".join(parts)) from None
            raise

    @property
    def ino(self) -> int:
        return os.fstat(self.fd).st_ino

    def stat(self) -> os.stat_result | None:
        try:
            return stat_beneath(self.fd, [self.name])
        except OSError as exc:
            if exc.errno in _MISSING:
                return None
            if exc.errno == errno.ELOOP:
                raise through_link(self.name) from None
            raise

    def __enter__(self) -> "_Parent":
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


class Disk:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.locks = FileLocks()

    # ---- shares ---------------------------------------------------------------------------------------------
    def account_dir(self, account: str) -> str:
        return str(self.data_dir / "shares" / account)

    def share_path(self, account: str, share: str) -> str:
        return str(share_dir(self.data_dir, account, share))

    def open_share(self, account: str, share: str) -> ShareDir:
        """The share's directory, open (404 ShareNotFound). The share directory itself is the emulator's own
        (jobs see it only as a mount point), so an operator's link to it is followed. `share@<id>` names a
        snapshot of the share (snapshots.py)."""
        if "@" in share:
            base, _, snapshot = share.partition("@")
            self.share_path(account, base)                    # validates the names
            return ShareDir(snapshots.open_dir(self.data_dir, account, base, snapshot), f"{account}/{share}")
        try:
            fd = os.open(self.share_path(account, share), DIR_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            raise not_found("ShareNotFound", "The specified share does not exist.") from None
        return ShareDir(fd, f"{account}/{share}")

    def create_share(self, account: str, share: str) -> bool:
        os.makedirs(self.account_dir(account), exist_ok=True)
        try:
            os.mkdir(self.share_path(account, share))
        except FileExistsError:
            return False
        return True

    def delete_share(self, account: str, share: str) -> None:
        path = self.share_path(account, share)
        if os.path.islink(path):
            os.unlink(path)      # an operator's link: remove the link, never what it points to
        elif os.path.isdir(path):
            shutil.rmtree(path)  # fd-based: does not follow symbolic links inside the share, even raced ones
        else:
            raise not_found("ShareNotFound", "The specified share does not exist.")

    def delete_account(self, account: str) -> None:
        remove_account_dir(self.account_dir(account))

    def share_names(self, account: str) -> list[str]:
        return subdirectories(self.account_dir(account),
                              lambda name: names.SHARE_NAME.match(name) and "--" not in name)

    @staticmethod
    def usage(sh: ShareDir) -> int:
        """The sum of the sizes of the share's regular files (links are neither followed nor counted)."""
        total = 0
        linked: set[int] = set()          # inodes with several names (hard links) count once
        for _top, _dirs, files, dirfd in os.fwalk(".", dir_fd=sh.fd):
            for name in files:
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except OSError:
                    continue
                if statmod.S_ISREG(st.st_mode):
                    if st.st_nlink > 1:
                        if st.st_ino in linked:
                            continue
                        linked.add(st.st_ino)
                    total += st.st_size
        return total

    # ---- lookups --------------------------------------------------------------------------------------------
    @staticmethod
    def lookup(sh: ShareDir, parts: list[str]) -> tuple[os.stat_result | None, int]:
        """(stat or None when missing, inode of the parent directory: -1 when the parent itself is missing)."""
        if not parts:
            return os.fstat(sh.fd), 0
        try:
            parent = _Parent(sh, parts)
        except StorageError as err:
            if err.code == "ParentNotFound":
                return None, -1
            raise
        with parent:
            return parent.stat(), parent.ino

    def require_dir(self, sh: ShareDir, parts: list[str], code: str = "ResourceNotFound") -> tuple[os.stat_result, int]:
        st, parent_ino = self.lookup(sh, parts)
        if st is None or not statmod.S_ISDIR(st.st_mode):
            raise parent_not_found() if code == "ParentNotFound" or parent_ino < 0 else not_found(code)
        return st, parent_ino

    def require_file(self, sh: ShareDir, parts: list[str]) -> tuple[os.stat_result, int]:
        st, parent_ino = self.lookup(sh, parts)
        if st is None or not statmod.S_ISREG(st.st_mode):
            raise parent_not_found() if parent_ino < 0 else not_found()
        return st, parent_ino

    # ---- directories ----------------------------------------------------------------------------------------
    @staticmethod
    def create_dir(sh: ShareDir, parts: list[str]) -> tuple[os.stat_result, int]:
        with _Parent(sh, parts) as parent:
            try:
                os.mkdir(parent.name, dir_fd=parent.fd)
            except FileExistsError:
                raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.") from None
            st = parent.stat()
            if st is None:
                raise not_found()         # removed by a job right after it was made
            return st, parent.ino

    @staticmethod
    def remove_new_dir(sh: ShareDir, parts: list[str]) -> None:
        with _Parent(sh, parts) as parent:
            try:
                os.rmdir(parent.name, dir_fd=parent.fd)
            except OSError:
                pass

    @staticmethod
    def delete_dir(sh: ShareDir, parts: list[str]) -> None:
        if not parts:
            raise StorageError(400, "InvalidUri", "The root directory of a share cannot be deleted.")
        try:
            parent = _Parent(sh, parts)
        except StorageError as err:
            if err.code == "ParentNotFound":
                raise not_found() from None
            raise
        with parent:
            st = parent.stat()
            if st is None or not statmod.S_ISDIR(st.st_mode):
                raise not_found()
            try:
                os.rmdir(parent.name, dir_fd=parent.fd)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise StorageError(409, "DirectoryNotEmpty", "The specified directory is not empty.") from None
                if exc.errno in _MISSING:
                    raise not_found() from None
                raise

    @staticmethod
    def _open_dir(sh: ShareDir, parts: list[str]) -> int:
        try:
            return open_dir(sh.fd, parts)
        except OSError as exc:
            if exc.errno in _MISSING:
                raise not_found() from None
            if exc.errno == errno.ELOOP:
                raise through_link("/".join(parts)) from None
            raise

    def touch_dir(self, sh: ShareDir, parts: list[str]) -> os.stat_result:
        fd = self._open_dir(sh, parts)
        try:
            st = os.fstat(fd)
            os.utime(fd, ns=(st.st_atime_ns, max(time.time_ns(), st.st_mtime_ns + 1000)))
            return os.fstat(fd)
        finally:
            os.close(fd)

    def list_dir(self, sh: ShareDir, parts: list[str]) -> tuple[os.stat_result, list[Entry]]:
        """The directory's stat and its listable entries, sorted by name. Links are never listed."""
        fd = self._open_dir(sh, parts)
        try:
            st = os.fstat(fd)
            out = []
            with os.scandir(fd) as scan:
                items = list(scan)
            for item in items:
                if not names.listable(item.name):
                    continue
                try:
                    est = item.stat(follow_symlinks=False)    # fstatat from the directory's fd
                except OSError:
                    continue
                if statmod.S_ISDIR(est.st_mode):
                    out.append(Entry(item.name, True, est))
                elif statmod.S_ISREG(est.st_mode):
                    out.append(Entry(item.name, False, est))
            out.sort(key=lambda e: e.name)
            return st, out
        finally:
            os.close(fd)

    # ---- files ----------------------------------------------------------------------------------------------
    @staticmethod
    def _open(sh: ShareDir, parts: list[str], flags: int) -> int:
        try:
            fd = open_beneath(sh.fd, parts, flags | O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        except OSError as exc:
            if exc.errno in _MISSING + (errno.EISDIR, errno.ENXIO):
                raise not_found() from None
            if exc.errno == errno.ELOOP:
                raise through_link("/".join(parts)) from None
            raise
        if not statmod.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise not_found()
        return fd

    def create_file(self, sh: ShareDir, parts: list[str], size: int, check=None,
                    data: bytes | memoryview = b"", after=None,
                    exclusive: bool = False) -> tuple[os.stat_result, int, int | None]:
        """Create or replace the file with `size` zero bytes (sparse), then `data` at offset 0: (stat, parent
        inode, old size or None). `check(old_size)` runs under the file's lock before anything changes (quota).
        `exclusive`: 409 ResourceAlreadyExists when anything exists at the path."""
        with _Parent(sh, parts) as parent, self.locks.exclusive(sh.lock_key(parts)) as lock:
            old = parent.stat()
            if old is not None and statmod.S_ISDIR(old.st_mode):
                raise StorageError(409, "ResourceAlreadyExists",
                                   "A directory with the specified name already exists.")
            old_size = old.st_size if old is not None and statmod.S_ISREG(old.st_mode) else None
            if check is not None:
                check(old_size)
            try:
                fd = os.open(parent.name, os.O_WRONLY | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
                             | (os.O_EXCL if exclusive else 0), 0o666, dir_fd=parent.fd)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.") \
                        from None
                if exc.errno == errno.ELOOP:
                    raise through_link("/".join(parts)) from None
                if exc.errno in _MISSING:
                    raise parent_not_found() from None
                if exc.errno in (errno.EISDIR, errno.ENXIO):
                    raise StorageError(409, "ResourceAlreadyExists",
                                       "Something other than a file exists at the specified path.") from None
                raise
            try:
                if not statmod.S_ISREG(os.fstat(fd).st_mode):
                    raise StorageError(409, "ResourceAlreadyExists",
                                       "Something other than a file exists at the specified path.")
                os.ftruncate(fd, 0)
                os.ftruncate(fd, size)
                done = 0
                while done < len(data):
                    done += os.pwrite(fd, data[done:], done)
                return _bump_mtime(fd, lock, after), parent.ino, old_size
            finally:
                os.close(fd)

    def resize(self, sh: ShareDir, parts: list[str], size: int, check=None, after=None) -> os.stat_result:
        with self.locks.exclusive(sh.lock_key(parts)) as lock:
            fd = self._open(sh, parts, os.O_WRONLY)
            try:
                before = os.fstat(fd)
                if check is not None:
                    check(before.st_size)
                os.ftruncate(fd, size)
                return _bump_mtime(fd, lock, after, before.st_mtime_ns)
            finally:
                os.close(fd)

    def touch_file(self, sh: ShareDir, parts: list[str]) -> os.stat_result:
        with self.locks.shared(sh.lock_key(parts)) as lock:
            fd = self._open(sh, parts, os.O_RDONLY)
            try:
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def write_range(self, sh: ShareDir, parts: list[str], offset: int, length: int, fill,
                    after=None) -> os.stat_result:
        """Write `length` bytes at `offset`, as they arrive: `fill(view)` puts the next bytes of the body into
        `view` and returns how many (0 at the body's end). Pieces go to disk while the rest is still in flight."""
        with self.locks.shared(sh.lock_key(parts)) as lock:
            fd = self._open(sh, parts, os.O_WRONLY)
            try:
                before = os.fstat(fd)
                size = before.st_size
                if offset + length > size:
                    raise range_beyond_end(size)
                view = memoryview(bytearray(min(WRITE_CHUNK, length)))
                done = 0
                while done < length:
                    n = fill(view[:min(len(view), length - done)])
                    if not n:
                        raise StorageError(400, "InvalidInput", f"The request body ended after {done} of {length} "
                                           f"bytes; bytes {offset}-{offset + done - 1} of the range were written.")
                    written = 0
                    while written < n:
                        written += os.pwrite(fd, view[written:n], offset + done + written)
                    done += n
                return _bump_mtime(fd, lock, after, before.st_mtime_ns)
            finally:
                os.close(fd)

    def clear_range(self, sh: ShareDir, parts: list[str], offset: int, length: int,
                    after=None) -> os.stat_result:
        with self.locks.shared(sh.lock_key(parts)) as lock:
            fd = self._open(sh, parts, os.O_WRONLY)
            try:
                before = os.fstat(fd)
                size = before.st_size
                if offset + length > size:
                    raise range_beyond_end(size)
                if not punch_hole(fd, offset, length):
                    zeros = bytes(min(length, READ_CHUNK))
                    done = 0
                    while done < length:
                        n = min(len(zeros), length - done)
                        done += os.pwrite(fd, zeros[:n], offset + done)
                return _bump_mtime(fd, lock, after, before.st_mtime_ns)
            finally:
                os.close(fd)

    def data_ranges(self, sh: ShareDir, parts: list[str], start: int, end: int,
                    recorded=None) -> list[tuple[int, int]]:
        """Inclusive (start, end) byte ranges holding data: `recorded(fd, stat)` (the API's own record, or None
        when it does not describe this version of the file), else the file system's, 512-aligned."""
        fd = self._open(sh, parts, os.O_RDONLY)
        try:
            if recorded is not None:
                found = recorded(fd, os.fstat(fd))
                if found is not None:
                    return ranges.window(found, start, end)
            return fd_data_ranges(fd, start, end)
        finally:
            os.close(fd)

    def copy_into(self, sh: ShareDir, parts: list[str], src_fd: int, size: int) -> os.stat_result:
        """Copy `size` bytes of `src_fd` (its data ranges only) into the file, which has that size already."""
        with self.locks.shared(sh.lock_key(parts)) as lock:
            fd = self._open(sh, parts, os.O_WRONLY)
            try:
                snapshots.copy_data(src_fd, fd, size)
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def read_range(self, sh: ShareDir, parts: list[str], start: int, length: int) -> bytes:
        fd = self._open(sh, parts, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if start + length > size:
                raise range_beyond_end(size)
            return b"".join(read_stream(fd, start, length, close=False))
        finally:
            os.close(fd)

    def open_read(self, sh: ShareDir, parts: list[str]) -> tuple[int, os.stat_result, int]:
        """(fd, its fstat, parent directory inode) of the file `parts` names."""
        with _Parent(sh, parts) as parent:
            fd = self._open(ShareDir(parent.fd, sh.key), [parent.name], os.O_RDONLY)
            return fd, os.fstat(fd), parent.ino

    def delete_file(self, sh: ShareDir, parts: list[str]) -> int:
        """Remove the file; its size (for the share's usage)."""
        try:
            parent = _Parent(sh, parts)
        except StorageError as err:
            if err.code == "ParentNotFound":
                raise not_found() from None
            raise
        with parent, self.locks.exclusive(sh.lock_key(parts)):
            st = parent.stat()
            if st is None or not statmod.S_ISREG(st.st_mode):
                raise not_found()
            try:
                os.unlink(parent.name, dir_fd=parent.fd)     # removes the name in that directory, never follows
            except (FileNotFoundError, IsADirectoryError):
                raise not_found() from None
            return st.st_size


def range_beyond_end(size: int) -> StorageError:
    return StorageError(416, "InvalidRange", f"The range specified is invalid for the current size of the "
                        f"resource ({size} bytes).")


def read_stream(fd: int, start: int, length: int, close: bool = True):
    """Yield `length` bytes from `fd` at `start` in READ_CHUNK pieces; closes the fd when done or abandoned."""
    try:
        pos, end = start, start + length
        while pos < end:
            chunk = os.pread(fd, min(READ_CHUNK, end - pos), pos)
            if not chunk:
                break        # the file shrank under us: the client sees a short body and fails, as it should
            pos += len(chunk)
            yield chunk
    finally:
        if close:
            os.close(fd)
