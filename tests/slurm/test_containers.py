"""Jobs with containerSettings on Slurm nodes that have Docker (--slurm-containers docker): each node runs the
image through the node's Docker engine (here the machine's, reached from the node namespaces through its socket),
with the job's mounts and $AZ_BATCHAI_* variables; and a node that cannot see the data dir fails the job naming it."""
from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import CPU_IMAGE

from .conftest import SlurmEmulator
from .test_queueing import _until


def _containers(emu) -> list[str]:
    """The containers of this emulator's jobs (labelled with the job key, a directory of its data dir)."""
    keys = [p.name for p in (emu.served.data_dir / "jobs").iterdir() if p.is_dir()]
    return [c for key in keys for c in subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=batchai.emulator.slurm={key}"], capture_output=True, text=True,
        check=True).stdout.split()]


@pytest.fixture(scope="module")
def docker_emulator(slurm_cluster, tmp_path_factory):
    try:
        import docker
        docker.from_env().images.get(CPU_IMAGE)
    except Exception as exc:  # no engine, or the image is not built
        from .conftest import _unavailable
        _unavailable(f"Docker or {CPU_IMAGE} is missing ({exc}): run `sudo bash .ci/docker.sh`")
    emu = SlurmEmulator(slurm_cluster, tmp_path_factory.mktemp("slurm-docker"), "--slurm-containers", "docker")
    yield emu
    emu.close()


def test_container_job_runs_the_image_on_a_slurm_node(docker_emulator):
    sdk = docker_emulator.sdk
    sdk.cluster(name="one", nodes=1)
    sdk.job(name="img", cluster="one", image=CPU_IMAGE, command=(
        "test -f /.dockerenv && echo in-a-container; echo $AZ_BATCHAI_OUTPUT_OUT; "
        "python3 -c 'print(6 * 7)' >$AZ_BATCHAI_OUTPUT_OUT/answer.txt"))
    job = sdk.wait(name="img")
    log = sdk.read(name="img", filename="execution.log")["text"]
    assert job["state"] == "succeeded", (job, log, sdk.read(name="img", filename="stderr.txt")["text"])
    out = sdk.read(name="img", filename="stdout.txt")["text"].split("\n")
    assert out[0] == "in-a-container" and out[1].startswith("/mnt/batch/tasks/shared/LS_root/mounts/afs/"), out
    assert sdk.read(name="img", filename="answer.txt", directory_id="OUT")["text"] == "42\n"
    # the master's exit code is written inside the container, a moment before docker run --rm removes it
    _until(lambda: not _containers(docker_emulator), timeout=30, what="the node's container to be removed")


def test_a_node_that_cannot_see_the_data_dir_fails_the_job_naming_it(docker_emulator, slurm_cluster):
    sdk = docker_emulator.sdk
    data = docker_emulator.served.data_dir
    sdk.cluster(name="three", nodes=3)
    with slurm_cluster.hidden_on("node3", data):
        sdk.job(name="blind", cluster="three", nodes=3, command="true")
        job = sdk.wait(name="blind")
    assert job["state"] == "failed" and job["errors"][0]["code"] == "DataDirNotShared", job
    assert "node3" in job["errors"][0]["message"] and str(data) in job["errors"][0]["message"], job
