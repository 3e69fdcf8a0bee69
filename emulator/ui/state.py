"""What the dashboard shows, read from the store, the scheduler and the data dir. Reads only.

Everything a job can write (names, log text, file names) is returned as plain strings; the templates escape it.
Directories a job can write are listed with safeio (no link is followed, only real directories and regular files
are shown) and the job's output directories through outputs.py, as Jobs_ListOutputFiles lists them.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import safeio, vmsizes
from .. import outputs
from ..errors import EmulatorError
from ..models import PRIORITY_RANK, Cluster, Job

LOG_TAIL = 64 << 10             # bytes of a log shown in the page itself (the poller reads on from there)
LINK_MINUTES = 60
STORAGE_KINDS = {"shares": "file shares", "blobs": "blob containers"}


@dataclass
class ClusterRow:
    id: str
    name: str
    workspace: str
    vm_size: str
    gpus_per_node: int
    allocation_state: str
    current: int
    counts: dict
    errors: list


@dataclass
class JobRow:
    id: str
    name: str
    where: str
    cluster: str
    state: str
    nodes: list
    position: int | None
    reason: str | None
    exit_code: object
    errors: list
    submitted: float = 0.0


@dataclass
class FileLink:
    directory: str
    name: str
    is_directory: bool
    size: int
    path: str = ""          # the signed download path ("" for directories)
    host: Path | None = None


@dataclass
class LogView:
    name: str
    path: str               # signed download path the poller reads ranges of
    text: str
    offset: int             # where the shown text ends in the file
    truncated: bool


@dataclass
class Overview:
    clusters: list[ClusterRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    storage: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)


def _cluster_row(rec) -> ClusterRow:
    c = Cluster.from_body(rec.body)
    size = vmsizes.lookup(c.props.vm_size)
    return ClusterRow(rec.id, c.name, c.workspace or rec.parent.rsplit("/", 1)[-1], c.props.vm_size,
                      getattr(size, "gpus", 0), c.allocation_state, c.current_node_count,
                      dict(c.node_state_counts), list(c.errors))


def clusters(store) -> list[ClusterRow]:
    return sorted((_cluster_row(r) for r in store.list("cluster")), key=lambda c: (c.workspace, c.name.lower()))


def jobs(store, scheduler) -> list[JobRow]:
    """Every job (Batch AI jobs and Azure ML runs' jobs), newest first; queued ones with their place in their
    cluster's queue (the scheduler's order: priority, then submission) and why they wait."""
    recs = store.list("job")
    reasons = scheduler.waiting.all() if scheduler is not None else {}
    queue: dict[str, list] = {}
    rows = []
    for rec in recs:
        j = Job.from_body(rec.body)
        cluster = j.props.cluster_id
        info = j.execution_info or {}
        where = f"{j.workspace}/{j.experiment}" if j.experiment else rec.parent.rsplit("/", 1)[-1]
        row = JobRow(rec.id, j.name, where, cluster.rsplit("/", 1)[-1], j.execution_state, list(j.nodes), None,
                     reasons.get(rec.id.lower()), info.get("exit_code"), list(info.get("errors") or []),
                     j.submitted)
        if j.execution_state == "queued":
            queue.setdefault(cluster.lower(), []).append(
                ((PRIORITY_RANK[j.props.scheduling_priority], j.submitted, rec.seq), row))
        rows.append(row)
    for waiting in queue.values():
        for position, (_, row) in enumerate(sorted(waiting, key=lambda x: x[0]), start=1):
            row.position = position
    return sorted(rows, key=lambda r: -r.submitted)


def _list_dir(data_dir: Path, path: Path) -> list[tuple[str, bool, int]]:
    """(name, is_directory, size) of the real directories and regular files in `path`, by name; [] if it is
    absent or reached through a link (the output listing's own walk)."""
    return [(e.name, e.is_directory, e.size) for e in outputs.list_directory(data_dir, path)]


def storage(settings, store) -> list[dict]:
    """Accounts (the served ones and those created through ARM) with their shares and blob containers."""
    names = set(settings.accounts())
    names.update(r.name for r in store.list("storageAccount"))
    data_dir = settings.data_dir
    out = []
    for name in sorted(names):
        out.append({"name": name, **{kind: [n for n, is_dir, _ in _list_dir(data_dir, data_dir / kind / name) if is_dir]
                                     for kind in STORAGE_KINDS}})
    return out


def browse(settings, signer, kind: str, account: str, container: str, sub: str) -> list[FileLink] | None:
    """The entries of one directory of a share or blob container, files with signed download paths; None when
    the place is not a directory that can be shown."""
    parts = [p for p in sub.split("/") if p]
    if kind not in STORAGE_KINDS or any(p in (".", "..") for p in parts + [account, container]) \
            or "/" in account or "/" in container:
        return None
    data_dir = settings.data_dir
    base = data_dir.joinpath(kind, account, container, *parts)
    try:
        os.close(safeio.open_dir(data_dir, base))
    except (OSError, ValueError):
        return None
    expiry = time.time() + LINK_MINUTES * 60
    return [FileLink(sub, n, d, size, "" if d else outputs.download_path(signer, data_dir, base / n, n, expiry))
            for n, d, size in _list_dir(data_dir, base)]


def output_files(settings, signer, store, rec) -> list[FileLink]:
    """The job's output directories' files (stdouterr first), as Jobs_ListOutputFiles lists them."""
    job = Job.from_body(rec.body)
    crec = store.get(job.props.cluster_id)
    cluster = Cluster.from_body(crec.body) if crec is not None and crec.kind == "cluster" else None
    expiry = time.time() + LINK_MINUTES * 60
    out = []
    for directory in [outputs.STDOUTERR] + [d.id for d in job.props.output_directories]:
        try:
            entries = outputs.list_entries(settings.data_dir, cluster, job, directory)
        except (EmulatorError, KeyError, TypeError, ValueError):
            continue        # not on mounted storage, or a job (an Azure ML run's) without such paths
        for e in entries:
            path = "" if e.is_directory else outputs.download_path(signer, settings.data_dir, e.host_path, e.name,
                                                                     expiry)
            out.append(FileLink(directory, e.name, e.is_directory, e.size, path, e.host_path))
    return out


def logs(settings, files: list[FileLink]) -> list[LogView]:
    """stdout/stderr (and execution.log) of a job: the tail shown in the page, read without following links."""
    out = []
    by_name = {f.name: f for f in files if f.directory == outputs.STDOUTERR and not f.is_directory}
    for name in ("stdout.txt", "stderr.txt", "execution.log"):
        f = by_name.get(name)
        if f is None:
            continue
        text, offset, truncated = _tail(settings, f)
        out.append(LogView(name, f.path, text, offset, truncated))
    return out


def _tail(settings, f: FileLink) -> tuple[str, int, bool]:
    try:
        fd = safeio.open_file(settings.data_dir, f.host)
    except (OSError, ValueError):
        return "", 0, False
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = max(0, size - LOG_TAIL)
        fh.seek(start)
        data = fh.read(size - start)
    return data.decode("utf-8", "replace"), start + len(data), start > 0
