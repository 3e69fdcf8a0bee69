"""A real 3-node Slurm cluster on one machine, for the Slurm executor's tests and benchmark.

Each node is a network namespace with its own address, hostname (UTS namespace) and /etc/hosts (a private mount
namespace); the namespaces are joined by a bridge living in one more namespace, which is also the "login node" the
client commands (sbatch, squeue, ...) run in. The host's own network is never touched: every interface, address
and route lives in namespaces made here, and `down()` deletes them. munged runs with a root-owned copy of the
packaged key (munged as root refuses the munge-owned original); slurmctld runs on node1; one slurmd per node
offers 2 CPUs and 2 stand-in GPUs (character devices 195:N, as /dev/nvidiaN are) through gres.conf.

The client commands reach the cluster through wrapper scripts in `<base>/bin` (put it first on PATH) that enter
the login namespace and set SLURM_CONF: the emulator runs them as it would run a lab's Slurm commands.

    python -m tests.slurm.cluster up [BASE]     # prints the PATH and SLURM_CONF to export
    python -m tests.slurm.cluster down [BASE]

Needs root (namespaces) and slurm-wlm, munge and openmpi-bin (`.ci/slurm.sh`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

NODES = 3
SUBNET = "10.231.7"             # exists only inside the namespaces made here
LOGIN_ADDR = f"{SUBNET}.254"
PARTITION = "batchai"
GPUS_PER_NODE = 2
CLIENT_COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "sinfo", "scontrol", "srun", "salloc")


def _run(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60, **kw)


class SlurmTestCluster:
    def __init__(self, base: Path, tag: str | None = None):
        self.base = Path(base)
        # namespace names unique to this cluster: other sessions on the machine may make their own
        self.tag = tag or f"bsl{os.getpid() % 100000}"
        self.conf = self.base / "slurm.conf"
        self.bin = self.base / "bin"
        self.data = self.base / "state"
        self.procs: dict[str, subprocess.Popen] = {}
        self.nodes = [f"node{i}" for i in range(1, NODES + 1)]

    # -- names -----------------------------------------------------------------------------------------------
    def ns(self, which: str) -> str:
        return f"{self.tag}{which}"

    def env(self) -> dict[str, str]:
        """What a process needs to use this cluster's commands (the wrappers first on PATH, SLURM_CONF)."""
        return {"PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}", "SLURM_CONF": str(self.conf)}

    # -- bring up --------------------------------------------------------------------------------------------
    def up(self, timeout: float = 60) -> "SlurmTestCluster":
        if not shutil.which("slurmctld") or not shutil.which("munged"):
            raise RuntimeError("slurm-wlm and munge are not installed: run `sudo bash .ci/slurm.sh`")
        self.down(quiet=True)
        for d in (self.base, self.bin, self.data, self.base / "dev", self.base / "log"):
            d.mkdir(parents=True, exist_ok=True)
        self._network()
        self._files()
        self.start_daemons(timeout)
        return self

    def _network(self) -> None:
        br = self.ns("br")
        _run("ip", "netns", "add", br)
        _run("ip", "-n", br, "link", "set", "lo", "up")
        _run("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", br, "addr", "add", f"{LOGIN_ADDR}/24", "dev", "br0")
        _run("ip", "-n", br, "link", "set", "br0", "up")
        for i, _ in enumerate(self.nodes, start=1):
            ns = self.ns(f"n{i}")
            _run("ip", "netns", "add", ns)
            # the veth pair is made inside the bridge's namespace and one end moved to the node's: the host's
            # namespace never holds either end
            _run("ip", "-n", br, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _run("ip", "-n", br, "link", "set", f"v{i}", "master", "br0", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", f"{SUBNET}.{i}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")

    def _files(self) -> None:
        b = self.base
        hosts = ["127.0.0.1 localhost", f"{LOGIN_ADDR} login"] + [
            f"{SUBNET}.{i} {n}" for i, n in enumerate(self.nodes, start=1)]
        (b / "hosts").write_text("\n".join(hosts) + "\n")
        key = b / "munge.key"
        if Path("/etc/munge/munge.key").exists():
            shutil.copyfile("/etc/munge/munge.key", key)
        else:   # a munge package that made no key: any key shared by all of this cluster's daemons will do
            key.write_bytes(os.urandom(1024))
        os.chown(key, 0, 0)
        key.chmod(0o400)
        for n in range(GPUS_PER_NODE):
            dev = b / "dev" / f"nvidia{n}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(195, n))
        node_lines = "\n".join(
            f"NodeName={n} NodeAddr={SUBNET}.{i} CPUs=2 RealMemory=1000 Gres=gpu:{GPUS_PER_NODE} State=UNKNOWN"
            for i, n in enumerate(self.nodes, start=1))
        self.conf.write_text(f"""# the emulator's test cluster (tests/slurm/cluster.py)
ClusterName={self.tag}
SlurmctldHost=node1({SUBNET}.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={b}/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.data}
SlurmdSpoolDir={b}/spool/%n
SlurmctldPidFile={b}/slurmctld.pid
SlurmdPidFile={b}/slurmd-%n.pid
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
PriorityType=priority/basic
MinJobAge=600
SlurmctldTimeout=10
SlurmdTimeout=10
InactiveLimit=0
KillWait=2
JobAcctGatherType=jobacct_gather/none
{node_lines}
PartitionName={PARTITION} Nodes=node[1-{NODES}] Default=YES MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE
""")
        (b / "gres.conf").write_text(f"NodeName=node[1-{NODES}] Name=gpu File={b}/dev/nvidia[0-{GPUS_PER_NODE - 1}]\n")
        for n in self.nodes:
            (b / "spool" / n).mkdir(parents=True, exist_ok=True)
        for cmd in CLIENT_COMMANDS:
            wrapper = self.bin / cmd
            wrapper.write_text(f"#!/bin/sh\n# {cmd} on the test cluster's login namespace\n"
                               f"SLURM_CONF=\"${{SLURM_CONF:-{self.conf}}}\" exec nsenter --net=/run/netns/"
                               f"{self.ns('br')} -- {shutil.which(cmd) or '/usr/bin/' + cmd} \"$@\"\n")
            wrapper.chmod(0o755)

    def _spawn(self, name: str, netns: str | None, hostname: str | None, argv: list[str]) -> None:
        log = open(self.base / "log" / f"{name}.out", "ab")
        inner = f"mount --bind {self.base}/hosts /etc/hosts && "
        if hostname:
            inner += f"hostname {hostname} && "
        inner += "exec " + " ".join(argv)
        cmd = ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", inner]
        if netns:
            cmd = ["nsenter", f"--net=/run/netns/{netns}", "--", *cmd]
        env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, start_new_session=True)
        log.close()

    def start_daemons(self, timeout: float = 60) -> None:
        if "munged" not in self.procs or self.procs["munged"].poll() is not None:
            self._spawn("munged", None, None, [
                "munged", "-F", "--force", f"--key-file={self.base}/munge.key", f"--socket={self.base}/munge.sock",
                f"--pid-file={self.base}/munged.pid", f"--log-file={self.base}/log/munged.log",
                f"--seed-file={self.base}/munge.seed"])
        self._spawn("slurmctld", self.ns("n1"), "node1", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        # the slurmds register at once when the controller already answers (else they retry some seconds later)
        deadline = time.monotonic() + timeout
        while self.command("scontrol", "ping", check=False).stdout.count("UP") < 1 and time.monotonic() < deadline:
            if self.procs["slurmctld"].poll() is not None:
                raise RuntimeError(f"slurmctld exited: {self.log_tail('slurmctld')}")
            time.sleep(0.1)
        for i, n in enumerate(self.nodes, start=1):
            self._spawn(f"slurmd-{n}", self.ns(f"n{i}"), n, ["slurmd", "-D", "-N", n, "-f", str(self.conf)])
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}): {self.log_tail(name)}")
            states = self.node_states()
            last = str(states)
            # idle, or still completing a job that ended while the daemons were away
            if len(states) == NODES and all(s in ("idle", "comp") for s in states.values()):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the test cluster did not become idle in {timeout:.0f} s: {last}\n"
                           f"{self.log_tail('slurmctld')}")

    def node_states(self) -> dict[str, str]:
        r = self.command("sinfo", "-N", "-h", "-o", "%N %t", check=False)
        out = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = parts[1].rstrip("*~#!%$@^-")
        return out

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(str(self.bin / args[0]), *args[1:], check=check, env={**os.environ, **self.env()})

    def log_tail(self, name: str, lines: int = 30) -> str:
        texts = []
        for path in (self.base / "log" / f"{name}.out", self.base / "log" / f"{name}.log"):
            if path.exists():
                texts.append("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts)

    @contextlib.contextmanager
    def hidden_on(self, node: str, path: Path):
        """An empty read-only tmpfs over `path` in `node`'s mount namespace only: that node cannot see what the
        others see there (a node that does not mount the shared file system)."""
        target = ["nsenter", f"--mount=/proc/{self.procs['slurmd-' + node].pid}/ns/mnt", "--"]
        _run(*target, "mount", "-t", "tmpfs", "-o", "ro,size=1m", "batchai-hidden", str(path))
        try:
            yield
        finally:
            _run(*target, "umount", str(path), check=False)

    # -- stop ------------------------------------------------------------------------------------------------
    def stop_daemons(self, munge: bool = False) -> None:
        """Stop slurmctld and the slurmds (what a lab's outage looks like to the emulator)."""
        for name in [n for n in self.procs if n != "munged" or munge]:
            p = self.procs.pop(name)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)

    def down(self, quiet: bool = False) -> None:
        if self.procs:
            self.command("scancel", "--full", "--partition", PARTITION, check=False) if "slurmctld" in self.procs \
                else None
        self.stop_daemons(munge=True)
        # whatever still runs inside our namespaces (job steps slurmd left) is ours: kill it by pid
        for ns in [self.ns("br")] + [self.ns(f"n{i}") for i in range(1, NODES + 1)]:
            if not Path(f"/run/netns/{ns}").exists():
                continue
            pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _run("ip", "netns", "del", ns, check=not quiet)
        pidfile = self.base / "munged.pid"
        if pidfile.exists():     # a munged of an earlier run of this base (killed test session)
            try:
                pid = int(pidfile.read_text().strip())
                if f"{self.base}/munge.sock" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else "up"
    base = Path(argv[1] if len(argv) > 1 else "/tmp/batchai-slurm").resolve()
    state = base.with_suffix(".json")
    if verb == "up":
        cluster = SlurmTestCluster(base, tag="bslcli").up()
        state.write_text(json.dumps({p: c.pid for p, c in cluster.procs.items()}))
        print(f"export PATH={cluster.bin}:$PATH SLURM_CONF={cluster.conf}")
        print(cluster.command("sinfo").stdout, end="")
        return 0
    cluster = SlurmTestCluster(base, tag="bslcli")
    if state.exists():
        for pid in json.loads(state.read_text()).values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(1)
        state.unlink()
    cluster.down(quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
