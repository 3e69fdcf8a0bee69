"""The quickstart's control-plane calls through azure-mgmt-batchai 2.0.0 + azure-mgmt-resource 13 (msrest, HTTP),
run in their own environment against the live emulator, unchanged but for credentials and endpoint."""
from __future__ import annotations

from .conftest import run_flow

LRO_LIMIT = 0.5  # seconds: every `.result()` must return this fast (issue 2's done-when)


def test_quickstart_control_plane_sdk2(live, sdk2_python):
    account, key = next(iter(live.settings.accounts().items()))
    report = run_flow(sdk2_python, "quickstart_sdk2.py", "--endpoint", live.http_url, "--account", account,
                      "--key", key, "--data-dir", str(live.settings.data_dir))
    checks = {c[0]: c[1:] for c in report["checks"]}
    assert checks["rg"] == ["q2-myresourcegroup", "eastus"]
    assert checks["workspace"] == ["myworkspace", "eastus", "succeeded"]
    state, nodes, password, account_key = checks["cluster"]
    assert (state, nodes) == ("steady", 1)
    assert password is None and account_key is None, "secrets must never be echoed"
    job_state, tool_type, segment = checks["job"]
    assert (job_state, tool_type) == ("queued", "cntk")
    assert segment.startswith("00000000-0000-0000-0000-0000000000a2/q2-myresourcegroup/workspaces/myworkspace/"
                              "experiments/myexperiment/jobs/myjob/")
    assert checks["stdouterr"] == [[["stderr.txt", 0, ""], ["stdout.txt", 19, "hello from the job\n"]]]
    assert checks["range"] == [206, "bytes 6-18/19", "from the job\n"]
    assert checks["model"] == [[["ConvNet_MNIST_0.dnn", "file", 11]]]
    assert checks["paged"] == [["stderr.txt", "stdout.txt"]]
    assert checks["jobs"] == [["myjob"]]
    assert checks["rg_exists_after_delete"] == [False]
    slow = {name: t for name, t in report["timings"].items() if t >= LRO_LIMIT}
    assert not slow, f"LROs slower than {LRO_LIMIT}s: {slow}"


def test_service_principal_credentials_from_emulator_aad(live, sdk2_python):
    """The article's ServicePrincipalCredentials, for a cloud read from the emulator's metadata endpoint, gets a
    token from the emulator's AAD over HTTPS (adal needs https and, off Azure, an /adfs authority)."""
    report = run_flow(sdk2_python, "aad_sdk2.py", "--endpoint", live.https_url,
                      env={"REQUESTS_CA_BUNDLE": live.ca_bundle})
    assert report["token_type"] == "Bearer"
    assert report["workspaces"] == []
    assert report["operations"] > 0
