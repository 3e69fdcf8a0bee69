"""What a new user hits following the README literally: short job names and `jobs`, a fresh download folder,
one line instead of DefaultAzureCredential's report, the hint to use .venv/bin/python."""
from __future__ import annotations

import subprocess
import sys

from tests.cloud.conftest import run_cli
from tests.conftest import ROOT


def _target(emulator) -> list[str]:
    return ["--endpoint", emulator.https_url, "--ca-bundle", emulator.ca_bundle]


def test_short_job_names_jobs_listing_and_fresh_download_folders(local_emulator, ctf_data, tmp_path, capsys):
    code, out = run_cli(["quickstart", *_target(local_emulator), "--data", str(ctf_data), "--poll", "0.1", "--out",
                         str(tmp_path / "first"), "--epochs", "1", "--keep", "--resource-group", "qs-short",
                         "--job-name", "shortjob"], capsys)
    assert code == 0, out

    code, listed = run_cli(["jobs", *_target(local_emulator)], capsys)
    assert code == 0, listed
    line = next(line for line in listed.splitlines() if line.startswith("shortjob "))
    assert "succeeded" in line and line.endswith("/resourceGroups/qs-short/providers/Microsoft.BatchAI/workspaces/"
                                                 "myworkspace/experiments/myexperiment/jobs/shortjob")

    # a name, with the quickstart's workspace and experiment as defaults, found in whichever group holds it
    code, streamed = run_cli(["stream", *_target(local_emulator), "--poll", "0.1", "shortjob"], capsys)
    assert code == 0, streamed
    assert streamed.rstrip().endswith("shortjob: succeeded, exit code 0")

    out_dir = tmp_path / "dl"
    stale = out_dir / "shortjob" / "MODEL" / "ConvNet_MNIST_7.npz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from an earlier run")
    code, downloaded = run_cli(["download", *_target(local_emulator), "--out", str(out_dir), "shortjob"], capsys)
    assert code == 0, downloaded
    names = sorted(p.name for p in (out_dir / "shortjob" / "MODEL").iterdir())
    assert names == ["ConvNet_MNIST_0.npz", "metrics.json"], names
    assert sorted(p.name for p in out_dir.iterdir()) == ["shortjob"], "a temporary folder was left behind"

    code, missing = run_cli(["stream", *_target(local_emulator), "--experiment", "other", "shortjob"], capsys)
    assert code == 1 and "no job 'shortjob' in workspace 'myworkspace', experiment 'other'" in missing, missing
    from cloud import connect
    connect(local_emulator.https_url, ca_bundle=local_emulator.ca_bundle).resources.resource_groups.begin_delete(
        "qs-short").result()


def test_stream_without_an_endpoint_prints_one_line_naming_it(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AZURE_CONFIG_DIR": str(tmp_path / "az"),
           # no metadata service answers here: the managed identity probe must not wait for one
           "IDENTITY_ENDPOINT": "", "MSI_ENDPOINT": "", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-m", "cloud", "stream", "/subscriptions/s/resourceGroups/rg/providers/"
                           "Microsoft.BatchAI/workspaces/w/experiments/e/jobs/j"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 2, lines
    assert len(lines) == 1 and "--endpoint https://127.0.0.1:8443" in lines[0], lines


def test_python_without_the_projects_environment_names_the_venv():
    # -S: no site-packages, as a system Python without requests or the SDKs
    proc = subprocess.run([sys.executable, "-S", "-m", "cloud", "jobs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert ".venv/bin/python -m cloud" in proc.stderr and "Traceback" not in proc.stderr
