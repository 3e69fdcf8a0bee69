"""Staged (uncommitted) blocks: one sparse assembly file per blob, each block written at its own reserved range.

Layout: `blob-state/<account>/<container>/staging/<sha256 of the name>/` holds `assembly` and one record per block,
named by the hex of the block id, holding "<offset> <size>" (written to a temporary name and renamed, so a record
exists only for a block received whole and checked). Ranges are reserved in arrival order, never reused while the
blob's staging lives, so re-staging a block id writes a fresh range and the old one simply stops being referenced.

Why an assembly file: clients upload blocks in list order, so at Put Block List the listed blocks usually already
tile the assembly from offset 0 in order, and the committed blob is that file, truncated and renamed: no copy. When
parallel uploads arrived slightly out of order the few misplaced blocks are swapped into place inside the file;
anything else (duplicates, committed blocks reused, gaps) is assembled into a new file by copying.

Concurrency: Put Block holds the blob's staging lock shared (many blocks in parallel); Put Block List, Put Blob and
deletes hold it exclusive, so no write lands in an assembly after it became a blob.
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..files.disk import FileLocks
from .disk import BlobDisk, copy_into

ASSEMBLY = "assembly"


class Staging:
    def __init__(self, disk: BlobDisk):
        self.disk = disk
        self.locks = FileLocks()
        self._next: dict[str, int] = {}
        self._mu = threading.Lock()

    def _dir(self, account: str, container: str, name: str) -> Path:
        return self.disk.staging_dir(account, container, name)

    @contextmanager
    def shared(self, account: str, container: str, name: str):
        with self.locks.shared(str(self._dir(account, container, name))):
            yield

    @contextmanager
    def exclusive(self, account: str, container: str, name: str):
        with self.locks.exclusive(str(self._dir(account, container, name))):
            yield

    def blocks(self, account: str, container: str, name: str) -> dict[str, tuple[int, int, float]]:
        """{block id: (offset in the assembly, size, staged at)} of the blob's uncommitted blocks."""
        d = self._dir(account, container, name)
        try:
            entries = list(os.scandir(d))
        except FileNotFoundError:
            return {}
        out = {}
        for e in entries:
            if e.name == ASSEMBLY or e.name.startswith("."):
                continue
            try:
                with open(e.path, "rb") as fh:
                    offset, size = (int(x) for x in fh.read(64).split())
                out[bytes.fromhex(e.name).decode("utf-8")] = (offset, size, e.stat().st_mtime)
            except (OSError, ValueError):
                continue
        return out

    def _reserve(self, d: Path, length: int, account: str, container: str, name: str) -> int:
        key = str(d)
        with self._mu:
            nxt = self._next.get(key)
            if nxt is None:          # first block since start: continue after what earlier processes staged
                nxt = max((o + s for o, s, _ in self.blocks(account, container, name).values()), default=0)
                try:
                    nxt = max(nxt, os.stat(d / ASSEMBLY).st_size)
                except FileNotFoundError:
                    pass
            self._next[key] = nxt + length
            return nxt

    def put(self, account: str, container: str, name: str, block_id: str, length: int, receive) -> None:
        """Stage a block: `receive(fd)` writes exactly its `length` body bytes at fd's position (and raises, having
        recorded nothing, when they are short or their digest is wrong). Call under shared()."""
        d = self._dir(account, container, name)
        d.mkdir(parents=True, exist_ok=True)
        offset = self._reserve(d, length, account, container, name)
        fd = os.open(d / ASSEMBLY, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            receive(fd)
        finally:
            os.close(fd)
        tmp = d / f".rec-{uuid.uuid4().hex}"
        tmp.write_text(f"{offset} {length}")
        os.replace(tmp, d / block_id.encode("utf-8").hex())

    def assemble_in_place(self, account: str, container: str, name: str,
                          plan: list[tuple[int, int]]) -> str | None:
        """If the planned (offset, size) ranges, all staged, tile the assembly from 0 without gaps or repeats:
        move the misplaced ones into list order, cut the file at the total and return its path (to be renamed
        into place). Else None (nothing changed). Call under exclusive()."""
        if not plan:
            return None
        total = sum(size for _, size in plan)
        pos = 0
        for offset, size in sorted(plan):
            if offset != pos:
                return None
            pos += size
        path = str(self._dir(account, container, name) / ASSEMBLY)
        moves, target = [], 0
        for offset, size in plan:
            if offset != target:
                moves.append((offset, target, size))
            target += size
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            if moves:
                # read every misplaced block out first (into a scratch file), then write each where it belongs
                sfd, scratch = self.disk.new_temp()
                try:
                    for offset, _, size in moves:
                        copy_into(sfd, fd, offset, size)
                    pos = 0
                    for _, dst, size in moves:
                        copy_into(fd, sfd, pos, size, dst_offset=dst)
                        pos += size
                finally:
                    os.close(sfd)
                    self.disk.discard(scratch)
            os.ftruncate(fd, total)
        finally:
            os.close(fd)
        return path

    def clear(self, account: str, container: str, name: str) -> None:
        d = self._dir(account, container, name)
        shutil.rmtree(d, ignore_errors=True)
        with self._mu:
            self._next.pop(str(d), None)
