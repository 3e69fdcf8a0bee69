"""Per-file reader/writer locks of the file plane, and the mtime bump that gives every API write a new ETag."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager


# ---- locks ----------------------------------------------------------------------------------------------------
class _RWLock:
    def __init__(self):
        self.cond = threading.Condition()
        self.readers = 0
        self.writer = False
        self.users = 0
        self.mtime = threading.Lock()     # serialises mtime bumps of this file
        self.api_mtimes: set[int] = set()  # mtimes API writes left while this lock lived (ranges.py stamps)


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


def bump_mtime(fd: int, lock: _RWLock, after=None, pre_mtime: int | None = None) -> os.stat_result:
    """Move the file's mtime strictly forward (at least 1 µs), so every API write makes a new ETag.
    `after(fd, new_stat, trusted_mtimes)` runs under the same lock (the written-ranges record): trusted_mtimes are
    the mtimes only API writes can have left (the one before this write began, and concurrent API writes')."""
    with lock.mtime:
        st = os.fstat(fd)
        new = max(time.time_ns(), st.st_mtime_ns + 1000)
        os.utime(fd, ns=(st.st_atime_ns, new))
        st = os.fstat(fd)
        if after is not None:
            trusted = set(lock.api_mtimes)
            if pre_mtime is not None:
                trusted.add(pre_mtime)
            after(fd, st, trusted)
        lock.api_mtimes.add(st.st_mtime_ns)
        return st
