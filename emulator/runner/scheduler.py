"""The scheduler loop: one step per tick(now), so tests can drive time without threads.

A tick (1) allocates cluster nodes: a cluster is `resizing` for `allocation_delay` seconds after it is created or
its scale settings change, then `steady` with the nodes its scale settings ask for (manual target, or auto-scale
demand within its bounds), each node holding its own GPUs; (2) follows running jobs: exits, terminations,
wall-clock limits, vanished containers; (3) starts queued jobs, gang-scheduled: a job waits until `nodeCount`
usable nodes of its cluster are idle, in order of schedulingPriority (high, normal, low) then submission time.
Jobs on one cluster start strictly in that order (no back-filling), so priorities mean what they say.
(4) writes each cluster's nodeStateCounts as derived from the jobs holding its nodes.
Every state change is a compare-and-set on the store; a lost race is simply retried on the next tick.
A tick reads only jobs whose state can still change (workset.py), so its cost never grows with the history.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .. import mounts, safeio
from ..errors import EmulatorError
from ..models import PRIORITY_RANK, AllocationState, Cluster, ExecutionState, Job, duration_seconds, now_iso, parse_iso
from ..store import Record, Store
from . import allocation, exits, states
from . import setup_dispatch
from .engine import SIGNAL_SETTLE, EngineWatch
from .executors import VANISHED, LaunchError
from .gpus import GpuPool
from .handoff import Handoff
from . import waiting as waiting_mod
from .launch import Planner
from .mountcheck import mount_errors
from .setuptask import SETUP_IMAGE as HOST_IMAGE
from .workset import WorkSet, cluster_key as _cluster_key

log = logging.getLogger("batchai_emulator.scheduler")
from .events import events, job_label as _job_label


class Scheduler:
    def __init__(self, store: Store, settings, executor=None, gpu_pool: GpuPool | None = None, clock=time.time,
                 launch_pool=None):
        self.store = store
        self.settings = settings
        self.clock = clock
        self.executor = executor
        self.gpus = gpu_pool or GpuPool(settings.gpus)
        self.planner = Planner(settings.data_dir, executor.layout) if executor else None
        if executor is not None:
            executor.on_exit = self.wake  # a node process ended: look at it now rather than next tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()   # one tick at a time, and hooks do not race a tick
        # launches (image checks, container create/start) run on a small pool so one slow start does not hold
        # up the others; jobs being launched are left alone by _follow until their handles are all recorded
        self._pool = launch_pool or ThreadPoolExecutor(max_workers=4, thread_name_prefix="batchai-launch")
        self._launching: set[str] = set()
        self._launching_lock = threading.Lock()
        self.engine = EngineWatch()
        self._signalled: dict[str, tuple[float, int]] = {}   # job id -> (when seen, exit code): see _settling
        self.waiting = waiting_mod.Waiting()     # why queued jobs wait: waiting.reason(job id)
        # an executor that queues jobs itself (Slurm) gets whole jobs: runner/handoff.py replaces steps (2) and (3)
        self.handoff = Handoff(self) if getattr(executor, "queues_jobs", False) else None
        self.work = WorkSet(store)
        self._changed = False     # the tick wrote something (see _cas)

    # -- loop ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="batchai-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.handoff is not None:
            self.handoff.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._pool.shutdown(wait=True)

    def reset(self, wipe) -> None:
        """Run `wipe()` (the emulator's reset: stop every job, empty the store and the data dir's trees) with no
        tick running, then forget what the scheduler remembered about jobs that no longer exist."""
        with self._lock:
            # no tick runs now, so no new launch starts; wait for those under way to record their handles
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with self._launching_lock:
                    if not self._launching:
                        break
                time.sleep(0.02)
            open_jobs = self.store.list_open("job")
            self.on_delete(open_jobs)          # stops their node processes / containers and removes them
            wipe()
            self.waiting.keep_only(set())
            self._signalled.clear()
            self.work = WorkSet(self.store)
        self.wake()

    def wake(self) -> None:
        self.work.mark()
        self._wake.set()

    def _run(self) -> None:
        last_error, last_logged = "", 0.0
        while not self._stop.is_set():
            try:
                self.tick(self.clock())
                last_error = ""
            except Exception as exc:  # the loop must survive anything; the error is logged with its traceback
                # the same failure every tick (a full disk) is logged once a minute, not five times a second
                if str(exc) != last_error or time.monotonic() - last_logged > 60:
                    log.exception("scheduler tick failed")
                    last_error, last_logged = str(exc), time.monotonic()
            self._wake.wait(self.settings.tick_interval)
            self._wake.clear()

    # -- one step --------------------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """One step, reading only work that can change (see workset.py): finished jobs are never read."""
        with self._lock:
            self._changed = False
            running = self.work.running()
            queued = self.work.queued(now) if self.work.due(now) else None
            clusters = {r.id.lower(): r for r in self.store.list("cluster")}
            for rec in clusters.values():
                self._allocate(rec, running, clusters, now)
            if self._changed:
                clusters = {r.id.lower(): r for r in self.store.list("cluster")}
            if self.executor is not None and self.handoff is None:
                setup_dispatch.dispatch(self, clusters)
            if self.handoff is not None:
                # Slurm queues, orders and starts jobs itself: it follows every open job, every tick
                self.handoff.tick(running + (queued if queued is not None else self.work.queued(now)), clusters, now)
                running = self.work.running()
                self._changed = True
            elif self.executor is not None:
                self._follow(running, clusters, now)
                if self._changed:      # nodes were freed or allocated: a queued job may start now
                    running = self.work.running()
                    if queued is None:
                        queued = self.work.queued(now)
                # the queue is read only when something changed (see workset.py); each read also renews why
                # the jobs that cannot start wait
                if queued:
                    self._start_queued(queued, running, clusters, now)
                    if self._changed:
                        running = self.work.running()
            for rec in (self.store.list("cluster") if self._changed else clusters.values()):
                self._count_nodes(rec, running)

    def _cas(self, rid: str, version: int, body: dict) -> Record | None:
        """The tick's writes: a change (won or lost) means another look at the queue this tick or the next."""
        won = self.store.compare_and_set(rid, version, body)
        self._changed = True
        if won is None:
            self.work.mark()
        return won

    # -- (1) allocation and (4) node counts: allocation.py ------------------------------------------------
    def _allocate(self, rec: Record, jobs, clusters, now: float) -> None:
        allocation.allocate(self, rec, jobs, clusters, now)

    def _count_nodes(self, rec: Record, jobs) -> None:
        allocation.count_nodes(self, rec, jobs)

    # -- (2) running jobs ------------------------------------------------------------------------------------
    def _follow(self, jobs, clusters, now: float) -> None:
        with self._launching_lock:
            launching = set(self._launching)
        active = [(j, r) for j, r in jobs if j.execution_state in states.ACTIVE and r.id.lower() not in launching]
        if not active:
            return
        try:
            status = self.executor.poll([h for j, _ in active for h in j.handles if h])
        except Exception as exc:  # the engine went away: keep serving, try again next tick
            grace_over = self.engine.failed(now, exc)
            for job, rec in active:
                signalled = self._signalled.pop(rec.id.lower(), None)
                if signalled or grace_over:     # its container was stopped by the engine, or the wait is over
                    self._finish(job, rec, now, states.FAILED, exit_code=signalled and signalled[1], errors=[
                        self.engine.job_error(stopped=signalled and signalled[1])], note="engine gone")
            return
        after_outage = self.engine.answered(now)
        if after_outage:
            self._sweep(jobs)
        for job, rec in active:
            try:
                self._follow_one(job, rec, status, clusters, now, after_outage)
            except Exception:  # one job's trouble must not stop the others being followed; tried again next tick
                log.exception("following %s", rec.id)

    def _follow_one(self, job: Job, rec: Record, status: dict, clusters, now: float, after_outage: bool) -> None:
        master = job.handles[0] if job.handles else None  # handles are by rank: the master is rank 0
        if job.execution_state == ExecutionState.TERMINATING:
            self._finish(job, rec, now, states.FAILED, errors=[states.terminated_error()], note="terminated")
            return
        if rec.parent and _cluster_key(job) not in clusters:
            self._finish(job, rec, now, states.FAILED, errors=[states.error(
                "ClusterDeleted", "The cluster the job ran on was deleted.")], note="cluster deleted")
            return
        limit = duration_seconds(job.props.max_wall_clock_time)
        started = parse_iso(job.execution_info.get("start_time", now_iso(now)))
        code = status.get(master) if master else VANISHED
        if code is None and now - started > limit:
            # unverified error code; the service failed jobs that ran past maxWallClockTime
            self._finish(job, rec, now, states.FAILED, errors=[states.error(
                "JobMaxWallClockTimeExceeded", f"The job ran longer than its maxWallClockTime "
                f"({job.props.max_wall_clock_time}) and was stopped.")], note="wall clock")
        elif code == VANISHED:
            self._recover(job, rec, clusters, now)
        elif code is not None and int(code) > 128 and (after_outage or rec.id.lower() in self._signalled):
            # killed by a signal, and the engine was away (a stopping dockerd stops its containers first)
            self._signalled.pop(rec.id.lower(), None)
            self._finish(job, rec, now, states.FAILED, exit_code=int(code), errors=[self.engine.job_error(
                stopped=int(code))], note="engine stopped", exited=True)
        elif code is not None and int(code) > 128 and self.executor.layout == "container" \
                and self._settling(rec, int(code), now):
            return
        elif code is not None:
            self._exited(job, rec, now, int(code))

    def _settling(self, rec: Record, code: int, now: float) -> bool:
        """A master killed by a signal is reported SIGNAL_SETTLE seconds later: if the engine stops answering
        meanwhile, the engine's shutdown killed it and the job fails naming the engine, not exit code 137."""
        first, _ = self._signalled.setdefault(rec.id.lower(), (now, code))
        if now - first < SIGNAL_SETTLE:
            return True
        del self._signalled[rec.id.lower()]
        return False

    def _recover(self, job: Job, rec: Record, clusters, now: float) -> None:
        exits.recover(self, job, rec, clusters, now)

    def _exited(self, job: Job, rec: Record, now: float, code: int) -> None:
        events.info("job %s master node exited with code %d", _job_label(job), code,
                    extra={"event": "node", "job": _job_label(job), "state": "exited"})
        exits.exited(self, job, rec, now, code)

    def _finish(self, job: Job, rec: Record, now: float, to: str, exit_code=None, errors=None, note="",
                exited: bool = False) -> None:
        """Stop and remove the job's containers, then record the final state (so a client that sees the job
        finished never sees its containers)."""
        handles = [h for h in job.handles if h]
        try:
            if not exited or len(handles) > 1:  # a lone master that exited by itself has nothing left to stop
                self.executor.stop(handles)
            if not self.settings.keep_containers:
                self.executor.cleanup(self.planner.job_dir(job).name, handles)
        except Exception as exc:
            log.warning("stopping %s: %s", rec.id, exc)
        states.transition(job, to, now, exit_code=exit_code, errors=errors)
        if self._cas(rec.id, rec.version, job.to_body()) is None:
            return  # someone else changed it (deleted, terminated): the next tick sees the new state
        self._log(job, f"job {to} ({note})" + (f": {errors[0]['message']}" if errors else ""))
        (events.info if to == states.SUCCEEDED else events.warning)(
            "job %s %s (%s)%s", _job_label(job), to, note, f": {errors[0].get('message')}" if errors else "",
            extra={"event": "job", "job": _job_label(job), "state": str(to)})

    # -- (3) queued jobs -------------------------------------------------------------------------------------
    def _start_queued(self, queued, running, clusters, now: float) -> None:
        queued = sorted(queued, key=lambda jr: (PRIORITY_RANK[jr[0].props.scheduling_priority],
                                               jr[0].submitted, jr[1].seq))
        busy: dict[str, set[int]] = {}
        for j, _ in running:
            busy.setdefault(_cluster_key(j), set()).update(j.nodes)
        waiting: dict[str, int] = {}      # cluster -> queued jobs of it that wait this tick (in order)
        still_queued = {r.id.lower() for _, r in queued}
        engine_checked = False
        for job, rec in queued:
            key = _cluster_key(job)
            crec = clusters.get(key)
            if crec is None:
                job = Job.from_body(rec.body)
                states.transition(job, states.FAILED, now, errors=[states.error(
                    "ClusterNotFound", f"The cluster {job.props.cluster_id} no longer exists.")])
                self._cas(rec.id, rec.version, job.to_body())
                continue
            cluster = Cluster.from_body(crec.body)
            taken = busy.setdefault(key, set())
            idle = [n for n in range(cluster.current_node_count)
                    if n not in taken and n not in cluster.unusable_nodes and n not in cluster.preparing_nodes]
            need = job.props.node_count
            steady = cluster.allocation_state == AllocationState.STEADY
            if key in waiting or not steady or len(idle) < need:
                # jobs of a cluster start strictly in order: one that waits holds back those behind it
                self._wait(job, rec, cluster, waiting_mod.describe(
                    need, len(idle), cluster.current_node_count, len(cluster.unusable_nodes), waiting.get(key, 0),
                    steady, cluster.name))
                waiting[key] = waiting.get(key, 0) + 1
                continue
            if not engine_checked:       # before the first start of this tick: queued jobs wait for an engine
                engine_checked = True
                reason = self.executor.available()
                if reason is not None:
                    self.engine.failed(now, reason)
                    self.work.mark()    # look at the queue again next tick: the engine may be back
                    self._wait(job, rec, cluster, f"waiting: the job engine does not answer ({reason})")
                    return
                if self.engine.answered(now):
                    self._sweep(running)
            nodes = idle[:need]
            taken.update(nodes)
            job = Job.from_body(rec.body)    # the queue's Job objects are shared with its cache
            try:
                log_path = str(self.planner.log_file(job, cluster))
            except Exception as exc:  # a job whose paths cannot be worked out fails alone; the others start
                self._broken(job, rec, now, exc)
                taken.difference_update(nodes)
                still_queued.discard(rec.id.lower())
                continue
            states.transition(job, states.RUNNING, now, nodes=nodes)
            job.log_path = log_path
            won = self._cas(rec.id, rec.version, job.to_body())
            if won is None:
                continue
            still_queued.discard(rec.id.lower())
            events.info("job %s running on cluster %s node(s) %s", _job_label(job), cluster.name,
                        ",".join(map(str, nodes)), extra={"event": "job", "job": _job_label(job), "state": "running"})
            with self._launching_lock:
                self._launching.add(rec.id.lower())
            self._pool.submit(self._launch_guarded, job, won, cluster, nodes)
        self.waiting.keep_only(still_queued)

    def _wait(self, job: Job, rec: Record, cluster: Cluster, reason: str) -> None:
        """Note why a queued job waits; a new reason goes to its execution.log once."""
        if not self.waiting.note(rec.id, reason):
            return
        events.debug("job %s %s", _job_label(job), reason,
                     extra={"event": "job", "job": _job_label(job), "state": "waiting"})
        try:
            path = str(self.planner.log_file(job, cluster))
        except Exception:
            return      # its paths cannot be worked out: it fails when its turn comes (_broken)
        self._log_to(path, reason)

    def _broken(self, job: Job, rec: Record, now: float, exc: Exception) -> None:
        """A job the scheduler cannot handle (an unexpected error planning or following it) fails on its own,
        saying why, so that it cannot stop the tick for every other job."""
        log.exception("scheduling %s", rec.id)
        message = exc.message if isinstance(exc, EmulatorError) else f"{type(exc).__name__}: {exc}"
        try:
            self._finish(job, rec, now, states.FAILED, errors=[states.error(
                "JobLaunchFailed", f"The emulator cannot run this job: {message}")], note="broken")
        except Exception:
            log.exception("failing %s", rec.id)

    def _sweep(self, jobs) -> None:
        """After an engine outage: remove what jobs of this data dir that are no longer active left behind
        (their clean-up failed while the engine was away)."""
        jobs_dir = self.settings.data_dir / "jobs"
        known = {p.name for p in jobs_dir.iterdir()} if jobs_dir.is_dir() else set()
        active = {self.planner.job_dir(j).name for j, _ in jobs if j.execution_state in states.ACTIVE}
        try:
            self.executor.sweep(known - active, keep_exited=self.settings.keep_containers)
        except Exception as exc:
            log.warning("removing what failed jobs left: %s", exc)

    def _launch_guarded(self, job: Job, rec: Record, cluster: Cluster, nodes: list[int]) -> None:
        try:
            self._launch(job, rec, cluster, nodes)
        except Exception:  # anything unexpected: the job must not stay running without a process
            log.exception("launching %s", rec.id)
            current = self.store.get(rec.id)
            if current is not None:
                j = Job.from_body(current.body)
                if j.execution_state in states.ACTIVE:
                    self._finish(j, current, self.clock(), states.FAILED, errors=[states.error(
                        "JobLaunchFailed", "The emulator failed to start the job; see its log.")], note="launch")
        finally:
            with self._launching_lock:
                self._launching.discard(rec.id.lower())
            self.wake()

    def _launch(self, job: Job, rec: Record, cluster: Cluster, nodes: list[int]) -> None:
        """Start a job already recorded as running on `nodes` (a launch-pool thread)."""
        job_key = self.planner.job_dir(job).name
        hostnames = [f"batchai-{job_key[:12]}-{i}" for i in range(len(nodes))]
        gpus = {n: (cluster.node_gpus[n] if n < len(cluster.node_gpus) else []) for n in nodes}
        try:
            problems = mount_errors(self.settings, self.store, job.props.mount_volumes)
            if problems:    # job-level volumes are mounted when the job starts on its nodes
                raise LaunchError(problems[0]["code"], problems[0]["message"])
            plan = self.planner.plan(job, cluster, nodes, gpus, hostnames)
            job.log_path = str(plan.log_host)
            container = job.props.container_settings
            registry = container.image_source_registry if container else None
            requested = job.props.image
            image = self.executor.resolve_image(requested) if requested else ""
            self._log(job, f"job {rec.name} running on {len(nodes)} node(s) of cluster {cluster.name} "
                           f"({cluster.props.vm_size}) with {self.executor.describe()}")
            for n in nodes:
                self._log(job, f"node {n} ({cluster.node_ids[n] if n < len(cluster.node_ids) else n}): " + (
                    f"GPUs {','.join(gpus[n])}" if gpus[n] else "no GPU: running on CPU"))
            for note in mounts.blob_mount_notes(cluster.props.node_setup.mount_volumes, job.props.mount_volumes):
                self._log(job, note)
            resources = getattr(self.executor, "node_resources", None)
            if resources is not None:
                self._log(job, "each node's container: " + resources(cluster.props.vm_size)[1])
            if self.executor.layout == "container":
                if not requested:
                    # on the service a job without containerSettings ran on the node's host VM; here a node is a
                    # container, so the job runs in the node image: the one the setup task runs in (setuptask.py)
                    image = self.executor.resolve_image(HOST_IMAGE)
                    self._log(job, f"no containerSettings: the job runs on the node itself, image {image}")
                elif image != requested:
                    self._log(job, f"image {requested} mapped to {image} (--image-map)")
                self.executor.prepare(job_key, plan.network, image, registry)
            elif requested:
                self._log(job, f"image {requested} ignored: the local executor runs node processes on this machine")
            shm = container.shm_size if container else None
            created = [self.executor.create(job_key, rec.id, plan.network, node, rank, image, shm)
                       for rank, node in enumerate(plan.nodes)]
            handles = [h or "" for h in created]
            # worker nodes first, the master last: when the master's command runs, every node is up and named
            for rank in [None, *range(1, len(plan.nodes)), 0]:
                if rank is not None:
                    handles[rank] = self.executor.run(created[rank], plan.nodes[rank])
                    events.info("job %s node %d started: %s", _job_label(job), rank, handles[rank],
                                extra={"event": "node", "job": _job_label(job), "state": "started"})
                # record each handle as soon as it exists, so a crash cannot orphan a container or process
                found = self._record_handles(rec.id, handles, job.log_path)
                if found is None:  # deleted while starting: stop what was started
                    self.executor.stop([h for h in handles if h])
                    self.executor.cleanup(job_key, [h for h in handles if h])
                    return
                job, rec = found
        except (LaunchError, EmulatorError) as exc:
            # only a volume that cannot be mounted (a job-level share whose name is refused) is MountVolumeFailed;
            # any other refusal keeps its own code
            code = "MountVolumeFailed" if isinstance(exc, mounts.MountError) else exc.code
            self._log(job, f"launch failed: {exc.message}")
            self._finish(job, rec, self.clock(), states.FAILED, errors=[states.error(code, exc.message)],
                         note="launch failed")

    def _record_handles(self, rid: str, handles: list[str], log_path: str):
        """Write the handles into the job whatever else changed meanwhile (a terminate, say); None if deleted."""
        while True:
            rec = self.store.get(rid)
            if rec is None:
                return None
            job = Job.from_body(rec.body)
            job.handles, job.log_path = list(handles), log_path
            won = self.store.compare_and_set(rid, rec.version, job.to_body())
            if won is not None:
                return job, won

    # -- logs and hooks --------------------------------------------------------------------------------------
    def _log(self, job: Job, message: str) -> None:
        self._log_to(job.log_path, message)

    def _log_to(self, path: str, message: str) -> None:
        """Append a line to a job's execution.log: a regular file in a directory the job can write, so it is
        reached without following links and never opened if it is a fifo or a device (see safeio)."""
        if not path.endswith(".log"):
            return
        try:
            safeio.append_text(self.settings.data_dir, path, f"{now_iso(self.clock())} {message}\n")
        except OSError as exc:
            log.warning("not writing %s: %s", path, exc)

    def on_delete(self, records: list[Record]) -> None:
        """Deleted jobs stop at once (their containers are killed and removed); jobs of a deleted cluster are
        failed by the next tick."""
        # Not under the tick's lock: a delete never waits for a tick. A tick finishing the same job at the same
        # time stops and removes the same nodes (both tolerate that) and then loses its compare-and-set.
        if self.executor is not None:
            for rec in records:
                if rec.kind == "job":
                    job = Job.from_body(rec.body)
                    handles = [h for h in job.handles if h]
                    # a Slurm job may be pending (queued) or already ended: scancel is harmless then
                    if job.execution_state in states.ACTIVE or (self.handoff is not None and handles):
                        try:
                            self.executor.stop(handles)
                            self.executor.cleanup(self.planner.job_dir(job).name, handles)
                        except Exception as exc:
                            log.warning("stopping deleted job %s: %s", rec.id, exc)
        self.wake()

