"""Steps (1) and (4) of a tick: clusters get the nodes their scale settings ask for (each with its GPUs, within the
regional vCPU quota, with mounts checked), and nodeStateCounts follow from the jobs holding nodes. `sched` is the
Scheduler (its store, settings, GPU pool and compare-and-set)."""
from __future__ import annotations

import logging
import time
import zlib

from .. import vmsizes
from ..models import AllocationState, Cluster, NodeStateCounts, parse_iso
from ..store import Record
from . import states
from . import setuptask
from .events import cluster_event
from .mountcheck import cluster_mount_errors
from .workset import cluster_key as _cluster_key

log = logging.getLogger("batchai_emulator.scheduler")


def claimed_gpus(sched, clusters: dict[str, Record], except_id: str) -> set[str]:
    out: set[str] = set()
    for key, rec in clusters.items():
        if key != except_id.lower():
            for g in rec.body.get("node_gpus") or []:
                out.update(g)
    return out


def allocate(sched, rec: Record, jobs, clusters, now: float) -> None:
    try:
        allocate_one(sched, rec, jobs, clusters, now)
    except Exception:  # one cluster's trouble must not stop the others (nor the jobs) being scheduled
        log.exception("allocating nodes of %s", rec.id)


def allocate_one(sched, rec: Record, jobs, clusters, now: float) -> None:
    cluster = Cluster.from_body(rec.body)
    scale = cluster.props.scale_settings
    auto = scale is not None and scale.auto_scale is not None
    demand = max([j.props.node_count for j, _ in jobs if _cluster_key(j) == rec.id.lower()]
                 + [sched.work.demand.get(rec.id.lower(), 0)])
    wanted = cluster.target_node_count(demand if auto else 0)
    # nodes past the regional vCPU quota are never allocated (the service failed such resizes with an error)
    target = min(wanted, vmsizes.max_nodes(vmsizes.lookup(cluster.props.vm_size)))
    busy = {n for j, _ in jobs if _cluster_key(j) == rec.id.lower() for n in j.nodes}
    if target < cluster.current_node_count and busy:
        # shrinking removes idle nodes only: nodes running jobs leave when their jobs end
        target = max(target, max(busy) + 1)
    if cluster.allocation_state == AllocationState.STEADY:
        if target == cluster.current_node_count:
            return
        states.resize(cluster, states.RESIZING, now)
    elif now - parse_iso(cluster.allocation_state_transition_time) < sched.settings.allocation_delay:
        return
    elif sched.handoff is not None and sched.handoff.partition is None:
        return      # the partition's nodes are unknown while Slurm does not answer: the resize waits for it
    else:
        settle(sched, cluster, rec, target, clusters, now, wanted)
    if sched._cas(rec.id, rec.version, cluster.to_body()) is not None:
        cluster_event(cluster, target)


def settle(sched, cluster: Cluster, rec: Record, target: int, clusters, now: float, wanted: int) -> None:
    states.resize(cluster, states.STEADY, now)
    joined = range(cluster.current_node_count, target)
    cluster.current_node_count = target
    # a node that leaves is gone: one joining later is a new VM with a new id (and runs the setup task again)
    cluster.node_ids = cluster.node_ids[:target]
    while len(cluster.node_ids) < target:
        cluster.node_ids.append(f"tvm-{zlib.crc32(rec.id.lower().encode())}_{len(cluster.node_ids) + 1}-"
                                f"{time.strftime('%Y%m%dt%H%M%Sz', time.gmtime(now))}")
    cluster.node_gpus = cluster.node_gpus[:target]
    cluster.unusable_nodes = [n for n in cluster.unusable_nodes if n < target]
    cluster.preparing_nodes = [n for n in cluster.preparing_nodes if n < target]
    errors = [e for e in cluster.errors
              if e.get("code") not in ("InsufficientGpus", "MountVolumeFailed", "AccountCoreQuotaReached")]
    size = vmsizes.lookup(cluster.props.vm_size)
    if wanted > target:
        errors.append({"code": "AccountCoreQuotaReached",
                       "message": f"The cluster asks for {wanted} node(s) of size {size.name} ({size.vcpus} "
                                  f"vCPUs each), but the regional quota of {vmsizes.REGIONAL_VCPU_QUOTA} "
                                  f"dedicated vCPUs allows {target}; no more nodes were allocated."})
    free = [d for d in sched.gpus.devices if d not in claimed_gpus(sched, clusters, rec.id)]
    for held in cluster.node_gpus:
        free = [d for d in free if d not in held]
    short = []
    while len(cluster.node_gpus) < target:
        index = len(cluster.node_gpus)
        if sched.handoff is not None:   # each Slurm node has its own GPUs (gres); their ids are the node's
            cluster.node_gpus.append([str(g) for g in range(size.gpus)])
        elif sched.gpus.cpu_only or size.gpus == 0:
            cluster.node_gpus.append([])
        elif len(free) >= size.gpus:
            cluster.node_gpus.append(free[:size.gpus])
            free = free[size.gpus:]
        else:
            cluster.node_gpus.append([])
            cluster.unusable_nodes.append(index)
            short.append(index)
    if short:
        errors.append({"code": "InsufficientGpus",
                       "message": f"{len(short)} node(s) of size {size.name} need {size.gpus} GPU(s) each, but "
                                  f"this machine has no free GPUs left for them ({sched.gpus.describe()}); "
                                  "those nodes are unusable.",
                       "details": [{"name": "nodes", "value": ",".join(map(str, short))}]})
    problems = cluster_mount_errors(sched.settings, sched.store, cluster)
    if problems:
        cluster.unusable_nodes = list(range(target))
        errors += problems
    if setuptask.task_of(cluster):
        # each node that joins runs the setup task before any job (usable nodes only: the others never run jobs);
        # setup_dispatch.py runs it (Docker, local), slurm_setup.py on the Slurm executor
        cluster.preparing_nodes += [n for n in joined if n not in cluster.unusable_nodes]
    cluster.errors = errors


def count_nodes(sched, rec: Record, jobs) -> None:
    cluster = Cluster.from_body(rec.body)
    running = {n for j, _ in jobs if _cluster_key(j) == rec.id.lower() for n in j.nodes}
    unusable = len([n for n in cluster.unusable_nodes if n < cluster.current_node_count and n not in running])
    preparing = len([n for n in cluster.preparing_nodes if n < cluster.current_node_count and n not in running])
    if sched.handoff is not None:
        # nodes still running their setup task are counted preparing, whatever Slurm says of the partition
        unusable = max(unusable, sched.handoff.unusable(cluster.current_node_count, len(running) + preparing))
    counts = NodeStateCounts(idle_node_count=max(0, cluster.current_node_count - len(running) - unusable
                                                 - preparing), preparing_node_count=preparing,
                             running_node_count=len(running), unusable_node_count=unusable).__dict__
    if counts != cluster.node_state_counts:
        cluster.node_state_counts = dict(counts)
        sched.store.compare_and_set(rec.id, rec.version, cluster.to_body())   # frees and takes no node
