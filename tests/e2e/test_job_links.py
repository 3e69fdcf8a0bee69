"""A job cannot make the emulator touch host files through links or pipes it plants in the places it can write
(its stdouterr directory, its temp directory's .batchai), on the Docker executor and the local one."""
from __future__ import annotations

import pytest

from tests.conftest import start_live
from tests.security.armjobs import Arm



@pytest.fixture(params=["docker", "local"])
def env(request, tmp_path):
    image = request.getfixturevalue("cpu_image") if request.param == "docker" else None
    live = start_live(tmp_path / "data", executor=request.param, gpus="none", allocation_delay=0.05)
    arm = Arm(live)
    arm.image = image
    arm.host = tmp_path / "host"          # stands for any host file outside the data dir
    arm.host.mkdir()
    arm.share_cluster("c", "share1")
    yield arm
    live.server.stop()
    assert not live.server_errors


def _run(env, name: str, command: str) -> dict:
    env.job(name, cluster="c", command=command, image=env.image or None,
            stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    return env.wait_job(name)["properties"]


def test_execution_log_linked_to_a_host_file_is_not_followed(env):
    victim = env.host / "created-by-the-emulator"
    existing = env.host / "existing"
    existing.write_text("untouched\n")
    job = _run(env, "j1", f'ln -sf {victim} "$AZ_BATCHAI_STDOUTERR_DIR/execution.log"; '
                          f'ln -sf {existing} "$AZ_BATCHAI_STDOUTERR_DIR/stdout-job_prep.txt"; '
                          "printf 'x\\n' > \"$AZ_BATCHAI_JOB_TEMP/.batchai/launch_error\"; exit 3")
    assert job["executionState"] == "failed" and job["executionInfo"]["exitCode"] == 3
    assert job["executionInfo"]["errors"][0]["message"] == "x"
    assert not victim.exists() and existing.read_text() == "untouched\n"


def test_launch_error_linked_to_a_host_file_is_not_read(env):
    secret = env.host / "secret"
    secret.write_text("HOST-SECRET-CONTENT\n")
    job = _run(env, "j2", f'ln -sf {secret} "$AZ_BATCHAI_JOB_TEMP/.batchai/launch_error"; exit 3')
    message = job["executionInfo"]["errors"][0]["message"]
    assert job["executionState"] == "failed" and "HOST-SECRET" not in message and "link" in message


def test_stdouterr_directory_swapped_for_a_link_is_not_followed(env):
    job = _run(env, "j3", f'rm -rf "$AZ_BATCHAI_STDOUTERR_DIR"; ln -s {env.host} "$AZ_BATCHAI_STDOUTERR_DIR"; '
                          "exit 4")
    assert job["executionState"] == "failed" and job["executionInfo"]["exitCode"] == 4
    assert list(env.host.iterdir()) == []


def test_a_fifo_at_launch_error_or_execution_log_does_not_stop_scheduling(env):
    job = _run(env, "j4", 'mkfifo "$AZ_BATCHAI_JOB_TEMP/.batchai/launch_error"; '
                          'rm -f "$AZ_BATCHAI_STDOUTERR_DIR/execution.log"; '
                          'mkfifo "$AZ_BATCHAI_STDOUTERR_DIR/execution.log"; exit 1')
    assert job["executionState"] == "failed"
    assert "not a regular file" in job["executionInfo"]["errors"][0]["message"]
    assert _run(env, "j5", "true")["executionState"] == "succeeded"   # the scheduler still runs jobs




def _names(entries) -> set[str]:
    return {e["name"] for e in entries}


def test_output_directories_swapped_for_links_list_and_serve_nothing_outside(env):
    import requests
    data = env.live.settings.data_dir
    (data / "secret.key").write_text("SIGNING-KEY")           # what a job would steal: the data dir's own files
    job = _run(env, "j6", 'D="$AZ_BATCHAI_STDOUTERR_DIR"; mkdir -p "$D/sub"; echo kept > "$D/kept.txt"; '
                          f'ln -s {data}/secret.key "$D/key.txt"; ln -s {data} "$D/datadir"; '
                          f'rm -rf "$D/sub"; ln -s {data} "$D/sub"; mkfifo "$D/pipe"')
    assert job["executionState"] == "succeeded"
    entries = env.list_files("j6")
    assert _names(entries) >= {"kept.txt", "execution.log"} and not _names(entries) & {"key.txt", "datadir", "sub",
                                                                                       "pipe"}
    assert env.list_files("j6", directory="sub") == [] and env.list_files("j6", directory="datadir") == []
    # a listed file swapped for a link after the listing: its download link serves nothing
    kept = next(e for e in entries if e["name"] == "kept.txt")
    assert requests.get(kept["downloadUrl"], verify=False).text == "kept\n"
    share = data / "shares" / next(iter(env.live.settings.accounts())) / "share1"
    (path,) = share.rglob("j6/*/stdouterr/kept.txt")
    path.unlink()
    path.symlink_to(data / "secret.key")
    r = requests.get(kept["downloadUrl"], verify=False)
    assert r.status_code == 404 and "SIGNING-KEY" not in r.text


def test_an_output_directory_replaced_by_a_link_to_the_data_dir_lists_nothing(env):
    data = env.live.settings.data_dir
    (data / "secret.key").write_text("SIGNING-KEY")
    _run(env, "j7", f'rm -rf "$AZ_BATCHAI_STDOUTERR_DIR"; ln -s {data} "$AZ_BATCHAI_STDOUTERR_DIR"')
    assert env.list_files("j7") == []


def test_a_fifo_left_while_the_emulator_was_down_does_not_stop_it_after_a_restart(tmp_path, cpu_image):
    import time
    data = tmp_path / "data"
    live = start_live(data, executor="docker", gpus="none", allocation_delay=0.05)
    try:
        account, key = next(iter(live.settings.accounts().items()))
        (data / "shares" / account / "share1").mkdir(parents=True)
        arm = Arm(live)
        arm.cluster("c", mount_volumes={"azureFileShares": [{
            "accountName": account, "azureFileUrl": f"{live.https_url}/{account}/share1",
            "credentials": {"accountKey": key}, "relativeMountPath": "afs"}]})
        arm.job("jf", cluster="c", image=cpu_image, stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs",
                command='sleep 2; mkfifo "$AZ_BATCHAI_JOB_TEMP/.batchai/launch_error"; exit 1')
        deadline = time.time() + 60
        while arm.get_job("jf")["properties"]["executionState"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        live.server.stop()
    time.sleep(4)       # the job ends while no emulator watches it
    live = start_live(data, executor="docker", gpus="none", allocation_delay=0.05)
    try:
        arm.live = live
        arm.ws = arm.ws.replace(arm.ws.split("/subscriptions/")[0], live.http_url)
        job = arm.wait_job("jf", timeout=60)["properties"]
        assert job["executionState"] == "failed" and "not a regular file" in job["executionInfo"]["errors"][0][
            "message"]
        arm.job("next", cluster="c", image=cpu_image, command="true")
        assert arm.wait_job("next", timeout=60)["properties"]["executionState"] == "succeeded"
    finally:
        live.server.stop()
    assert not live.server_errors
