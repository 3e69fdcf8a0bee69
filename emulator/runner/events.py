"""The scheduler's lifecycle lines for the console (logger `batchai_emulator.events`, see emulator/console.py)."""
from __future__ import annotations

import logging

from ..models import AllocationState, Cluster, Job

events = logging.getLogger("batchai_emulator.events")


def job_label(job: Job) -> str:
    return f"{job.workspace}/{job.experiment}/{job.name}" if job.experiment else job.name


def cluster_event(cluster: Cluster, target: int) -> None:
    """A cluster's allocation change just stored: resizing (to `target` nodes), or steady with its errors."""
    if cluster.allocation_state == AllocationState.RESIZING:
        events.info("cluster %s resizing: %d -> %d node(s)", cluster.name, cluster.current_node_count, target,
                    extra={"event": "cluster", "cluster": cluster.name, "state": "resizing"})
        return
    events.info("cluster %s steady: %d node(s) of %s", cluster.name, cluster.current_node_count,
                cluster.props.vm_size, extra={"event": "cluster", "cluster": cluster.name, "state": "steady"})
    for err in cluster.errors:
        events.warning("cluster %s: %s: %s", cluster.name, err.get("code"), err.get("message"),
                       extra={"event": "cluster", "cluster": cluster.name, "state": "error"})
