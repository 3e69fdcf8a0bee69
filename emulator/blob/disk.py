"""The bytes of blob containers: plain files under `<data-dir>/blobs/<account>/<container>/<name>`.

Cluster and job mounts bind-mount a container's directory, so a blob `a/b/c.txt` is the file `a/b/c.txt` there and
a file a job writes is a blob. Names that cannot be paths (names.path_parts) and names whose path is blocked (a
file or a symbolic link where a directory would have to be, a directory where the file would go) are stored aside:
`<data-dir>/blob-state/<account>/<container>/aside/<sha256 of the name>`, outside the mounted directory.

Staged blocks live in `blob-state/<account>/<container>/staging/<sha256 of the name>/<hex of the block id>`; bodies
are received into `blob-state/.tmp/` (emptied at start) and only renamed into place once complete, so readers and a
restart after kill -9 never see half a blob: a commit is one rename(2) of a finished file.

Safety: jobs can write into mounted containers, so every path below a container directory is walked one component
at a time with dir fds and O_NOFOLLOW (a symbolic link or FIFO a job put there is never followed or blocked on),
and listings scan by fd and take only regular files and real directories.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat as statmod
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..errors import StorageError
from ..mounts import blob_container_dir
from ..storage.dirs import remove_account_dir, subdirectories
from .names import CONTAINER_NAME, path_parts

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_BLOCKED = (errno.ENOTDIR, errno.ELOOP, errno.EEXIST, errno.EISDIR, errno.ENOTEMPTY, errno.ENAMETOOLONG)


class Blocked(Exception):
    """The name's path cannot hold a file now (a file, link or directory in the way)."""


def container_not_found() -> StorageError:
    return StorageError(404, "ContainerNotFound", "The specified container does not exist.")


def name_key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


