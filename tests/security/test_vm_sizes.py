"""Unknown VM sizes are refused at cluster create (every api-version) with a 400 naming vmSize; --vm-size (and
BATCHAI_EMULATOR_VM_SIZES) add sizes the table lacks, with their GPUs, cores and memory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emulator import vmsizes
from emulator.settings import Settings
from tests.conftest import start_live

from .armjobs import Arm, H

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("sizes"), vm_sizes=["Standard_NC4as_T4_v3:1:4:28"])
    yield Arm(live)
    live.server.stop()
    assert not live.server_errors


@pytest.mark.parametrize("size", ["NONSENSE_VM", "STANDARD_NC7", "Standard_E8s_v3", ""])
def test_an_unknown_size_is_refused(env, size):
    r = env.put_cluster("bad", vm_size=size)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] in ("InvalidPropertyValue", "InvalidRequestContent") and "vmSize" in (
        error.get("target", "") + error["message"]), error
    for version in ("2018-03-01", "2017-09-01-preview"):
        base = env.base.rsplit("/workspaces", 1)[0]
        r = requests.put(f"{base}/clusters/bad?api-version={version}", headers=H, json={
            "location": "eastus", "properties": {"vmSize": size, "userAccountSettings": {"adminUserName": "u"},
                                                 "scaleSettings": {"manual": {"targetNodeCount": 1}}}})
        assert r.status_code == 400 and "vmSize" in r.text, r.text


def test_table_sizes_in_any_case_and_added_sizes_are_accepted(env):
    assert env.put_cluster("d2", vm_size="Standard_D2_v2").status_code == 200
    assert env.put_cluster("t4", vm_size="standard_nc4as_t4_v3").status_code == 200
    size = vmsizes.lookup("Standard_NC4as_T4_v3")
    assert (size.gpus, size.vcpus, size.memory_gb) == (1, 4, 28.0)


def test_the_flag_and_the_variable_parse_and_refuse_malformed_sizes(tmp_path):
    settings = Settings.from_env(environ={"BATCHAI_EMULATOR_VM_SIZES": "Custom_X1:0:2:8,Custom_Y2:2:8:64"},
                                 data_dir=tmp_path)
    assert settings.vm_sizes == ["Custom_X1:0:2:8", "Custom_Y2:2:8:64"]
    vmsizes.add(settings.vm_sizes)
    assert vmsizes.lookup("CUSTOM_Y2").gpus == 2
    with pytest.raises(ValueError):
        vmsizes.add(["Broken:1:2"])
    out = subprocess.run([sys.executable, "-m", "emulator", "serve", "--data-dir", str(tmp_path / "d"),
                          "--vm-size", "nonsense", "--port", "0", "--https-port", "0"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2 and "--vm-size expects NAME:GPUS:CPUS:MEM_GB" in out.stderr
