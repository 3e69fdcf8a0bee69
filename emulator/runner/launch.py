"""What runs on each node of a job: the $AZ_BATCHAI_* environment, the directories, and the launcher script.

The same plan serves both executors. In `container` layout the node paths are the service's
(/mnt/batch/tasks/shared/LS_root/...) and the executor bind-mounts host directories there; in `host` layout
(LocalExecutor, no Docker) the node paths are directories of the data dir, and the mount roots hold symlinks
to the volumes.

Launch conventions (reference §10; exact node-agent command lines are unverified, these are the documented
shapes): CNTK Python `python <script> <args>`, BrainScript `cntk configFile=<file> <args>`; processCount > 1
runs under `mpirun -np N --hostfile $AZ_BATCHAI_MPI_HOST_FILE`; TensorFlow starts one process per parameter
server and worker with AZ_BATCHAI_PS_HOSTS / AZ_BATCHAI_WORKER_HOSTS / AZ_BATCHAI_TASK_INDEX / TF_CONFIG and
logs to stdout-wk-<i>.txt / stdout-ps-<i>.txt; customToolkit runs its command line through a shell on the master
node. Job preparation runs first on every node; the master node's exit code decides the job.
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .. import mounts, safeio
from ..outputs import STDOUTERR, job_volumes, output_node_path
from ..models import Cluster, Job
from ..properties import ToolkitSettings, ToolType
from .executors import LaunchError

TF_PORT_PS, TF_PORT_WORKER = 2222, 2223
JOB_TEMP_DIR = f"{mounts.NODE_ROOT}/jobs"


@dataclass
class Task:
    """One process the node runs: its command, its log suffix ('' -> stdout.txt), extra env, whether waited."""
    command: str
    log: str = ""
    env: dict[str, str] = field(default_factory=dict)
    decides: bool = False     # this task's exit code is the node's (and, on the master, the job's)


@dataclass
class NodePlan:
    index: int
    hostname: str
    gpus: list[str]
    env: dict[str, str]
    host_job_temp: Path
    script_node_path: str               # the launcher, as the node sees it
    binds: list[tuple[str, str]]        # (host path, node path), container layout only
    vm_size: str = ""                   # the cluster's VM size: the node's cores and memory
    job_name: str = ""


@dataclass
class JobPlan:
    job_key: str
    network: str | None
    nodes: list[NodePlan]
    stdouterr_host: Path
    log_host: Path                      # execution.log


def _quote_env(value: str) -> str:
    return shlex.quote(value)


class Planner:
    def __init__(self, data_dir: Path, layout: str):
        assert layout in ("container", "host")
        self.data_dir = Path(data_dir)
        self.layout = layout

    def job_dir(self, job: Job) -> Path:
        return self.data_dir / "jobs" / job.job_output_directory_path_segment.rsplit("/", 1)[-1]

    def log_file(self, job: Job, cluster: Cluster) -> Path:
        """The job's execution.log, where plan() puts it, known before anything is planned or created."""
        node_path = output_node_path(job, STDOUTERR)
        host = mounts.to_host(node_path, job_volumes(self.data_dir, cluster, job))
        return (host or self.job_dir(job) / "local" / node_path.lstrip("/")) / "execution.log"

    def plan(self, job: Job, cluster: Cluster, node_indices: list[int], node_gpus: dict[int, list[str]],
             hostnames: list[str]) -> JobPlan:
        vols = job_volumes(self.data_dir, cluster, job)
        jdir = self.job_dir(job)
        shared_host = jdir / "shared"
        shared_host.mkdir(parents=True, exist_ok=True)
        extra_binds: dict[str, Path] = {}

        def host_of(node_path: str) -> Path:
            found = mounts.to_host(node_path, vols)
            if found is not None:
                return found
            # a node-local path (not on a mounted volume): give it a host directory of the job's own
            host = jdir / "local" / node_path.lstrip("/")
            extra_binds[node_path] = host
            return host

        stdouterr_node = output_node_path(job, STDOUTERR)
        stdouterr_host = host_of(stdouterr_node)
        outputs = {d.id: output_node_path(job, d.id) for d in job.props.output_directories}
        outputs_host = {i: host_of(p) for i, p in outputs.items()}
        for path in [stdouterr_host, *outputs_host.values()]:
            # these lie on volumes jobs write (a share another job used): a link on the way is refused, not
            # followed to make directories elsewhere
            self._makedirs(path)
        plans = []
        count = len(node_indices)
        for rank, node_index in enumerate(node_indices):
            host_temp = jdir / f"node-{rank}"
            (host_temp / ".batchai").mkdir(parents=True, exist_ok=True)
            roots = self._roots(job, cluster, node_index, host_temp, shared_host, vols)
            env = self._env(job, cluster, roots, node_gpus.get(node_index, []), rank, count, outputs)
            if self.layout == "host":
                # no container: the node's own paths are directories of the job here (a prefix such as /tmp/x is
                # a node-local path on Batch AI, never this machine's /tmp)
                env["AZ_BATCHAI_STDOUTERR_DIR"] = str(stdouterr_host)
                env.update({f"AZ_BATCHAI_OUTPUT_{i}": str(h) for i, h in outputs_host.items()})
            binds: list[tuple[str, str]] = []
            if self.layout == "container":
                binds = [(str(v.host_path), v.node_path) for v in vols]
                binds += [(str(host_temp), roots["job_temp"]), (str(shared_host), roots["shared"])]
                binds += [(str(h), n) for n, h in extra_binds.items()]
                for host, _ in binds:
                    self._makedirs(Path(host))   # a bind source must be a real directory of the data dir
            hostfile = host_temp / "hostfile"
            hostfile.write_text("".join(f"{h} slots={max(1, len(node_gpus.get(i, [])))}\n"
                                        for h, i in zip(hostnames, node_indices)))
            tasks = self._tasks(job, rank, count, hostnames)
            self._write_scripts(job, host_temp, env, tasks, rank)
            plans.append(NodePlan(index=node_index, hostname=hostnames[rank], gpus=node_gpus.get(node_index, []),
                                  env=env, host_job_temp=host_temp,
                                  script_node_path=f"{roots['job_temp']}/.batchai/launch.sh", binds=binds,
                                  vm_size=cluster.props.vm_size, job_name=job.name))
        network = f"batchai-{jdir.name[:12]}" if count > 1 else None
        return JobPlan(job_key=jdir.name, network=network, nodes=plans, stdouterr_host=stdouterr_host,
                       log_host=stdouterr_host / "execution.log")

    def _makedirs(self, path: Path) -> None:
        try:
            safeio.makedirs(self.data_dir, path)
        except safeio.UnsafePath as exc:
            raise LaunchError("JobDirectoryUnsafe", f"A directory of the job is reached through a link a job made "
                              f"({exc.strerror}); the emulator does not follow links in job-writable places.") \
                from None

    # -- layout ----------------------------------------------------------------------------------------------
    def _roots(self, job: Job, cluster: Cluster, node_index: int, host_temp: Path, shared_host: Path,
               vols: list[mounts.Volume]) -> dict[str, str]:
        if self.layout == "container":
            jt = f"{JOB_TEMP_DIR}/{job.name}"
            return {"mount_root": mounts.MOUNT_ROOT, "job_mount_root": mounts.job_mount_root(job.name),
                    "job_temp": jt, "job_temp_dir": JOB_TEMP_DIR, "shared": f"{jt}/shared"}
        # host layout: symlinks stand in for mounts
        node_root = self.data_dir / "nodes" / cluster.name / f"node-{node_index}"
        mount_root = node_root / "mounts"
        job_mount_root = host_temp / "mounts"
        for v in vols:
            base = mount_root if v.node_path.startswith(mounts.MOUNT_ROOT + "/") else job_mount_root
            std_root = mounts.MOUNT_ROOT if base is mount_root else mounts.job_mount_root(job.name)
            link = base / v.node_path[len(std_root) + 1:]
            link.parent.mkdir(parents=True, exist_ok=True)
            self._makedirs(v.host_path)
            if link.is_symlink() and os.readlink(link) != str(v.host_path):
                link.unlink()
            if not link.exists():
                link.symlink_to(v.host_path, target_is_directory=True)
        return {"mount_root": str(mount_root), "job_mount_root": str(job_mount_root), "job_temp": str(host_temp),
                "job_temp_dir": str(host_temp.parent), "shared": str(shared_host)}

    def _env(self, job: Job, cluster: Cluster, roots: dict[str, str], gpus: list[str], rank: int, count: int,
             outputs: dict[str, str]) -> dict[str, str]:
        base = {"AZ_BATCHAI_MOUNT_ROOT": roots["mount_root"], "AZ_BATCHAI_JOB_MOUNT_ROOT": roots["job_mount_root"]}

        def node(path_template: str) -> str:
            return mounts.expand(path_template, base)

        def translate(std_path: str) -> str:
            """A path computed with the service's roots, as this layout's node sees it."""
            for std, mine in ((mounts.job_mount_root(job.name), roots["job_mount_root"]),
                              (mounts.MOUNT_ROOT, roots["mount_root"])):
                if std_path == std or std_path.startswith(std + "/"):
                    return mine + std_path[len(std):]
            return std_path

        env = dict(base)
        env.update({
            "AZ_BATCHAI_JOB_TEMP": roots["job_temp"],
            "AZ_BATCHAI_JOB_TEMP_DIR": roots["job_temp_dir"],
            "AZ_BATCHAI_SHARED_JOB_TEMP": roots["shared"],
            "AZ_BATCHAI_STDOUTERR_DIR": translate(output_node_path(job, STDOUTERR)),
            "AZ_BATCHAI_MPI_HOST_FILE": f"{roots['job_temp']}/hostfile",
            "AZ_BATCHAI_NUM_GPUS": str(len(gpus)),
            "AZ_BATCHAI_TASK_INDEX": str(rank),
        })
        if (job.legacy or {}).get("api_version") == "2017-09-01-preview":
            # the preview's name for the node's GPU count (its swagger, JobBaseProperties.environmentVariables)
            env["AZ_BATCHAI_NUM_GPUS_PER_NODE"] = str(len(gpus))
        for d in job.props.input_directories:
            env[f"AZ_BATCHAI_INPUT_{d.id}"] = node(d.path)
        for ident, path in outputs.items():
            env[f"AZ_BATCHAI_OUTPUT_{ident}"] = translate(path)
        toolkit = job.props.toolkit
        if toolkit is not None and toolkit.tool_type == ToolType.PYTORCH:
            backend = (toolkit.communication_backend or "gloo").lower()
            env["AZ_BATCHAI_PYTORCH_BACKEND"] = backend
            # unverified value format; a shared-file-system init URL is what the recipes' --dist-url accepts
            env["AZ_BATCHAI_PYTORCH_INIT_METHOD"] = f"file://{roots['shared']}/pytorch_init"
        for var in job.props.environment_variables:
            env[var.name] = var.value or ""
        for secret in job.props.secrets:
            if secret.value is not None:
                env[secret.name] = secret.value
        return env

    # -- commands --------------------------------------------------------------------------------------------
    def _tasks(self, job: Job, rank: int, count: int, hostnames: list[str]) -> list[Task]:
        s = job.props.toolkit or ToolkitSettings(ToolType.CUSTOM)
        master = rank == 0

        def python(settings: ToolkitSettings, args: str | None = None) -> str:
            interp = settings.python_interpreter_path or "python"
            args = settings.command_line_args if args is None else args
            return f"{interp} {settings.python_script_file_path} {args or ''}".strip()

        def maybe_mpi(cmd: str, processes: int, always: bool = False) -> str:
            if processes <= 1 and not always:
                return cmd
            return (f"mpirun --allow-run-as-root -np {processes} --hostfile $AZ_BATCHAI_MPI_HOST_FILE "
                    f"--oversubscribe {cmd}")

        if s.tool_type == ToolType.TENSORFLOW:
            return self._tensorflow_tasks(s, rank, count, hostnames, python)
        if not master:
            return []
        if s.tool_type == ToolType.CUSTOM:
            cmd = s.command_line or "true"
        elif s.tool_type == ToolType.CUSTOMMPI:
            # "executed by mpi runtime on each compute node": each rank runs the command line through a shell
            cmd = maybe_mpi(f"/bin/sh -c {shlex.quote(s.command_line or '')}", s.process_count or count,
                            always=True)
        elif s.tool_type == ToolType.CNTK:
            if (s.language_type or "python").lower() == "brainscript":
                cmd = f"cntk configFile={s.config_file_path} {s.command_line_args or ''}".strip()
            else:
                cmd = python(s)
            cmd = maybe_mpi(cmd, s.process_count or count)
        elif s.tool_type == ToolType.CAFFE:
            cmd = (f"caffe train --solver={s.config_file_path} {s.command_line_args or ''}".strip()
                   if s.config_file_path else python(s))
            cmd = maybe_mpi(cmd, s.process_count or count)
        else:   # PyTorch, Chainer, Horovod, Caffe2
            cmd = maybe_mpi(python(s), s.process_count or count)
        return [Task(command=cmd, decides=True)]

    def _tensorflow_tasks(self, s: ToolkitSettings, rank: int, count: int, hostnames: list[str],
                          python) -> list[Task]:
        workers = int(s.worker_count or count)
        ps = int(s.parameter_server_count or (1 if count > 1 else 0))
        ps_hosts = [f"{hostnames[i % count]}:{TF_PORT_PS}" for i in range(ps)]
        worker_hosts = [f"{hostnames[i % count]}:{TF_PORT_WORKER + i // count}" for i in range(workers)]
        common = {"AZ_BATCHAI_PS_HOSTS": ",".join(ps_hosts), "AZ_BATCHAI_WORKER_HOSTS": ",".join(worker_hosts)}
        cluster = {"ps": ps_hosts, "worker": worker_hosts}
        tasks = []
        for i in range(ps):
            if i % count == rank:
                env = {**common, "AZ_BATCHAI_TASK_INDEX": str(i), "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "ps", "index": i}, "environment": "cloud"})}
                tasks.append(Task(python(s, s.parameter_server_command_line_args or ""), log=f"-ps-{i}", env=env))
        for i in range(workers):
            if i % count == rank:
                kind = "master" if i == 0 else "worker"
                args = s.master_command_line_args if i == 0 and s.master_command_line_args else \
                    s.worker_command_line_args
                env = {**common, "AZ_BATCHAI_TASK_INDEX": str(i), "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": kind, "index": i}, "environment": "cloud"})}
                tasks.append(Task(python(s, args or ""), log=f"-wk-{i}", env=env, decides=(i == 0)))
        return tasks

    def _write_scripts(self, job: Job, host_temp: Path, env: dict[str, str], tasks: list[Task], rank: int) -> None:
        d = host_temp / ".batchai"
        lines = ["#!/bin/sh", "# written by the Batch AI emulator: job preparation, then this node's tasks",
                 'SH=/bin/sh; command -v bash >/dev/null 2>&1 && SH=bash',
                 'OUT="$AZ_BATCHAI_STDOUTERR_DIR"; B="$AZ_BATCHAI_JOB_TEMP/.batchai"',
                 # first of all: the node has started (a restarted emulator never starts such a job again)
                 ': >"$B/started"',
                 'mkdir -p "$OUT" "$AZ_BATCHAI_SHARED_JOB_TEMP"']
        for name, value in env.items():
            if name.startswith("AZ_BATCHAI_OUTPUT_"):
                lines.append(f'mkdir -p "${name}"')
        lines.append('cd "$AZ_BATCHAI_JOB_TEMP"')
        prep = job.props.job_preparation
        if prep:
            (d / "prep.sh").write_text(prep + "\n")
            suffix = "" if rank == 0 else f"-{rank}"
            lines += [f'$SH "$B/prep.sh" >"$OUT/stdout-job_prep{suffix}.txt" 2>"$OUT/stderr-job_prep{suffix}.txt"',
                      'rc=$?',
                      # an executor whose nodes start independently (Slurm) waits here for every node's preparation
                      # and fails them all if one failed; the others start the master last and set no barrier
                      '[ -z "$BATCHAI_PREP_BARRIER" ] || $SH "$BATCHAI_PREP_BARRIER" $rc || rc=$?',
                      'if [ $rc -ne 0 ]; then echo $rc >"$B/prep_exit_code"; echo $rc >"$B/exit_code"; '
                               'exit $rc; fi']
        if any("mpirun" in t.command for t in tasks):
            lines.append('command -v mpirun >/dev/null 2>&1 || { echo "processCount > 1 runs under mpirun, which '
                         'this image does not have" >"$B/launch_error"; echo 127 >"$B/exit_code"; exit 127; }')
        if len(tasks) == 1 and tasks[0].decides and not tasks[0].env:
            # the common case, one process on the master: run it in the foreground (no subshell, no wait)
            (d / "task-0.sh").write_text(tasks[0].command + "\n")
            lines += [f'$SH "$B/task-0.sh" >"$OUT/stdout{tasks[0].log}.txt" 2>"$OUT/stderr{tasks[0].log}.txt"',
                      "rc=$?", 'echo $rc >"$B/exit_code"', "exit $rc"]
            (d / "launch.sh").write_text("\n".join(lines) + "\n")
            return
        decider = None
        for k, task in enumerate(tasks):
            (d / f"task-{k}.sh").write_text(task.command + "\n")
            exports = "".join(f"export {n}={_quote_env(v)}; " for n, v in task.env.items())
            lines.append(f'( {exports}exec $SH "$B/task-{k}.sh" ) >"$OUT/stdout{task.log}.txt" '
                         f'2>"$OUT/stderr{task.log}.txt" &')
            lines.append(f"pid{k}=$!")
            if task.decides:
                decider = k
        if decider is not None:
            lines += [f"wait $pid{decider}", "rc=$?", 'echo $rc >"$B/exit_code"', "exit $rc"]
        elif tasks:
            lines += ["wait", "sleep infinity"]
        else:
            lines.append("exec sleep infinity")  # a worker node: it stays up for the master until stopped
        (d / "launch.sh").write_text("\n".join(lines) + "\n")
