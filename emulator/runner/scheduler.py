"""The scheduler loop: one step per tick(now), so tests can drive time without threads.

This part allocates cluster nodes: a cluster is `resizing` for `allocation_delay` seconds after it is created or
its scale settings change, then `steady` with the node count its scale settings ask for (manual target, or
auto-scale demand within its bounds). Every change is a compare-and-set on the store.
"""
from __future__ import annotations

import logging
import threading
import time
import zlib

from ..models import AllocationState, Cluster, ExecutionState, Job, NodeStateCounts, now_iso, parse_iso
from ..store import Record, Store

log = logging.getLogger("batchai_emulator.scheduler")


class Scheduler:
    def __init__(self, store: Store, settings, clock=time.time):
        self.store = store
        self.settings = settings
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- loop ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="batchai-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(self.clock())
            except Exception:  # the loop must survive a bad record; the error is logged with its traceback
                log.exception("scheduler tick failed")
            self._wake.wait(self.settings.tick_interval)
            self._wake.clear()

    # -- one step --------------------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        for rec in self.store.list("cluster"):
            self._allocate(rec, now)

    def _demand(self, cluster_id: str) -> int:
        demand = 0
        for rec in self.store.list("job"):
            job = Job.from_body(rec.body)
            if job.spec.get("cluster", {}).get("id", "").lower() == cluster_id.lower() and job.execution_state in (
                    ExecutionState.QUEUED, ExecutionState.RUNNING, ExecutionState.TERMINATING):
                demand = max(demand, int(job.spec.get("node_count", 1)))
        return demand

    def _allocate(self, rec: Record, now: float) -> None:
        cluster = Cluster.from_body(rec.body)
        auto = bool((cluster.spec.get("scale_settings") or {}).get("auto_scale"))
        target = cluster.target_node_count(self._demand(rec.id) if auto else 0)
        if cluster.allocation_state == AllocationState.STEADY:
            if target == cluster.current_node_count:
                return
            cluster.allocation_state = AllocationState.RESIZING
            cluster.allocation_state_transition_time = now_iso(now)
        elif now - parse_iso(cluster.allocation_state_transition_time) < self.settings.allocation_delay:
            return
        else:
            cluster.allocation_state = AllocationState.STEADY
            cluster.allocation_state_transition_time = now_iso(now)
            cluster.current_node_count = target
            while len(cluster.node_ids) < target:
                cluster.node_ids.append(f"tvm-{zlib.crc32(rec.id.lower().encode())}_{len(cluster.node_ids) + 1}-"
                                        f"{time.strftime('%Y%m%dt%H%M%Sz', time.gmtime(now))}")
            counts = NodeStateCounts(idle_node_count=target)
            cluster.node_state_counts = counts.__dict__.copy()
        self.store.compare_and_set(rec.id, rec.version, cluster.to_body())

    # -- hooks -----------------------------------------------------------------------------------------------
    def on_delete(self, records: list[Record]) -> None:
        """Resources were deleted; jobs running inside them are stopped here once execution exists."""
        self.wake()
