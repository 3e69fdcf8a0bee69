"""Runs the setup task of each node that is `preparing` (see setuptask.py) on the scheduler's launch pool, and
records the outcome on the cluster: the node becomes idle, or unusable with a SetupTaskFailed error."""
from __future__ import annotations

import logging
import threading

from ..models import Cluster, now_iso
from ..store import Record
from . import setuptask

log = logging.getLogger("batchai_emulator.scheduler")
_lock = threading.Lock()
_running: set[tuple[str, str, int]] = set()     # (cluster id, creation time, node index) being set up


def dispatch(sched, clusters: dict[str, Record]) -> None:
    for rec in clusters.values():
        preparing = rec.body.get("preparing_nodes") or []
        if not preparing:
            continue
        cluster = Cluster.from_body(rec.body)
        for index in preparing:
            key = (rec.id.lower(), cluster.creation_time, index)
            with _lock:
                if key in _running:
                    continue
                _running.add(key)
            sched._pool.submit(_run, sched, rec.id, cluster, index, key)


def _run(sched, rid: str, cluster: Cluster, index: int, key) -> None:
    try:
        try:
            code, message = setuptask.run_node(sched.settings.data_dir, sched.executor, cluster, index)
        except Exception as exc:  # a node whose setup cannot even start is unusable, saying why
            log.exception("setup task on node %s of %s", index, rid)
            code, message = -1, f"The setup task could not start: {type(exc).__name__}: {exc}"
        _record(sched, rid, cluster, index, code, message)
    finally:
        with _lock:
            _running.discard(key)
        sched.wake()


def _record(sched, rid: str, started: Cluster, index: int, code: int, message: str) -> None:
    while True:
        rec = sched.store.get(rid)
        if rec is None:
            return
        cluster = Cluster.from_body(rec.body)
        if cluster.creation_time != started.creation_time or index not in cluster.preparing_nodes:
            return      # deleted and created again, or the node left meanwhile
        cluster.preparing_nodes = [n for n in cluster.preparing_nodes if n != index]
        if code != 0:
            node_id = cluster.node_ids[index] if index < len(cluster.node_ids) else str(index)
            if index not in cluster.unusable_nodes:
                cluster.unusable_nodes.append(index)
            out = setuptask.output_node_dir(cluster)
            cluster.errors.append({
                "code": "SetupTaskFailed",
                "message": message or f"The setup task failed on node {node_id} with exit code {code}; its "
                                      f"output is in {out}/stderr-{node_id}.txt.",
                "details": [{"name": "nodeId", "value": node_id}, {"name": "exitCode", "value": str(code)},
                            {"name": "time", "value": now_iso(sched.clock())}]})
        if sched.store.compare_and_set(rid, rec.version, cluster.to_body()) is not None:
            return
