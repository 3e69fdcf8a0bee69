"""The scheduler's steps (2) and (3) for an executor that queues jobs itself (``queues_jobs``: Slurm).

Such an engine allocates nodes, gang-queues and orders jobs by priority on its own, so the emulator does not wait
for idle nodes: a queued job on a steady cluster is submitted at once (in priority then submission order) and
stays `queued` while the engine keeps it pending, its reason written to execution.log whenever it changes; it is
`running` once the engine runs it, and ends with the master's exit code or, when the engine ended it for its own
reasons (cancelled outside the emulator, a node failure, its time limit), failed with the engine's reason.

Slurm is asked from a thread of its own (squeue and sinfo once per tick interval; the scheduler is woken when
what they say changes), so a controller that takes its time to answer, or is down and makes every command wait
out its retries, never holds up the scheduler's ticks: cluster allocation and the API go on as usual.

A job is never submitted twice: its handle is recorded (still queued) as soon as the engine answers, and the
executor's submit finds a job already submitted under the job's key. When the engine stops answering, queued jobs
are no longer submitted (they fail `SlurmUnavailable`: nothing can run them), and jobs it runs are failed the
same way once it has been away longer than the grace period, unless the master's exit code file shows how they
ended (the nodes finish a job even while the controller is down).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from .. import mounts, safeio, vmsizes
from ..models import duration_seconds
from ..errors import EmulatorError
from ..models import PRIORITY_RANK, AllocationState, Cluster, ExecutionState, Job
from . import states
from .engine import SIGNAL_SETTLE, EngineWatch
from .executors import LaunchError
from .launch import Planner
from .slurm import ENDED, HOST_PLACEHOLDER, PENDING, SlurmUnavailable
from .slurm_setup import SlurmSetup, allowed_nodes

log = logging.getLogger("batchai_emulator.scheduler")

# Slurm's end states that are not the master's own exit: the error code the job fails with
_ENGINE_ENDS = {"CANCELLED": "SlurmJobCancelled", "TIMEOUT": "JobMaxWallClockTimeExceeded",
                "NODE_FAIL": "SlurmNodeFailed", "BOOT_FAIL": "SlurmNodeFailed", "OUT_OF_MEMORY": "SlurmOutOfMemory",
                "PREEMPTED": "SlurmJobPreempted", "DEADLINE": "SlurmJobFailed", "FAILED": "SlurmJobFailed"}


@dataclass
class Snapshot:
    taken: float                        # time.monotonic() just before squeue was asked
    nodes: dict | None = None           # executor.node_states(), None when Slurm did not answer
    jobs: dict | None = None            # executor.queue()
    error: Exception | None = None
    names: list[str] | None = None     # the partition's node names, in sinfo's order


class Handoff:
    def __init__(self, scheduler):
        self.s = scheduler
        self.executor = scheduler.executor
        self.watch = EngineWatch()
        self.open: dict[str, tuple] = {}       # handle -> (job id, job dir), of the jobs this process saw open
        self.submitted: dict[str, float] = {}  # handle -> time.monotonic() of its submission by this process
        self._pending: set[str] = set()        # jobs Slurm keeps pending (their reasons are in self.s.waiting)
        self._signalled: dict[str, float] = {}  # handle -> when its master's exit code said a signal (_settling)
        self.partition: dict[str, int] | None = None
        self.names: list[str] = []             # the partition's node names (cluster node i of a setup task's cluster)
        self.setup = SlurmSetup(self)
        self.snapshot: Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- Slurm's view, refreshed by a thread -----------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            taken = time.monotonic()
            try:
                nodes = self.executor.node_states()
                names = list(self.executor.node_names)
                taken = time.monotonic()
                snap = Snapshot(taken, nodes, self.executor.queue(), names=names)
            except (SlurmUnavailable, LaunchError, ValueError) as exc:
                snap = Snapshot(taken, error=exc)
            except Exception as exc:  # the thread must survive anything; the scheduler sees Slurm as unavailable
                log.exception("asking Slurm for its state")
                snap = Snapshot(taken, error=exc)
            old, self.snapshot = self.snapshot, snap
            if old is None or (old.nodes, old.jobs, old.names, str(old.error)) != (
                    snap.nodes, snap.jobs, snap.names, str(snap.error)):
                self.s.wake()
            self._stop.wait(max(0.2, self.s.settings.tick_interval))

    def stop(self) -> None:
        self._stop.set()

    # -- one tick ----------------------------------------------------------------------------------------------
    def tick(self, jobs, clusters, now: float) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll_loop, name="batchai-slurm-poll", daemon=True)
            self._thread.start()
        snap = self.snapshot
        if snap is None:
            return      # nothing known of Slurm yet: the poller wakes the scheduler when it is
        self.partition = snap.nodes
        self.names = snap.names if snap.names is not None else self.names
        if snap.error is not None:
            self.watch.failed(now, snap.error)
        else:
            self.watch.answered(now)
        # `jobs` are the open jobs (queued, running, terminating); own copies: the work set's cache is shared
        jobs = [(Job.from_body(r.body), r) for _, r in jobs]
        self._follow(jobs, clusters, now, snap)
        if snap.error is None:
            self._cancel_dropped({j.handles[0] for j, _ in jobs if j.handles and j.handles[0]}, snap)
        # nodes joining a cluster with a setup task run it first (slurm_setup.py); jobs then use the ready ones
        self.setup.tick(clusters, snap, now)
        held = self._submit([(Job.from_body(r.body), r) for _, r in self.s.work.queued(now)], clusters, now)
        if snap.error is None:
            self.s.waiting.keep_only(self._pending | held)

    def _cancel_dropped(self, open_handles: set[str], snap: Snapshot) -> None:
        """A Slurm job whose emulator job is no longer open (terminated while queued, failed while Slurm was away,
        finished here) must not go on pending or running in Slurm: scancel it, unless its master has ended and
        the batch script is ending by itself."""
        for handle, (rid, jdir) in list(self.open.items()):
            if handle in open_handles:
                continue
            rec = self.s.store.get(rid)     # the list a tick is given may be a moment old: ask the store
            if rec is not None:
                job = Job.from_body(rec.body)
                if job.execution_state not in states.FINISHED and job.handles[:1] == [handle]:
                    continue
            st = snap.jobs.get(handle)
            if st is None and self.submitted.get(handle, 0) >= snap.taken:
                continue    # submitted after squeue was asked: decide when the next snapshot has it
            if st is not None and st.state != ENDED and _read_int(self.s.settings.data_dir, jdir) is None:
                self.executor.stop([handle])
            del self.open[handle]

    def unusable(self, current: int, running: int) -> int:
        """Nodes of a cluster counted unusable: the partition's down or drained nodes, and those beyond the
        partition's size (all of them while Slurm does not answer). A cluster is a view of the partition: its size
        caps a job's nodeCount, while the partition's nodes are shared by every cluster placed on it."""
        free = max(0, current - running)
        if self.partition is None:
            return free
        missing = max(0, current - sum(self.partition.values()))    # more nodes than the partition has
        return min(free, self.partition["unusable"] + missing)

    # -- submission --------------------------------------------------------------------------------------------
    def _submit(self, jobs, clusters, now: float) -> set[str]:
        """Submit the queued jobs that can be; answers the ids of those the emulator holds back itself."""
        held: set[str] = set()
        queued = sorted(((j, r) for j, r in jobs if j.execution_state == ExecutionState.QUEUED and not j.handles),
                        key=lambda jr: (PRIORITY_RANK[jr[0].props.scheduling_priority],
                                        jr[0].submitted, jr[1].seq))
        for job, rec in queued:
            rec = self.s.store.get(rec.id)  # the queue a tick is given may be a moment old: never submit twice
            if rec is None:
                continue
            job = Job.from_body(rec.body)
            if job.execution_state != ExecutionState.QUEUED or job.handles:
                continue
            crec = clusters.get(_cluster_key(job))
            if crec is None:
                self.s._finish(job, rec, now, states.FAILED, errors=[states.error(
                    "ClusterNotFound", f"The cluster {job.props.cluster_id} no longer exists.")], note="cluster")
                continue
            cluster = Cluster.from_body(crec.body)
            allowed = allowed_nodes(cluster, self.names)
            if cluster.allocation_state != AllocationState.STEADY or (allowed is None and cluster.unusable_nodes):
                continue    # still allocating, or its volumes cannot be mounted (cluster.errors say why)
            need = job.props.node_count
            if need > cluster.current_node_count:
                continue    # as with the other executors: it waits for the cluster to grow
            if self.partition is None:
                job.log_path = str(self.s.planner.log_file(job, cluster))
                self.s._finish(job, rec, now, states.FAILED, errors=[self._unavailable()], note="Slurm unavailable")
                continue
            if allowed is not None and need > len(allowed):
                # its cluster's nodes are still running their setup task, or it failed on them
                held.add(rec.id.lower())
                self.s._wait(job, rec, cluster, f"waiting: {need} node(s) requested, {len(allowed)} of cluster "
                             f"{cluster.name}'s {cluster.current_node_count} have run its setup task "
                             f"({len(cluster.preparing_nodes)} running it, {len(cluster.unusable_nodes)} unusable)")
                continue
            exclude = tuple(n for n in self.names if n not in allowed) if allowed is not None else ()
            self._submit_one(job, rec, cluster, now, exclude)
        return held

    def _submit_one(self, job: Job, rec, cluster: Cluster, now: float, exclude: tuple = ()) -> None:
        need = job.props.node_count
        size = vmsizes.lookup(cluster.props.vm_size)
        job_key = self.s.planner.job_dir(job).name
        registry = job.props.container_settings.image_source_registry if job.props.container_settings else None
        requested = job.props.image
        image = self.executor.resolve_image(requested) if requested else ""
        container = self.executor.container_layout(image)
        gpus = {i: [str(g) for g in range(size.gpus)] for i in range(need)}
        try:
            plan = Planner(self.s.settings.data_dir, "container" if container else "host").plan(
                job, cluster, list(range(need)), gpus, [HOST_PLACEHOLDER.format(i) for i in range(need)])
            job.log_path = str(plan.log_host)
            self.s._log(job, f"job {rec.name} ({need} node(s) of cluster {cluster.name}, {size.name}) submitted to "
                             f"{self.executor.describe()}")
            if image != requested:
                self.s._log(job, f"image {requested} mapped to {image} (--image-map)")
            if image and not container:
                self.s._log(job, f"image {image} ignored: the Slurm nodes have no Docker (--slurm-containers none)")
            handle = self.executor.submit(
                job_key, rec.id, plan, image, registry, job.props.scheduling_priority, size.gpus,
                duration_seconds(job.props.max_wall_clock_time), exclude)
        except SlurmUnavailable as exc:
            self.watch.failed(now, exc)
            self.s._finish(job, rec, now, states.FAILED, errors=[self._unavailable()], note="Slurm unavailable")
            return
        except EmulatorError as exc:
            code = "MountVolumeFailed" if isinstance(exc, mounts.MountError) else exc.code
            self.s._finish(job, rec, now, states.FAILED, errors=[states.error(code, exc.message)],
                           note="launch failed")
            return
        except LaunchError as exc:
            self.s._finish(job, rec, now, states.FAILED, errors=[states.error(exc.code, exc.message)],
                           note="submit failed")
            return
        self.submitted[handle] = time.monotonic()
        self.open[handle] = (rec.id, self.s.planner.job_dir(job))
        if self.s._record_handles(rec.id, [handle], job.log_path) is None:
            self.executor.stop([handle])    # deleted while it was submitted
            return
        self.s._log(job, f"Slurm job {handle} submitted")

    # -- following ---------------------------------------------------------------------------------------------
    def _follow(self, jobs, clusters, now: float, snap: Snapshot) -> None:
        followed = [(j, r) for j, r in jobs if j.handles and j.handles[0]]
        for job, rec in followed:
            self.open[job.handles[0]] = (rec.id, self.s.planner.job_dir(job))
        if not followed:
            return
        if snap.error is not None:
            grace_over = self.watch.failed(now, snap.error)
            for job, rec in followed:
                if job.execution_state == ExecutionState.QUEUED and safeio.exists(
                        self.s.settings.data_dir, self.s.planner.job_dir(job) / "node-0" / ".batchai" / "started"):
                    # it started on its nodes before the controller went away, though squeue never said so
                    states.transition(job, states.RUNNING, now, nodes=_free_nodes(job, jobs, clusters))
                    won = self.s.store.compare_and_set(rec.id, rec.version, job.to_body())
                    if won is None:
                        continue
                    rec = won
                    self.s._log(job, f"running: Slurm job {job.handles[0]} (its nodes started it; Slurm does not "
                                     "answer)")
                code = self._exit_code_file(job)
                if job.execution_state == ExecutionState.TERMINATING:   # scancel'd once Slurm answers again
                    self.s._finish(job, rec, now, states.FAILED, errors=[states.terminated_error()], note="terminated")
                elif code is not None and job.execution_state in states.ACTIVE:
                    self._master_ended(job, rec, now, code)
                elif grace_over or job.execution_state != ExecutionState.RUNNING:
                    self.s._finish(job, rec, now, states.FAILED, errors=[self._unavailable()], note="Slurm unavailable")
            return
        pending: set[str] = set()
        for job, rec in followed:
            handle = job.handles[0]
            st = snap.jobs.get(handle)
            if st is None:
                if self.submitted.get(handle, 0) >= snap.taken:
                    continue    # submitted after squeue was asked: the next snapshot has it
                try:
                    st = self.executor.ended(handle)    # older than squeue's memory: accounting, if any
                except (SlurmUnavailable, LaunchError):
                    continue
            if job.execution_state == ExecutionState.TERMINATING:
                self.s._finish(job, rec, now, states.FAILED, errors=[states.terminated_error()], note="terminated")
                continue
            if rec.parent and _cluster_key(job) not in clusters:
                self.s._finish(job, rec, now, states.FAILED, errors=[states.error(
                    "ClusterDeleted", "The cluster the job ran on was deleted.")], note="cluster deleted")
                continue
            code = self._exit_code_file(job) if job.execution_state == ExecutionState.RUNNING else None
            if code is not None and code > 128 and st.state != ENDED and self._settling(handle, now):
                continue    # killed by a signal: Slurm says in a moment whether it ended the job (scancel, --time)
            self._signalled.pop(handle, None)
            if code is not None and not (st.state == ENDED and st.slurm_state in _ENGINE_ENDS
                                         and st.slurm_state != "FAILED"):
                # the master's launcher has ended: no need to wait for Slurm to say so
                self._master_ended(job, rec, now, code)
                continue
            if st.state == PENDING:
                # Slurm's reason, for execution.log (when it changes) and whoever shows jobs (scheduler.waiting)
                why = f" ({st.reason})" if st.reason not in ("", "None") else ""
                text = f"queued: Slurm job {handle} is {st.slurm_state.lower()}{why}"
                if self.s.waiting.note(rec.id, text):
                    self.s._log(job, text)
                pending.add(rec.id.lower())
                continue
            if job.execution_state == ExecutionState.QUEUED:
                self._started(job, rec, jobs, now, st, clusters)
                continue        # an end is seen next tick, from `running`
            if st.state == ENDED:
                self._ended(job, rec, now, st)
        self._pending = pending

    def _settling(self, handle: str, now: float) -> bool:
        """A master killed by a signal is reported SIGNAL_SETTLE seconds later at most, so that a job Slurm
        cancelled or timed out fails with Slurm's reason rather than exit code 143."""
        first = self._signalled.setdefault(handle, now)
        return now - first < SIGNAL_SETTLE

    def _started(self, job: Job, rec, jobs, now: float, st, clusters) -> None:
        states.transition(job, states.RUNNING, now, nodes=_free_nodes(job, jobs, clusters))
        if self.s.store.compare_and_set(rec.id, rec.version, job.to_body()) is not None:
            self.s._log(job, f"running: Slurm job {job.handles[0]} on {st.nodes or 'its nodes'}")

    def _ended(self, job: Job, rec, now: float, st) -> None:
        code = self._exit_code_file(job)
        message = st.comment if st.comment.startswith("DataDirNotShared") else ""
        if message:
            self.s._finish(job, rec, now, states.FAILED, exit_code=code, errors=[states.error(
                "DataDirNotShared", message.split(": ", 1)[-1])], note="data dir", exited=True)
        elif st.slurm_state in ("COMPLETED", "FAILED") and (code is not None or st.exit_code is not None) and \
                not (st.slurm_state == "FAILED" and st.reason not in ("NonZeroExitCode", "None", "")):
            self.s._exited(job, rec, now, code if code is not None else int(st.exit_code))
        elif st.slurm_state == "UNKNOWN":
            if code is not None:
                self._master_ended(job, rec, now, code)
            else:
                self.s._finish(job, rec, now, states.FAILED, errors=[states.error(
                    "SlurmJobNotFound", f"Slurm no longer knows job {job.handles[0]} and its master left no exit "
                    "code; the job is failed.")], note="vanished", exited=True)
        else:
            why = st.reason if st.reason and st.reason != "None" else "no reason given"
            kind = _ENGINE_ENDS.get(st.slurm_state, "SlurmJobFailed")
            text = {"SlurmJobCancelled": f"Slurm job {job.handles[0]} was cancelled outside the emulator",
                    "JobMaxWallClockTimeExceeded": f"The job ran longer than its maxWallClockTime and Slurm ended "
                                                   f"job {job.handles[0]}"}.get(
                kind, f"Slurm ended job {job.handles[0]} as {st.slurm_state}")
            self.s._finish(job, rec, now, states.FAILED, exit_code=code, errors=[states.error(
                kind, f"{text} (Slurm state {st.slurm_state}, reason: {why}).")], note=st.slurm_state.lower(),
                exited=True)

    def _master_ended(self, job: Job, rec, now: float, code: int) -> None:
        """The master's launcher wrote its exit code; the batch script writes one too when a node cannot see the
        data dir (its launch_error then names the node and the path)."""
        try:    # the node's directory is the job's to write: a link or fifo there is never followed
            why = safeio.read_text(self.s.settings.data_dir,
                                   self.s.planner.job_dir(job) / "node-0" / ".batchai" / "launch_error", 4096).strip()
        except OSError:
            why = ""
        if why.startswith("DataDirNotShared: "):
            self.s._finish(job, rec, now, states.FAILED, exit_code=code, errors=[states.error(
                "DataDirNotShared", why.split(": ", 1)[1])], note="data dir", exited=True)
        else:
            self.s._exited(job, rec, now, code)

    def _exit_code_file(self, job: Job) -> int | None:
        return _read_int(self.s.settings.data_dir, self.s.planner.job_dir(job))

    def _unavailable(self) -> dict:
        return states.error("SlurmUnavailable", f"Slurm does not answer ({self.watch.reason or 'no answer'}): the "
                            "job cannot be submitted or followed; it is failed. Check slurmctld and the nodes' "
                            "slurmd (`sinfo`).")


def _free_nodes(job: Job, jobs, clusters) -> list[int]:
    """Node indices for a job Slurm started: the cluster's lowest ones its other running jobs do not hold,
    usable ones first (Slurm ran it on nodes whose setup task succeeded)."""
    taken = {n for j, _ in jobs if _cluster_key(j) == _cluster_key(job) and j.execution_state in states.ACTIVE
             for n in j.nodes}
    crec = clusters.get(_cluster_key(job))
    avoid = set(crec.body.get("unusable_nodes") or []) | set(crec.body.get("preparing_nodes") or []) if crec else set()
    need = job.props.node_count
    span = range(len(taken) + len(avoid) + need)
    return ([n for n in span if n not in taken and n not in avoid] + [n for n in span if n in avoid - taken])[:need]


def _cluster_key(job: Job) -> str:
    return job.props.cluster_id.lower()


def _read_int(data_dir, job_dir) -> int | None:
    """The master's exit code file, if it wrote one."""
    try:
        # the job's temp directory is the job's to write: a link or fifo there is never followed (safeio)
        return int(safeio.read_text(data_dir, job_dir / "node-0" / ".batchai" / "exit_code", 64).strip())
    except (OSError, ValueError):
        return None
