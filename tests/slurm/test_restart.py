"""The emulator killed with -9 while Slurm runs (and queues) its jobs: the restarted emulator finds them by name,
never submits one twice, and reports how they ended. Slurm's daemons stopped: jobs fail SlurmUnavailable and the
API keeps serving."""
from __future__ import annotations

from .conftest import SlurmEmulator
from .test_queueing import WAIT_FOR, _until


def test_kill9_mid_job_completes_once(slurm_cluster, tmp_path):
    emu = SlurmEmulator(slurm_cluster, tmp_path / "data")
    try:
        sdk, share = emu.sdk, emu.share
        sdk.cluster(name="three", nodes=3)
        count = "echo ran >>$AZ_BATCHAI_MOUNT_ROOT/afs/{name}-runs; " + WAIT_FOR
        sdk.job(name="long", cluster="three", nodes=3, command=count.format(name="long", flag="go"))
        _until(lambda: sdk.job_get(name="long")["state"] == "running", what="the job to run")
        sdk.job(name="after", cluster="three", nodes=2, command=count.format(name="after", flag="go"))
        _until(lambda: "(Resources)" in (sdk.read(name="after", filename="execution.log")["text"] or ""),
               what="the second job to pend in Slurm")
        emu.restart_after_kill9()
        sdk = emu.sdk
        (share / "go").touch()
        assert sdk.wait(name="long", timeout=120)["state"] == "succeeded"
        assert sdk.wait(name="after", timeout=120)["state"] == "succeeded"
        assert (share / "long-runs").read_text() == "ran\n"
        assert (share / "after-runs").read_text() == "ran\n"
        names = slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%k").stdout.split()
        assert sum(n.endswith("/long") for n in names) == 1 and sum(n.endswith("/after") for n in names) == 1
    finally:
        emu.close()


def test_slurm_daemons_stopped_jobs_fail_slurm_unavailable_api_serves(slurm_cluster, tmp_path):
    emu = SlurmEmulator(slurm_cluster, tmp_path / "data")
    try:
        sdk = emu.sdk
        sdk.cluster(name="one", nodes=1)
        sdk.job(name="survivor", cluster="one", command="echo started; " + WAIT_FOR.format(flag="go"))
        _until(lambda: sdk.read(name="survivor", filename="stdout.txt")["text"] == "started\n", what="a start")
        slurm_cluster.stop_daemons()
        try:
            # the node finishes the job while the controller is away: its exit code file tells how it ended
            (emu.share / "go").touch()
            assert sdk.wait(name="survivor", timeout=60)["state"] == "succeeded"
            sdk.job(name="orphan", cluster="one", command="true")
            job = sdk.wait(name="orphan", timeout=120)
            assert job["state"] == "failed" and job["errors"][0]["code"] == "SlurmUnavailable", job
            assert "sinfo" in job["errors"][0]["message"]
            # the API keeps serving: reads, a new cluster, the job's log
            cluster = sdk.cluster_get(name="one")
            assert cluster["unusable"] == 1 and cluster["idle"] == 0, cluster
            # a new cluster stays resizing: the partition's nodes are unknown while Slurm does not answer
            assert sdk.cluster(name="two", nodes=2, wait=2)["allocation_state"] == "resizing"
            assert "Slurm does not answer" in sdk.read(name="orphan", filename="execution.log")["text"]
        finally:
            slurm_cluster.start_daemons()
        assert _until(lambda: sdk.cluster_get(name="two")["allocation_state"] == "steady", what="the resize")
        sdk.job(name="back", cluster="one", command="true")
        assert sdk.wait(name="back", timeout=120)["state"] == "succeeded"
    finally:
        emu.close()


def test_killed_between_sbatch_and_recording_the_job_is_not_submitted_again(slurm_cluster, tmp_path):
    """The crash window of a submission: Slurm has the job but the emulator's record has no handle yet (simulated
    by clearing it while the emulator is down). The restarted emulator finds the Slurm job by its name."""
    import json
    import sqlite3

    emu = SlurmEmulator(slurm_cluster, tmp_path / "data")
    try:
        sdk, share = emu.sdk, emu.share
        sdk.cluster(name="three", nodes=3)
        sdk.job(name="hold", cluster="three", nodes=3, command=WAIT_FOR.format(flag="go"))
        _until(lambda: sdk.job_get(name="hold")["state"] == "running", what="the blocker to run")
        sdk.job(name="once", cluster="three", nodes=1, command="echo ran >>$AZ_BATCHAI_MOUNT_ROOT/afs/once-runs")
        _until(lambda: "(Resources)" in (sdk.read(name="once", filename="execution.log")["text"] or ""),
               what="the job to pend in Slurm")
        emu.served.kill9()
        db = sqlite3.connect(emu.served.data_dir / "emulator.db")
        with db:
            (key, body), = db.execute("SELECT key, body FROM resources WHERE kind = 'job' AND name = 'once'")
            body = json.loads(body)
            assert body["handles"], body
            body["handles"] = []
            db.execute("UPDATE resources SET body = ? WHERE key = ?", (json.dumps(body), key))
        db.close()
        emu.restart_after_kill9()
        (share / "go").touch()
        assert emu.sdk.wait(name="once", timeout=120)["state"] == "succeeded"
        assert (share / "once-runs").read_text() == "ran\n"
        comments = slurm_cluster.command("squeue", "-h", "-t", "all", "-o", "%k").stdout.split()
        assert sum(c.endswith("/once") for c in comments) == 1, comments
    finally:
        emu.close()
