"""Which byte ranges of a file hold data written through the API (List Ranges), kept exactly.

A sparse file alone cannot say: the file system allocates whole blocks, so two 512-byte writes 512 bytes apart
look like one range. The written ranges are kept in meta.py (`files_ranges`), stamped with the mtime the write
left; a file whose mtime moved without the API (a job wrote it) falls back to the file system's data ranges.
Ranges are inclusive (start, end) pairs, sorted, never overlapping or touching.
"""
from __future__ import annotations

import errno
import os


MAX_LOG = 2000          # change-log entries kept per file; past that, diffs fall back to "everything changed"


def replay(log: list, since_ns: int, previous_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """(written, cleared) ranges from the log entries after `since_ns` (a share snapshot's time)."""
    written: list[list[int]] = []
    cleared: list[list[int]] = []
    for t, kind, *args in log:
        if kind == "create":
            written = []
            cleared = [[0, previous_size - 1]] if t > since_ns and previous_size else []
            continue
        if t <= since_ns:
            continue
        if kind == "w":
            written, cleared = add(written, *args), subtract(cleared, *args)
        elif kind == "c":
            cleared, written = add(cleared, *args), subtract(written, *args)
        elif kind == "size":
            written, cleared = clip(written, args[0]), clip(cleared, args[0])
        # ("rename", old path): the bytes stay as they were
    return written, cleared


def add(ranges: list[list[int]], start: int, end: int) -> list[list[int]]:
    out, placed = [], False
    for s, e in ranges:
        if e + 1 < start:
            out.append([s, e])
        elif end + 1 < s:
            if not placed:
                out.append([start, end])
                placed = True
            out.append([s, e])
        else:
            start, end = min(s, start), max(e, end)
    if not placed:
        out.append([start, end])
    return sorted(out)


def subtract(ranges: list[list[int]], start: int, end: int) -> list[list[int]]:
    out = []
    for s, e in ranges:
        if e < start or s > end:
            out.append([s, e])
            continue
        if s < start:
            out.append([s, start - 1])
        if e > end:
            out.append([end + 1, e])
    return out


def clip(ranges: list[list[int]], size: int) -> list[list[int]]:
    return subtract(ranges, size, 1 << 62) if size >= 0 else []


def window(ranges: list[list[int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of `ranges` inside [start, end]."""
    return [(max(s, start), min(e, end)) for s, e in ranges if e >= start and s <= end]


def fd_data_ranges(fd: int, start: int, end: int) -> list[tuple[int, int]]:
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
