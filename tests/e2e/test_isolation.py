"""Job containers get no privileged mode, no host network, no Docker socket and only the mounts their job names;
secrets never reach the emulator's logs or the files it writes beside the job."""
from __future__ import annotations

import logging

from azure.mgmt.batchai import models

from tests.conftest import start_live

from .jobenv import MOUNT, JobEnv


def test_containers_are_confined_and_secrets_stay_out_of_logs(tmp_path, cpu_image, docker_client, caplog):
    caplog.set_level(logging.DEBUG)
    server = start_live(tmp_path, executor="docker", gpus="none", keep_containers=True, allocation_delay=0.05)
    try:
        e = JobEnv(server)
        e.cluster("cl", nodes=1)
        e.custom("confined", "test -S /var/run/docker.sock && echo SOCKET; echo $TOP_SECRET | wc -c", cpu_image,
                 secrets=[models.EnvironmentVariableWithSecretValue(name="TOP_SECRET", value="s3cr3t-value")],
                 job_preparation=models.JobPreparation(command_line="true"))
        job = e.wait("confined")
        assert job.execution_state == "succeeded"
        assert e.read("confined", "stdout.txt") == "13\n"  # the job sees its secret; no Docker socket inside
        (container,) = docker_client.containers.list(all=True, filters={
            "label": "batchai.emulator.job-id=" + job.id})
        host = container.attrs["HostConfig"]
        assert not host["Privileged"] and not host.get("CapAdd") and host["NetworkMode"] in ("default", "bridge")
        assert host["PidMode"] == "" and host["IpcMode"] in ("private", "shareable", "")
        targets = sorted(m["Destination"] for m in container.attrs["Mounts"])
        root = "/mnt/batch/tasks/shared/LS_root"
        assert targets == [f"{root}/jobs/confined", f"{root}/jobs/confined/shared", f"{root}/mounts/{MOUNT}"]
        sources = {m["Destination"]: m["Source"] for m in container.attrs["Mounts"]}
        assert sources[f"{root}/mounts/{MOUNT}"] == str(e.share_dir)
        assert all(s.startswith(str(tmp_path)) for s in sources.values())
        container.remove(force=True)
        # nothing the emulator logged or wrote beside the job carries the secret
        assert "s3cr3t-value" not in caplog.text
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.name != "emulator.db" and not path.name.startswith("emulator.db"):
                assert b"s3cr3t-value" not in path.read_bytes(), path
    finally:
        server.server.stop()
