"""SlurmExecutor: clusters placed on a Slurm partition, jobs run by Slurm on its nodes.

Slurm is reached only through its commands on PATH (sbatch, squeue, sacct, scancel, sinfo, scontrol), which honour
SLURM_CONF, so the same emulator works against a lab's cluster or the test one (tests/slurm/cluster.py). Slurm
does what Batch AI's own scheduler did: whole-node gang allocation (`sbatch -N nodeCount --exclusive`), GPUs per
node (`--gres=gpu:K`, K from the VM size, arriving as CUDA_VISIBLE_DEVICES), queueing and priority
(schedulingPriority as `--nice`). The emulator follows the Slurm job and reflects its states back (see
runner/handoff.py, the scheduler's steps for an executor that queues jobs itself).

What runs: the job is planned as for the local executor (launch.py, `host` layout: the $AZ_BATCHAI_* paths are
directories of the data dir), or, for a job with containerSettings when the nodes have Docker, as for the Docker
executor (`container` layout, bind mounts). The data dir must be on a file system every node mounts at the same
path. Node names are known only once Slurm allocates, so the plan is made with placeholder host names that the
batch script replaces with the allocation's node list (`scontrol show hostnames`) before any node starts: the MPI
host file, TensorFlow's ps/worker hosts. The batch script (on the allocation's first node) checks that every node
sees the data dir, starts the other nodes' launchers with one `srun` step and runs the master's itself; its exit
code is the master's. Its own output goes to the job's execution.log (appended, so it is live and shared with the
emulator's lines); the tasks' stdout/stderr go to the stdouterr directory as with the other executors.

Restart: the Slurm job's name is `batchai-<job key>` and its comment the emulator's job id; `submit` looks for the
name before submitting, so a job is never submitted twice.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import safeio
from ..errors import EmulatorError
from ..properties import ImageSourceRegistry, JobProperties
from .executors import VANISHED, LaunchError

log = logging.getLogger("batchai_emulator.runner")

# schedulingPriority -> sbatch --nice. Only positive nice values are open to every Slurm user; the gaps are wide so
# that priority/basic's first-come order (one point per submission) never outweighs a priority class.
NICE = {"high": 0, "normal": 10000, "low": 20000}
HOST_PLACEHOLDER = "@@BATCHAI_HOST_{}@@"
# what the commands say when slurmctld cannot be reached (22.05 wording)
_UNREACHABLE = re.compile(r"Unable to contact slurm controller|Socket timed out|Connection refused|"
                          r"Zero Bytes were transmitted|Communication connection failure|Could not establish a "
                          r"configuration source|Unable to establish controller machine", re.I)
_UNUSABLE_NODE = ("down", "drain", "drng", "fail", "failg", "maint", "unk", "boot", "inval", "npc", "futr", "pow",
                  "resv", "plnd", "blocked")
PENDING, RUNNING, ENDED = "pending", "running", "ended"


# Job preparation on every node before any node's tasks (the nodes start independently under Slurm): each node
# records its preparation's exit code in the job's shared directory, then waits for all; one failure fails all.
_PREP_BARRIER = """# written by the Batch AI emulator: wait for every node's job preparation
d="$AZ_BATCHAI_SHARED_JOB_TEMP/.batchai-prep"
mkdir -p "$d" && echo "$1" >"$d/$AZ_BATCHAI_TASK_INDEX.tmp" && mv "$d/$AZ_BATCHAI_TASK_INDEX.tmp" "$d/$AZ_BATCHAI_TASK_INDEX"
while [ "$(ls "$d" | grep -cv tmp)" -lt "$BATCHAI_NODE_COUNT" ]; do sleep 0.2; done
worst=0
for f in "$d"/*; do case "$f" in *.tmp) continue;; esac; rc=$(cat "$f"); [ "$rc" -gt "$worst" ] && worst=$rc; done
exit $worst
"""


class SlurmUnavailable(Exception):
    """Slurm's controller does not answer (or its commands are missing)."""


@dataclass
class JobStatus:
    state: str                  # pending | running | ended
    slurm_state: str = ""       # Slurm's own word: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    reason: str = ""
    nodes: str = ""
    exit_code: int | None = None
    comment: str = ""
    name: str = ""              # the Slurm job's name (batchai-<job key>, or a setup task's: runner/slurm_setup.py)


class SlurmExecutor:
    layout = "host"
    queues_jobs = True

    def __init__(self, settings, data_dir: Path):
        self.partition = settings.slurm_partition
        if not self.partition:
            raise ValueError("--executor slurm needs --slurm-partition NAME (the partition clusters are placed on)")
        self.containers = (settings.slurm_containers or "docker").lower()
        if self.containers not in ("docker", "none"):
            raise ValueError(f"--slurm-containers must be docker or none, not {settings.slurm_containers!r}")
        missing = [c for c in ("sbatch", "squeue", "scancel", "sinfo", "scontrol") if not shutil.which(c)]
        if missing:
            raise RuntimeError(f"--executor slurm, but {', '.join(missing)} not on PATH (install slurm-client and "
                               "point SLURM_CONF at the cluster's slurm.conf)")
        self.data_dir = Path(data_dir)
        probe = self.data_dir / "jobs" / ".slurm-write-check"
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_text("the emulator checks at start that its data dir is writable\n")
            probe.unlink()
        except OSError as exc:
            raise RuntimeError(f"--executor slurm: the data dir {self.data_dir} is not writable ({exc}); it must be "
                               "a directory every Slurm node mounts at this same path (NFS in a lab)") from exc
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AZ_BATCHAI_")}
        self.image_map = settings.image_map_dict()
        self.on_exit = lambda: None
        self._partition_nodes: int | None = None
        self.node_names: list[str] = []    # the partition's nodes in sinfo's order (runner/slurm_setup.py)

    # -- the commands ----------------------------------------------------------------------------------------
    def _cmd(self, *args: str, timeout: float = 30, env: dict[str, str] | None = None) -> str:
        try:
            r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env or self.env,
                               stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise SlurmUnavailable(f"{args[0]} is not on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            raise SlurmUnavailable(f"`{args[0]}` did not answer in {timeout:.0f} s") from exc
        if r.returncode != 0:
            text = (r.stderr or r.stdout).strip()
            if _UNREACHABLE.search(text):
                raise SlurmUnavailable(text.splitlines()[-1] if text else f"{args[0]} failed")
            raise LaunchError("SlurmCommandFailed", f"`{' '.join(args[:2])} ...` failed: {text}")
        return r.stdout

    def describe(self) -> str:
        return (f"Slurm executor (partition {self.partition}; containerSettings: "
                f"{'a Docker container per node' if self.containers == 'docker' else 'ignored, node processes'})")

    def available(self) -> str | None:
        try:
            self._cmd("sinfo", "-h", "-p", self.partition, "-o", "%D", timeout=15)
        except (SlurmUnavailable, LaunchError) as exc:
            return str(exc)
        return None

    def node_states(self) -> dict[str, int]:
        out = {"idle": 0, "allocated": 0, "unusable": 0}
        seen = {}
        for line in self._cmd("sinfo", "-h", "-N", "-p", self.partition, "-o", "%N %t", timeout=15).splitlines():
            parts = line.split()
            if len(parts) == 2:
                seen[parts[0]] = parts[1].rstrip("*~#!%$@^-+")
        for state in seen.values():
            if state.startswith(_UNUSABLE_NODE):
                out["unusable"] += 1
            elif state == "idle":
                out["idle"] += 1
            else:
                out["allocated"] += 1
        self._partition_nodes = len(seen) or self._partition_nodes
        self.node_names = list(seen)
        return out

    def check_job(self, props: JobProperties) -> None:
        need = props.node_count
        # the size the poller's last sinfo saw: a request never waits on Slurm (which may not answer)
        have = self._partition_nodes
        if have is not None and need > have:
            raise EmulatorError(400, "InvalidNodeCount", f"The job asks for {need} nodes, but the Slurm partition "
                                f"{self.partition} the emulator places clusters on has {have}.",
                                target="properties.nodeCount")

    # -- the contract's per-node steps: a queueing executor submits whole jobs -------------------------------
    def resolve_image(self, image: str) -> str:
        return self.image_map.get(image, image)

    def prepare(self, job_key, network, image, registry) -> None:
        return None

    def create(self, job_key, job_id, network, node, rank, image, shm_size) -> str:
        raise LaunchError("NotSupported", "The Slurm executor submits whole jobs (submit), not nodes.")

    def run(self, handle, node) -> str:
        raise LaunchError("NotSupported", "The Slurm executor submits whole jobs (submit), not nodes.")

    def sweep(self, job_keys, keep_exited: bool = False) -> None:
        return None

    def cleanup(self, job_key, handles) -> None:
        return None     # Slurm removes what a job ran; containers are --rm and killed by the node script's trap

    # -- jobs ------------------------------------------------------------------------------------------------
    @staticmethod
    def slurm_name(job_key: str) -> str:
        return f"batchai-{job_key}"

    def container_layout(self, image: str) -> bool:
        return bool(image) and self.containers == "docker"

    def submit(self, job_key: str, job_id: str, plan, image: str, registry: ImageSourceRegistry | None,
               priority: str, gpus_per_node: int, max_seconds: float, exclude: tuple = ()) -> str:
        existing = self.find(job_key, [])
        if existing:
            return existing[0][0]
        jdir = self.data_dir / "jobs" / job_key
        sdir = jdir / "slurm"
        sdir.mkdir(parents=True, exist_ok=True)
        count = len(plan.nodes)
        for node in plan.nodes:
            b = node.host_job_temp / ".batchai"
            env = dict(node.env)
            if count > 1 and (b / "prep.sh").exists():
                (b / "barrier.sh").write_text(_PREP_BARRIER)
                env.update(BATCHAI_PREP_BARRIER=f"{node.env['AZ_BATCHAI_JOB_TEMP']}/.batchai/barrier.sh",
                           BATCHAI_NODE_COUNT=str(count))
            (b / "env.sh").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
            if self.container_layout(image):
                (b / "docker.env").write_text("".join(f"{k}={v}\n" for k, v in env.items() if "\n" not in v))
        (sdir / "node.sh").write_text(self._node_script(jdir, plan, image, gpus_per_node))
        (sdir / "batch.sh").write_text(self._batch_script(jdir, count))
        minutes = max(1, int((max_seconds + 59) // 60))
        args = ["sbatch", "--parsable", "-p", self.partition, "-N", str(count), "--ntasks-per-node=1",
                "--exclusive", f"--job-name={self.slurm_name(job_key)}", f"--comment={job_id[:900]}",
                f"--nice={NICE.get(priority, NICE['normal'])}", f"--time={minutes}", "--open-mode=append",
                f"--output={plan.log_host}", f"--error={plan.log_host}", f"--chdir={jdir}", "--export=ALL"]
        if gpus_per_node:
            args.append(f"--gres=gpu:{gpus_per_node}")
        if exclude:     # nodes of the partition the job's cluster may not use (their setup task failed or runs)
            args.append(f"--exclude={','.join(exclude)}")
        try:
            out = self._cmd(*args, str(sdir / "batch.sh"), timeout=60)
        except LaunchError as exc:
            raise LaunchError("SlurmSubmitFailed", f"Slurm refused the job: {exc.message.split(': ', 1)[-1]}") \
                from exc
        slurm_id = out.strip().split(";")[0]
        (sdir / "job_id").write_text(slurm_id + "\n")
        return slurm_id

    def submit_setup(self, name: str, comment: str, node: str, script: Path, chdir: Path, log_file: Path,
                     env: dict[str, str], gpus_per_node: int, max_seconds: float) -> str:
        """Submit a cluster node's setup task as a one-node Slurm job on `node` (runner/slurm_setup.py). `env`
        reaches the job through sbatch's own environment (--export=ALL), so secrets in it are never written to
        the script or any file of the data dir."""
        args = ["sbatch", "--parsable", "-p", self.partition, "-N", "1", "-w", node, "--ntasks-per-node=1",
                "--exclusive", f"--job-name={name}", f"--comment={comment[:900]}", f"--nice={NICE['high']}",
                f"--time={max(1, int((max_seconds + 59) // 60))}", "--open-mode=append", f"--output={log_file}",
                f"--error={log_file}", f"--chdir={chdir}", "--export=ALL"]
        if gpus_per_node:
            args.append(f"--gres=gpu:{gpus_per_node}")
        full = {**{k: v for k, v in self.env.items() if k != "CUDA_VISIBLE_DEVICES"}, **env}
        out = self._cmd(*args, str(script), timeout=60, env=full)
        return out.strip().split(";")[0]

    def _batch_script(self, jdir: Path, count: int) -> str:
        q = shlex.quote
        sed = " ".join(f'-e "s/{HOST_PLACEHOLDER.format(i)}/$(sed -n {i + 1}p "$S/nodes")/g"' for i in range(count))
        data = q(str(self.data_dir))
        return f"""#!/bin/sh
# The Batch AI emulator's job, run by Slurm on the allocation's first node (written by emulator/runner/slurm.py)
J={q(str(jdir))}; S="$J/slurm"; N={count}
say() {{ echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) [slurm] $*"; }}
fail() {{ say "$1"; scontrol update jobid="$SLURM_JOB_ID" comment="$1" >/dev/null 2>&1
  mkdir -p "$J/node-0/.batchai" 2>/dev/null; echo "$1" >"$J/node-0/.batchai/launch_error" 2>/dev/null
  echo 97 >"$J/node-0/.batchai/exit_code" 2>/dev/null; exit 97; }}
# mpirun's own srun and the node steps share the allocation's CPUs
export SLURM_OVERLAP=1
say "Slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST (partition $SLURM_JOB_PARTITION)"
# every node must see the emulator's data dir at this same path (the job's files, shares, outputs live there)
D={data}
check='f="$1/slurm/seen-$(hostname)"; if ! ( : >"$f" ) 2>/dev/null; then echo "DataDirNotShared: Slurm node ${{SLURMD_NODENAME:-$(hostname)}} cannot write the emulator data dir $2 (it must be mounted at the same path on every node)"; exit 1; fi'
if ! out=$(srun -N $N --ntasks-per-node=1 --kill-on-bad-exit=0 sh -c "$check" check "$J" "$D" 2>&1); then
  msg=$(echo "$out" | grep -m1 DataDirNotShared); fail "${{msg:-DataDirNotShared: the data dir check failed: $out}}"
fi
scontrol show hostnames "$SLURM_JOB_NODELIST" >"$S/nodes" || fail "DataDirNotShared: cannot write $S/nodes"
# the plan was made before Slurm chose the nodes: put their names in the host file and the task variables
sed -i {sed} "$J"/node-*/hostfile "$J"/node-*/.batchai/*.sh "$J"/node-*/.batchai/*.env 2>/dev/null
if [ $N -gt 1 ]; then
  srun -N $((N - 1)) -r 1 --ntasks-per-node=1 --kill-on-bad-exit=0 /bin/sh "$S/node.sh" &
fi
/bin/sh "$S/node.sh" 0
"""

    def _node_script(self, jdir: Path, plan, image: str, gpus_per_node: int) -> str:
        q = shlex.quote
        head = f"""#!/bin/sh
# one node of the job: its rank from the allocation's node list, its $AZ_BATCHAI_* variables, its launcher
J={q(str(jdir))}; S="$J/slurm"
rank=$1
if [ -z "$rank" ]; then
  rank=$(grep -nx "${{SLURMD_NODENAME:-$(hostname -s)}}" "$S/nodes" | head -1 | cut -d: -f1)
  rank=$((rank - 1))
fi
B="$J/node-$rank/.batchai"
""" + ("" if gpus_per_node else "# a CPU VM size: no GPU, whatever the node has\nexport CUDA_VISIBLE_DEVICES=\n")
        if not self.container_layout(image):
            return head + '. "$B/env.sh"\nexec /bin/sh "$B/launch.sh"\n'
        # a container per node through the node's own Docker engine (the nodes are other machines: the emulator's
        # docker SDK cannot reach their engines, so the node runs the docker CLI); host networking, so that MPI and
        # TensorFlow reach the other nodes by their Slurm names. The image is pulled by the node's engine with the
        # node's own registry logins (imageSourceRegistry credentials are not passed to the nodes).
        first = plan.nodes[0]
        temp = first.env["AZ_BATCHAI_JOB_TEMP"]
        # every node binds the same volumes; only its job temp dir (node-<rank>) differs
        mounts = " ".join(f"-v {q(h + ':' + n)}" for h, n in first.binds if n != temp)
        per_node = f'-v "$J/node-$rank":{q(temp)}'
        return head + f"""name="batchai-{jdir.name[:12]}-$rank"
trap 'docker kill "$name" >/dev/null 2>&1' TERM INT HUP
gpus=""
[ {gpus_per_node} -gt 0 ] && [ -n "$CUDA_VISIBLE_DEVICES" ] && gpus="--gpus \\"device=$CUDA_VISIBLE_DEVICES\\""
eval docker run --rm --name "$name" --label batchai.emulator.slurm={q(jdir.name)} --network host --env-file "$B/docker.env" {per_node} {mounts} \
  -w {q(temp)} $gpus {q(image)} /bin/sh {q(first.script_node_path)} &
pid=$!
wait $pid
rc=$?
[ -s "$B/exit_code" ] || echo $rc >"$B/exit_code"
exit $rc
"""

    def queue(self) -> dict[str, JobStatus]:
        """Every job squeue knows (pending, running, and ended ones younger than MinJobAge), by Slurm job id."""
        data = json.loads(self._cmd("squeue", "--json", timeout=30) or "{}")
        errors = data.get("errors") or []
        if errors:
            # 22.05 answers exit code 0 and no jobs when the controller does not answer, saying so only here:
            # taken as "no jobs", every job would look vanished
            first = errors[0] if isinstance(errors[0], dict) else {"description": str(errors[0])}
            raise SlurmUnavailable(f"squeue: {first.get('description') or first.get('error') or 'failed'}")
        out: dict[str, JobStatus] = {}
        for j in data.get("jobs", []):
            state = str(j.get("job_state", "")).upper()
            raw = j.get("exit_code")
            # a wait status: the exit code in the high byte, or the signal that ended the batch script (128 + N)
            code = None if raw in (None, "") else (int(raw) >> 8 if int(raw) & 0x7F == 0 else 128 + (int(raw) & 0x7F))
            reason, nodes = str(j.get("state_reason") or ""), str(j.get("nodes") or "")
            if state in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "RESV_DEL_HOLD"):
                st = JobStatus(PENDING, state, reason)
            elif state in ("RUNNING", "CONFIGURING", "COMPLETING", "RESIZING", "SIGNALING", "STAGE_OUT"):
                st = JobStatus(RUNNING, state, reason, nodes=nodes)
            else:
                st = JobStatus(ENDED, state, reason, nodes=nodes, exit_code=code, comment=str(j.get("comment") or ""))
            st.name = str(j.get("name") or "")
            out[str(j.get("job_id"))] = st
        return out

    def status(self, handles: list[str]) -> dict[str, JobStatus]:
        if not handles:
            return {}
        known = self.queue()
        return {h: known.get(h) or self.ended(h) for h in handles}

    def ended(self, handle: str) -> JobStatus:
        """A job squeue no longer lists (older than MinJobAge): accounting knows its end, when the cluster keeps
        accounting; else the caller decides from the master's exit code file."""
        if not shutil.which("sacct"):
            return JobStatus(ENDED, "UNKNOWN")
        try:
            data = json.loads(self._cmd("sacct", "--json", "-j", handle, timeout=30) or "{}")
        except (LaunchError, SlurmUnavailable, ValueError):
            return JobStatus(ENDED, "UNKNOWN")
        for j in data.get("jobs", []):
            if str(j.get("job_id")) == handle:
                state = str((j.get("state") or {}).get("current", "")).upper()
                rc = (j.get("exit_code") or {}).get("return_code")
                return JobStatus(ENDED, state, str((j.get("state") or {}).get("reason", "")),
                                 exit_code=None if rc is None else int(rc), comment=str(j.get("comment") or ""))
        return JobStatus(ENDED, "UNKNOWN")

    def poll(self, handles: list[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        for h, st in self.status(handles).items():
            out[h] = None if st.state != ENDED else (st.exit_code if st.exit_code is not None else VANISHED)
        return out

    def find(self, job_key: str, node_dirs) -> dict[int, tuple[str, str]]:
        """The Slurm job submitted for `job_key`, by its name (squeue keeps ended jobs for MinJobAge)."""
        out = self._cmd("squeue", "-h", "-t", "all", "-n", self.slurm_name(job_key), "-o", "%i %T", timeout=30)
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                state = "running" if parts[1] not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") else "exited"
                return {0: (parts[0], state)}
        try:
            recorded = safeio.read_text(self.data_dir, self.data_dir / "jobs" / job_key / "slurm" / "job_id", 64)
        except OSError:
            recorded = ""
        if recorded.strip():
            return {0: (recorded.strip(), "exited")}
        return {}

    def stop(self, handles: list[str]) -> None:
        for h in handles:
            if h:
                try:
                    self._cmd("scancel", h, timeout=30)
                except LaunchError:
                    pass    # already ended

