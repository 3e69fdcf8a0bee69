"""`python -m cloud azureml-quickstart` against a live emulator, as a user runs it: `batchai-emulator serve`, the
export lines of `batchai-emulator env --azureml`, then the command in .venv-azureml; and `python -m cloud
demo-azureml` (what `make demo-azureml` runs) from start to stop.

Runs use the local executor (the run's python is .venv-azureml's, which the emulator finds beside the project) with
the offline digits in chainer's layout; the Docker image's own run of the trainer is tests/e2e/test_azureml_image.py.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest

from cloud.azureml_demo import parse_exports
from tests.cloud.conftest import ROOT
from tests.conftest import venv_python
from tests.served import BIN, Served, free_port

AML_PYTHON = ROOT / ".venv-azureml" / "bin" / "python"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aml_python() -> str:
    return str(venv_python(AML_PYTHON, "the azureml-core environment"))


@pytest.fixture(scope="module")
def chainer_root(tmp_path_factory) -> Path:
    from trainer import data
    root = tmp_path_factory.mktemp("chainer-dataset")
    with redirect_stderr(io.StringIO()):
        data.prepare(str(root), source="offline", layout="chainer")
    return root


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, chainer_root):
    served = Served(tmp_path_factory.mktemp("aml-emulator") / "data", "--executor", "local",
                    env={"BATCHAI_EMULATOR_AZUREML_PROXY_PORT": str(free_port()),
                         "BATCHAI_EMULATOR_AZUREML_PYTHON": str(AML_PYTHON),
                         # local runs inherit it: chainer.datasets.get_mnist() finds the offline digits
                         "CHAINER_DATASET_ROOT": str(chainer_root)})
    served.start()
    yield served
    served.stop()


def client_env(served: Served, home: Path) -> dict[str, str]:
    """This environment without earlier Azure or proxy settings, plus what `env --azureml` exports."""
    out = subprocess.run([str(BIN), "env", "--data-dir", str(served.data_dir), "--azureml"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")
           and not k.startswith(("AZURE", "ARM_", "MSI_")) and k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, **parse_exports(out), "HOME": str(home), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def step_done(out: str, text: str) -> bool:
    """The console's step ended well: `text ... done` on one line, or `  text: done` after lines in between."""
    return re.search(re.escape(text) + r"(?: \.\.\. |: )done \(", out) is not None


def quickstart(python, *args, env, cwd, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "cloud", "azureml-quickstart", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def test_the_flow_twice_against_the_emulator(aml_python, emulator, tmp_path):
    env = client_env(emulator, tmp_path / "home")
    out_dir = tmp_path / "out"
    first = quickstart(aml_python, "--workspace-name", "aml-job-ws", "--resource-group", "aml-job-rg",
                       "--subscription-id", SUBSCRIPTION, "--epochs", "2", "--batchsize", "128",
                       "--out", str(out_dir), "--poll", "0.5", env=env, cwd=tmp_path)
    out = first.stdout
    assert first.returncode == 0, out + first.stderr
    assert "on BatchAIEmulator (cloud list from https://127.0.0.1:" in out, out
    assert "creating compute target gpu-cluster: AmlCompute, STANDARD_NC6, 0 to 4 nodes ..." in out, out
    # what the SDK prints comes out as whole lines of ours
    assert '\n  azureml: Provisioning operation finished, operation "Succeeded"\n' in out, out
    # the run's states and its driver log, streamed while it runs
    run_id = re.search(r"  run id: (\S+)", out).group(1)
    for state in ("Running", "Completed"):
        assert f"run {run_id}: {state}\n" in out, out
    assert re.search(r"\| epoch:02 train_loss:\S+ test_loss:\S+ test_accuracy:0\.\d+", out), out
    assert "  Batch size: 128" in out and "  Epochs: 2" in out, out
    accuracies = [float(v) for v in re.search(r"  Accuracy: (.*)", out).group(1).split(", ")]
    assert len(accuracies) == 2 and accuracies[-1] > 0.75, out
    assert step_done(out, "registering model chainer-dnn-mnist from outputs/model.npz"), out
    assert "  model:         chainer-dnn-mnist version 1 (id chainer-dnn-mnist:1)" in out, out
    assert "  final state:   Completed" in out, out
    assert re.search(r"  Azure cost:    run .* on 1 x STANDARD_NC6 = \$0\.\d{4} at \$0\.90/h", out), out
    model = out_dir / "model" / "model.npz"
    with np.load(str(model)) as weights:
        assert weights["l1/W"].shape == (100, 784)
    config = out_dir / ".azureml" / "config.json"
    assert config.is_file(), out

    # again, from the config.json the first run wrote: the cluster is found, the model is version 2
    second = quickstart(aml_python, "--config", str(out_dir), "--epochs", "1", "--out", str(out_dir),
                        "--poll", "0.5", env=env, cwd=tmp_path)
    out = second.stdout
    assert second.returncode == 0, out + second.stderr
    assert step_done(out, f"workspace from config.json in {out_dir}"), out
    assert "found existing compute target gpu-cluster" in out, out
    assert "  model:         chainer-dnn-mnist version 2 (id chainer-dnn-mnist:2)" in out, out
    assert "  Epochs: 1" in out, out


def test_demo_azureml_starts_runs_and_stops(aml_python, tmp_path, chainer_root):
    data_dir = tmp_path / "emulator-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHAI_", "AZURE", "ARM_", "MSI_"))}
    proc = subprocess.run([sys.executable, "-m", "cloud", "demo-azureml", "--executor", "local", "--epochs", "1",
                           "--poll", "0.5", "--data-dir", str(data_dir), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT), "CHAINER_DATASET_ROOT": str(chainer_root)})
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert f'eval "$(batchai-emulator env --data-dir {data_dir} --azureml)"' in out, out
    assert "  final state:   Completed" in out, out
    assert "  model:         chainer-dnn-mnist version 1" in out, out
    assert (tmp_path / "out" / "model" / "model.npz").is_file(), out
    assert "stopping the emulator ... done" in out, out
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if "emulator serve" in line and str(data_dir) in line], out
