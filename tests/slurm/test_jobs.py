"""Jobs through azure-mgmt-batchai 2.0.0 against an emulator with `--executor slurm` on the 3-node test cluster."""
from __future__ import annotations

import pytest


def test_one_node_job_succeeds_with_outputs(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    cmd = 'echo "on $(hostname) slurm job $SLURM_JOB_ID"; echo result >$AZ_BATCHAI_OUTPUT_OUT/result.txt'
    assert sdk.job(name="j1", cluster="one", command=cmd) == {"state": "queued"}
    job = sdk.wait(name="j1")
    log = sdk.read(name="j1", filename="execution.log")["text"]
    assert job["state"] == "succeeded", (job, log)
    assert job["exit_code"] == 0
    out = sdk.read(name="j1", filename="stdout.txt")["text"]
    assert out.startswith("on node") and "slurm job" in out, out
    assert "Slurm job" in log and "submitted" in log
    assert sdk.read(name="j1", filename="result.txt", directory_id="OUT")["text"] == "result\n"


def test_non_zero_exit_code_fails_the_job(slurm_emulator):
    sdk = slurm_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    sdk.job(name="j3", cluster="one", command="echo nope >&2; exit 3")
    job = sdk.wait(name="j3")
    assert job["state"] == "failed" and job["exit_code"] == 3, job
    assert job["errors"][0]["code"] == "JobFailed"
    assert sdk.read(name="j3", filename="stderr.txt")["text"] == "nope\n"
