"""The pytest plugin as a user runs it: a small test file in a temp dir, run by pytest in a subprocess, using the
batchai_emulator fixtures (the SDK client, the Files connection string, the reset between tests)."""
from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from tests.conftest import ROOT, in_ci

USER_TEST = '''
import time
from azure.storage.fileshare import ShareServiceClient


def test_a_job_runs(batchai_emulator_clean):
    emu = batchai_emulator_clean
    client = emu.batchai                                   # azure-mgmt-batchai 7.0.0 over HTTPS
    from azure.mgmt.resource import ResourceManagementClient
    ResourceManagementClient(emu.credential, emu.subscription_id, base_url=emu.endpoint,
                             credential_scopes=[emu.endpoint + "/.default"], connection_verify=emu.ca_path
                             ).resource_groups.create_or_update("rg", {"location": "eastus"})
    client.workspaces.begin_create("rg", "ws", {"location": "eastus"}).result()
    client.experiments.begin_create("rg", "ws", "exp").result()
    cluster = client.clusters.begin_create("rg", "ws", "c", {
        "vm_size": "STANDARD_D2", "scale_settings": {"manual": {"target_node_count": 1}},
        "user_account_settings": {"admin_user_name": "u", "admin_user_password": "p"}}).result()
    job = client.jobs.begin_create("rg", "ws", "exp", "hello", {
        "cluster": {"id": cluster.id}, "node_count": 1, "std_out_err_path_prefix": "$AZ_BATCHAI_JOB_TEMP",
        "custom_toolkit_settings": {"command_line": "echo hello"}}).result()
    while job.execution_state not in ("succeeded", "failed"):
        time.sleep(0.2)
        job = client.jobs.get("rg", "ws", "exp", "hello")
    assert job.execution_state == "succeeded" and job.execution_info.exit_code == 0


def test_files_and_reset(batchai_emulator_clean):
    emu = batchai_emulator_clean
    assert emu.health()["jobs"] == {"total": 0}           # the job of the test before is gone
    share = ShareServiceClient.from_connection_string(emu.files_connection_string).create_share("data")
    share.get_file_client("a.txt").upload_file(b"hi")
    assert share.get_file_client("a.txt").download_file().readall() == b"hi"
    assert emu.blob_connection_string.startswith("DefaultEndpointsProtocol=http;")
    assert open(emu.ca_path).read().startswith("-----BEGIN CERTIFICATE-----")
'''


def _plugin_installed() -> bool:
    return any(ep.value == "emulator.pytest_plugin" for ep in entry_points(group="pytest11"))


def _pytest(tmp_path, name: str, timeout: float):
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
    if not _plugin_installed():
        # an editable install made before the entry point existed: load it by name (a fresh install has it)
        assert not in_ci(), "the pytest11 entry point is not installed"
        args[3:3] = ["-p", "emulator.pytest_plugin"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHAI_EMULATOR", "PYTEST_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TMPDIR"] = str(tmp_path)
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_user_test_file_runs_with_the_plugin(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    out = _pytest(tmp_path, "test_user.py", 300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "2 passed" in out.stdout


def test_the_readme_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- pytest-plugin-example -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) <= 11
    (tmp_path / "test_readme.py").write_text(block)
    out = _pytest(tmp_path, "test_readme.py", 300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout


def test_the_plugin_starts_nothing_unless_its_fixtures_are_used(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_nothing():\n    assert True\n")
    out = _pytest(tmp_path, "test_plain.py", 120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not list(Path(tmp_path).glob("batchai-emulator-pytest-*"))     # no emulator was started
