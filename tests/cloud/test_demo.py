"""`python -m cloud demo` (what `make demo` runs) as a user runs it: a child emulator, the quickstart, a stop."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.cloud.conftest import ROOT


def _demo(tmp_path, *args, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHAI_", "AZURE_"))}
    return subprocess.run([sys.executable, "-m", "cloud", "demo", "--out", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT)})


def _emulator_pids(data_dir_marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if "emulator serve" in line and data_dir_marker in line]


def test_demo_starts_runs_and_stops_the_emulator(tmp_path, ctf_data):
    data_dir = tmp_path / "emulator-data"
    proc = _demo(tmp_path, "--data", str(ctf_data), "--epochs", "1", "--executor", "local", "--poll", "0.2",
                 "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    https = re.search(r"--endpoint (https://127\.0\.0\.1:\d+) --ca-bundle (\S+)", out)
    assert https and https.group(2) == str(data_dir / "cert.pem")
    assert f"BatchAIEmulator ({https.group(1)}/)" in out
    assert "final state:   succeeded, exit code 0" in out
    assert "stopping the emulator ... done" in out
    assert (tmp_path / "out" / "myjob" / "MODEL" / "ConvNet_MNIST_0.npz").is_file()
    assert not _emulator_pids(str(data_dir)), "the emulator is still running"


def test_demo_stops_the_emulator_when_the_quickstart_fails(tmp_path):
    data_dir = tmp_path / "emulator-data"
    proc = _demo(tmp_path, "--data", str(tmp_path / "no-such-data"), "--executor", "local",
                 "--data-dir", str(data_dir))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "missing Train-28x28_cntk_text.txt" in proc.stdout
    assert "stopping the emulator ... done" in proc.stdout
    assert not _emulator_pids(str(data_dir))


def test_serve_flags_are_flags_serve_accepts():
    from types import SimpleNamespace
    from cloud.demo import serve_flags
    args = SimpleNamespace(executor="auto", cpu_image="batchai-emulator/trainer-cpu:latest")
    flags = serve_flags(args)
    assert flags == ["--executor", "auto", "--image-map",
                     "microsoft/cntk:2.1-gpu-python3.5-cuda8.0-cudnn6.0=batchai-emulator/trainer-cpu:latest"]
    help_text = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], capture_output=True,
                               text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert all(flag in help_text for flag in flags[::2])


def test_the_demo_does_not_send_jobs_to_docker_without_the_cpu_image():
    from cloud.demo import choose_executor
    assert choose_executor("local", "x") == ("local", None)
    executor, why = choose_executor("auto", "batchai-emulator/no-such-image:never")
    assert (executor, why) == ("auto", None) or (executor == "local" and "is not built" in why)


@pytest.mark.slow
def test_the_demo_defaults_train_to_at_most_2_5_percent(tmp_path):
    """The README's first command as is (but for the executor: local, so it needs no Docker): the offline
    MNIST subset, the demo's epoch count, a test error of at most 2.5%."""
    proc = _demo(tmp_path, "--executor", "local", timeout=1800)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    m = re.search(r"test error:    (\d+\.\d+)% on 1000 test images", proc.stdout)
    assert m, proc.stdout[-3000:]
    assert float(m.group(1)) <= 2.5
    assert re.search(r"model files:   31 files", proc.stdout)
    assert "Azure cost:    job " in proc.stdout
