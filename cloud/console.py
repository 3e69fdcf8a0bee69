"""What the commands print: numbered steps with timings, a status line, streamed log lines, the summary.

On a terminal the status line is redrawn in place; elsewhere (CI logs, pipes) a status is printed only when it
changes, so logs stay short and every line is complete.
"""
from __future__ import annotations

import io
import sys
import time
from contextlib import contextmanager
from typing import TextIO


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LineWriter(io.TextIOBase):
    """A text stream handing each complete, non-blank line to `emit` (for redirecting what a library prints)."""

    def __init__(self, emit):
        self.emit, self.buffer = emit, ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.replace("\r", "\n").split("\n")
        for line in lines:
            if line.strip():
                self.emit(line)
        return len(text)

    def flush_rest(self) -> None:
        """Hand on what is left after the last newline (a last line without one)."""
        if self.buffer.strip():
            self.emit(self.buffer)
        self.buffer = ""


class Console:
    def __init__(self, stream: TextIO | None = None, clock=time.monotonic):
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self._status = ""      # what the status line shows (terminal) or last printed (elsewhere)
        self._status_drawn = False
        self._open: str | None = None  # the step whose "text ..." line awaits its outcome

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _close_open_line(self) -> None:
        if self._open:
            self._write("\n")
            self._open = None

    def line(self, text: str = "") -> None:
        self.clear_status()
        self._close_open_line()
        self._write(text + "\n")

    @contextmanager
    def step(self, text: str):
        """`text ... done (1.2 s)` on one line when nothing is printed in between; `failed` when it raises."""
        began = self.clock()
        self.clear_status()
        self._close_open_line()
        self._write(f"{text} ...")
        self._open = text
        try:
            yield
        except BaseException:
            self._end(text, "failed")
            raise
        self._end(text, f"done ({duration(self.clock() - began)})")

    def _end(self, text: str, outcome: str) -> None:
        self.clear_status()
        if self._open == text:
            self._write(f" {outcome}\n")
        else:
            self._close_open_line()
            self._write(f"  {text}: {outcome}\n")
        self._open = None

    def status(self, text: str, volatile: str = "") -> None:
        """Show `text` (plus `volatile`, e.g. an elapsed time, shown on a terminal only)."""
        self._close_open_line()
        if self.tty:
            shown = f"{text}{volatile}"
            pad = max(0, len(self._status) - len(shown))
            self._write("\r  " + shown + " " * pad)
            self._status, self._status_drawn = shown, True
        elif text != self._status:
            self._status = text
            self._write(f"  {text}\n")

    def clear_status(self) -> None:
        if self.tty and self._status_drawn:
            self._write("\n")
            self._status_drawn = False
            self._status = ""
