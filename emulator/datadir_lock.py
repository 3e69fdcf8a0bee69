"""One emulator per data dir: an OS lock on `<data dir>/serve.lock`, held for the life of the `serve` process.

Two emulators on one data dir would both schedule its queued jobs and run them twice. The lock is an `flock` on
an open file: the kernel drops it when the process ends however it ends (kill -9 included), so a stale lock file
never blocks a restart. The file holds the holder's pid, only to name it in the refusal.
"""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = "serve.lock"


class DataDirInUse(RuntimeError):
    """Another live process serves this data dir."""

    def __init__(self, path: Path, pid: int | None):
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"data dir {path} is in use by {who}: another emulator serves it. Stop that one, or give "
                         "this one its own --data-dir (BATCHAI_EMULATOR_DATA_DIR).")
        self.pid = pid


class DataDirLock:
    """Held from `acquire()` until `release()` or the end of the process. The descriptor is not inherited by
    the node processes the local executor starts (Python opens files close-on-exec), so a job still running
    after a kill -9 of the emulator does not keep the lock."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "DataDirLock":
        """Raise DataDirInUse if another process holds the lock; OSError if the file cannot be made (the
        caller's data dir checks then say why)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirInUse(self.path.parent, _read_pid(self.path)) from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:   # a full disk: the lock holds all the same, only the refusal cannot name the pid
            pass
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing drops the flock; the file stays (removing it would race a new holder)
            self._fd = None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None
