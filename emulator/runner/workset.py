"""What a scheduler tick reads: the jobs whose state can still change, never the finished ones.

Running and terminating jobs come from the store's index of open records (list_open) every tick. The queue is
read only when something may let a job start: `mark()` (a wake: a job created, terminated or deleted, a cluster
changed, a node process ended; a lost compare-and-set; an engine that was away), a change made in the same tick,
or every FULL_SCAN seconds as a safety net for writes that woke nobody. Its decoded jobs are kept between reads:
only those whose version changed are fetched again, so a long queue costs its ids and versions, not its bodies.
"""
from __future__ import annotations

import threading

from ..models import AllocationState, ExecutionState, Job
from ..store import Record, Store
from . import states

FULL_SCAN = 30.0


class WorkSet:
    def __init__(self, store: Store):
        self.store = store
        self._dirty = threading.Event()
        self._dirty.set()
        self._last_scan = 0.0
        self._queue: dict[str, tuple[Job, Record]] = {}     # queued jobs decoded at the last read, by id
        # each cluster's demand (largest nodeCount queued) at the last read: auto-scaled clusters size by it
        self.demand: dict[str, int] = {}

    def mark(self) -> None:
        """Something may let a queued job start: read the queue at the next tick."""
        self._dirty.set()

    def due(self, now: float) -> bool:
        """Whether this tick reads the queue (and clears the mark)."""
        due = self._dirty.is_set() or now - self._last_scan >= FULL_SCAN or now < self._last_scan
        self._dirty.clear()
        return due

    def running(self) -> list[tuple[Job, Record]]:
        return [(Job.from_body(r.body), r) for r in self.store.list_open("job", sorted(states.ACTIVE))]

    def queued(self, now: float) -> list[tuple[Job, Record]]:
        """The queued jobs, oldest record first. The Job objects are shared with the cache: change copies."""
        self._last_scan = now
        versions = self.store.open_versions("job", [ExecutionState.QUEUED])
        cache = {k: v for k, v in self._queue.items() if k in versions and v[1].version == versions[k]}
        stale = [k for k in versions if k not in cache]
        for start in range(0, len(stale), 500):
            for key, rec in self.store.get_many(stale[start:start + 500]).items():
                job = Job.from_body(rec.body)
                if rec.kind == "job" and job.execution_state == ExecutionState.QUEUED:
                    cache[key] = (job, rec)
        self._queue = cache
        demand: dict[str, int] = {}
        for job, _ in cache.values():
            key = cluster_key(job)
            demand[key] = max(demand.get(key, 0), job.props.node_count)
        self.demand = demand
        return sorted(cache.values(), key=lambda jr: jr[1].seq)

    def may_start(self, running, clusters: dict[str, Record]) -> bool:
        """Whether a queued job can start or fail now: a cluster with queued jobs has an idle usable node, or
        is gone. Else sorting a long queue would find nothing to do."""
        busy: dict[str, set[int]] = {}
        for job, _ in running:
            busy.setdefault(cluster_key(job), set()).update(job.nodes)
        for key in self.demand:
            crec = clusters.get(key)
            if crec is None:
                return True
            body = crec.body
            if body.get("allocation_state") != AllocationState.STEADY:
                continue
            held = busy.get(key, set()) | set(body.get("unusable_nodes") or []) | set(body.get("preparing_nodes") or [])
            if any(n not in held for n in range(int(body.get("current_node_count") or 0))):
                return True
        return False


def cluster_key(job: Job) -> str:
    return job.props.cluster_id.lower()
