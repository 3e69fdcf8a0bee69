"""The cluster setup task (nodeSetup.setupTask, see setuptask.py) on the Slurm executor.

Nodes: a cluster is a view of the Slurm partition (runner/handoff.py); a cluster with a setup task pins its nodes:
its node i is the partition's i-th node in sinfo's order, the setup task of node i runs there as a one-node Slurm
job (`sbatch -w <node> --exclusive`, with the VM size's GPUs), and the cluster's jobs run only on its nodes whose
setup task succeeded (`sbatch --exclude` of the partition's other nodes). Clusters placed on one partition share its
nodes, so one Slurm node may run the setup tasks of several clusters (each once per join). A cluster node beyond the
partition's size has nowhere to run it: it is unusable, saying so. Clusters without a setup task keep using any node
of the partition.

The task runs as on the local executor: a process on the node in host layout (setuptask.prepare_host: the mounts as
symlinks under the node's directory of the shared data dir, the same $AZ_BATCHAI_MOUNT_ROOT and
$AZ_BATCH_NODE_STARTUP_DIR, its stdout/stderr files in the same place), as the user who runs the emulator (Slurm runs
a job as its submitter): runElevated cannot elevate here, and a root emulator runs it as root either way. Its
environment variables and secrets reach it through sbatch's environment (--export=ALL), never through a file.

State and recovery: the node's state is in its directory of the data dir, keyed by the cluster's incarnation and
the node's id (a node that leaves and joins again is a new node with a new id, allocation.settle): `job_id` (the
Slurm job, also found by its name `batchai-setup-<key>` if the emulator died before writing it) and `exit_code`
(written by the node when the task ends). Each tick follows the preparing nodes from the poller's snapshot (never
waiting on Slurm): while slurmctld does not answer, a node that finishes still writes its exit code and is recorded;
a node not yet submitted waits for Slurm to answer again. A setup job Slurm ended without an exit code (cancelled,
its time limit of setuptask.TIMEOUT, a node failure, a node that does not see the data dir) makes the node unusable
with Slurm's state in the error. A setup job whose node left the cluster (scale-down, cluster deleted) is cancelled.
"""
from __future__ import annotations

import logging
import shlex
import time
import zlib
from pathlib import Path

from .. import safeio, vmsizes
from ..models import Cluster
from ..store import Record
from . import setup_dispatch, setuptask
from .executors import LaunchError
from .slurm import ENDED, SlurmUnavailable

log = logging.getLogger("batchai_emulator.scheduler")
PREFIX = "batchai-setup-"


def allowed_nodes(cluster: Cluster, names: list[str]) -> list[str] | None:
    """The Slurm nodes the cluster's jobs may run on: None (any of the partition's) without a setup task, else
    its nodes whose setup task succeeded."""
    if not setuptask.task_of(cluster):
        return None
    held = set(cluster.unusable_nodes) | set(cluster.preparing_nodes)
    return [names[i] for i in range(min(cluster.current_node_count, len(names))) if i not in held]


def node_key(rid: str, cluster: Cluster, index: int) -> str:
    node_id = cluster.node_ids[index] if index < len(cluster.node_ids) else str(index)
    return f"{zlib.crc32(f'{rid.lower()}|{cluster.creation_time}|{node_id}'.encode()):08x}-{index}"


