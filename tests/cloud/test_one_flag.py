"""The one-flag proof: the quickstart sends Azure and the emulator the same operations, host aside.

The same command runs twice with the same environment (AZURE_* credentials and subscription): once as is,
against public Azure mocked with `responses` (tests/cloud/fake_azure.py), once with `--endpoint` pointing at a
live emulator. Both runs are recorded below every SDK (tests/cloud/recording.py) and reduced to operations:
method, path, query (api-version included) and body. The sequences must be equal.
"""
from __future__ import annotations

import pytest
import responses

from tests.cloud.conftest import SUBSCRIPTION, run_cli
from tests.cloud.fake_azure import FakeAzure
from tests.cloud.recording import Recorder, operations, token_requests

CREDENTIALS = {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "AZURE_TENANT_ID": "contoso-tenant",
               "AZURE_CLIENT_ID": "quickstart-app", "AZURE_CLIENT_SECRET": "quickstart-secret"}


def _quickstart(out_dir) -> list[str]:
    return ["quickstart", "--epochs", "2", "--resource-group", "proof-rg", "--poll", "0.05", "--out", str(out_dir)]


def test_same_operations_on_azure_and_on_the_emulator(local_emulator, ctf_data, tmp_path, monkeypatch, capsys):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    recorder = Recorder().install(monkeypatch)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeAzure(SUBSCRIPTION).install(rsps)
        code, azure_out = run_cli(_quickstart(tmp_path / "azure") + ["--data", str(ctf_data)], capsys)
    assert code == 0, azure_out
    on_azure = list(recorder.exchanges)
    recorder.clear()

    code, emulator_out = run_cli(_quickstart(tmp_path / "emulator") + [
        "--data", str(ctf_data), "--endpoint", local_emulator.https_url, "--ca-bundle", local_emulator.ca_bundle],
        capsys)
    assert code == 0, emulator_out
    on_emulator = list(recorder.exchanges)

    # nothing of the Azure run left this machine: every request went to the three Azure hosts
    assert {ex.host for ex in on_azure} <= {"login.microsoftonline.com", "management.azure.com",
                                            "bqs" + _account_suffix(on_azure) + ".file.core.windows.net"}
    assert {ex.host for ex in on_emulator} == {local_emulator.https_url.split("//")[1]}

    ops_azure, ops_emulator = operations(on_azure), operations(on_emulator)
    if ops_azure != ops_emulator:
        pytest.fail("the operations differ (- Azure, + emulator):\n" + _diff(ops_azure, ops_emulator), pytrace=False)
    # and the flow did what the quickstart does, in its order
    flat = [op for entry in ops_azure for op in (entry[1:] if entry[0] == "reads" else [entry])]
    kinds = [f"{m} {a.split('?')[0]}" for m, a, _ in flat]
    for expected in ("/resourcegroups/proof-rg", "/storageAccounts/", "/listKeys", "/batchaiquickstart",
                     "/workspaces/myworkspace", "/clusters/mycluster", "/experiments/myexperiment",
                     "/jobs/myjob", "/listOutputFiles", "<download stdouterr/stderr.txt>",
                     "<download MODEL/metrics.json>"):
        assert any(expected in k for k in kinds), (expected, kinds)
    assert kinds[-1] == "DELETE /subscriptions/%s/resourcegroups/proof-rg" % SUBSCRIPTION

    # the only difference is where the tokens came from and for which audience
    azure_tokens, emulator_tokens = token_requests(on_azure), token_requests(on_emulator)
    assert [t["path"] for t in azure_tokens] == ["/contoso-tenant/oauth2/v2.0/token"]
    assert [t["path"] for t in emulator_tokens] == ["/contoso-tenant/oauth2/v2.0/token"]
    assert azure_tokens[0]["scope"] == "https://management.azure.com/.default"
    assert emulator_tokens[0]["scope"] == local_emulator.https_url + "/.default"
    for token in (azure_tokens[0], emulator_tokens[0]):
        assert (token["grant_type"], token["client_id"]) == ("client_credentials", "quickstart-app")
    assert [ex.path for ex in on_emulator if "metadata" in ex.path] == ["/metadata/endpoints"]
    assert not [ex for ex in on_azure if "metadata" in ex.path]

    for out in (azure_out, emulator_out):
        assert "final state:   succeeded, exit code 0" in out
        assert "test error:" in out and "Azure cost:" in out


def _account_suffix(exchanges) -> str:
    for ex in exchanges:
        if "/storageAccounts/bqs" in ex.path:
            return ex.path.split("/storageAccounts/bqs")[1].split("/")[0]
    return ""


def _diff(a: list, b: list) -> str:
    import difflib
    return "\n".join(difflib.unified_diff([repr(x) for x in a], [repr(x) for x in b], "azure", "emulator",
                                          lineterm="", n=2))


def test_the_comparison_sees_a_different_request(ctf_data, tmp_path, monkeypatch, capsys):
    """A control: two Azure runs that differ in one job argument do not reduce to the same operations."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    recorder = Recorder().install(monkeypatch)
    runs = []
    for epochs in ("2", "3"):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            FakeAzure(SUBSCRIPTION).install(rsps)
            argv = _quickstart(tmp_path / epochs) + ["--data", str(ctf_data)]
            argv[argv.index("--epochs") + 1] = epochs
            code, out = run_cli(argv, capsys)
        assert code == 0, out
        runs.append(operations(recorder.exchanges))
        recorder.clear()
    differing = [(a, b) for a, b in zip(*runs) if a != b]
    assert len(runs[0]) == len(runs[1]) and len(differing) == 1
    assert "/jobs/myjob?" in differing[0][0][1] and "--epochs 2" in differing[0][0][2]
    assert "--epochs 3" in differing[0][1][2]
