"""`python -m cloud quickstart|stream|download` end to end against a live emulator whose jobs really run
(local processes here; Docker in the test marked `docker`)."""
from __future__ import annotations

import json

import pytest

from cloud import connect
from tests.cloud.conftest import run_cli

EPOCH_LINE = "stderr.txt | Finished Epoch[1 of "


def _quickstart(emulator, ctf_data, out, *extra) -> list[str]:
    return ["quickstart", "--endpoint", emulator.https_url, "--ca-bundle", emulator.ca_bundle, "--data",
            str(ctf_data), "--poll", "0.1", "--out", str(out), *extra]


def _check_outputs(out_text: str, job_dir, epochs: int) -> dict:
    model_dir = job_dir / "MODEL"
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == sorted([f"ConvNet_MNIST_{i}.npz" for i in range(epochs)] + ["metrics.json"])
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["epochs"] == epochs
    # the test error in the summary is the one the log printed, which is the one metrics.json holds
    assert f"test error:    {100 * metrics['test_error']:.2f}% on {metrics['test']['samples']} test images " \
           "(from stderr.txt)" in out_text
    logs = {p.name for p in (job_dir / "stdouterr").iterdir()}
    assert {"stdout.txt", "stderr.txt"} <= logs
    assert "Final Results: Minibatch[" in (job_dir / "stdouterr" / "stderr.txt").read_text()
    return metrics


def test_quickstart_runs_the_job_and_streams_its_log_live(local_emulator, ctf_data, tmp_path, capsys):
    code, out = run_cli(_quickstart(local_emulator, ctf_data, tmp_path, "--epochs", "4",
                                    "--resource-group", "qs-live"), capsys)
    assert code == 0, out
    lines = out.splitlines()
    # streaming: the first epoch's line was printed while the job was still running, i.e. before the state line
    # that the follower prints as soon as it sees the job succeeded (the last round then reads to the end)
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith(EPOCH_LINE))
    running = lines.index("job myjob: running")
    succeeded = lines.index("job myjob: succeeded")
    assert running < first_epoch < succeeded, "\n".join(lines)
    assert any(line.startswith("stderr.txt | Final Results: Minibatch[") for line in lines)
    _check_outputs(out, tmp_path / "myjob", epochs=4)
    for expected in ("final state:   succeeded, exit code 0", "Azure cost:    job ", "$0.90/h (Standard_NC6 "
                     "pay-as-you-go list price, East US, 2018)", "clean-up:      resource group qs-live deleted",
                     "file endpoint: " + local_emulator.https_url + "/bqs"):
        assert expected in out, out
    clients = connect(local_emulator.https_url, ca_bundle=local_emulator.ca_bundle)
    assert not clients.resources.resource_groups.check_existence("qs-live")


def test_keep_then_stream_and_download_the_existing_job(local_emulator, ctf_data, tmp_path, capsys):
    code, out = run_cli(_quickstart(local_emulator, ctf_data, tmp_path / "first", "--epochs", "2", "--keep",
                                    "--resource-group", "qs-kept", "--job-name", "kept"), capsys)
    assert code == 0, out
    assert "clean-up:      kept (--keep): resource group qs-kept" in out
    job_id = next(line.split("job id: ")[1] for line in out.splitlines() if "job id: " in line)
    target = ["--endpoint", local_emulator.https_url, "--ca-bundle", local_emulator.ca_bundle]

    code, streamed = run_cli(["stream", *target, "--poll", "0.1", job_id], capsys)
    assert code == 0, streamed
    assert "stderr.txt | Finished Epoch[2 of 2]" in streamed
    assert streamed.rstrip().endswith("kept: succeeded, exit code 0")

    code, downloaded = run_cli(["download", *target, "--out", str(tmp_path / "again"), job_id], capsys)
    assert code == 0, downloaded
    _check_outputs(downloaded, tmp_path / "again" / "kept", epochs=2)

    clients = connect(local_emulator.https_url, ca_bundle=local_emulator.ca_bundle)
    assert clients.resources.resource_groups.check_existence("qs-kept")
    clients.resources.resource_groups.begin_delete("qs-kept").result()


def test_a_failing_job_ends_the_command_with_its_state_and_errors(local_emulator, ctf_data, tmp_path, capsys):
    code, out = run_cli(_quickstart(local_emulator, ctf_data, tmp_path, "--trainer-args", "--epochs 0",
                                    "--resource-group", "qs-fail"), capsys)
    assert code == 1, out
    assert "final state:   failed, exit code 2" in out
    assert "stderr.txt | " in out  # the trainer's complaint was streamed
    assert "clean-up:      resource group qs-fail deleted" in out


@pytest.mark.docker
def test_quickstart_on_the_docker_executor(docker_emulator, ctf_data, tmp_path, capsys):
    code, out = run_cli(_quickstart(docker_emulator, ctf_data, tmp_path, "--epochs", "2",
                                    "--resource-group", "qs-docker"), capsys)
    assert code == 0, out
    assert "Docker executor" in out  # from the job's execution.log, streamed
    assert "mapped to batchai-emulator/trainer-cpu:latest" in out
    _check_outputs(out, tmp_path / "myjob", epochs=2)
