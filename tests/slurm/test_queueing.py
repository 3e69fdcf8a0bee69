"""Slurm does the gang queueing and the priorities; the emulator shows them: queued with Slurm's reason in
execution.log, running when Slurm runs the job, in schedulingPriority order; terminate and cluster delete cancel
the Slurm job."""
from __future__ import annotations

import time

WAIT_FOR = "while [ ! -e $AZ_BATCHAI_MOUNT_ROOT/afs/{flag} ]; do sleep 0.2; done"


def _until(check, timeout=60, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_gang_queueing_and_priority(slurm_emulator):
    sdk, share = slurm_emulator.sdk, slurm_emulator.share
    sdk.cluster(name="three", nodes=3)
    sdk.job(name="busy", cluster="three", nodes=2, command=WAIT_FOR.format(flag="go-busy"))
    _until(lambda: sdk.job_get(name="busy")["state"] == "running", what="the blocker to run")
    _until(lambda: sdk.cluster_get(name="three")["running"] == 2, what="2 nodes running")
    order = "echo {name} >>$AZ_BATCHAI_MOUNT_ROOT/afs/order"
    sdk.job(name="normal2", cluster="three", nodes=2, command=order.format(name="normal2"))
    sdk.job(name="low2", cluster="three", nodes=2, command=order.format(name="low2"), priority="low")
    sdk.job(name="high2", cluster="three", nodes=2, command=order.format(name="high2"), priority="high")
    log = _until(lambda: "(Resources)" in (t := sdk.read(name="normal2", filename="execution.log")["text"] or "")
                 and t, what="Slurm's pending reason in execution.log")
    assert "queued: Slurm job" in log
    time.sleep(1)       # Slurm had every chance to start one (one idle node is not enough for a 2-node job)
    assert [sdk.job_get(name=n)["state"] for n in ("normal2", "low2", "high2")] == ["queued"] * 3
    cluster = sdk.cluster_get(name="three")
    assert (cluster["running"], cluster["idle"]) == (2, 1), cluster
    (share / "go-busy").touch()
    for name in ("busy", "normal2", "low2", "high2"):
        assert sdk.wait(name=name, timeout=120)["state"] == "succeeded", sdk.read(name=name,
                                                                                 filename="execution.log")
    assert (share / "order").read_text().split() == ["high2", "normal2", "low2"]
    assert "running: Slurm job" in sdk.read(name="normal2", filename="execution.log")["text"]


def _slurm_state(emulator, name_part: str) -> str:
    out = emulator.cluster.command("squeue", "-h", "-t", "all", "-o", "%j %T %k").stdout
    return " ".join(line for line in out.splitlines() if name_part in line)


def test_terminate_cancels_the_slurm_job(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    sdk.job(name="term", cluster="one", command="echo started; " + WAIT_FOR.format(flag="never"))
    _until(lambda: sdk.read(name="term", filename="stdout.txt")["text"] == "started\n", what="the job to start")
    sdk.terminate(name="term")
    job = sdk.wait(name="term")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "JobTerminated", job
    _until(lambda: "CANCELLED" in _slurm_state(slurm_emulator, "/term"), what="Slurm to cancel the job")


def test_terminate_a_queued_job_cancels_its_pending_slurm_job(slurm_emulator):
    sdk, share = slurm_emulator.sdk, slurm_emulator.share
    sdk.cluster(name="three", nodes=3)
    sdk.job(name="hold3", cluster="three", nodes=3, command=WAIT_FOR.format(flag="go-hold3"))
    _until(lambda: sdk.job_get(name="hold3")["state"] == "running", what="the blocker to run")
    sdk.job(name="waits", cluster="three", nodes=1, command="echo ran >$AZ_BATCHAI_MOUNT_ROOT/afs/waits-ran")
    _until(lambda: "PENDING" in _slurm_state(slurm_emulator, "/waits"), what="the job to pend in Slurm")
    sdk.terminate(name="waits")
    assert sdk.wait(name="waits")["state"] == "failed"
    _until(lambda: "CANCELLED" in _slurm_state(slurm_emulator, "/waits"), what="Slurm to cancel the pending job")
    (share / "go-hold3").touch()
    assert sdk.wait(name="hold3")["state"] == "succeeded"
    assert not (share / "waits-ran").exists()


def test_cluster_delete_under_a_running_job(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="doomed", nodes=1)
    sdk.job(name="orphan", cluster="doomed", command="echo started; " + WAIT_FOR.format(flag="never"))
    _until(lambda: sdk.job_get(name="orphan")["state"] == "running", what="the job to run")
    sdk.cluster_delete(name="doomed")
    job = sdk.wait(name="orphan")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "ClusterDeleted", job
    _until(lambda: "CANCELLED" in _slurm_state(slurm_emulator, "/orphan"), what="Slurm to cancel the job")


def test_a_slurm_job_cancelled_outside_fails_with_slurms_reason(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    sdk.job(name="outside", cluster="one", command="echo started; " + WAIT_FOR.format(flag="never"))
    _until(lambda: sdk.job_get(name="outside")["state"] == "running", what="the job to run")
    ids = slurm_emulator.cluster.command("squeue", "-h", "-t", "running", "-o", "%i %k").stdout
    slurm_id = next(line.split()[0] for line in ids.splitlines() if line.endswith("/outside"))
    slurm_emulator.cluster.command("scancel", slurm_id)
    job = sdk.wait(name="outside")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "SlurmJobCancelled", job
    assert f"Slurm job {slurm_id} was cancelled outside the emulator" in job["errors"][0]["message"]
