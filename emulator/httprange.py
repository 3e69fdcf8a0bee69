"""The one parser of HTTP byte ranges (RFC 9110 section 14.1.2) as Storage requests send them, in x-ms-range or Range.

It says only what a header asks for; each surface answers a range it cannot serve in its own format (the Files
plane and the blob plane with Storage XML, each with its own rules for what is an error). One range per request:
a list of ranges ("bytes=0-1,5-6") is not valid anywhere here, as the storage services serve one range at a time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

_SPEC = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class ByteRange:
    """bytes=start-end (end inclusive; None when open, "bytes=10-"), or a suffix "bytes=-n" (start None, suffix n)."""
    start: int | None
    end: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """(first, last) byte of a representation of `size` bytes, the end clipped to it; first >= size means the
        range is unsatisfiable (RFC 9110: 416), which includes any range of an empty representation."""
        if self.start is None:
            return max(0, size - (self.suffix or 0)), size - 1
        return self.start, size - 1 if self.end is None else min(self.end, size - 1)


def parse(raw: str, suffix: bool = False) -> ByteRange | None:
    """The range a header value asks for, or None when it is not one valid range: a malformed value, a list of
    ranges, an end before the start, and a suffix range unless `suffix` allows it."""
    m = _SPEC.fullmatch(raw.strip())
    if not m or not (m.group(1) or m.group(2)):
        return None
    if not m.group(1):
        return ByteRange(None, suffix=int(m.group(2))) if suffix else None
    start, end = int(m.group(1)), int(m.group(2)) if m.group(2) else None
    if end is not None and end < start:
        return None
    return ByteRange(start, end)


def requested(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(header name, value) of the range a request asks for: x-ms-range when present, else Range, else None."""
    for name in ("x-ms-range", "Range"):
        value = headers.get(name)
        if value is not None:
            return name, value
    return None
