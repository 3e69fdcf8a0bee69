"""The executionState transition table, and the one function that moves a job along it (and the
allocationState table of clusters, with `resize`). No code outside this module assigns either state.

    queued      -> running       the scheduler found nodeCount idle nodes and started the job
    queued      -> failed        terminated, its cluster was deleted, or it could not be started
    running     -> succeeded     the master node's command exited 0
    running     -> failed        non-zero exit, job preparation failed, wall-clock limit, container vanished,
                                 cluster deleted
    running     -> terminating   terminate requested; the runner stops the containers next
    terminating -> failed        containers stopped. The service reported terminated jobs as `failed` (SDK
                                 tests: terminating a running or queued job ends in failed), so do we.

Every call site writes the result with compare-and-set, so a terminate and a container exit cannot both win.
"""
from __future__ import annotations

from ..models import AllocationState, Cluster, ExecutionState, Job, now_iso

QUEUED, RUNNING, TERMINATING, SUCCEEDED, FAILED = (
    ExecutionState.QUEUED, ExecutionState.RUNNING, ExecutionState.TERMINATING, ExecutionState.SUCCEEDED,
    ExecutionState.FAILED)

ALLOWED = {
    QUEUED: {RUNNING, FAILED},
    RUNNING: {SUCCEEDED, FAILED, TERMINATING},
    TERMINATING: {FAILED},
    SUCCEEDED: set(),
    FAILED: set(),
}

ACTIVE = {RUNNING, TERMINATING}
FINISHED = {SUCCEEDED, FAILED}

# a cluster's allocationState: steady -> resizing when its target node count changes, resizing -> steady once
# the nodes are allocated (or released)
STEADY, RESIZING = AllocationState.STEADY, AllocationState.RESIZING
CLUSTER_ALLOWED = {STEADY: {RESIZING}, RESIZING: {STEADY}}


class IllegalTransition(Exception):
    pass


def transition(job: Job, to: str, now: float, *, exit_code: int | None = None, errors: list[dict] | None = None,
               nodes: list[int] | None = None) -> Job:
    """Move `job` to `to` (in place) with the bookkeeping the service showed in executionInfo."""
    if to not in ALLOWED[job.execution_state]:
        raise IllegalTransition(f"{job.execution_state} -> {to}")
    stamp = now_iso(now)
    job.execution_state = to
    job.execution_state_transition_time = stamp
    info = dict(job.execution_info)
    if to == RUNNING:
        info["start_time"] = stamp
        job.nodes = list(nodes or [])
    if to in FINISHED:
        info["end_time"] = stamp
        if exit_code is not None:
            info["exit_code"] = exit_code
        if errors:
            info["errors"] = errors
        job.nodes = []
    job.execution_info = info
    return job


def resize(cluster: Cluster, to: str, now: float) -> Cluster:
    """Move `cluster`'s allocationState to `to` (in place) along CLUSTER_ALLOWED."""
    if to not in CLUSTER_ALLOWED[cluster.allocation_state]:
        raise IllegalTransition(f"cluster {cluster.allocation_state} -> {to}")
    cluster.allocation_state = to
    cluster.allocation_state_transition_time = now_iso(now)
    return cluster


def job_failed_error(exit_code: int) -> dict:
    # code and message as the service reported a non-zero exit (Azure/BatchAI docs output, SDK tests)
    return {"code": "JobFailed", "message": "Job failed with non-zero exit code",
            "details": [{"name": "exitCode", "value": str(exit_code)}]}


def error(code: str, message: str, **details: str) -> dict:
    out = {"code": code, "message": message}
    if details:
        out["details"] = [{"name": k, "value": str(v)} for k, v in details.items()]
    return out


def terminated_error() -> dict:
    # Unverified code: the service reported terminated jobs as failed; the error entry names why.
    return {"code": "JobTerminated", "message": "The job was terminated by a terminate request."}
