"""The quickstart's job, as the seed writes it: CNTK settings, the CNTK GPU image (mapped to the local CPU image),
ConvNet_MNIST.py and the CTF data from the file share; it succeeds and its stdout and model files come back
through the SDK."""
from __future__ import annotations

import shutil
import subprocess
import sys

import requests
from azure.mgmt.batchai import models

from tests.conftest import ROOT

from .jobenv import CNTK_IMAGE, MOUNT, JobEnv
from .test_jobs import dlive  # noqa: F401  (the module's Docker-backed emulator)


def test_quickstart_job_runs_the_trainer(dlive, tmp_path):  # noqa: F811
    e = JobEnv(dlive)
    e.cluster("mycluster", nodes=1, vm_size="STANDARD_NC6")
    sample = e.share_dir / "mnistcntksample"
    subprocess.run([sys.executable, "-m", "trainer.data", "--out", str(sample), "--source", "offline",
                    "--limit", "512"], check=True, cwd=ROOT, capture_output=True)
    shutil.copy(ROOT / "trainer" / "ConvNet_MNIST.py", sample / "ConvNet_MNIST.py")
    e.submit("myjob", "mycluster", CNTK_IMAGE,
             input_directories=[models.InputDirectory(id="SAMPLE",
                                                      path=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}/mnistcntksample")],
             output_directories=[models.OutputDirectory(id="MODEL", path_prefix=f"$AZ_BATCHAI_MOUNT_ROOT/{MOUNT}",
                                                        path_suffix="Models")],
             cntk_settings=models.CNTKsettings(
                 python_script_file_path="$AZ_BATCHAI_INPUT_SAMPLE/ConvNet_MNIST.py",
                 command_line_args="$AZ_BATCHAI_INPUT_SAMPLE $AZ_BATCHAI_OUTPUT_MODEL --epochs 2 --epoch-size 256"))
    job = e.wait("myjob", timeout=300)
    log = e.read("myjob", "stderr.txt")  # CNTK logs its progress on stderr, so does the trainer
    assert job.execution_state == "succeeded", log
    assert job.tool_type == "cntk" and job.execution_info.exit_code == 0
    assert "Finished Epoch[2 of 2]" in log and "Final Results: Minibatch" in log
    models_listed = {f.name: f for f in e.files("myjob", "MODEL")}
    assert {"ConvNet_MNIST_0.npz", "ConvNet_MNIST_1.npz", "metrics.json"} <= set(models_listed)
    metrics = requests.get(models_listed["metrics.json"].download_url, verify=e.live.ca_bundle).json()
    assert metrics
    assert f"image {CNTK_IMAGE} mapped to" in e.read("myjob", "execution.log")
