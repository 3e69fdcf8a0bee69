"""The Azure ML seed flow (azureml-core 1.61 + azureml-train-core 1.62, its own venv) against a live emulator over
HTTPS, runs executing on the emulator's runner (local executor: the runs use .venv-azureml's python)."""
from __future__ import annotations

import glob
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.served import Served

from .conftest import FLOWS, client_env, make_workspace, outbound, report, run_client, serve

TRAINER = ROOT / "trainer" / "chainer_mnist.py"


def _chainer_data(root: Path) -> dict[str, str]:
    """The offline digits in chainer's dataset layout, for the real trainer (local executor: the runs inherit
    the emulator's environment)."""
    if not TRAINER.exists():
        return {}
    subprocess.run([sys.executable, "-m", "trainer.data", "--format", "chainer", "--out", str(root)], check=True,
                   cwd=ROOT, capture_output=True, timeout=300)
    return {"CHAINER_DATASET_ROOT": str(root)}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, aml_python):
    base = tmp_path_factory.mktemp("aml")
    served = serve(base / "data", env=_chainer_data(base / "chainer"))
    with served:
        yield served
    assert not served.unhandled_errors(), served.unhandled_errors()


@pytest.fixture(scope="module")
def project(emulator, aml_python, tmp_path_factory):
    """A project dir with config.json from Workspace.create + write_config, the seed's script folder and ./src."""
    path = tmp_path_factory.mktemp("project")
    env = client_env(emulator, path / "home")
    make_workspace(aml_python, env, path)
    (path / "chainer-mnist").mkdir()
    source = TRAINER if TRAINER.exists() else FLOWS / "tiny_chainer_mnist.py"
    (path / "chainer-mnist" / "chainer_mnist.py").write_bytes(source.read_bytes())
    (path / "src").mkdir()
    # the other tests' cluster (the seed test makes its own gpu-cluster, as the article does)
    run_client(aml_python, FLOWS / "compute.py", "create", "cpu-cluster", "STANDARD_D2_V2", env=env, cwd=path)
    return path, env


def _script(project: Path, name: str, text: str) -> None:
    (project / "src" / name).write_text(text)


def test_seed_flow_twice(emulator: Served, aml_python, project):
    path, env = project
    first = run_client(aml_python, FLOWS / "seed.py", env=env, cwd=path, timeout=900)
    out = report(first)
    assert "Creating a new compute target..." in first.stdout
    assert out["status"] == "Completed", first.stdout[-3000:]
    assert "Streaming azureml-logs/70_driver_log.txt" in first.stdout
    metrics = out["metrics"]
    assert metrics["Batch size"] == 128 and metrics["Epochs"] == 10
    assert len(metrics["Accuracy"]) == 10
    assert out["model"] == ["chainer-dnn-mnist", 1]
    assert "outputs/model.npz" in out["files"] and "azureml-logs/70_driver_log.txt" in out["files"]
    produced = glob.glob(str(emulator.data_dir / "jobs" / "*" / "node-0" / "azureml" / "wd" / "outputs" / "model.npz"))
    assert len(produced) == 1
    assert (path / "model" / "model.npz").read_bytes() == Path(produced[0]).read_bytes()
    snapshots = list((emulator.data_dir / "azureml" / "snapshots").iterdir())
    assert len(snapshots) == 1

    second = run_client(aml_python, FLOWS / "seed.py", env=env, cwd=path, timeout=900)
    again = report(second)
    assert "Found existing compute target." in second.stdout
    assert again["status"] == "Completed"
    assert again["model"] == ["chainer-dnn-mnist", 2]
    assert again["snapshot"] == out["snapshot"]            # the cached snapshot, nothing uploaded again
    assert len(list((emulator.data_dir / "azureml" / "snapshots").iterdir())) == 1
    assert outbound(env) == []                             # nothing left loopback, blob uploads included


def test_failing_script_shows_traceback(aml_python, project):
    path, env = project
    _script(path, "boom.py", "def deep():\n    raise ValueError('the script broke on purpose')\n\nprint('about to "
                             "fail', flush=True)\ndeep()\n")
    out = report(run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "boom.py", env=env, cwd=path))
    assert out["status"] == "Failed"
    assert "ActivityFailedException" in out["error"]
    assert "ValueError: the script broke on purpose" in out["error"]


def test_failing_script_streams_traceback(aml_python, project):
    path, env = project
    _script(path, "boom2.py", "raise RuntimeError('visible in the stream')\n")
    proc = run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "boom2.py", env=env, cwd=path)
    assert "Traceback (most recent call last)" in proc.stdout
    assert "RuntimeError: visible in the stream" in proc.stdout


