"""Asynchronous Copy File: a copy the service answers `x-ms-copy-status: pending` and finishes later, which Abort
Copy File can stop.

Which copies are asynchronous: the service copies within an account synchronously and between accounts in the
background. Here a copy from another account of a source larger than ASYNC_MIN is pending (a plausible reading of
the service, unverified: small cross-account copies still complete before the answer, so clients that do not
poll keep working); everything else completes before the answer (copying.py).

A pending copy is a row fact first: the destination exists at the source's size (zeros) with
`copy = {"status": "pending", "from": [account, share, parts], ...}` in its properties row, then a thread copies
the bytes in chunks (at `settings.files_copy_rate` bytes per second, as the service's copies take time), recording
its progress, and sets `success` (or `failed` when the source went away). Abort stops the thread and leaves the
destination empty with its properties, `x-ms-copy-status: aborted`, as the service documents. After a restart
(or kill -9) the plane finds the pending rows and copies them again from the start: the bytes are the source's
either way, so a destination is never reported `success` with bytes it does not have.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from ..errors import StorageError
from .meta import EntryProps

log = logging.getLogger("batchai_emulator.files")

ASYNC_MIN = 4 << 20             # larger cross-account copies are pending
CHUNK = 1 << 20
DEFAULT_RATE = 64 << 20         # bytes per second of a background copy (settings.files_copy_rate overrides)


def is_async(source_account: str, dest_account: str, size: int) -> bool:
    return source_account != dest_account and size > ASYNC_MIN


class Copies:
    """The running background copies of one plane, by (account, share, path)."""

    def __init__(self, plane):
        self.plane = plane
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, str], tuple[str, threading.Event, threading.Event]] = {}

    def rate(self) -> int:
        return int(getattr(self.plane.settings, "files_copy_rate", 0) or DEFAULT_RATE)

    @staticmethod
    def begin(source: tuple[str, str, list[str]], size: int, source_url: str) -> dict:
        """The copy record of a new pending copy (stored by the caller with the destination's row)."""
        return {"id": str(uuid.uuid4()), "source": source_url, "status": "pending", "progress": f"0/{size}",
                "completed": None, "from": [source[0], source[1], list(source[2])]}

    def start(self, account: str, share: str, parts: list[str], copy: dict) -> None:
        key = (account, share, "/".join(parts))
        stop, done = threading.Event(), threading.Event()
        with self._lock:
            previous = self._running.get(key)
            self._running[key] = (copy["id"], stop, done)
        if previous is not None:
            previous[1].set()           # a newer copy into the same file replaces the old one
        threading.Thread(target=self._run, args=(key, list(parts), copy, stop, done), daemon=True,
                         name=f"files-copy-{copy['id'][:8]}").start()

    def check_not_pending(self, account: str, share: str, parts: list[str]) -> None:
        """409 for a write of bytes (or size) into a file a background copy is still filling: the copy would
        overwrite them, and a write the emulator accepts must never be lost. (Replacing the file, deleting it or
        aborting the copy are allowed; the copier then stops.)"""
        running = self._running.get((account, share, "/".join(parts))) if self._running else None
        if running is None:
            return
        try:
            copy = self.plane.file(account, share, parts).props.copy or {}
        except StorageError:
            return                      # no such file: the operation itself answers
        if copy.get("id") == running[0] and copy.get("status") == "pending":    # (not replaced since)
            raise StorageError(409, "PendingCopyOperation", "There is currently a pending copy operation into this "
                               "file: wait for it to end, or abort it, before writing to the file.")

    def resume_all(self) -> None:
        """Start again every copy a previous run left pending (its rows say so)."""
        for account, share, path, copy in self.plane.meta.pending_copies():
            self.start(account, share, path.split("/"), copy)

    def abort(self, account: str, share: str, parts: list[str], copy_id: str) -> None:
        """Stop the pending copy `copy_id` into this file; the caller then empties the file and marks it."""
        node = self.plane.file(account, share, parts)
        copy = node.props.copy or {}
        if copy.get("status") != "pending":
            raise StorageError(409, "NoPendingCopyOperation", "There is currently no pending copy operation.")
        if copy.get("id") != copy_id:
            raise StorageError(409, "CopyIdMismatch", "The specified copy ID did not match the copy ID for the "
                               "pending copy operation.")
        with self._lock:
            running = self._running.get((account, share, "/".join(parts)))
        if running is not None and running[0] == copy_id:
            running[1].set()
            running[2].wait(30)

    # ---- the copier -------------------------------------------------------------------------------------------
    def _update(self, account: str, share: str, parts: list[str], copy_id: str, change,
                st: os.stat_result | None = None) -> bool:
        """Apply `change(copy)` to the destination's copy record if it is still this copy; whether it was. `st`:
        the file after a chunk was written, against which a last-write time the copy set stays valid."""
        def apply(props: EntryProps) -> None:
            change(props.copy)
            if st is not None and props.written is not None and props.written_stamp is not None:
                props.written_stamp = st.st_mtime_ns
        return self.plane.meta.update_copy(account, share, "/".join(parts), copy_id, apply)

    def _run(self, key, parts: list[str], copy: dict, stop: threading.Event, done: threading.Event) -> None:
        account, share, _ = key
        plane, copy_id = self.plane, copy["id"]
        s_account, s_share, s_parts = copy["from"]
        total = int(copy["progress"].split("/")[1])
        try:
            offset = 0
            while offset < total and not stop.is_set():
                began = time.monotonic()
                n = min(CHUNK, total - offset)
                try:
                    data = plane.read_range(s_account, s_share, s_parts, offset, n)
                except (StorageError, OSError) as exc:
                    reason = getattr(exc, "message", None) or str(exc)
                    self._update(account, share, parts, copy_id, lambda c: c.update(
                        status="failed", completed=time.time(), description=f"the source went away: {reason}"))
                    return
                if stop.is_set():
                    return
                try:
                    st = self._write(account, share, parts, copy_id, offset, data)
                except (StorageError, OSError):
                    return              # the destination was deleted or replaced: nothing to finish
                offset += len(data)
                if not self._update(account, share, parts, copy_id,
                                    lambda c, o=offset: c.update(progress=f"{o}/{total}"), st):
                    return
                stop.wait(max(0.0, len(data) / self.rate() - (time.monotonic() - began)))
            if not stop.is_set():
                self._update(account, share, parts, copy_id,
                             lambda c: c.update(status="success", progress=f"{total}/{total}",
                                                completed=time.time()))
        except Exception:               # a copier must never take the server down; the row stays pending
            log.exception("background copy %s into %s failed", copy_id, key)
        finally:
            with self._lock:
                if self._running.get(key, (None,))[0] == copy_id:
                    del self._running[key]
            done.set()

    def _write(self, account: str, share: str, parts: list[str], copy_id: str, offset: int,
               data: bytes) -> os.stat_result:
        node = self.plane.file(account, share, parts)
        if not node.props.copy or node.props.copy.get("id") != copy_id:
            raise StorageError(409, "CopyIdMismatch", "replaced")
        view, pos, ino = memoryview(data), 0, node.st.st_ino

        def fill(buf: memoryview) -> int:
            nonlocal pos
            if pos == 0:
                # the file is open by now: if it was replaced since the check above, its row names another
                # inode (or another copy) and nothing is written (the write ends with an error the copier takes)
                row = self.plane.meta.entry(account, share, node.path, ino)
                if row is None or not row.copy or row.copy.get("id") != copy_id:
                    return 0
            n = min(len(buf), len(view) - pos)
            buf[:n] = view[pos:pos + n]
            pos += n
            return n
        # (no preserve: that would save the row read before the write; _update re-stamps the copy's times)
        return self.plane.write_range(account, share, parts, offset, len(data), fill).st
