"""The cluster setup task (nodeSetup.setupTask): run on each node as it joins the cluster, before any job.

When allocation adds nodes to a cluster with a setup task (allocation.settle), they are `preparing`
(Cluster.preparing_nodes): jobs do not start on them. The scheduler hands each such node to run_node() on its
launch pool (Docker, local: setup_dispatch.py), or submits it as a Slurm job on the node (slurm_setup.py); when the task ends the node becomes idle (exit code 0) or `unusable`, with a `SetupTaskFailed` error on
the cluster naming the node and the exit code (the code's name is unverified; the service reported failed setup
tasks as unusable nodes with an error on the cluster).

Where it runs: with the Docker executor inside a container of SETUP_IMAGE (the emulator's CPU trainer image,
through --image-map like a job's image: the cluster has no image of its own, and that is the image its jobs use
by default), as root (2018-05-01 swagger: "in a bash subshell as a root"; runElevated=false, a sudoer on the
service, is root here too); with the local and Slurm executors as a process of the emulator's user on the node
(prepare_host; neither can elevate, so runElevated changes nothing there).
The cluster's mount volumes are in place ($AZ_BATCHAI_MOUNT_ROOT), as the swagger's NodeSetup says.

Output: the read-only stdOutErrPathSuffix is `{subscription}/{resourceGroup}/workspaces/{workspace}/clusters/
{cluster}/{uuid}` (reference §7, docs using-azure-cli-20.md; the 2018-03-01 recordings of azure-mgmt-batchai's tests
show `{subscription}/{resourceGroup}/clusters/{cluster}/{uuid}` for the old api-versions, which have no workspaces).
The node's files are `{stdOutErrPathPrefix}/{suffix}/stdout-{node id}.txt` and `stderr-{node id}.txt`: followed from
azure-mgmt-batchai's own test_setup_task_execution (1.0 and 2.0), which reads them from exactly there on the share,
rather than the `.../{uuid}/stdouterr/` level issue 18 guessed (no source shows that level for setup tasks).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import uuid
import zlib
from pathlib import Path

from .. import ids, mounts, safeio
from ..models import Cluster
from ..properties import SetupTask

log = logging.getLogger("batchai_emulator.setuptask")

SETUP_IMAGE = "batchai-emulator/trainer-cpu:latest"
STARTUP_DIR = "/mnt/batch/tasks/startup/wd"     # Azure Batch's start-task working directory on its nodes
TIMEOUT = 3600.0                                # a setup task still running after an hour fails its node
LABEL = "batchai-emulator.setup-task"


def task_of(cluster: Cluster) -> SetupTask | None:
    return cluster.props.node_setup.setup_task


def suffix(cluster: Cluster) -> str:
    """The read-only stdOutErrPathSuffix: stable for the cluster (derived from its id and creation time)."""
    rid = ids.cluster(cluster.subscription_id, cluster.resource_group, cluster.workspace, cluster.name)
    unique = uuid.uuid5(uuid.NAMESPACE_URL, rid.lower() + "|" + cluster.creation_time)
    ws = "" if cluster.legacy else f"workspaces/{cluster.workspace}/"
    return f"{cluster.subscription_id}/{cluster.resource_group}/{ws}clusters/{cluster.name}/{unique}"


def output_node_dir(cluster: Cluster) -> str:
    task = task_of(cluster) or SetupTask()
    prefix = mounts.expand(task.std_out_err_path_prefix, {"AZ_BATCHAI_MOUNT_ROOT": mounts.MOUNT_ROOT})
    return f"{prefix.rstrip('/')}/{suffix(cluster)}"


def node_dir(data_dir: Path, cluster: Cluster, index: int) -> Path:
    return Path(data_dir) / "nodes" / cluster.name / f"node-{index}"


def host_output_dir(data_dir: Path, cluster: Cluster, index: int) -> Path:
    """Where this node's stdout/stderr files are on this machine (a share, or the node's own directory)."""
    vols = cluster_volumes(data_dir, cluster)
    node_path = output_node_dir(cluster)
    return mounts.to_host(node_path, vols) or node_dir(data_dir, cluster, index) / "local" / node_path.lstrip("/")


def cluster_volumes(data_dir: Path, cluster: Cluster) -> list[mounts.Volume]:
    return mounts.volumes(data_dir, cluster.props.node_setup.mount_volumes, mounts.MOUNT_ROOT,
                          cluster.name)


def run_node(data_dir: Path, executor, cluster: Cluster, index: int, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Run the setup task on node `index`; returns (exit code, message). Blocks until it ends."""
    if executor.layout == "container":
        env, binds = prepare_container(Path(data_dir), cluster, index)
        return _run_container(executor, cluster, index, env, binds, timeout)
    wd, env = prepare_host(Path(data_dir), cluster, index)
    return _run_process(wd, {**env, **secrets(cluster)}, timeout)


def secrets(cluster: Cluster) -> dict[str, str]:
    """The task's secrets as environment variables: given to the process, never written to a file."""
    return {s.name: s.value for s in (task_of(cluster) or SetupTask()).secrets if s.value is not None}


