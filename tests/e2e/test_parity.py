"""The LocalExecutor keeps the DockerExecutor's contract: the same job gives the same files and states."""
from __future__ import annotations

import pytest
from azure.mgmt.batchai import models

from tests.conftest import start_live

from .jobenv import CNTK_IMAGE, MOUNT, JobEnv

COMMAND = (
    "cat $AZ_BATCHAI_INPUT_DATA/in.txt; env | grep -o '^AZ_BATCHAI_[A-Z_]*' | sort | tr '\\n' ' '; echo; "
    "test -d $AZ_BATCHAI_JOB_TEMP && test -d $AZ_BATCHAI_SHARED_JOB_TEMP && cat $AZ_BATCHAI_MPI_HOST_FILE | wc -l; "
    "echo out > $AZ_BATCHAI_OUTPUT_MODEL/model.txt; echo warn >&2; exit $CODE")


def _run(live, image, code):
    e = JobEnv(live)
    e.cluster("cl", nodes=1)
    (e.share_dir / "in").mkdir(exist_ok=True)
    (e.share_dir / "in" / "in.txt").write_text("input\n")
    e.custom("job", COMMAND, image,
             input_directories=[models.InputDirectory(id="DATA", path=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/in")],
             output_directories=[models.OutputDirectory(id="MODEL", path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}")],
             environment_variables=[models.EnvironmentVariable(name="CODE", value=str(code))],
             job_preparation=models.JobPreparation(command_line="echo prep"))
    job = e.wait("job")
    return {
        "state": job.execution_state, "exit": job.execution_info.exit_code,
        "errors": [x.code for x in job.execution_info.errors or []],
        "stdouterr": sorted(f.name for f in e.files("job")),
        "model": sorted(f.name for f in e.files("job", "MODEL")),
        "stdout": e.read("job", "stdout.txt"), "stderr": e.read("job", "stderr.txt"),
        "prep": e.read("job", "stdout-job_prep.txt"), "model_text": e.read("job", "model.txt", "MODEL"),
    }


@pytest.mark.parametrize("code", [0, 5])
def test_local_and_docker_executors_agree(tmp_path, cpu_image, code):
    results = {}
    for executor in ("docker", "local"):
        server = start_live(tmp_path / executor, executor=executor, gpus="none",
                            image_map=[f"{CNTK_IMAGE}={cpu_image}"], allocation_delay=0.05)
        try:
            results[executor] = _run(server, CNTK_IMAGE, code)
        finally:
            server.server.stop()
    assert results["docker"] == results["local"]
    r = results["local"]
    assert r["state"] == ("succeeded" if code == 0 else "failed") and r["exit"] == code
    assert r["stdouterr"] == ["execution.log", "stderr-job_prep.txt", "stderr.txt", "stdout-job_prep.txt",
                              "stdout.txt"]
    assert r["stdout"].startswith("input\nAZ_BATCHAI_INPUT_DATA AZ_BATCHAI_JOB_MOUNT_ROOT AZ_BATCHAI_JOB_TEMP ")
    assert r["model"] == ["model.txt"] and r["model_text"] == "out\n" and r["prep"] == "prep\n"
