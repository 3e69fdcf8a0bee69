"""What the scheduler decides about a job whose master node has exited or cannot be found: the job's final state
and errors from the files its node left (exit code, preparation failure, launch error), or, after an outage, a
re-attach, a restart of a job none of whose nodes ran, or a failure; never a second run.

The files lie in the job's temp directory, which the job can write: they are read through safeio (no link
followed, no fifo opened, bounded). `sched` is the Scheduler.
"""
from __future__ import annotations

import logging

from .. import safeio
from ..models import Cluster, Job
from ..store import Record
from . import states

log = logging.getLogger("batchai_emulator.scheduler")


def recover(sched, job: Job, rec: Record, clusters, now: float) -> None:
    """The job's master is not where its record says (or its launch never recorded it): the emulator was
    stopped while it started or finished the job, or something removed its container. Decide from what the
    host holds, never running a job twice: an exit code file means the master finished (its container went
    in the emulator's clean-up); containers or processes found by label are re-attached; a job none of whose
    nodes ever started (no `started` mark, nothing but never-started containers) is started now; anything
    else failed while nobody watched, and the job is failed."""
    jdir = sched.planner.job_dir(job)
    node_dirs = [jdir / f"node-{rank}" for rank in range(max(1, len(job.nodes)))]
    try:
        code = int(safeio.read_text(sched.settings.data_dir, node_dirs[0] / ".batchai" / "exit_code", 64).strip())
    except (OSError, ValueError):
        code = None
    if code is not None:
        exited(sched, job, rec, now, code)
        return
    try:
        found = sched.executor.find(jdir.name, node_dirs)
    except Exception as exc:  # the engine went away: look again next tick
        log.warning("cannot look for the nodes of %s: %s", rec.id, exc)
        return
    if all(found.get(rank, ("", "created"))[1] != "created" for rank in range(len(node_dirs))):
        handles = [found[rank][0] for rank in range(len(node_dirs))]
        if handles != job.handles and sched._record_handles(rec.id, handles, job.log_path) is not None:
            sched._log(job, "re-attached to the job's nodes after the emulator restarted")
        return
    started = [rank for rank, d in enumerate(node_dirs)
               if safeio.exists(sched.settings.data_dir, d / ".batchai" / "started")
               or found.get(rank, ("", "created"))[1] != "created"]
    cluster = clusters.get(_cluster_key(job))
    if not started and cluster is not None:
        try:
            sched.executor.cleanup(jdir.name, [h for h, _ in found.values()])
        except Exception as exc:
            log.warning("removing the never-started nodes of %s: %s", rec.id, exc)
            return
        sched._log(job, "the emulator stopped while it started this job, before any node ran: starting it now")
        with sched._launching_lock:
            sched._launching.add(rec.id.lower())
        sched._pool.submit(sched._launch_guarded, job, rec, Cluster.from_body(cluster.body), list(job.nodes))
        return
    sched._finish(job, rec, now, states.FAILED, errors=[states.error(
        "ContainerNotFound", "The job's master node process or container disappeared (the emulator or the "
        "Docker engine stopped while it ran); the job is failed rather than run twice.")], note="vanished")

def exited(sched, job: Job, rec: Record, now: float, code: int) -> None:
    temp = sched.planner.job_dir(job) / "node-0" / ".batchai"
    if code == 0:
        sched._finish(job, rec, now, states.SUCCEEDED, exit_code=0, note="exit code 0", exited=True)
        return
    data = sched.settings.data_dir
    if safeio.exists(data, temp / "prep_exit_code"):
        err = states.error("JobPreparationFailed", "The job preparation task failed with a non-zero exit code.",
                           exitCode=code)
    else:
        err = states.job_failed_error(code)
        try:
            # the job can write this file (its temp directory is the node's): read only a regular file there
            message = safeio.read_text(data, temp / "launch_error", limit=4096).strip()
            err = states.error("JobFailed", message, exitCode=code)
        except FileNotFoundError:
            pass
        except OSError as exc:
            err = states.error("JobFailed", f"The job exited with code {code}; its .batchai/launch_error "
                               f"was not read: it is a link or not a regular file ({exc.strerror}).",
                               exitCode=code)
    sched._finish(job, rec, now, states.FAILED, exit_code=code, errors=[err], note=f"exit code {code}", exited=True)


def _cluster_key(job: Job) -> str:
    return job.props.cluster_id.lower()
