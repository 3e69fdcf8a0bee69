"""azure-storage-blob 2.1.0 (BlockBlobService), in its own environment (.venv-blob2018, `make install`): the
legacy generation the 2018 Batch AI samples used, byte-exact at 1 MB and 100 MB with parallel blocks, ranges,
5,000 blobs listed in pages, metadata, copy, conditions, SAS, wrong key."""
from __future__ import annotations

import os
import subprocess
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, venv_python

BLOB2_PYTHON = Path(os.environ.get("BATCHAI_BLOB2_PYTHON", ROOT / ".venv-blob2018" / "bin" / "python"))
FLOW = Path(__file__).parent / "flows" / "legacy_blob.py"


@pytest.fixture(scope="session")
def blob2_python() -> Path:
    return venv_python(BLOB2_PYTHON, "the azure-storage-blob 2.1.0 environment (tests/blob/requirements-2.1.0.txt)")


@pytest.mark.slow
def test_block_blob_service_2_1_0(live, blob2_python):
    account, key = next(iter(live.settings.accounts().items()))
    proc = subprocess.run([str(blob2_python), str(FLOW), live.blob_url, account, key, "100"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["created"] is True
    assert report["small"] is True and report["big"] == [100 << 20, True] and report["blocks"] == 25
    assert report["range"] is True
    assert report["props"] == [1 << 20, "application/x-small", {"kind": "small"}]
    assert report["metadata"] == {"kind": "changed"}
    assert report["listing"] == [5, True] and report["delimited"] == ["in/", "many/"]
    assert report["copy"] is True
    assert report["if_match"] == 412 and report["if_none_match"] == 409 and report["deleted"] is True
    assert report["sas_read"] is True and report["sas_write"] == 403 and report["wrong_key"] == 403
    assert report["missing"] == 404 and report["conflict"] == 409 and report["container_deleted"] is True