def test_cancel(aml_python, project):
    path, env = project
    _script(path, "slow.py", "import time\nfor i in range(600):\n    print(i, flush=True)\n    time.sleep(0.5)\n")
    out = report(run_client(aml_python, FLOWS / "script_run.py", "cancel", "cpu-cluster", "slow.py", env=env,
                            cwd=path))
    assert out["before_cancel"] == "Running"
    assert out["status"] == "Canceled"


def test_clear_errors(aml_python, project):
    path, env = project
    missing = report(run_client(aml_python, FLOWS / "compute.py", "get", "no-such-cluster", env=env, cwd=path))
    assert "not found" in missing["error"].lower()
    bad_size = report(run_client(aml_python, FLOWS / "compute.py", "create", "bad-size", "STANDARD_BANANA",
                                 env=env, cwd=path))
    assert "STANDARD_BANANA" in bad_size["error"] and "not a valid Azure VM size" in bad_size["error"]
    _script(path, "ok.py", "print('never runs')\n")
    unknown = report(run_client(aml_python, FLOWS / "script_run.py", "submit", "no-such-cluster", "ok.py", env=env,
                                cwd=path))
    assert "no-such-cluster" in unknown["submit_error"] and "not found" in unknown["submit_error"].lower()
    absent = report(run_client(aml_python, FLOWS / "script_run.py", "submit", "cpu-cluster", "absent.py", env=env,
                               cwd=path))
    assert "absent.py" in absent["submit_error"]


def test_restart_mid_run_completes_once(aml_python, tmp_path):
    served = serve(tmp_path / "data")
    served.start()
    try:
        env = client_env(served, tmp_path / "home")
        make_workspace(aml_python, env, tmp_path)
        (tmp_path / "src").mkdir()
        marker = tmp_path / "executions.txt"
        _script(tmp_path, "count.py", f"import time\nopen({str(marker)!r}, 'a').write('ran\\n')\n"
                                      "for i in range(8):\n    print(i, flush=True)\n    time.sleep(1)\n"
                                      "import os\nos.makedirs('outputs', exist_ok=True)\n"
                                      "open('outputs/done.txt', 'w').write('done')\n")
        run_client(aml_python, FLOWS / "compute.py", "create", "cpu-cluster", "STANDARD_D2_V2", env=env, cwd=tmp_path)
        submitted = report(run_client(aml_python, FLOWS / "script_run.py", "submit", "cpu-cluster", "count.py",
                                      env=env, cwd=tmp_path))
        assert "run_id" in submitted, submitted
        run_id = submitted["run_id"]
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the run never started"
        served.kill9()
        served.start()
        env = client_env(served, tmp_path / "home")      # the proxy's port is a new one
        out = report(run_client(aml_python, FLOWS / "script_run.py", "attach", "cpu-cluster", run_id, env=env,
                                cwd=tmp_path))
        assert out["status"] == "Completed", out.get("error")
        assert "outputs/done.txt" in out["files"]
        assert marker.read_text() == "ran\n"
    finally:
        served.stop()


def test_outputs_never_follow_symlinks(aml_python, project):
    path, env = project
    _script(path, "links.py", "import os\nos.makedirs('outputs', exist_ok=True)\n"
                              "open('outputs/real.txt', 'w').write('mine')\n"
                              "os.symlink('/etc', 'outputs/etc')\nos.symlink('/etc/hostname', 'outputs/host.txt')\n")
    out = report(run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "links.py", env=env, cwd=path))
    assert out["status"] == "Completed"
    outputs = [f for f in out["files"] if f.startswith("outputs/")]
    assert outputs == ["outputs/real.txt"]


