"""cloud/azureml_quickstart.py and cloud/azureml_demo.py without a cloud: the seed flow's calls against a fake
azureml SDK (what it asks for, what it prints), the log follower against a real HTTP server, and the command line.

The flow against a live emulator is tests/cloud/test_azureml_quickstart_live.py.
"""
from __future__ import annotations

import contextlib
import http.server
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from cloud import azureml_demo
from cloud import azureml_quickstart as aq
from cloud.console import Console
from tests.cloud.conftest import ROOT
from tests.conftest import venv_python

AML_PYTHON = ROOT / ".venv-azureml" / "bin" / "python"


# ---------------------------------------------------------------------------------------------------------------
# a fake azureml SDK that records the calls

class FakeComputeTargetException(Exception):
    pass


class FakeUserErrorException(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class FakeRun:
    def __init__(self, calls, script, *, fail=False):
        self.calls, self.id = calls, "chainer-mnist_1700000000_abcd1234"
        self.polls, self.fail = 0, fail
        self.script = script

    def get_details(self):
        self.polls += 1
        states = ["Queued", "Preparing", "Running", "Running", "Failed" if self.fail else "Completed"]
        state = states[min(self.polls - 1, len(states) - 1)]
        details = {"runId": self.id, "status": state, "startTimeUtc": "2026-01-01T10:00:00.000Z"}
        if self.polls >= 3:
            details["logFiles"] = {"azureml-logs/70_driver_log.txt": "https://logs/driver"}
        if state in aq.TERMINAL:
            details["endTimeUtc"] = "2026-01-01T10:01:00.000Z"
        if self.fail and state == "Failed":
            details["error"] = {"error": {"code": "UserError", "message": "ValueError: bad script"}}
        return details

    def get_metrics(self):
        return {"Batch size": 128, "Epochs": 2, "Accuracy": [0.85, 0.9]}

    def register_model(self, model_name, model_path):
        self.calls.append(("register_model", model_name, model_path))
        return SimpleNamespace(name=model_name, version=1, id=f"{model_name}:1")

    def get_file_names(self):
        return ["azureml-logs/70_driver_log.txt", "outputs/model.npz", "outputs/other.txt"]

    def download_file(self, name, output_file_path):
        self.calls.append(("download_file", name, output_file_path))
        Path(output_file_path).write_bytes(b"npz bytes")

    def get_portal_url(self):
        return "https://ml.azure.com/runs/" + self.id


def fake_sdk(calls, *, compute_exists=False, fail=False, config_missing=False):
    workspace = SimpleNamespace(name="ws", resource_group="rg", subscription_id="sub",
                                write_config=lambda path: calls.append(("write_config", path)))

    class Workspace:
        @staticmethod
        def from_config(path=None):
            calls.append(("from_config", path))
            if config_missing:
                raise FakeUserErrorException("config.json could not be found")
            return workspace

        @staticmethod
        def create(name, **kwargs):
            calls.append(("Workspace.create", name, kwargs))
            print("Deploying StorageAccount", end="")  # the SDK prints progress without newlines
            print(" .. done")
            import warnings
            warnings.warn("The resource group doesn't exist", UserWarning)
            return workspace

    compute = SimpleNamespace(vm_size="STANDARD_NC6", wait_for_completion=lambda show_output: calls.append(
        ("wait_for_completion", show_output)), get_status=lambda: SimpleNamespace(
        allocation_state="Steady", current_node_count=0,
        node_state_counts=SimpleNamespace(idle_node_count=0, running_node_count=0, preparing_node_count=0,
                                          unusable_node_count=0, leaving_node_count=0)))

    def compute_target(workspace, name):
        calls.append(("ComputeTarget", name))
        if not compute_exists:
            raise FakeComputeTargetException("not found")
        return compute

    def create(ws, name, config):
        calls.append(("ComputeTarget.create", name, config))
        return compute
    compute_target.create = create

    def experiment(ws, name):
        calls.append(("Experiment", name))

        def submit(estimator):
            calls.append(("submit", estimator))
            return FakeRun(calls, None, fail=fail)
        return SimpleNamespace(submit=submit)

    def chainer(**kwargs):
        calls.append(("Chainer", kwargs))
        return ("estimator", kwargs)

    return SimpleNamespace(
        Workspace=Workspace, Experiment=experiment, ComputeTarget=compute_target,
        AmlCompute=SimpleNamespace(provisioning_configuration=lambda **kw: ("config", kw)),
        ComputeTargetException=FakeComputeTargetException, UserErrorException=FakeUserErrorException,
        Chainer=chainer)


@pytest.fixture
def fake_logs(monkeypatch):
    """The driver log, served by a fake fetch in two pieces (the first ends mid-line)."""
    pieces = [b"Attempted to log scalar metric Accuracy:\n0.8", b"5\nsaved the model\n"]
    seen = []

    def fetch(url, offset):
        seen.append((url, offset))
        return pieces.pop(0) if pieces else b""
    monkeypatch.setattr(aq, "fetch_from", fetch)
    return seen


def run_flow(tmp_path, calls, options=None, **sdk_kwargs):
    out = io.StringIO()
    o = options or aq.Options(workspace="ws", subscription_id="sub", resource_group="rg", out=tmp_path / "out",
                              poll=0.01)
    summary = aq.run(o, Console(out), sdk=fake_sdk(calls, **sdk_kwargs), sleep=lambda s: None,
                     environ={"AZUREML_CURRENT_CLOUD": "BatchAIEmulator",
                              "ARM_CLOUD_METADATA_URL": "https://127.0.0.1:1/metadata/endpoints"})
    return summary, out.getvalue()


def test_the_seed_flow_calls_and_output(tmp_path, fake_logs):
    calls = []
    summary, out = run_flow(tmp_path, calls)
    assert summary.succeeded
    names = [c[0] for c in calls]
    assert names[:5] == ["Workspace.create", "write_config", "Experiment", "ComputeTarget", "ComputeTarget.create"]
    create = calls[0]
    assert create[1] == "ws" and create[2]["create_resource_group"] is True and create[2]["exist_ok"] is True
    assert create[2]["subscription_id"] == "sub" and create[2]["resource_group"] == "rg"
    assert ("write_config", str(tmp_path / "out")) in calls
    assert ("Experiment", "chainer-mnist") in calls
    assert calls[4][2] == ("config", {"vm_size": "STANDARD_NC6", "max_nodes": 4})
    assert ("wait_for_completion", False) in calls
    chainer = next(c[1] for c in calls if c[0] == "Chainer")
    assert chainer["script_params"] == {"--epochs": 10, "--batchsize": 128, "--output_dir": "./outputs"}
    assert chainer["entry_script"] == "chainer_mnist.py" and chainer["use_gpu"] is True
    assert chainer["pip_packages"] == ["numpy", "pytest"]
    project = Path(chainer["source_directory"])
    assert project == tmp_path / "out" / "chainer-mnist"
    assert (project / "chainer_mnist.py").read_bytes() == (ROOT / "trainer" / "chainer_mnist.py").read_bytes()
    assert ("register_model", "chainer-dnn-mnist", "outputs/model.npz") in calls
    downloads = [c for c in calls if c[0] == "download_file"]
    assert downloads == [("download_file", "outputs/model.npz", str(tmp_path / "out" / "model" / "model.npz"))]

    # what the user sees; the SDK's prints and warnings come as whole lines of ours
    assert "\n  azureml: Deploying StorageAccount .. done\n" in out
    assert "\n  azureml: UserWarning: The resource group doesn't exist\n" in out
    assert "Azure ML Chainer quickstart on BatchAIEmulator (cloud list from https://127.0.0.1:1/metadata" in out
    assert "creating compute target gpu-cluster: AmlCompute, STANDARD_NC6, 0 to 4 nodes ... done" in out
    for state in ("Queued", "Preparing", "Running", "Completed"):
        assert out.count(f"run chainer-mnist_1700000000_abcd1234: {state}\n") == 1, out
    # a line split between two reads comes out whole, prefixed with the log's name
    assert "azureml-logs/70_driver_log.txt | 0.85\n" in out
    assert "azureml-logs/70_driver_log.txt | saved the model\n" in out
    assert "  Accuracy: 0.8500, 0.9000" in out and "  Batch size: 128" in out
    assert "registering model chainer-dnn-mnist from outputs/model.npz ... done" in out
    assert "  model:         chainer-dnn-mnist version 1 (id chainer-dnn-mnist:1)" in out
    assert "  test accuracy: 90.00% after epoch 2 (metric 'Accuracy')" in out
    assert "  final state:   Completed" in out and "  run time:      1 min 00 s" in out
    # one minute on one NC6 at $0.90/h
    assert "  Azure cost:    run 1 min 00 s on 1 x STANDARD_NC6 = $0.0150 at $0.90/h" in out
    assert f"model.npz (9 bytes) in {tmp_path / 'out' / 'model'}" in out


def test_reads_continue_where_the_last_one_stopped(tmp_path, fake_logs):
    run_flow(tmp_path, [])
    offsets = [offset for _, offset in fake_logs]
    assert offsets[:3] == [0, len(b"Attempted to log scalar metric Accuracy:\n0.8"),
                           len(b"Attempted to log scalar metric Accuracy:\n0.85\nsaved the model\n")]


def test_an_existing_compute_target_is_used(tmp_path, fake_logs):
    calls = []
    _, out = run_flow(tmp_path, calls, compute_exists=True)
    assert "found existing compute target gpu-cluster" in out
    assert "ComputeTarget.create" not in [c[0] for c in calls]


def test_a_failed_run_registers_nothing_and_says_why(tmp_path, fake_logs):
    calls = []
    summary, out = run_flow(tmp_path, calls, fail=True)
    assert not summary.succeeded
    assert [c for c in calls if c[0] in ("register_model", "download_file")] == []
    assert "  final state:   Failed" in out and "  run error:     UserError: ValueError: bad script" in out
    assert "  model:         not registered" in out


def test_config_json_is_the_default_and_its_absence_is_explained(tmp_path, fake_logs):
    calls = []
    options = aq.Options(config=tmp_path / "cfg", out=tmp_path / "out", poll=0.01)
    run_flow(tmp_path, calls, options, compute_exists=True)
    assert calls[0] == ("from_config", str(tmp_path / "cfg"))
    assert "write_config" not in [c[0] for c in calls]
    with pytest.raises(aq.AzureMLQuickstartError, match="config.json could not be found.*--workspace-name"):
        run_flow(tmp_path, [], options, config_missing=True)


def test_a_named_workspace_needs_subscription_and_group(tmp_path):
    with pytest.raises(aq.AzureMLQuickstartError, match="needs --subscription-id"):
        run_flow(tmp_path, [], aq.Options(workspace="ws", resource_group="rg", out=tmp_path))


def test_cost_line_only_for_the_priced_size():
    summary = aq.AmlSummary(target="t", run_id="r", state="Completed", run_seconds=3600.0, vm_size="STANDARD_D2")
    assert any("no list price here for STANDARD_D2" in line for line in summary.lines())
    summary.vm_size = "Standard_NC6"
    assert any("= $0.9000 at $0.90/h" in line for line in summary.lines())


@pytest.mark.parametrize("details, message", [
    ({"error": {"error": {"code": "UserError", "message": "boom"}}}, "UserError: boom"),
    ({"error": {"message": "boom"}}, "boom"),
    ({"error": "plain"}, "plain"),
    ({}, None),
])
def test_error_message_shapes(details, message):
    assert aq.error_message(details) == message


# ---------------------------------------------------------------------------------------------------------------
# ranged reads against a real server

@contextlib.contextmanager
def serve(body: bytes, honour_range: bool):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            start = 0
            if honour_range and self.headers.get("Range"):
                start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/log"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("honour_range", [True, False])
def test_fetch_from_returns_only_the_new_bytes(honour_range, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serve(b"line one\nline two\n", honour_range) as url:
        assert aq.fetch_from(url, 0) == b"line one\nline two\n"
        assert aq.fetch_from(url, 9) == b"line two\n"
        assert aq.fetch_from(url, 18) == b""


# ---------------------------------------------------------------------------------------------------------------
# the demo's plumbing

def test_parse_exports_reads_what_a_shell_would():
    text = ("# comment\nexport A=1\nexport B='two words' C=\"x=y\"\necho ignored\nexport NOT-A-NAME=3\n"
            "export SSL_CERT_FILE=/d/cert.pem  # trailing comment\n")
    assert azureml_demo.parse_exports(text) == {"A": "1", "B": "two words", "C": "x=y",
                                                "SSL_CERT_FILE": "/d/cert.pem"}


def test_flow_environment_drops_earlier_azure_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "old")
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "old")
    monkeypatch.setenv("HTTPS_PROXY", "http://old")
    env = azureml_demo.flow_environment({"AZUREML_CURRENT_CLOUD": "new", "MSI_ENDPOINT": "https://e/msi"}, tmp_path)
    assert env["AZUREML_CURRENT_CLOUD"] == "new" and env["MSI_ENDPOINT"] == "https://e/msi"
    assert "AZURE_SUBSCRIPTION_ID" not in env and "HTTPS_PROXY" not in env
    assert env["HOME"] == str(tmp_path) and env["PYTHONPATH"] == str(ROOT)


# ---------------------------------------------------------------------------------------------------------------
# the command line, in .venv-azureml as users run it

@pytest.fixture(scope="module")
def aml_python():
    return str(venv_python(AML_PYTHON, "the azureml-core environment"))


def cli(python, *args, cwd, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE", "ARM_", "MSI_"))}
    return subprocess.run([python, "-m", "cloud", "azureml-quickstart", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**env, "PYTHONPATH": str(ROOT), "HOME": str(cwd)})


def test_cli_without_config_says_what_to_give(aml_python, tmp_path):
    proc = cli(aml_python, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "workspace from config.json ... failed" in proc.stdout
    assert "could not be found" in proc.stdout and "give --workspace-name, --resource-group" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "argument --epochs: must be at least 1, not 0"),
    (["--batchsize", "x"], "argument --batchsize: invalid _positive_int value: 'x'"),
])
def test_cli_usage_errors(aml_python, tmp_path, args, message):
    proc = cli(aml_python, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_demo_without_the_azureml_venv_says_how_to_make_it(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cloud", "demo-azureml", "--azureml-python",
                           str(tmp_path / "missing" / "python")], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert "make install" in proc.stdout