class NameLocks:
    """One lock per blob name, for the short critical sections that replace or remove a blob and its row."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks: dict[tuple, list] = {}

    @contextmanager
    def hold(self, key: tuple):
        with self._lock:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    self._locks.pop(key, None)


class BlobDisk:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.state = self.data_dir / "blob-state"
        self.tmp = self.state / ".tmp"
        self.locks = NameLocks()
        shutil.rmtree(self.tmp, ignore_errors=True)      # bodies of requests a killed process never finished
        self.tmp.mkdir(parents=True, exist_ok=True)

    # ---- containers -----------------------------------------------------------------------------------------
    def account_dir(self, account: str) -> Path:
        return self.data_dir / "blobs" / account

    def container_dir(self, account: str, container: str) -> str:
        return str(blob_container_dir(self.data_dir, account, container))

    def state_dir(self, account: str, container: str) -> Path:
        return self.state / account / container

    def container_exists(self, account: str, container: str) -> bool:
        return os.path.isdir(self.container_dir(account, container))

    def create_container(self, account: str, container: str) -> bool:
        self.account_dir(account).mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(self.container_dir(account, container))
        except FileExistsError:
            return False
        shutil.rmtree(self.state_dir(account, container), ignore_errors=True)
        return True

    def delete_container(self, account: str, container: str) -> None:
        path = self.container_dir(account, container)
        if os.path.islink(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)         # never follows links inside
        else:
            raise container_not_found()
        shutil.rmtree(self.state_dir(account, container), ignore_errors=True)

    def delete_account(self, account: str) -> None:
        for path in (self.account_dir(account), self.state / account):
            remove_account_dir(path)

    def container_names(self, account: str) -> list[str]:
        return subdirectories(self.account_dir(account), CONTAINER_NAME.match)

    def _root(self, account: str, container: str) -> int:
        try:
            return os.open(self.container_dir(account, container), _DIR_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            raise container_not_found() from None

    # ---- walking ----------------------------------------------------------------------------------------------
    @staticmethod
    def _walk(root: int, dirs: list[str], create: bool) -> list[int]:
        """fds of root's descendants `dirs` (the first is a dup of root); the caller closes them. Raises Blocked,
        or FileNotFoundError when a directory is missing and not created."""
        chain = [os.dup(root)]
        try:
            for d in dirs:
                try:
                    fd = os.open(d, _DIR_FLAGS, dir_fd=chain[-1])
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(d, 0o777, dir_fd=chain[-1])
                    except FileExistsError:
                        pass
                    fd = os.open(d, _DIR_FLAGS, dir_fd=chain[-1])
                chain.append(fd)
            return chain
        except OSError as exc:
            for fd in chain:
                os.close(fd)
            if exc.errno in _BLOCKED:
                raise Blocked() from None
            raise

    @staticmethod
    def _close(chain: list[int]) -> None:
        for fd in chain:
            os.close(fd)

    def aside_path(self, account: str, container: str, name: str) -> str:
        return str(self.state_dir(account, container) / "aside" / name_key(name))

    # ---- committed blobs ------------------------------------------------------------------------------------
    def open_blob(self, account: str, container: str, name: str) -> tuple[int, bool] | None:
        """(read fd, stored aside) of the blob's current file, or None. The fd is a regular file's."""
        parts = path_parts(name)
        if parts is not None:
            root = self._root(account, container)
            try:
                chain = self._walk(root, parts[:-1], create=False)
            except (Blocked, FileNotFoundError):
                chain = None
            finally:
                os.close(root)
            if chain is not None:
                try:
                    fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=chain[-1])
                except OSError:
                    fd = None
                finally:
                    self._close(chain)
                if fd is not None:
                    if statmod.S_ISREG(os.fstat(fd).st_mode):
                        return fd, False
                    os.close(fd)
        elif not self.container_exists(account, container):
            raise container_not_found()
        try:
            fd = os.open(self.aside_path(account, container, name), _FILE_FLAGS)
        except FileNotFoundError:
            return None
        return fd, True

    def stat_blob(self, account: str, container: str, name: str) -> tuple[os.stat_result, bool] | None:
        found = self.open_blob(account, container, name)
        if found is None:
            return None
        fd, aside = found
        try:
            return os.fstat(fd), aside
        finally:
            os.close(fd)

    def new_temp(self) -> tuple[int, str]:
        path = str(self.tmp / uuid.uuid4().hex)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), path

    @staticmethod
    def discard(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def commit(self, account: str, container: str, name: str, tmp: str) -> tuple[os.stat_result, bool]:
        """Rename the finished file `tmp` into place as the blob `name`; (its stat, stored aside)."""
        parts = path_parts(name)
        if parts is not None:
            root = self._root(account, container)
            try:
                chain = self._walk(root, parts[:-1], create=True)
            except Blocked:
                chain = None
            finally:
                os.close(root)
            if chain is not None:
                try:
                    os.rename(tmp, parts[-1], dst_dir_fd=chain[-1])
                    st = os.stat(parts[-1], dir_fd=chain[-1], follow_symlinks=False)
                    self.discard(self.aside_path(account, container, name))
                    return st, False
                except OSError as exc:
                    if exc.errno not in _BLOCKED:
                        raise
                finally:
                    self._close(chain)
        elif not self.container_exists(account, container):
            raise container_not_found()
        aside = self.aside_path(account, container, name)
        os.makedirs(os.path.dirname(aside), exist_ok=True)
        os.rename(tmp, aside)
        return os.stat(aside), True

    def delete_blob(self, account: str, container: str, name: str, aside: bool) -> bool:
        if aside:
            try:
                os.unlink(self.aside_path(account, container, name))
                return True
            except FileNotFoundError:
                return False
        parts = path_parts(name)
        root = self._root(account, container)
        try:
            chain = self._walk(root, parts[:-1], create=False)
        except (Blocked, FileNotFoundError):
            return False
        finally:
            os.close(root)
        try:
            st = os.stat(parts[-1], dir_fd=chain[-1], follow_symlinks=False)
            if not statmod.S_ISREG(st.st_mode):
                return False
            os.unlink(parts[-1], dir_fd=chain[-1])
            # virtual directories vanish with their last blob, as blobfuse shows them
            for i in range(len(parts) - 2, -1, -1):
                try:
                    os.rmdir(parts[i], dir_fd=chain[i])
                except OSError:
                    break
            return True
        except FileNotFoundError:
            return False
        finally:
            self._close(chain)

    def names(self, account: str, container: str, prefix: str) -> dict[str, os.stat_result]:
        """The path-placed blobs whose names start with `prefix`: {name: stat}. Regular files only."""
        start = prefix.split("/")[:-1]
        if path_parts("/".join(start + ["x"])) is None:
            return {}
        root = self._root(account, container)
        try:
            chain = self._walk(root, start, create=False)
        except (Blocked, FileNotFoundError):
            return {}
        finally:
            os.close(root)
        out: dict[str, os.stat_result] = {}
        base = "".join(p + "/" for p in start)
        fd = chain.pop()
        self._close(chain)
        self._scan(fd, base, prefix, out)
        return out

    def _scan(self, fd: int, base: str, prefix: str, out: dict) -> None:
        try:
            entries = list(os.scandir(fd))
            for e in entries:
                try:
                    name = base + os.fsdecode(e.name).encode("utf-8").decode("utf-8")
                except UnicodeError:
                    continue        # bytes that are not UTF-8 cannot be a blob name
                if not (name.startswith(prefix) or prefix.startswith(name + "/")):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if statmod.S_ISREG(st.st_mode) and name.startswith(prefix):
                    out[name] = st
                elif statmod.S_ISDIR(st.st_mode):
                    try:
                        sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError:
                        continue
                    self._scan(sub, name + "/", prefix, out)
        finally:
            os.close(fd)

    # ---- staged blocks --------------------------------------------------------------------------------------
    def staging_dir(self, account: str, container: str, name: str) -> Path:
        return self.state_dir(account, container) / "staging" / name_key(name)


def copy_into(dst: int, src: int, offset: int, length: int, dst_offset: int | None = None) -> None:
    """Copy `length` bytes of `src` from `offset` to `dst` (at its position, or at `dst_offset`), in the kernel
    where it can."""
    done = 0
    while done < length:
        at = None if dst_offset is None else dst_offset + done
        try:
            n = os.copy_file_range(src, dst, length - done, offset + done, at)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            n = _copy_slow(dst, src, offset + done, length - done, at)
        if n == 0:
            raise StorageError(500, "InternalError", "A staged block or source blob is shorter than recorded.")
        done += n


def _copy_slow(dst: int, src: int, offset: int, length: int, at: int | None) -> int:
    data = os.pread(src, min(length, 4 << 20), offset)
    view, written = memoryview(data), 0
    while written < len(data):
        if at is None:
            written += os.write(dst, view[written:])
        else:
            written += os.pwrite(dst, view[written:], at + written)
    return len(data)
