"""batchai-emulator/azureml-cpu: the image Azure ML runs use, with trainer/chainer_mnist.py run in it offline."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LABELS = {"batchai-emulator.test": "azureml-image"}


def _run(client, image, command, timeout=300, **kwargs):
    """Run a container without network to completion: (exit code, stdout + stderr); always removed."""
    container = client.containers.run(image, command, detach=True, network_mode="none", labels=LABELS,
                                      name="aml-image-test-%s" % uuid.uuid4().hex[:10], **kwargs)
    try:
        status = container.wait(timeout=timeout)
        return status["StatusCode"], container.logs(stdout=True, stderr=True).decode()
    finally:
        container.remove(force=True)


def _printed(client, image, code: str) -> str:
    """The last line `python -c code` prints in the image (which must exit 0)."""
    status, out = _run(client, image, ["python", "-c", code])
    assert status == 0, out
    return out.split("\n")[-2]


def test_imports_chainer_azureml_and_numpy_at_the_pinned_versions(docker_client, azureml_image):
    printed = _printed(docker_client, azureml_image, "import chainer, azureml.core, numpy, sys; "
                       "print(sys.version_info[:2], chainer.__version__, numpy.__version__, azureml.core.VERSION)")
    assert printed == "(3, 11) 7.8.1 1.26.4 1.61.0"


def test_image_has_the_offline_digits_where_get_mnist_looks(docker_client, azureml_image):
    printed = _printed(docker_client, azureml_image, "import os, chainer; train, test = chainer.datasets.get_mnist(); "
                       "print(os.environ['CHAINER_DATASET_ROOT'], len(train), len(test))")
    assert printed == "/opt/chainer-dataset 4000 1000"


def test_runs_chainer_mnist_for_one_epoch_without_network(docker_client, azureml_image, tmp_path):
    # the script from this checkout, read-only, as a run's working directory holds it; outputs written beside it
    (tmp_path / "outputs").mkdir()
    volumes = {str(REPO / "trainer" / "chainer_mnist.py"): {"bind": "/workspace/chainer_mnist.py", "mode": "ro"},
               str(tmp_path / "outputs"): {"bind": "/workspace/outputs", "mode": "rw"}}
    code, out = _run(docker_client, azureml_image,
                     ["python", "chainer_mnist.py", "--epochs", "1", "--batchsize", "128", "--output_dir", "./outputs"],
                     volumes=volumes, working_dir="/workspace")
    assert code == 0, out
    assert "GPU: -1" in out and "MNIST: 4000 training and 1000 test images" in out, out
    lines = out.splitlines()
    accuracy = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.endswith("scalar metric Accuracy:")]
    assert len(accuracy) == 1 and 0.5 < float(accuracy[0]) <= 1.0, out
    with np.load(str(tmp_path / "outputs" / "model.npz")) as weights:
        assert weights["l1/W"].shape == (100, 784) and weights["l3/b"].shape == (10,)
