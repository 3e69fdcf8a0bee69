"""`python -m cloud demo` (what `make demo` runs): a local emulator, the quickstart against it, then stop.

The emulator runs as a child process (emulator/launcher.py) with its embedded defaults in a temporary data dir, on
free ports (`--port 0 --https-port 0`; the ports are read back from the line it prints), with jobs executed by
Docker when an engine answers and by local processes otherwise, and the quickstart's CNTK GPU image mapped to the
CPU trainer image. The quickstart then runs exactly as it would against Azure, with `--endpoint <its https URL>` and its
certificate as the CA bundle. The emulator is stopped however the run ends (Ctrl-C included).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .console import Console, duration

CPU_IMAGE = "batchai-emulator/trainer-cpu:latest"
# 30 epochs of the offline 4,000-image training set: about 2.2% test error, under a minute or two on 2 cores
DEMO_EPOCHS = 30

if TYPE_CHECKING:
    from emulator.launcher import EmulatorProcess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the local emulator")
    group.add_argument("--executor", default="auto", help="how the emulator runs jobs: auto (Docker when an engine "
                                                          "answers, else local processes), docker or local")
    group.add_argument("--cpu-image", default=CPU_IMAGE, help=f"image that stands in for the quickstart's CNTK "
                                                              f"GPU image (default {CPU_IMAGE})")
    group.add_argument("--data-dir", type=Path, help="emulator data dir (default: a temporary one, removed after)")
    group.add_argument("--start-timeout", type=float, default=60.0)
    parser.set_defaults(epochs=DEMO_EPOCHS)


def choose_executor(requested: str, cpu_image: str) -> tuple[str, str | None]:
    """(executor, why) for the demo: `auto` unless Docker answers without the CPU image, which would fail the job."""
    if requested != "auto":
        return requested, None
    try:
        import docker
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception:  # no SDK, no engine: the emulator's auto picks local processes itself
        return "auto", None
    try:
        client.images.get(cpu_image)
    except Exception:
        return "local", (f"Docker answers but {cpu_image} is not built (images/README.md, or "
                         "`sudo bash .ci/docker.sh`): jobs run as local processes")
    return "auto", None


def serve_flags(args) -> list[str]:
    from .quickstart import CNTK_IMAGE
    return ["--executor", args.executor, "--image-map", f"{CNTK_IMAGE}={args.cpu_image}"]


@contextmanager
def local_emulator(args, console: Console, flags: list[str], prefix: str, what: str) -> Iterator[EmulatorProcess]:
    """The demos' emulator: started in args.data_dir (else a temporary one, removed after) on free ports, its log's
    last lines shown when the demo fails, stopped however the demo ends."""
    # imported here: cloud/ also runs in environments without the emulator's dependencies (.venv-azureml's flow
    # imports this module for its command line), and only the demos start an emulator
    from emulator.launcher import EmulatorProcess
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix=prefix)) if temporary else args.data_dir
    # the user's BATCHAI_EMULATOR_* settings apply; the blob port is serve's default (10000 when free)
    emulator = EmulatorProcess(data_dir, *flags, port=0, https_port=0, blob_port=-1, keep_settings=True,
                               log=data_dir / "emulator.log", own_session=True)
    try:
        with console.step(f"starting the {what} (data dir {data_dir})"):
            emulator.start(args.start_timeout)
        console.line(f"  {emulator.https_url} (HTTPS), {emulator.http_url} (HTTP); log {emulator.log}")
        yield emulator
    except Exception:
        tail = emulator.log_tail()
        if tail:
            console.line("last lines of the emulator's log:")
            for line in tail.splitlines():
                console.line(f"  {line}")
        raise
    finally:
        with console.step("stopping the emulator"):
            emulator.stop(20)
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def main(args, console: Console) -> int:
    from . import quickstart
    from .clients import connect

    began = time.monotonic()
    args.executor, why = choose_executor(args.executor, args.cpu_image)
    if why:
        console.line(f"note: {why}")
    with local_emulator(args, console, serve_flags(args), "batchai-demo-", "Batch AI emulator") as emulator:
        console.line(f"  same as: python -m cloud quickstart --endpoint {emulator.https_url} "
                     f"--ca-bundle {emulator.ca_bundle}")
        clients = connect(emulator.https_url, ca_bundle=emulator.ca_bundle)
        try:
            summary = quickstart.run(clients, quickstart.Options.from_args(args), console)
        finally:
            clients.close()
    console.line(f"demo finished in {duration(time.monotonic() - began)}")
    return 0 if summary.succeeded else 1