def _environment(cluster: Cluster, mount_root: str, wd_node: str) -> dict[str, str]:
    env = {"AZ_BATCHAI_MOUNT_ROOT": mount_root, "AZ_BATCH_NODE_STARTUP_DIR": wd_node}
    for var in (task_of(cluster) or SetupTask()).environment_variables:
        env[var.name] = var.value or ""
    return env


def _write_scripts(data_dir: Path, cluster: Cluster, index: int, wd: Path, wd_node: str, out_node: str) -> None:
    node_id = cluster.node_ids[index] if index < len(cluster.node_ids) else f"node-{index}"
    safeio.write_text(data_dir, wd / "command.sh", (task_of(cluster) or SetupTask()).command_line + "\n")
    safeio.write_text(data_dir, wd / "setup.sh", "\n".join([
        "#!/bin/sh", "# written by the Batch AI emulator: the cluster's setup task on one node",
        "SH=/bin/sh; command -v bash >/dev/null 2>&1 && SH=bash",
        f'mkdir -p "{out_node}"', f'cd "{wd_node}"',
        f'$SH "{wd_node}/command.sh" >"{out_node}/stdout-{node_id}.txt" 2>"{out_node}/stderr-{node_id}.txt"',
        ""]))


def _node_dirs(data_dir: Path, cluster: Cluster, index: int) -> tuple[Path, Path, Path]:
    ndir = node_dir(data_dir, cluster, index)
    wd = ndir / "startup"
    safeio.makedirs(data_dir, wd)
    out_host = host_output_dir(data_dir, cluster, index)
    safeio.makedirs(data_dir, out_host)         # on a share jobs write: a link on the way is refused
    return ndir, wd, out_host


def prepare_host(data_dir: Path, cluster: Cluster, index: int) -> tuple[Path, dict[str, str]]:
    """Host layout (local and Slurm executors: a process on the node, the data dir at the same path): the
    mounts as symlinks under the node's directory, setup.sh in the node's startup directory (its working
    directory); answers that directory and the environment without the secrets."""
    ndir, wd, out_host = _node_dirs(data_dir, cluster, index)
    mount_root = str(ndir / "mounts")
    for v in cluster_volumes(data_dir, cluster):     # symlinks stand in for mounts, as for jobs (launch.py)
        link = Path(mount_root) / v.node_path[len(mounts.MOUNT_ROOT) + 1:]
        link.parent.mkdir(parents=True, exist_ok=True)
        safeio.makedirs(data_dir, v.host_path)
        if link.is_symlink() and os.readlink(link) != str(v.host_path):
            link.unlink()
        if not link.exists():
            link.symlink_to(v.host_path, target_is_directory=True)
    _write_scripts(data_dir, cluster, index, wd, str(wd), str(out_host))
    return wd, _environment(cluster, mount_root, str(wd))


def prepare_container(data_dir: Path, cluster: Cluster, index: int) -> tuple[dict[str, str], list]:
    """Container layout (Docker): the environment (with the secrets: they go to the container's config, never
    to a file) and the binds (host path, node path)."""
    _, wd, out_host = _node_dirs(data_dir, cluster, index)
    vols = cluster_volumes(data_dir, cluster)
    out_node = output_node_dir(cluster)
    _write_scripts(data_dir, cluster, index, wd, STARTUP_DIR, out_node)
    binds = [(str(v.host_path), v.node_path) for v in vols] + [(str(wd), STARTUP_DIR)]
    if mounts.to_host(out_node, vols) is None:
        binds.append((str(out_host), out_node))
    return {**_environment(cluster, mounts.MOUNT_ROOT, STARTUP_DIR), **secrets(cluster)}, binds


def _run_process(wd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AZ_BATCHAI_")}
    full.update(env)
    proc = subprocess.Popen(["/bin/sh", str(wd / "setup.sh")], env=full, cwd=str(wd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait(timeout=timeout), ""
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -1, f"The setup task did not end within {int(timeout)} seconds and was stopped."


def _run_container(executor, cluster: Cluster, index: int, env, binds, timeout: float) -> tuple[int, str]:
    from docker.types import Mount
    image = executor.resolve_image(SETUP_IMAGE)
    limits, _ = executor.node_resources(cluster.props.vm_size)
    name = f"batchai-setup-{zlib.crc32((cluster.name + cluster.creation_time).encode())}-{index}"
    kwargs = dict(image=image, command=["/bin/sh", f"{STARTUP_DIR}/setup.sh"], environment=env, name=name,
                  detach=True, labels={LABEL: cluster.name[:200], "batchai-emulator.setup-node": str(index)},
                  mounts=[Mount(target=t, source=s, type="bind") for s, t in binds], working_dir=STARTUP_DIR,
                  user="0", privileged=False)
    kwargs.update(limits)
    try:
        try:
            executor.client.containers.get(name).remove(force=True)   # left by an emulator that stopped
        except Exception:
            pass
        c = executor.client.containers.run(**kwargs)
    except Exception as exc:
        return -1, f"The setup task's container could not start: {exc}"
    try:
        result = c.wait(timeout=timeout)
        return int(result.get("StatusCode", -1)), ""
    except Exception:
        return -1, f"The setup task did not end within {int(timeout)} seconds and was stopped."
    finally:
        try:
            c.remove(force=True)
        except Exception:
            pass
