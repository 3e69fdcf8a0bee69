"""The bytes of Azure file shares: real directories and files under `<data-dir>/shares/<account>/<share>`.

Cluster and job mounts are bind mounts of these directories, so everything here is plain POSIX: a directory is
a directory, a file is a (sparse) file of exactly the share file's size.

Safety: every path the API names is resolved with realpath and must stay inside the share's own realpath
(symbolic links that leave it are refused with 400); files are opened with O_NOFOLLOW and checked to be regular
files after opening, so a link or a FIFO swapped in by a job is never followed or blocked on.

Concurrency: range writes and clears of one file run in parallel (pwrite at their own offsets) under the shared
side of that file's lock; anything that changes a file's size (create, resize, delete) takes the exclusive side.
Every write through the API moves the file's mtime strictly forward, so the ETag (inode, size, mtime) is new
for every version while staying identical across the chunked GETs of one version.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import stat as statmod
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from ..errors import StorageError
from ..mounts import share_dir
from . import names

# Downloads yield 256 KiB pieces: cheroot's pure-Python writer copies a piece again for every partial socket
# send, so pieces much larger than a send cost measurably more server CPU per GB (measured ~40% more at 1 MiB).
READ_CHUNK = 256 << 10
# Range bodies go to disk in 256 KiB pieces: the piece just received is still in the CPU cache when pwrite copies
# it into the page cache.
WRITE_CHUNK = 256 << 10
MAX_FILE_SIZE = 4 << 40          # 4 TiB, the service's largest file

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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


def iso7(ts: float) -> str:
    """ISO 8601 with 7 fractional digits and Z, as the service writes x-ms-file-*-time values."""
    whole = int(ts // 1)
    frac = int(round((ts - whole) * 10_000_000))
    if frac >= 10_000_000:
        whole, frac = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{frac:07d}Z"


# ---- locks ----------------------------------------------------------------------------------------------------
class _RWLock:
    def __init__(self):
        self.cond = threading.Condition()
        self.readers = 0
        self.writer = False
        self.users = 0
        self.mtime = threading.Lock()     # serialises mtime bumps of this file


class FileLocks:
    """One reader/writer lock per file path, created on demand and dropped when nobody holds it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks: dict[str, _RWLock] = {}

    def _get(self, path: str) -> _RWLock:
        with self._lock:
            lock = self._locks.get(path)
            if lock is None:
                lock = self._locks[path] = _RWLock()
            lock.users += 1
            return lock

    def _put(self, path: str, lock: _RWLock) -> None:
        with self._lock:
            lock.users -= 1
            if lock.users == 0:
                self._locks.pop(path, None)

    @contextmanager
    def shared(self, path: str):
        lock = self._get(path)
        try:
            with lock.cond:
                while lock.writer:
                    lock.cond.wait()
                lock.readers += 1
            try:
                yield lock
            finally:
                with lock.cond:
                    lock.readers -= 1
                    lock.cond.notify_all()
        finally:
            self._put(path, lock)

    @contextmanager
    def exclusive(self, path: str):
        lock = self._get(path)
        try:
            with lock.cond:
                while lock.writer or lock.readers:
                    lock.cond.wait()
                lock.writer = True
            try:
                yield lock
            finally:
                with lock.cond:
                    lock.writer = False
                    lock.cond.notify_all()
        finally:
            self._put(path, lock)


def _bump_mtime(fd: int, lock: _RWLock) -> os.stat_result:
    """Move the file's mtime strictly forward (at least 1 µs), so every API write makes a new ETag."""
    with lock.mtime:
        st = os.fstat(fd)
        new = max(time.time_ns(), st.st_mtime_ns + 1000)
        os.utime(fd, ns=(st.st_atime_ns, new))
        return os.fstat(fd)


# ---- hole punching --------------------------------------------------------------------------------------------
_libc = None
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


def _punch_hole(fd: int, offset: int, length: int) -> bool:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    return _libc.fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0


# ---- the disk -------------------------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    is_dir: bool
    st: os.stat_result


def not_found(code: str = "ResourceNotFound", message: str = "The specified resource does not exist.") -> StorageError:
    return StorageError(404, code, message)


def outside_share(path: str) -> StorageError:
    return StorageError(400, "InvalidResourceName",
                        f"The path '{path}' resolves outside its share (through a symbolic link); the emulator "
                        "never reads or writes there.")


