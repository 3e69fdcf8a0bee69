"""Jobs_ListOutputFiles: the real entries of a job's output directories, read from the directories they live in.

Layout (reference §7): standard output under {stdOutErrPathPrefix}/{jobOutputDirectoryPathSegment}/stdouterr,
output directory <id> under {pathPrefix}/{segment}/outputs[/{pathSuffix}]. The id `stdouterr` is reserved for the
first. Only direct children are listed, in name order, as the service did.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from . import mounts, safeio
from .errors import EmulatorError
from .models import Cluster, Job

STDOUTERR = "stdouterr"


@dataclass
class Entry:
    name: str
    is_directory: bool
    host_path: Path
    size: int
    mtime: float


def node_env(job: Job) -> dict[str, str]:
    return {"AZ_BATCHAI_MOUNT_ROOT": mounts.MOUNT_ROOT, "AZ_BATCHAI_JOB_MOUNT_ROOT": mounts.job_mount_root(job.name)}


def job_volumes(data_dir: Path, cluster: Cluster | None, job: Job) -> list[mounts.Volume]:
    vols = []
    if cluster is not None:
        vols += mounts.volumes(data_dir, cluster.props.node_setup.mount_volumes,
                               mounts.MOUNT_ROOT, cluster.name)
    vols += mounts.volumes(data_dir, job.props.mount_volumes, mounts.job_mount_root(job.name), job.name)
    return vols


def output_node_path(job: Job, directory_id: str) -> str:
    """The node path of an output directory id (or `stdouterr`), with $AZ_BATCHAI_* roots expanded."""
    env = node_env(job)
    seg = job.job_output_directory_path_segment
    if directory_id.lower() == STDOUTERR:
        return f"{mounts.expand(job.props.std_out_err_path_prefix, env).rstrip('/')}/{seg}/stdouterr"
    for d in job.props.output_directories:
        if d.id.lower() == directory_id.lower():
            path = f"{mounts.expand(d.path_prefix, env).rstrip('/')}/{seg}/outputs"
            if d.path_suffix:
                path += "/" + d.path_suffix.strip("/")
            return path
    known = ", ".join([STDOUTERR] + [d.id for d in job.props.output_directories])
    raise EmulatorError(400, "InvalidOutputDirectoryId", f"The job has no output directory with id "
                        f"'{directory_id}'. Known ids: {known}.", target="outputdirectoryid")


def list_entries(data_dir: Path, cluster: Cluster | None, job: Job, directory_id: str,
                 directory: str = ".") -> list[Entry]:
    node_path = output_node_path(job, directory_id)
    rel = PurePosixPath(directory or ".")
    if rel.is_absolute() or ".." in rel.parts:
        raise EmulatorError(400, "InvalidParameter", f"directory '{directory}' must be a relative path inside the "
                            "output directory.", target="directory")
    host = mounts.to_host(node_path, job_volumes(data_dir, cluster, job))
    if host is None:
        raise EmulatorError(400, "OutputDirectoryNotOnMountedStorage",
                            f"The output directory '{node_path}' is not on a mounted file share or file server, "
                            "so its files cannot be listed (as on Batch AI).", target="outputdirectoryid")
    base = host.joinpath(*[p for p in rel.parts if p != "."])
    # The job can write here: it may have replaced the directory (or one above it, or an entry) with a link to
    # anywhere, the data dir included. The directory is reached from the data dir without following any link,
    # and only real directories and regular files in it are listed (see safeio).
    return list_directory(data_dir, base)


def list_directory(data_dir: Path, base: Path) -> list[Entry]:
    """The real directories and regular files in `base`, by name; [] when it is absent, reached through a link on
    the way, or its name cannot be on the disk. What a job can write is listed through this alone."""
    try:
        fd = safeio.open_dir(data_dir, base)
    except (OSError, ValueError):
        return []
    out = []
    try:
        with os.scandir(fd) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    out.append(Entry(e.name, True, base / e.name, 0, st.st_mtime))
                elif stat.S_ISREG(st.st_mode):
                    out.append(Entry(e.name, False, base / e.name, st.st_size, st.st_mtime))
    finally:
        os.close(fd)
    out.sort(key=lambda x: x.name)
    return out


def download_path(signer, data_dir: Path, host_path: Path, name: str, expiry: float) -> str:
    """The path part of an expiring, signed download link (/_emulator/files/...) for a file under the data dir:
    the same links Jobs_ListOutputFiles hands out (the API puts its base URL before it; the dashboard too)."""
    token = signer.sign({"p": str(Path(host_path).relative_to(data_dir)), "exp": int(expiry)})
    return f"/_emulator/files/{token}/{quote(name)}"
