"""ConvNet_MNIST.py inside the CPU trainer image, run as the Batch AI quickstart runs it.

The quickstart uploads ConvNet_MNIST.py beside Train-28x28_cntk_text.txt and Test-28x28_cntk_text.txt and runs
``python $AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py $AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL``; here the
input directory and the output directory are bind mounts, the data is real MNIST digits (the offline subset),
and a tiny epoch count and size keep it short. Driven through the docker SDK, on the real engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from trainer import data

from .conftest import run_container

REPO = Path(__file__).resolve().parents[2]
INPUT = "/mnt/batch/tasks/shared/LS_root/mounts/afs/sample"
OUTPUT = "/mnt/batch/tasks/shared/LS_root/mounts/afs/Models"
QUICKSTART = 'python "$AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py" "$AZ_BATCHAI_INPUT_SAMPLE" "$AZ_BATCHAI_OUTPUT_MODEL"'
FINAL = re.compile(r"^Final Results: Minibatch\[1-(\d+)\]: errs = (\d+\.\d{2})% \* (\d+)$", re.M)


@pytest.fixture(scope="module")
def share(tmp_path_factory) -> Path:
    """The quickstart's upload: the script and the two CTF files in one directory (600 / 200 real digits)."""
    sample = tmp_path_factory.mktemp("share") / "sample"
    cache = os.environ.get("TRAINER_DATA_CACHE") or str(REPO / ".data" / "cache")
    try:
        data.prepare(str(sample), source="offline", limit=600, cache_dir=cache)
    except data.PreparationError as exc:
        pytest.fail(f"cannot prepare the offline MNIST subset: {exc}")
    test_file = sample / data.TEST_FILE
    test_file.write_text("".join(test_file.read_text().splitlines(keepends=True)[:200]))
    shutil.copy(REPO / "trainer" / "ConvNet_MNIST.py", sample / "ConvNet_MNIST.py")
    return sample


def run_job(client, image, sample: Path, models: Path, options: str, timeout: int = 300):
    """One job container: (exit code, stdout, stderr). Always removed."""
    return run_container(
        client, image, ["bash", "-c", f"{QUICKSTART} {options}"], timeout,
        environment={"AZ_BATCHAI_INPUT_SAMPLE": INPUT, "AZ_BATCHAI_OUTPUT_MODEL": OUTPUT},
        volumes={str(sample): {"bind": INPUT, "mode": "ro"}, str(models): {"bind": OUTPUT, "mode": "rw"}},
        user=f"{os.getuid()}:{os.getgid()}")


def test_quickstart_job_trains_saves_and_resumes(docker_client, cpu_image, share, tmp_path):
    models = tmp_path / "Models"
    models.mkdir()
    code, out, err = run_job(docker_client, cpu_image, share, models, "--epochs 2 --epoch-size 256")
    assert code == 0, err
    assert out == ""  # the reference merges stdout into stderr, the file the quickstart streams
    assert "numpy backend" in err and "Training 98778 parameters in 10 parameter tensors." in err
    assert "Finished Epoch[1 of 2]: [Training]" in err and "Finished Epoch[2 of 2]: [Training]" in err
    final = FINAL.findall(err)
    assert len(final) == 1 and final[0][0] == "2" and final[0][2] == "200", err
    assert sorted(p.name for p in models.iterdir()) == ["ConvNet_MNIST_0.npz", "ConvNet_MNIST_1.npz", "metrics.json"]
    metrics = json.loads((models / "metrics.json").read_text())
    assert (metrics["backend"], metrics["epochs"], metrics["epoch_size"]) == ("numpy", 2, 256)
    assert metrics["test"]["samples"] == 200
    assert metrics["test_error"] == pytest.approx(float(final[0][1]) / 100, abs=5e-5)

    # the job retried with one more epoch: it continues from ConvNet_MNIST_1.npz
    code, out, err = run_job(docker_client, cpu_image, share, models, "--epochs 3 --epoch-size 256")
    assert code == 0, err
    assert "Resuming from ConvNet_MNIST_1.npz: epoch 3 of 3" in err
    assert "Finished Epoch[3 of 3]" in err and "Finished Epoch[2 of 3]" not in err
    assert (models / "ConvNet_MNIST_2.npz").is_file()
    assert json.loads((models / "metrics.json").read_text())["resumed_from"] == "ConvNet_MNIST_1.npz"


def test_quickstart_job_without_data_fails_with_a_message(docker_client, cpu_image, tmp_path):
    sample = tmp_path / "sample"
    sample.mkdir()
    shutil.copy(REPO / "trainer" / "ConvNet_MNIST.py", sample / "ConvNet_MNIST.py")
    models = tmp_path / "Models"
    models.mkdir()
    code, out, err = run_job(docker_client, cpu_image, sample, models, "--epochs 1", timeout=120)
    assert code == 1
    assert f"error: {INPUT}/Train-28x28_cntk_text.txt not found" in err
    assert "Traceback" not in err