class Disk:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.locks = FileLocks()

    # ---- shares ---------------------------------------------------------------------------------------------
    def account_dir(self, account: str) -> str:
        return str(self.data_dir / "shares" / account)

    def share_path(self, account: str, share: str) -> str:
        return str(share_dir(self.data_dir, account, share))

    def share_root(self, account: str, share: str) -> str:
        """The realpath of an existing share directory, or 404 ShareNotFound."""
        path = self.share_path(account, share)
        if not os.path.isdir(path):
            raise not_found("ShareNotFound", "The specified share does not exist.")
        return os.path.realpath(path)

    def share_exists(self, account: str, share: str) -> bool:
        return os.path.isdir(self.share_path(account, share))

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
            shutil.rmtree(path)  # does not follow symbolic links inside the share
        else:
            raise not_found("ShareNotFound", "The specified share does not exist.")

    def delete_account(self, account: str) -> None:
        path = self.account_dir(account)
        if os.path.islink(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)

    def share_names(self, account: str) -> list[str]:
        try:
            found = os.listdir(self.account_dir(account))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for name in found:
            if names.SHARE_NAME.match(name) and "--" not in name \
                    and os.path.isdir(os.path.join(self.account_dir(account), name)):
                out.append(name)
        return sorted(out)

    def share_usage(self, root: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if statmod.S_ISREG(st.st_mode):
                    total += st.st_size
        return total

    # ---- paths ----------------------------------------------------------------------------------------------
    @staticmethod
    def resolve(root: str, parts: list[str]) -> str:
        """The real path `parts` names inside the share at `root`; 400 if it resolves outside the share."""
        real = os.path.realpath(os.path.join(root, *parts)) if parts else root
        if real != root and not real.startswith(root + os.sep):
            raise outside_share("/".join(parts))
        return real

    @staticmethod
    def stat(real: str) -> os.stat_result | None:
        try:
            return os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def require_dir(self, real: str, code: str = "ResourceNotFound") -> os.stat_result:
        st = self.stat(real)
        if st is None or not statmod.S_ISDIR(st.st_mode):
            raise not_found(code, "The specified parent path does not exist." if code == "ParentNotFound"
                            else "The specified resource does not exist.")
        return st

    def require_file(self, real: str) -> os.stat_result:
        st = self.stat(real)
        if st is None or not statmod.S_ISREG(st.st_mode):
            raise not_found()
        return st

    # ---- directories ----------------------------------------------------------------------------------------
    def create_dir(self, real: str) -> os.stat_result:
        self.require_dir(os.path.dirname(real), "ParentNotFound")
        try:
            os.mkdir(real)
        except FileExistsError:
            raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.") from None
        except (FileNotFoundError, NotADirectoryError):
            raise not_found("ParentNotFound", "The specified parent path does not exist.") from None
        return os.stat(real)

    def delete_dir(self, root: str, real: str) -> None:
        if real == root:
            raise StorageError(400, "InvalidUri", "The root directory of a share cannot be deleted.")
        self.require_dir(real)
        try:
            os.rmdir(real)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise StorageError(409, "DirectoryNotEmpty", "The specified directory is not empty.") from None
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise not_found() from None
            raise

    def touch_dir(self, real: str) -> os.stat_result:
        st = os.stat(real)
        os.utime(real, ns=(st.st_atime_ns, max(time.time_ns(), st.st_mtime_ns + 1000)))
        return os.stat(real)

    def list_dir(self, root: str, real: str) -> list[Entry]:
        """The listable entries of a directory, sorted by name. Links count only if they stay inside the share."""
        out = []
        try:
            scan = list(os.scandir(real))
        except (FileNotFoundError, NotADirectoryError):
            raise not_found() from None
        for item in scan:
            name = item.name
            if not names.listable(name):
                continue
            try:
                if item.is_symlink():
                    target = os.path.realpath(item.path)
                    if target != root and not target.startswith(root + os.sep):
                        continue
                st = item.stat()          # follows links that stay inside the share
            except OSError:
                continue
            if statmod.S_ISDIR(st.st_mode):
                out.append(Entry(name, True, st))
            elif statmod.S_ISREG(st.st_mode):
                out.append(Entry(name, False, st))
        out.sort(key=lambda e: e.name)
        return out

    # ---- files ----------------------------------------------------------------------------------------------
    @staticmethod
    def _open(real: str, flags: int) -> int:
        try:
            fd = os.open(real, flags | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK, 0o666)
        except FileNotFoundError:
            raise not_found() from None
        except (IsADirectoryError, NotADirectoryError):
            raise not_found() from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise outside_share(real) from None
            raise
        if not statmod.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise not_found()
        return fd

    def create_file(self, real: str, size: int) -> os.stat_result:
        """Create or replace the file with `size` zero bytes (sparse)."""
        self.require_dir(os.path.dirname(real), "ParentNotFound")
        st = self.stat(real)
        if st is not None and statmod.S_ISDIR(st.st_mode):
            raise StorageError(409, "ResourceAlreadyExists",
                               "A directory with the specified name already exists.")
        with self.locks.exclusive(real) as lock:
            try:
                fd = os.open(real, os.O_WRONLY | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK, 0o666)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise outside_share(real) from None
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise not_found("ParentNotFound", "The specified parent path does not exist.") from None
                if exc.errno == errno.EISDIR:
                    raise StorageError(409, "ResourceAlreadyExists",
                                       "A directory with the specified name already exists.") from None
                raise
            try:
                if not statmod.S_ISREG(os.fstat(fd).st_mode):
                    raise StorageError(409, "ResourceAlreadyExists",
                                       "Something other than a file exists at the specified path.")
                os.ftruncate(fd, 0)
                os.ftruncate(fd, size)
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def resize(self, real: str, size: int) -> os.stat_result:
        with self.locks.exclusive(real) as lock:
            fd = self._open(real, os.O_WRONLY)
            try:
                os.ftruncate(fd, size)
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def touch_file(self, real: str) -> os.stat_result:
        with self.locks.shared(real) as lock:
            fd = self._open(real, os.O_RDONLY)
            try:
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def write_range(self, real: str, offset: int, length: int, fill) -> os.stat_result:
        """Write `length` bytes at `offset`, as they arrive: `fill(view)` puts the next bytes of the body into
        `view` and returns how many (0 at the body's end). Pieces go to disk while the rest is still in flight."""
        with self.locks.shared(real) as lock:
            fd = self._open(real, os.O_WRONLY)
            try:
                size = os.fstat(fd).st_size
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
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def clear_range(self, real: str, offset: int, length: int) -> os.stat_result:
        with self.locks.shared(real) as lock:
            fd = self._open(real, os.O_WRONLY)
            try:
                size = os.fstat(fd).st_size
                if offset + length > size:
                    raise range_beyond_end(size)
                if not _punch_hole(fd, offset, length):
                    zeros = bytes(min(length, READ_CHUNK))
                    done = 0
                    while done < length:
                        n = min(len(zeros), length - done)
                        done += os.pwrite(fd, zeros[:n], offset + done)
                return _bump_mtime(fd, lock)
            finally:
                os.close(fd)

    def data_ranges(self, real: str, start: int, end: int) -> list[tuple[int, int]]:
        """Inclusive (start, end) byte ranges holding data (not holes), 512-aligned as the service reports."""
        fd = self._open(real, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            end = min(end, size - 1)
            out: list[tuple[int, int]] = []
            pos = start
            while pos <= end:
                try:
                    data = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:
                        break
                    return [(start, end)] if end >= start else []
                if data > end:
                    break
                hole = os.lseek(fd, data, os.SEEK_HOLE)
                lo, hi = data - data % 512, min(end, -(-hole // 512) * 512 - 1)
                if out and lo <= out[-1][1] + 1:
                    out[-1] = (out[-1][0], max(out[-1][1], hi))
                else:
                    out.append((max(lo, start), hi))
                pos = hole
            return out
        finally:
            os.close(fd)

    def open_read(self, real: str) -> tuple[int, os.stat_result]:
        fd = self._open(real, os.O_RDONLY)
        return fd, os.fstat(fd)

    def delete_file(self, real: str) -> None:
        self.require_file(real)
        with self.locks.exclusive(real):
            try:
                os.unlink(real)
            except FileNotFoundError:
                raise not_found() from None
            except IsADirectoryError:
                raise not_found() from None


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
