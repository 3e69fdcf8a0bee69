"""Jobs_ListOutputFiles for every api-version: one output directory's entries, paged by name, with signed links.

No Flask: the view renders what this returns (wire.output_file) and builds the links' base URL.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .. import outputs
from ..models import Cluster, Job
from ..store import Store
from .common import load


@dataclass
class OutputFile:
    name: str
    is_directory: bool
    size: int | None
    mtime: float
    link: str | None       # a file's signed download path (/_emulator/files/...; None for a directory)


@dataclass
class OutputPage:
    items: list[OutputFile]
    next_token: str | None


def list_output_files(store: Store, data_dir: Path, signer, job: Job, directory_id: str, directory: str,
                      after: str | None, limit: int, link_expiry_minutes: int) -> OutputPage:
    cluster, _ = load(store, "cluster", Cluster, job.props.cluster_id)
    entries = outputs.list_entries(data_dir, cluster, job, directory_id, directory)
    if after is not None:
        entries = [e for e in entries if e.name > after]
    more = len(entries) > limit
    entries = entries[:limit]
    expiry = int(time.time() + 60 * link_expiry_minutes)
    items = []
    for e in entries:
        link = None if e.is_directory else outputs.download_path(signer, data_dir, e.host_path, e.name, expiry)
        items.append(OutputFile(e.name, e.is_directory, e.size, e.mtime, link))
    return OutputPage(items, entries[-1].name if more and entries else None)
