"""azure-mgmt-batchai 0.2.0 (2017-09-01-preview) and 1.0.1 (2018-03-01), each in its own environment, over the rest of
their surface against the live emulator (jobs stay queued here; tests/e2e/test_sdk_generations.py runs them)."""
from __future__ import annotations

import pytest

from .conftest import run_flow

USAGE = {"Clusters": 2, "Total Cluster Dedicated Regional vCPUs": 6, "Standard NC Family Cluster Dedicated vCPUs": 6}


@pytest.mark.parametrize("generation", ["0.2.0", "1.0.1"])
def test_old_sdk_surface(live, request, generation):
    python = request.getfixturevalue("sdk0_python" if generation == "0.2.0" else "sdk1_python")
    report = run_flow(python, "old_surface.py", "--endpoint", live.http_url, "--data-dir",
                      str(live.settings.data_dir), "--resource-group", f"old-{generation}")
    checks = report["checks"]
    assert checks["api_version"] == {"0.2.0": "2017-09-01-preview", "1.0.1": "2018-03-01"}[generation]
    assert checks["cluster"] == ["eastus", {"team": "vision"}, "dedicated"]
    assert checks["updated"] == [{"size": "small"}, 2]
    assert checks["clusters_filtered"] == ["gpu"]
    assert checks["clusters_selected"] == [["cpu", "eastus", None], ["gpu", "eastus", None]]
    assert checks["clusters_paged"] == ["cpu", "gpu"]
    assert checks["bad_filter"] == "NotSupportedByEmulator"
    assert checks["cluster_nodes"] == [50000]
    assert checks["file_server"] == ["eastus", "/mnt/data", "nfs"]
    assert checks["file_servers"] == ["nfs"] and checks["file_servers_after_delete"] == []
    # the preview's job answers carried no location (the service's recorded traffic; emulator/wire_observed.py)
    assert checks["job"] == [None if generation == "0.2.0" else "eastus", 100, "first-experiment", "model", True,
                             "queued"]
    assert checks["jobs_queued"] == ["job1"]
    assert checks["job_nodes"] == []
    assert checks["terminated"] == ["failed", "JobTerminated"]
    assert checks["missing_job"] == "ResourceNotFound"
    assert checks["left"] == [[], []]
    if generation == "1.0.1":
        assert checks["stdouterr"] == [["logs", True, None], ["stderr.txt", False, 0], ["stdout.txt", False, 6]]
        assert checks["subdirectory"] == ["x.log"] and checks["model"] == ["model.bin"]
        assert {k: checks["usages"][k] for k in USAGE} == USAGE
    else:
        assert checks["outputs_not_on_storage"] == "OutputDirectoryNotOnMountedStorage"
