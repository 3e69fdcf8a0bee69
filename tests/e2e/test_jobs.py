"""Jobs really run: containers started through the docker SDK, with the service's variables, mounts, files,
states and exit codes."""
from __future__ import annotations

import json
import time

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.batchai import models

from .conftest import docker_emulator
from .jobenv import MOUNT, JobEnv


@pytest.fixture(scope="module")
def dlive(tmp_path_factory, cpu_image):
    with docker_emulator(tmp_path_factory.mktemp("docker-emulator"), cpu_image) as server:
        yield server


@pytest.fixture(scope="module")
def env(dlive):
    e = JobEnv(dlive)
    e.cluster("cl", nodes=1)
    return e


PRINT_ENV = ("python -c 'import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
             "if k.startswith(\"AZ_BATCHAI\") or k in (\"MY_VAR\", \"MY_SECRET\")}))'")


def test_environment_mounts_outputs_and_exit_code(env, cpu_image):
    (env.share_dir / "input").mkdir(exist_ok=True)
    (env.share_dir / "input" / "data.txt").write_text("input-bytes")
    command = (f"{PRINT_ENV} && cat $AZ_BATCHAI_INPUT_DATA/data.txt > $AZ_BATCHAI_OUTPUT_OUT/copy.txt && "
               "mkdir -p $AZ_BATCHAI_OUTPUT_OUT/sub && echo deep > $AZ_BATCHAI_OUTPUT_OUT/sub/x.txt && "
               "ls -d $AZ_BATCHAI_JOB_TEMP $AZ_BATCHAI_SHARED_JOB_TEMP && echo to-stderr >&2")
    env.custom("envjob", command, cpu_image,
               input_directories=[models.InputDirectory(id="DATA", path=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/input")],
               output_directories=[models.OutputDirectory(id="OUT", path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}",
                                                          path_suffix="results")],
               environment_variables=[models.EnvironmentVariable(name="MY_VAR", value="plain")],
               secrets=[models.EnvironmentVariableWithSecretValue(name="MY_SECRET", value="hidden")])
    job = env.wait("envjob")
    assert job.execution_state == "succeeded", env.read("envjob", "stderr.txt")
    assert job.execution_info.exit_code == 0 and job.execution_info.start_time and job.execution_info.end_time
    names = sorted(f.name for f in env.files("envjob"))
    assert names == ["execution.log", "stderr.txt", "stdout.txt"]
    seen = json.loads(env.read("envjob", "stdout.txt").splitlines()[0])
    seg = job.job_output_directory_path_segment
    root = "/mnt/batch/tasks/shared/LS_root"
    assert seen["AZ_BATCHAI_MOUNT_ROOT"] == f"{root}/mounts"
    assert seen["AZ_BATCHAI_INPUT_DATA"] == f"{root}/mounts/{MOUNT}/input"
    assert seen["AZ_BATCHAI_OUTPUT_OUT"] == f"{root}/mounts/{MOUNT}/{seg}/outputs/results"
    assert seen["AZ_BATCHAI_STDOUTERR_DIR"] == f"{root}/mounts/{MOUNT}/{seg}/stdouterr"
    assert seen["AZ_BATCHAI_JOB_TEMP"] == f"{root}/jobs/envjob"
    assert seen["AZ_BATCHAI_SHARED_JOB_TEMP"] == f"{root}/jobs/envjob/shared"
    assert seen["AZ_BATCHAI_JOB_MOUNT_ROOT"] == f"{root}/jobs/envjob/mounts"
    assert seen["AZ_BATCHAI_MPI_HOST_FILE"] == f"{root}/jobs/envjob/hostfile"
    assert seen["AZ_BATCHAI_NUM_GPUS"] == "0" and seen["AZ_BATCHAI_TASK_INDEX"] == "0"
    assert seen["MY_VAR"] == "plain" and seen["MY_SECRET"] == "hidden"
    assert env.read("envjob", "stderr.txt") == "to-stderr\n"
    assert env.read("envjob", "copy.txt", "OUT") == "input-bytes"
    assert [(f.name, f.file_type) for f in env.files("envjob", "OUT")] == [("copy.txt", "file"),
                                                                          ("sub", "directory")]
    assert [f.name for f in env.files("envjob", "OUT", "sub")] == ["x.txt"]
    copy = next(f for f in env.files("envjob", "OUT") if f.name == "copy.txt")
    ranged = requests.get(copy.download_url, headers={"Range": "bytes=6-"}, verify=env.live.ca_bundle)
    assert ranged.status_code == 206 and ranged.text == "bytes" and ranged.headers["Content-Range"] == "bytes 6-10/11"
    log = env.read("envjob", "execution.log")
    assert "no GPU: running on CPU" in log and "succeeded" in log
    # the share holds the real bytes at the service's layout
    assert (env.share_dir / seg / "outputs" / "results" / "copy.txt").read_text() == "input-bytes"
    assert "hidden" not in json.dumps(env.client.jobs.get(env.rg, env.ws, env.exp, "envjob").as_dict())


def test_nonzero_exit_fails_the_job(env, cpu_image):
    env.custom("fails", "echo about to fail; exit 3", cpu_image)
    job = env.wait("fails")
    assert job.execution_state == "failed" and job.execution_info.exit_code == 3
    assert job.execution_info.errors[0].code == "JobFailed"
    assert env.read("fails", "stdout.txt") == "about to fail\n"


def test_job_without_container_settings_runs_on_the_node_in_its_image(env, cpu_image):
    """The service ran such a job on the node's host VM: here the node is a container of the node image (the CPU
    image, as for the setup task), with the cluster's share mounted; azure-mgmt-batchai's own tests submit these."""
    env.custom("onhost", "test -f /.dockerenv && echo in-node | tee $AZ_BATCHAI_MOUNT_ROOT/afs/onhost.txt", None)
    job = env.wait("onhost")
    assert job.execution_state == "succeeded", env.read("onhost", "stderr.txt")
    assert env.read("onhost", "stdout.txt") == "in-node\n"
    assert (env.share_dir / "onhost.txt").read_text() == "in-node\n"
    assert f"the job runs on the node itself, image {cpu_image}" in env.read("onhost", "execution.log")


def test_stdout_is_visible_while_the_job_runs(env, cpu_image):
    env.custom("live", "echo first line; sleep 4; echo second line", cpu_image)
    deadline = time.time() + 30
    text = ""
    while time.time() < deadline:
        if any(f.name == "stdout.txt" for f in env.files("live")):
            text = env.read("live", "stdout.txt")
            if text:
                break
        time.sleep(0.1)
    assert text == "first line\n"
    assert env.job("live").execution_state == "running"
    assert env.wait("live").execution_state == "succeeded"
    assert env.read("live", "stdout.txt") == "first line\nsecond line\n"


def test_job_preparation_runs_first_and_its_failure_fails_the_job(env, cpu_image):
    env.custom("prep_ok", "cat $AZ_BATCHAI_JOB_TEMP/prepared", cpu_image,
               job_preparation=models.JobPreparation(command_line="echo ready > $AZ_BATCHAI_JOB_TEMP/prepared; "
                                                                  "echo prep-out"))
    job = env.wait("prep_ok")
    assert job.execution_state == "succeeded"
    assert env.read("prep_ok", "stdout.txt") == "ready\n"
    assert env.read("prep_ok", "stdout-job_prep.txt") == "prep-out\n"
    env.custom("prep_bad", "echo never", cpu_image,
               job_preparation=models.JobPreparation(command_line="echo broken >&2; exit 7"))
    job = env.wait("prep_bad")
    assert job.execution_state == "failed"
    assert job.execution_info.errors[0].code == "JobPreparationFailed"
    assert env.read("prep_bad", "stderr-job_prep.txt") == "broken\n"
    assert "stdout.txt" not in [f.name for f in env.files("prep_bad")]


def test_terminate_running_job(env, cpu_image, docker_client):
    env.custom("long", "echo started; sleep 300", cpu_image)
    env.wait("long", states=("running",))
    env.client.jobs.begin_terminate(env.rg, env.ws, env.exp, "long").result()
    job = env.wait("long", timeout=30)
    assert job.execution_state == "failed"
    assert job.execution_info.errors[0].code == "JobTerminated"
    assert not docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id=" + job.id})


def test_delete_running_job_stops_its_container(env, cpu_image, docker_client):
    env.custom("doomed", "sleep 300", cpu_image)
    job = env.wait("doomed", states=("running",))
    # `running` covers container setup (as on the service): the container appears right after
    deadline = time.time() + 20
    while not docker_client.containers.list(filters={"label": "batchai.emulator.job-id=" + job.id}):
        assert time.time() < deadline, "the running job's container never appeared"
        time.sleep(0.05)
    env.client.jobs.begin_delete(env.rg, env.ws, env.exp, "doomed").result()
    with pytest.raises(ResourceNotFoundError):
        env.job("doomed")
    assert not docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id=" + job.id})


def test_wall_clock_limit_fails_the_job(env, cpu_image):
    env.custom("slow", "sleep 60", cpu_image, constraints=models.JobBasePropertiesConstraints(
        max_wall_clock_time="PT2S"))
    job = env.wait("slow", timeout=40)
    assert job.execution_state == "failed"
    assert job.execution_info.errors[0].code == "JobMaxWallClockTimeExceeded"


def test_bad_image_fails_with_the_registry_message(env):
    env.custom("badimage", "true", "no-such-registry.invalid/nothing:1")
    job = env.wait("badimage", timeout=60)
    assert job.execution_state == "failed"
    err = job.execution_info.errors[0]
    assert err.code == "ImagePullFailed" and "no-such-registry.invalid/nothing:1" in err.message


def test_queue_runs_one_at_a_time_in_priority_order(dlive, cpu_image):
    e = JobEnv(dlive)
    e.cluster("one", nodes=1)
    order_file = e.share_dir / f"q-{e.rg}"

    def submit(name, priority=None):
        e.submit(name, "one", cpu_image, scheduling_priority=priority, custom_toolkit_settings=models.
                 CustomToolkitSettings(command_line=f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/q-{e.rg}; sleep 1"))

    submit("low", "low")
    e.wait("low", states=("running",))  # the cluster was idle: `low` starts at once
    submit("normal")
    submit("high", "high")
    seen = set()
    while True:
        counts = e.client.clusters.get(e.rg, e.ws, "one").node_state_counts
        assert counts.running_node_count <= 1
        assert counts.running_node_count + counts.idle_node_count + counts.unusable_node_count == 1
        seen.add((counts.idle_node_count, counts.running_node_count))
        jobs = [e.job(n) for n in ("low", "normal", "high")]
        if all(j.execution_state == "succeeded" for j in jobs):
            break
        time.sleep(0.05)
    assert (0, 1) in seen
    assert order_file.read_text().split() == ["low", "high", "normal"]
    spans = sorted((j.execution_info.start_time, j.execution_info.end_time) for j in jobs)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"jobs overlapped: {spans}"
    counts = e.client.clusters.get(e.rg, e.ws, "one").node_state_counts
    assert (counts.idle_node_count, counts.running_node_count) == (1, 0)


def test_multi_node_job_nodes_resolve_each_other(dlive, cpu_image):
    e = JobEnv(dlive)
    e.cluster("two", nodes=2)
    command = ("cat $AZ_BATCHAI_MPI_HOST_FILE; for h in $(cut -d' ' -f1 $AZ_BATCHAI_MPI_HOST_FILE); do "
               "python -c \"import socket, sys; print(sys.argv[1], socket.gethostbyname(sys.argv[1]))\" $h; done")
    e.submit("pair", "two", cpu_image, node_count=2, custom_toolkit_settings=models.CustomToolkitSettings(
        command_line=command))
    job = e.wait("pair")
    out = e.read("pair", "stdout.txt")
    assert job.execution_state == "succeeded", out + e.read("pair", "stderr.txt")
    lines = out.splitlines()
    hosts = [l.split()[0] for l in lines[:2]]
    assert len(set(hosts)) == 2 and all("slots=" in l for l in lines[:2])
    resolved = dict(l.split() for l in lines[2:])
    assert set(resolved) == set(hosts) and len(set(resolved.values())) == 2


def test_deleting_a_cluster_fails_its_jobs(dlive, cpu_image, docker_client):
    e = JobEnv(dlive)
    e.cluster("gone", nodes=1)
    e.submit("busy", "gone", cpu_image, custom_toolkit_settings=models.CustomToolkitSettings(command_line="sleep 300"))
    e.submit("later", "gone", cpu_image)
    busy = e.wait("busy", states=("running",))
    e.client.clusters.begin_delete(e.rg, e.ws, "gone").result()
    busy = e.wait("busy", timeout=30)
    later = e.wait("later", timeout=30)
    assert busy.execution_state == "failed" and busy.execution_info.errors[0].code == "ClusterDeleted"
    assert later.execution_state == "failed" and later.execution_info.errors[0].code == "ClusterNotFound"
    deadline = time.time() + 10
    while docker_client.containers.list(all=True, filters={"label": "batchai.emulator.job-id=" + busy.id}):
        assert time.time() < deadline, "the deleted cluster's job container is still there"
        time.sleep(0.1)
