"""Toolkit launch conventions: MPI process counts, TensorFlow task variables, CNTK BrainScript command line."""
from __future__ import annotations

import json

import pytest
from azure.mgmt.batchai import models

from .jobenv import JobEnv
from .test_jobs import dlive  # noqa: F401


@pytest.fixture()
def e(dlive):  # noqa: F811
    """A JobEnv on the Docker emulator with a one-node cluster cl."""
    env = JobEnv(dlive)
    env.cluster("cl", nodes=1)
    return env


def test_custom_mpi_runs_under_mpirun_when_the_image_has_it(e, mpi_image):
    e.submit("mpi", "cl", mpi_image, custom_mpi_settings=models.CustomMpiSettings(
        command_line="echo rank=$OMPI_COMM_WORLD_RANK", process_count=2))
    job = e.wait("mpi")
    out = e.read("mpi", "stdout.txt")
    assert job.execution_state == "succeeded", out + e.read("mpi", "stderr.txt")
    assert sorted(out.split()) == ["rank=0", "rank=1"]


def test_process_count_without_mpirun_fails_clearly(e, cpu_image):
    e.submit("nompi", "cl", cpu_image, chainer_settings=models.ChainerSettings(
        python_script_file_path="train.py", process_count=2))
    job = e.wait("nompi")
    assert job.execution_state == "failed"
    err = job.execution_info.errors[0]
    assert "mpirun" in err.message and job.execution_info.exit_code == 127


def test_tensorflow_tasks_get_their_variables(e, cpu_image):
    script = ("import json, os, sys; print(json.dumps({k: os.environ.get(k) for k in ('AZ_BATCHAI_TASK_INDEX', "
              "'AZ_BATCHAI_PS_HOSTS', 'AZ_BATCHAI_WORKER_HOSTS', 'TF_CONFIG')}), sys.argv[1:])")
    (e.share_dir / "tf.py").write_text(script)
    e.submit("tf", "cl", cpu_image, tensor_flow_settings=models.TensorFlowSettings(
        python_script_file_path="$AZ_BATCHAI_MOUNT_ROOT/afs/tf.py", master_command_line_args="--role master",
        worker_command_line_args="--role worker"))
    job = e.wait("tf")
    assert job.execution_state == "succeeded", e.read("tf", "stderr-wk-0.txt")
    assert job.tool_type == "tensorflow"
    assert "stdout-wk-0.txt" in [f.name for f in e.files("tf")]
    line = e.read("tf", "stdout-wk-0.txt").strip()
    env = json.loads(line[:line.rindex("}") + 1])
    assert env["AZ_BATCHAI_TASK_INDEX"] == "0" and env["AZ_BATCHAI_PS_HOSTS"] == ""
    assert json.loads(env["TF_CONFIG"])["task"] == {"type": "master", "index": 0}
    assert line.endswith("['--role', 'master']")


def test_shm_size_reaches_the_container(e, cpu_image):
    e.submit("shm", "cl", None, custom_toolkit_settings=models.CustomToolkitSettings(command_line="df -k /dev/shm"),
             container_settings=models.ContainerSettings(image_source_registry=models.ImageSourceRegistry(
                 image=cpu_image), shm_size="256m"))
    assert e.wait("shm").execution_state == "succeeded"
    assert "262144" in e.read("shm", "stdout.txt")
