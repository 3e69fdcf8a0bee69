"""`python -m cloud demo-azureml` (what `make demo-azureml` runs): a local emulator, the Azure ML flow, then stop.

Like `demo`: the emulator is a child process on free ports in a temporary data dir (jobs run by Docker when an
engine answers and the Azure ML image exists, by local processes otherwise). The flow itself runs in
.venv-azureml, as a user runs it: `python -m cloud azureml-quickstart` with nothing but the environment that
`batchai-emulator env --data-dir D --azureml` prints, plus the workspace to get or create (in the emulator's
subscription). The emulator is stopped however the run ends.
"""
from __future__ import annotations

import argparse
import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from .console import Console, duration
from .demo import choose_executor, local_emulator

if TYPE_CHECKING:
    from emulator.launcher import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
AZUREML_IMAGE = "batchai-emulator/azureml-cpu:latest"
AZUREML_PYTHON = ROOT / ".venv-azureml" / "bin" / "python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the local emulator")
    group.add_argument("--executor", default="auto", help="how the emulator runs jobs: auto (Docker when an engine "
                                                          "answers, else local processes), docker or local")
    group.add_argument("--azureml-image", default=AZUREML_IMAGE,
                       help=f"the image Azure ML runs use (checked to exist for --executor auto; default "
                            f"{AZUREML_IMAGE})")
    group.add_argument("--data-dir", type=Path, help="emulator data dir (default: a temporary one, removed after)")
    group.add_argument("--start-timeout", type=float, default=60.0)
    group.add_argument("--azureml-python", type=Path, default=AZUREML_PYTHON,
                       help="interpreter with azureml-core and azureml-train-core (default .venv-azureml, made by "
                            "`make install`)")


def parse_exports(text: str) -> dict[str, str]:
    """{NAME: value} of the `export NAME=value` lines a shell would evaluate (other lines are ignored)."""
    env = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) >= 2 and words[0] == "export":
            for word in words[1:]:
                name, sep, value = word.partition("=")
                if sep and name.isidentifier():
                    env[name] = value
    return env


def emulator_env(data_dir: Path) -> dict[str, str]:
    """What `batchai-emulator env --data-dir D --azureml` exports for the emulator serving D."""
    result = subprocess.run([sys.executable, "-m", "emulator", "env", "--data-dir", str(data_dir), "--azureml"],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"`batchai-emulator env --data-dir {data_dir} --azureml` failed "
                           f"(exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    env = parse_exports(result.stdout)
    if not env:
        raise RuntimeError(f"`batchai-emulator env --azureml` printed no export lines:\n{result.stdout}")
    return env


FALLBACK_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def emulator_subscription(emulator: EmulatorProcess) -> str:
    """The first subscription the emulator's Resource Manager lists (any id works there; the SDK wants a listed one)."""
    try:  # plain HTTP on loopback with any bearer, as the emulator accepts
        response = requests.get(f"{emulator.http_url}/subscriptions?api-version=2022-12-01", timeout=10,
                                headers={"Authorization": "Bearer demo"})
        response.raise_for_status()
        return response.json()["value"][0]["subscriptionId"]
    except (requests.RequestException, ValueError, KeyError, IndexError):
        return FALLBACK_SUBSCRIPTION


def flow_command(args, subscription: str) -> list[str]:
    command = [str(args.azureml_python), "-m", "cloud", "azureml-quickstart",
               "--workspace-name", args.workspace_name or "demo-workspace",
               "--resource-group", args.resource_group or "demo-azureml",
               "--subscription-id", args.subscription_id or subscription,
               "--location", args.location, "--experiment", args.experiment, "--cluster", args.cluster,
               "--vm-size", args.vm_size, "--max-nodes", str(args.max_nodes), "--epochs", str(args.epochs),
               "--batchsize", str(args.batchsize), "--model-name", args.model_name, "--out", str(args.out),
               "--poll", str(args.poll)]
    return command


def flow_environment(exports: dict[str, str], home: Path) -> dict[str, str]:
    """This process's environment without any earlier Azure settings, plus the emulator's exports.

    HOME is a fresh folder: azureml-core caches the discovery document and snapshot ids under ~/.azureml, and a
    demo must not reuse (or leave) another emulator's.
    """
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("AZUREML_", "AZURE_", "ARM_", "MSI_", "BATCHAI_"))
            and k not in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                          "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    return {**keep, **exports, "HOME": str(home), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def main(args, console: Console) -> int:
    began = time.monotonic()
    if not Path(args.azureml_python).is_file():
        console.line(f"error: {args.azureml_python} does not exist: `make install` makes .venv-azureml")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="batchai-demo-azureml-home-"))
    args.executor, why = choose_executor(args.executor, args.azureml_image)
    if why:
        console.line(f"note: {why}")
    try:
        if not os.environ.get("CHAINER_DATASET_ROOT"):
            # runs of the local executor inherit the emulator's environment: give them the offline digits (the
            # azureml-cpu image has its own)
            from trainer import data as trainer_data
            root = scratch / "chainer-dataset"
            with console.step(f"the offline MNIST digits for chainer.datasets.get_mnist() in {root}"), \
                    redirect_stderr(io.StringIO()):
                trainer_data.prepare(str(root), source="offline", layout="chainer")
            os.environ["CHAINER_DATASET_ROOT"] = str(root)
        with local_emulator(args, console, ["--executor", args.executor], "batchai-demo-azureml-",
                            "emulator") as emulator:
            code = run_flow(args, console, emulator, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.line(f"demo finished in {duration(time.monotonic() - began)}")
    return code


def run_flow(args, console: Console, emulator: EmulatorProcess, scratch: Path) -> int:
    """The Azure ML flow in its own interpreter, with the environment `batchai-emulator env --azureml` prints."""
    exports = emulator_env(emulator.data_dir)
    console.line(f"  same as: eval \"$(batchai-emulator env --data-dir {emulator.data_dir} --azureml)\" and "
                 f"{Path(args.azureml_python).parent.parent.name}/bin/python -m cloud azureml-quickstart")
    console.line(f"  environment: {', '.join(sorted(exports))}")
    command = flow_command(args, emulator_subscription(emulator))
    console.line(f"running: {' '.join(shlex.quote(c) for c in command[1:])}")
    console.line("")
    proc = subprocess.Popen(command, cwd=os.getcwd(), env=flow_environment(exports, scratch),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        for line in proc.stdout:
            console.line(line.rstrip("\n"))
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