def test_bad_requests_answer_arm_errors(emulator: Served, project):
    import requests
    path, _ = project
    scope = json.loads((path / ".azureml" / "config.json").read_text())["Scope"]     # as write_config() wrote it
    ws = {"workspace_name": scope.rsplit("/", 1)[-1]}
    base, auth = emulator.https_url, {"Authorization": "Bearer x"}
    cases = [
        ("GET", f"/history/v1.0{scope}/experiments/chainer-mnist/runs/no-such-run/details", auth, None, 404),
        ("POST", f"/execution/v1.0{scope}/experiments/e/snapshotrun?runId=r1", auth, b"{not json", 400),
        ("POST", f"/execution/v1.0{scope}/experiments/e/snapshotrun?runId=r1", auth, b'{"SnapshotId": "x"}', 404),
        ("POST", f"/content/v2.0{scope}/snapshots/getblob", auth, b'{"FileNames": ["../../etc/passwd"]}', 400),
        ("GET", f"/history/v1.0{scope}/experiments/e", {}, None, 401),
        ("GET", f"/history/v1.0{scope.replace(ws['workspace_name'], 'nope')}/experiments/e", auth, None, 404),
        ("GET", f"/unknownservice/v1.0{scope}/x", auth, None, 404),
        ("POST", f"/metric/v2.0{scope}/runs/no-such-run/batch", auth, b'{"values": []}', 404),
        ("GET", f"/modelmanagement/v1.0{scope}/models/nope:1", auth, None, 404),
        ("GET", "/azureml/files/forged.token/x.txt", {}, None, 403),
    ]
    for method, url, headers, body, status in cases:
        resp = requests.request(method, base + url, headers={**headers, "Content-Type": "application/json"},
                                data=body, verify=emulator.ca_bundle, timeout=30)
        assert resp.status_code == status, (method, url, resp.status_code, resp.text)
        if "json" in resp.headers.get("Content-Type", ""):
            assert "code" in resp.json()["error"], resp.text


def test_proxy_reaches_only_the_emulator(emulator: Served):
    import socket
    port = json.loads((emulator.data_dir / "azureml" / "endpoints.json").read_text())["proxy_port"]

    def connect(target: str) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            return s.recv(200)

    assert connect("example.com:443").startswith(b"HTTP/1.1 403")
    assert connect("someaccount.blob.core.windows.net:8443").startswith(b"HTTP/1.1 403")
    assert connect(f"127.0.0.1:{emulator.https_port}").startswith(b"HTTP/1.1 200")
    assert connect("someaccount.blob.core.windows.net:443").startswith(b"HTTP/1.1 200")


def _wheel(directory: Path, name: str, version: str, module_text: str) -> Path:
    """A minimal pure-Python wheel, made by hand: the run installs it from a local directory, never the network."""
    import zipfile
    info = f"{name}-{version}.dist-info"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{name}.py", module_text)
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                      "Tag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", f"{name}.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def test_pip_packages_install_from_the_configured_index_into_the_run_only(aml_python, tmp_path):
    """--azureml-pip-index: what the run's python lacks is installed into the run's own directory (here from a
    directory of wheels, no network), what it has is left alone, and the run imports it; another run without
    the package in its environment cannot."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "emuhello", "1.0", "GREETING = 'hello from a pip package of the run'\n")
    served = serve(tmp_path / "data", "--executor", "local", "--azureml-pip-index", str(wheels))
    served.start()
    try:
        env = client_env(served, tmp_path / "home")
        make_workspace(aml_python, env, tmp_path)
        (tmp_path / "src").mkdir()
        _script(tmp_path, "hello.py", "import emuhello, os\nos.makedirs('outputs', exist_ok=True)\n"
                                      "open('outputs/greeting.txt', 'w').write(emuhello.GREETING)\n"
                                      "print(emuhello.GREETING, flush=True)\n")
        run_client(aml_python, FLOWS / "compute.py", "create", "cpu-cluster", "STANDARD_D2_V2", env=env, cwd=tmp_path)
        proc = run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "hello.py",
                          env={**env, "AML_PIP_PACKAGES": "emuhello,numpy"}, cwd=tmp_path)
        out = report(proc)
        assert out["status"] == "Completed", proc.stdout[-3000:]
        assert "outputs/greeting.txt" in out["files"]
        assert "hello from a pip package of the run" in proc.stdout
        assert "numpy" in proc.stdout and "is already installed" in proc.stdout     # not installed again
        # the package went into that run's directory, not into the python the local executor shares
        check = subprocess.run([str(aml_python), "-c", "import emuhello"], capture_output=True)
        assert check.returncode != 0
        other = report(run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "hello.py", env=env,
                                  cwd=tmp_path))
        assert other["status"] == "Failed", other
        assert "emuhello" in other["error"], other["error"][:3000]
    finally:
        served.stop()
    assert not served.unhandled_errors(), served.unhandled_errors()


def test_pip_packages_are_recorded_not_installed_without_an_index(aml_python, project):
    path, env = project
    _script(path, "noop.py", "print('no packages needed')\n")
    proc = run_client(aml_python, FLOWS / "script_run.py", "wait", "cpu-cluster", "noop.py",
                      env={**env, "AML_PIP_PACKAGES": "emuhello"}, cwd=path)
    assert report(proc)["status"] == "Completed"
    assert "pip packages recorded, not installed" in proc.stdout
