"""The local executor keeps node paths inside the job's directory: a stdOutErrPathPrefix or output pathPrefix
that is an absolute node path (/tmp/x) is node-local on Batch AI, never this machine's /tmp; paths on mounted
volumes ($AZ_BATCHAI_MOUNT_ROOT/...) still reach the volume."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import start_live

from .armjobs import Arm


@pytest.fixture()
def env(tmp_path):
    live = start_live(tmp_path / "data", executor="local", gpus="none", allocation_delay=0.05)
    arm = Arm(live)
    arm.share_cluster("c", "share1")
    yield arm
    live.server.stop()
    assert not live.server_errors


def test_absolute_node_prefixes_stay_inside_the_data_dir(env):
    host = Path("/tmp") / f"batchai-c-runner-{uuid.uuid4().hex[:8]}"     # where the job would write before
    assert not host.exists()
    env.job("j", cluster="c", command='echo out > "$AZ_BATCHAI_OUTPUT_O/model.txt"; echo $AZ_BATCHAI_OUTPUT_O',
            stdOutErrPathPrefix=str(host / "logs"),
            outputDirectories=[{"id": "O", "pathPrefix": str(host / "outs")},
                               {"id": "S", "pathPrefix": "$AZ_BATCHAI_MOUNT_ROOT/afs"}])
    job = env.wait_job("j")["properties"]
    assert job["executionState"] == "succeeded", job
    assert not host.exists()
    data = env.live.settings.data_dir
    (model,) = data.rglob("model.txt")
    assert str(model).startswith(str(data)) and model.read_text() == "out\n"
    (stdout,) = [p for p in data.rglob("stdout.txt") if "logs" in str(p)]
    assert stdout.read_text().strip() == str(model.parent)
    assert (stdout.parent / "execution.log").is_file()     # beside stdout.txt, as the emulator writes it
    # an output on the mounted share is on the share
    assert any((data / "shares").rglob("outputs"))
