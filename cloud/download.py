"""Download a job's output directories (and its stdouterr logs) through Jobs_ListOutputFiles' downloadUrls."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .jobref import JobRef
from .stream import STDOUTERR


@dataclass
class Downloaded:
    directory_id: str
    name: str     # path inside the output directory, '/'-separated
    size: int
    path: Path    # where it was written


def list_files(clients, ref: JobRef, directory_id: str, directory: str = "."):
    """(relative name, File) for every file under one output directory, subdirectories included."""
    from azure.mgmt.batchai import models
    options = models.JobsListOutputFilesOptions(outputdirectoryid=directory_id, directory=directory)
    for entry in clients.batchai.jobs.list_output_files(*ref.args, options):
        kind = str(getattr(entry.file_type, "value", entry.file_type) or "file")
        name = entry.name if directory == "." else f"{directory}/{entry.name}"
        if kind == "directory":
            yield from list_files(clients, ref, directory_id, name)
        elif entry.download_url:
            yield name, entry


def download_directory(clients, ref: JobRef, directory_id: str, dest: Path) -> list[Downloaded]:
    out = []
    for name, entry in list_files(clients, ref, directory_id):
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            continue  # never write outside dest, whatever a listing says
        target = Path(dest).joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with clients.http.get(entry.download_url, stream=True, timeout=300) as resp:
            resp.raise_for_status()
            with open(partial, "wb") as fh:
                for chunk in resp.iter_content(1 << 20):
                    fh.write(chunk)
        os.replace(partial, target)
        out.append(Downloaded(directory_id, name, target.stat().st_size, target))
    return out


def output_directory_ids(job) -> list[str]:
    return [d.id for d in (job.output_directories or [])]


def download_job(clients, ref: JobRef, dest: Path, job=None) -> dict[str, list[Downloaded]]:
    """Every output directory of the job, plus stdouterr, each into dest/<id>.

    Each run gets a fresh dest: the files go to a new folder beside it, which then replaces dest whole, so dest
    never mixes this run's files with an earlier run's (a model file that this run did not write is not left
    there looking like its output)."""
    job = job or clients.batchai.jobs.get(*ref.args)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}.download-", dir=dest.parent))
    try:
        result = {}
        for directory_id in [STDOUTERR] + output_directory_ids(job):
            result[directory_id] = download_directory(clients, ref, directory_id, fresh / directory_id)
        if dest.exists() or dest.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / dest.name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(fresh, dest)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    for files in result.values():
        for f in files:
            f.path = dest / f.path.relative_to(fresh)
    return result