class SlurmSetup:
    def __init__(self, handoff):
        self.h = handoff
        self.s = handoff.s
        self.open: dict[str, Path] = {}     # Slurm job id -> state dir, of the setup jobs this process saw running

    def tick(self, clusters: dict[str, Record], snap, now: float) -> None:
        wanted: set[str] = set()
        for rec in clusters.values():
            if not rec.body.get("preparing_nodes"):
                continue
            cluster = Cluster.from_body(rec.body)
            for index in list(cluster.preparing_nodes):
                try:
                    self._step(rec.id, cluster, index, snap, wanted)
                except Exception:  # one node's trouble must not stop the others; tried again next tick
                    log.exception("setup task of node %s of %s", index, rec.id)
        if snap.error is None:
            self._cancel_dropped(wanted, snap)

    def _state_dir(self, rid: str, cluster: Cluster, index: int) -> Path:
        return setuptask.node_dir(self.s.settings.data_dir, cluster, index) / "slurm-setup" / node_key(
            rid, cluster, index)

    def _read(self, sdir: Path, name: str) -> str:
        try:    # the node's directory is the setup task's to write: a link or fifo there is never followed
            return safeio.read_text(self.s.settings.data_dir, sdir / name, 64).strip()
        except OSError:
            return ""

    def _exit_code(self, sdir: Path) -> int | None:
        try:
            return int(self._read(sdir, "exit_code"))
        except ValueError:
            return None

    def _record(self, rid: str, cluster: Cluster, index: int, code: int, message: str = "") -> None:
        setup_dispatch._record(self.s, rid, cluster, index, code, message)
        self.s.wake()

    def _step(self, rid: str, cluster: Cluster, index: int, snap, wanted: set[str]) -> None:
        sdir = self._state_dir(rid, cluster, index)
        code = self._exit_code(sdir)
        if code is not None:        # the node wrote it, whether Slurm answers or not
            self._record(rid, cluster, index, code)
            return
        if snap.error is not None:
            return      # nothing is submitted or judged while Slurm does not answer; running tasks go on
        handle = self._read(sdir, "job_id")
        name = PREFIX + node_key(rid, cluster, index)
        if not handle:  # submitted by an emulator that died before writing job_id
            handle = next((h for h, st in snap.jobs.items() if st.name == name), "")
            if handle:
                safeio.write_text(self.s.settings.data_dir, sdir / "job_id", handle + "\n")
        if not handle:
            self._submit(rid, cluster, index, sdir, name, snap, wanted)
            return
        wanted.add(handle)
        self.open[handle] = sdir
        st = snap.jobs.get(handle)
        if st is None:
            if self.h.submitted.get(handle, 0) >= snap.taken:
                return      # submitted after squeue was asked: the next snapshot has it
            try:
                st = self.h.executor.ended(handle)
            except (SlurmUnavailable, LaunchError):
                return
        if st.state != ENDED:
            return
        code = self._exit_code(sdir)    # written just before the job ended
        if code is not None:
            self._record(rid, cluster, index, code)
            return
        why = st.reason if st.reason and st.reason != "None" else "no reason given"
        limit = " (its time limit is the setup task's timeout)" if st.slurm_state == "TIMEOUT" else ""
        self._record(rid, cluster, index, -1, f"The setup task's Slurm job {handle} on node {_node(cluster, index)} "
                     f"ended as {st.slurm_state}{limit} (reason: {why}) without the task's exit code; a node that "
                     "cannot see the emulator's data dir at the same path fails this way too.")

    def _submit(self, rid: str, cluster: Cluster, index: int, sdir: Path, name: str, snap, wanted) -> None:
        names = snap.names or []
        if index >= len(names):
            self._record(rid, cluster, index, -1, f"The cluster's node {_node(cluster, index)} has no Slurm node "
                         f"to run the setup task on: partition {self.h.executor.partition} has {len(names)} "
                         "node(s).")
            return
        data_dir = self.s.settings.data_dir
        wd, env = setuptask.prepare_host(data_dir, cluster, index)
        safeio.makedirs(data_dir, sdir)
        q = shlex.quote
        # the node records the task's exit code in the shared data dir: how it ended is known without Slurm
        safeio.write_text(data_dir, sdir / "run.sh", f"""#!/bin/sh
# written by the Batch AI emulator: the cluster's setup task on Slurm node $SLURMD_NODENAME (runner/slurm_setup.py)
/bin/sh {q(str(wd / 'setup.sh'))}
rc=$?
echo $rc >{q(str(sdir / 'exit_code.tmp'))} && mv {q(str(sdir / 'exit_code.tmp'))} {q(str(sdir / 'exit_code'))}
exit $rc
""")
        size = vmsizes.lookup(cluster.props.vm_size)
        try:
            handle = self.h.executor.submit_setup(
                name, f"{rid}/setup/{_node(cluster, index)}", names[index], sdir / "run.sh", wd, sdir / "slurm.log",
                {**env, **setuptask.secrets(cluster)}, size.gpus, setuptask.TIMEOUT)
        except SlurmUnavailable:
            return      # tried again once Slurm answers
        except LaunchError as exc:
            self._record(rid, cluster, index, -1, f"Slurm refused the setup task of node {_node(cluster, index)} "
                         f"on {names[index]}: {exc.message.split(': ', 1)[-1]}")
            return
        self.h.submitted[handle] = time.monotonic()
        safeio.write_text(data_dir, sdir / "job_id", handle + "\n")
        wanted.add(handle)
        self.open[handle] = sdir
        log.info("setup task of node %d of %s submitted to Slurm as job %s on %s", index, rid, handle, names[index])

    def _cancel_dropped(self, wanted: set[str], snap) -> None:
        """A setup job whose node is no longer preparing: recorded already (it ended), or its node left the
        cluster (scale-down, cluster deleted): the latter must not go on holding a Slurm node."""
        for handle, sdir in list(self.open.items()):
            if handle in wanted:
                continue
            st = snap.jobs.get(handle)
            if st is not None and st.state != ENDED and self._exit_code(sdir) is None:
                try:
                    self.h.executor.stop([handle])
                except Exception as exc:
                    log.warning("cancelling setup job %s: %s", handle, exc)
            del self.open[handle]


def _node(cluster: Cluster, index: int) -> str:
    return cluster.node_ids[index] if index < len(cluster.node_ids) else str(index)
