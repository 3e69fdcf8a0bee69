"""Live job logs, the way `az batchai job file stream` followed them.

Each round: get the job; list its `stdouterr` directory with Jobs_ListOutputFiles (every round until stdout.txt
and stderr.txt show up, then every `relist` seconds to pick up new files and renew the expiring links, and once more at the end);
GET each file's downloadUrl with `Range: bytes=<bytes already read>-` and print the new complete lines. A file that
has not grown answers an empty 206 or a 416 (Azure Files answers 416 for a start at the end of the file); both
mean "nothing new". When the job is succeeded or failed, one last round reads every file to its end.

The listing is a POST (an ARM write, throttled per hour), so it is not repeated every round; job gets are reads
and the file reads go to the storage endpoint.
"""
from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from typing import Callable

from .jobref import TERMINAL_STATES, JobRef, state_of

STDOUTERR = "stdouterr"
EXPECTED_FILES = {"stdout.txt", "stderr.txt"}


@dataclass
class _File:
    name: str
    url: str
    offset: int = 0
    pending: str = ""   # text after the last newline, printed when the line completes (or at the end)
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


class JobLogFollower:
    """Follows the files of one job's stdouterr directory; `step()` does one round, `run()` loops to the end."""

    def __init__(self, clients, ref: JobRef, emit: Callable[[str, str], None], *, poll: float = 2.0,
                 relist: float = 30.0, on_state: Callable[[object], None] | None = None,
                 clock=time.monotonic, sleep=time.sleep):
        self.clients, self.ref, self.emit = clients, ref, emit
        self.poll, self.relist = poll, relist
        self.on_state = on_state
        self.clock, self.sleep = clock, sleep
        self.files: dict[str, _File] = {}
        self.job = None
        self.done = False
        self._listed_at: float | None = None
        self._need_list = True
        self.warnings: list[str] = []

    # -- one round ----------------------------------------------------------------------------------------
    def step(self) -> bool:
        """One round; True once the job has ended and every file was read to its end."""
        from azure.mgmt.batchai import models
        self.job = self.clients.batchai.jobs.get(*self.ref.args)
        if self.on_state:
            self.on_state(self.job)
        state = state_of(self.job)
        final = state in TERMINAL_STATES
        if state != "queued":
            stale = self._listed_at is None or self.clock() - self._listed_at >= self.relist
            if final or self._need_list or stale:
                self._list(models)
            for f in list(self.files.values()):
                self._read(f)
        if final:
            for f in self.files.values():
                tail = f.pending + f.decoder.decode(b"", final=True)
                if tail:
                    self.emit(f.name, tail)
                f.pending = ""
            self.done = True
        return self.done

    def run(self):
        """Follow until the job ends; returns the final job."""
        while not self.step():
            self.sleep(self.poll)
        return self.job

    # -- pieces -------------------------------------------------------------------------------------------
    def _list(self, models) -> None:
        from azure.core.exceptions import HttpResponseError
        options = models.JobsListOutputFilesOptions(outputdirectoryid=STDOUTERR)
        try:
            listed = [f for f in self.clients.batchai.jobs.list_output_files(*self.ref.args, options)
                      if f.download_url and str(getattr(f.file_type, "value", f.file_type) or "file") != "directory"]
        except HttpResponseError as exc:
            self._warn(f"cannot list the job's {STDOUTERR} files yet: {exc.message or exc}")
            return
        self._listed_at = self.clock()
        # Batch AI creates both when the job starts; list every round until they show up
        self._need_list = not EXPECTED_FILES <= {entry.name for entry in listed}
        for entry in listed:
            known = self.files.get(entry.name)
            if known is None:
                self.files[entry.name] = _File(entry.name, entry.download_url)
            else:
                known.url = entry.download_url  # a fresh link; the offset carries on

    def _read(self, f: _File) -> None:
        import requests
        try:
            resp = self.clients.http.get(f.url, headers={"Range": f"bytes={f.offset}-"}, timeout=60)
        except requests.RequestException as exc:
            self._warn(f"reading {f.name}: {exc}")
            return
        if resp.status_code == 416:
            return  # nothing past the end yet
        if resp.status_code in (401, 403):
            self._need_list = True  # the link expired: list again for a new one
            return
        if resp.status_code == 404:
            return
        if resp.status_code not in (200, 206):
            self._warn(f"reading {f.name}: HTTP {resp.status_code}")
            return
        data = resp.content
        if resp.status_code == 200:
            data = data[f.offset:]  # the server ignored the range and sent the whole file
        if not data:
            return
        f.offset += len(data)
        text = f.pending + f.decoder.decode(data)
        *lines, f.pending = text.split("\n")
        for line in lines:
            self.emit(f.name, line)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.emit("", f"(warning: {message})")


def follow(clients_for: Callable[[JobRef], object], refs: list[JobRef], write: Callable[[str], None], *,
           poll: float = 2.0, sleep=time.sleep) -> list:
    """Follow several jobs at once; each line is prefixed with its file (and its job when there are several)."""
    followers = []
    for ref in refs:
        prefix = f"{ref.job}/" if len(refs) > 1 else ""
        states: list[str] = []

        def emit(name, line, prefix=prefix):
            write(f"{prefix}{name} | {line}" if name else f"{prefix}{line}")

        def on_state(job, ref=ref, states=states):
            state = state_of(job)
            if not states or states[-1] != state:
                states.append(state)
                write(f"job {ref.job}: {state}")
        followers.append(JobLogFollower(clients_for(ref), ref, emit, poll=poll, on_state=on_state))
    active = list(followers)
    while active:
        active = [f for f in active if not f.step()]
        if active:
            sleep(poll)
    return [f.job for f in followers]
