"""The cluster setup task (nodeSetup.setupTask) on the Slurm executor, through azure-mgmt-batchai 2.0.0: it runs on
each node's Slurm node as the node joins (allocation and scale-up) before any job, with the cluster's mounts and the
node's variables; its output lands under {prefix}/{stdOutErrPathSuffix} as on the other executors; a failing one
makes its node unusable and no job runs there; secrets are never echoed nor written under the data dir; the task
survives the emulator's kill -9 and Slurm's controller going away."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from .conftest import SlurmEmulator
from .test_queueing import WAIT_FOR, _until

SECRET = "s3cret-slurm-value"
SECRET_MD5 = hashlib.md5(SECRET.encode()).hexdigest()   # the task proves it got the secret without echoing it
SETUP = {"command": 'echo "setup on $(hostname) $GREETING"; printf %s "$SECRET" | md5sum | cut -d" " -f1; '
                    'test -d $AZ_BATCHAI_MOUNT_ROOT/afs && hostname >>$AZ_BATCHAI_MOUNT_ROOT/afs/{runs}; '
                    'echo "startup $AZ_BATCH_NODE_STARTUP_DIR" >&2',
         "env": {"GREETING": "hi"}, "secrets": {"SECRET": SECRET}}


def _setup(runs: str, command: str | None = None) -> dict:
    return {**SETUP, "command": command or SETUP["command"].format(runs=runs)}


def _counts(sdk, name):
    c = sdk.cluster_get(name=name)
    return c, (c["current_node_count"], c["idle"], c["preparing"], c["unusable"])


def _outputs(emu: SlurmEmulator, cluster: dict) -> Path:
    return emu.share / "setup" / cluster["setup_suffix"]


def _store_files(data_dir: Path) -> set[Path]:
    return {p for p in data_dir.iterdir() if p.name.startswith("emulator.db")}


def test_setup_task_runs_before_jobs_and_keeps_its_secret(slurm_emulator, slurm_cluster):
    emu, sdk = slurm_emulator, slurm_emulator.sdk
    sdk.cluster(name="set", nodes=1, setup=_setup("set-runs"))
    # submitted at once: it waits for the node's setup task and sees what it left on the share
    sdk.job(name="after", cluster="set", command="cat $AZ_BATCHAI_MOUNT_ROOT/afs/set-runs; hostname")
    job = sdk.wait(name="after")
    assert job["state"] == "succeeded", (job, sdk.read(name="after", filename="execution.log")["text"])
    ran = sdk.read(name="after", filename="stdout.txt")["text"].split()
    assert len(ran) == 2 and ran[0] == ran[1] and ran[0].startswith("node"), ran  # ran where it was set up
    cluster, counts = _until(lambda: (v := _counts(sdk, "set"))[1] == (1, 1, 0, 0) and v, what="an idle node")
    assert cluster["errors"] == []
    out = _outputs(emu, cluster)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 and names[0].startswith("stderr-tvm-") and names[1].startswith("stdout-tvm-"), names
    assert (out / names[1]).read_text() == f"setup on {ran[0]} hi\n{SECRET_MD5}\n"
    startup = (out / names[0]).read_text().split()
    assert startup[0] == "startup" and Path(startup[1]).is_dir(), startup
    # never echoed: not in the GET, not in any file of the data dir (only the store, which nothing serves, has it)
    assert cluster["setup_secrets"] == [["SECRET", None]]
    assert SECRET not in cluster["raw"] and '"SECRET"' in cluster["raw"]
    data_dir = emu.served.data_dir
    store = _store_files(data_dir)
    leaked = [p for p in data_dir.rglob("*") if p.is_file() and p not in store and SECRET.encode() in p.read_bytes()]
    assert leaked == []
    scripts = [p for p in data_dir.rglob("run.sh") if "slurm-setup" in p.parts]
    assert scripts and all(SECRET not in p.read_text() for p in scripts)
    # the Slurm job ran on the node the job then used, under the setup task's name
    jobs = slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%j %N %k").stdout.splitlines()
    setup_jobs = [j.split() for j in jobs if j.endswith("/setup/" + names[1][len("stdout-"):-len(".txt")])]
    assert len(setup_jobs) == 1 and setup_jobs[0][0].startswith("batchai-setup-") and setup_jobs[0][1] == ran[0]


def test_failing_setup_task_makes_the_node_unusable(slurm_emulator, slurm_cluster):
    emu, sdk = slurm_emulator, slurm_emulator.sdk
    sdk.cluster(name="bad", nodes=1, setup=_setup("", command="echo broken >&2; exit 3"))
    cluster, _ = _until(lambda: (v := _counts(sdk, "bad"))[1] == (1, 0, 0, 1) and v, what="an unusable node")
    assert cluster["errors"] == ["SetupTaskFailed"], cluster
    error = cluster["error_details"][0]
    assert error["details"]["exitCode"] == "3" and error["details"]["nodeId"].startswith("tvm-"), error
    node = error["details"]["nodeId"]
    assert error["message"].startswith(f"The setup task failed on node {node} with exit code 3"), error
    assert (_outputs(emu, cluster) / f"stderr-{node}.txt").read_text() == "broken\n"
    sdk.job(name="never", cluster="bad", command="echo ran")
    time.sleep(2)       # ticks enough to have submitted it, were the node usable
    assert sdk.job_get(name="never")["state"] == "queued"
    comments = slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%k").stdout.split()
    assert not any(c.endswith("/never") for c in comments), comments
    log = sdk.read(name="never", filename="execution.log")["text"]
    assert "0 of cluster bad's 1 have run its setup task (0 running it, 1 unusable)" in log, log
    assert log.count("waiting:") == 1, log      # said once, not every tick


def test_scale_up_runs_the_setup_task_on_the_new_node_only(slurm_emulator):
    emu, sdk = slurm_emulator, slurm_emulator.sdk
    sdk.cluster(name="grow", nodes=1, setup=_setup("grow-runs"))
    cluster, _ = _until(lambda: (v := _counts(sdk, "grow"))[1] == (1, 1, 0, 0) and v, what="the first node")
    out = _outputs(emu, cluster)
    assert len(list(out.iterdir())) == 2
    sdk.cluster_resize(name="grow", nodes=2)
    _until(lambda: _counts(sdk, "grow")[1] == (2, 2, 0, 0), what="the second node set up")
    assert len(list(out.iterdir())) == 4
    hosts = (emu.share / "grow-runs").read_text().split()
    assert len(hosts) == 2 and hosts[0] != hosts[1], hosts      # once on each of two Slurm nodes
    sdk.job(name="both", cluster="grow", nodes=2, command="cat $AZ_BATCHAI_MPI_HOST_FILE")
    job = sdk.wait(name="both")
    assert job["state"] == "succeeded", (job, sdk.read(name="both", filename="execution.log")["text"])
    used = {line.split()[0] for line in sdk.read(name="both", filename="stdout.txt")["text"].splitlines()}
    assert used == set(hosts)


def test_setup_task_survives_kill9_and_the_controller_going_away(slurm_cluster, tmp_path):
    emu = SlurmEmulator(slurm_cluster, tmp_path / "data")
    try:
        sdk, share = emu.sdk, emu.share
        command = "echo x >>$AZ_BATCHAI_MOUNT_ROOT/afs/slow-runs; " + WAIT_FOR.format(flag="go") + "; echo done"
        sdk.cluster(name="slow", nodes=1, setup=_setup("", command=command))
        _until(lambda: (share / "slow-runs").exists(), what="the setup task to start")
        assert _counts(sdk, "slow")[1] == (1, 0, 1, 0)
        emu.restart_after_kill9()
        sdk = emu.sdk
        sdk.cluster(name="plain", nodes=1)
        time.sleep(1)       # the restarted emulator's ticks find the running setup job, never submit it again
        assert _counts(sdk, "slow")[1] == (1, 0, 1, 0)
        slurm_cluster.stop_daemons()
        try:
            # once the emulator sees Slurm gone (a cluster without a setup task counts its node unusable), the
            # node running its setup task still counts preparing, not unusable as well
            _until(lambda: _counts(sdk, "plain")[1] == (1, 0, 0, 1), what="the emulator to see Slurm gone")
            assert _counts(sdk, "slow")[1] == (1, 0, 1, 0)
            # the node finishes the task while the controller is away: its exit code file tells the emulator
            (share / "go").touch()
            cluster, _ = _until(lambda: (v := _counts(sdk, "slow"))[1][2] == 0 and v, what="the setup to end")
            assert cluster["errors"] == [], cluster
        finally:
            slurm_cluster.start_daemons()
        _until(lambda: _counts(sdk, "slow")[1] == (1, 1, 0, 0), what="an idle node")
        assert (share / "slow-runs").read_text() == "x\n"
        jobs = [j.split() for j in slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%j %k").stdout
                .splitlines() if f"/{emu.rg}/" in j]
        assert sum(j[0].startswith("batchai-setup-") for j in jobs) == 1, jobs     # submitted once
        sdk.job(name="then", cluster="slow", command="echo ok")
        assert sdk.wait(name="then", timeout=120)["state"] == "succeeded"
    finally:
        emu.close()
        slurm_cluster.command("scancel", "--partition", "batchai", check=False)


def test_deleting_the_cluster_cancels_its_running_setup_task(slurm_emulator, slurm_cluster):
    emu, sdk = slurm_emulator, slurm_emulator.sdk
    command = "echo x >>$AZ_BATCHAI_MOUNT_ROOT/afs/gone-runs; " + WAIT_FOR.format(flag="never-gone")
    sdk.cluster(name="gone", nodes=1, setup=_setup("", command=command))
    _until(lambda: (emu.share / "gone-runs").exists(), what="the setup task to start")

    def state():
        lines = slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%T %k").stdout.splitlines()
        return [line.split()[0] for line in lines if f"/{emu.rg}/" in line and "/clusters/gone/setup/" in line]
    assert state() == ["RUNNING"]
    sdk.cluster_delete(name="gone")
    _until(lambda: state() == ["CANCELLED"], what="Slurm to cancel the setup job")


def test_nodes_beyond_the_partition_cannot_run_the_setup_task(slurm_emulator):
    """Node i of a cluster with a setup task is the partition's i-th node: a 5-node cluster on the 3-node partition
    sets up 3 and says why the other 2 are unusable."""
    sdk = slurm_emulator.sdk
    sdk.cluster(name="five", nodes=5, setup=_setup("", command="true"))
    cluster, _ = _until(lambda: (v := _counts(sdk, "five"))[1] == (5, 3, 0, 2) and v, what="3 idle nodes")
    assert cluster["errors"] == ["SetupTaskFailed"] * 2, cluster
    assert all("has no Slurm node" in e["message"] and "has 3 node(s)" in e["message"]
               for e in cluster["error_details"]), cluster
