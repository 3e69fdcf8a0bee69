"""The Azure ML Chainer estimator flow (the project's second seed), written once with azureml-core (SDK v1).

Workspace (from config.json, or got/created by name and written as config.json) → experiment `chainer-mnist` →
AmlCompute `gpu-cluster` (found, or created as STANDARD_NC6 with up to 4 nodes and waited for) → the Chainer
estimator on trainer/chainer_mnist.py with the seed's script_params → submit → live logs and state changes →
metrics → model `chainer-dnn-mnist` registered → `outputs/model*` downloaded → what it would have cost on Azure.

Nothing here knows which cloud it talks to: azureml-core picks its hosts from its environment (on the emulator,
the export lines of `batchai-emulator env --azureml`); without those variables this is real Azure ML. It runs in
.venv-azureml (azureml-core, azureml-train-core): `.venv-azureml/bin/python -m cloud azureml-quickstart`.
"""
from __future__ import annotations

import os
import shutil
import time
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from .console import Console, LineWriter, duration
from .report import NC6_PRICE_BASIS, NC6_PRICE_USD_PER_HOUR, cost_usd, seconds_between

SCRIPT_NAME = "chainer_mnist.py"
TERMINAL = ("Completed", "Failed", "Canceled")


def default_script() -> Path:
    import trainer
    return Path(trainer.__file__).resolve().parent / SCRIPT_NAME


@dataclass
class Options:
    config: Path | None = None          # a config.json, or a folder holding one (Workspace.from_config's path)
    workspace: str | None = None        # with a name: Workspace.get, else Workspace.create (then write_config)
    subscription_id: str | None = None
    resource_group: str | None = None
    location: str = "eastus"
    experiment: str = "chainer-mnist"
    cluster: str = "gpu-cluster"
    vm_size: str = "STANDARD_NC6"
    max_nodes: int = 4
    epochs: int = 10
    batchsize: int = 128
    model_name: str = "chainer-dnn-mnist"
    script: Path | None = None
    out: Path = Path("azureml-output")  # project folder, model downloads, written config.json
    poll: float = 2.0
    use_gpu: bool = True
    pip_packages: tuple = ("numpy", "pytest")

    @property
    def project_folder(self) -> Path:
        # one stable folder per output dir: the SDK caches the snapshot by folder, so a second run uploads nothing
        return self.out / "chainer-mnist"

    def script_params(self) -> dict:
        return {"--epochs": self.epochs, "--batchsize": self.batchsize, "--output_dir": "./outputs"}

    def command_line(self) -> str:
        return " ".join([SCRIPT_NAME] + [f"{k} {v}" for k, v in self.script_params().items()])


class AzureMLQuickstartError(Exception):
    pass


def load_sdk() -> SimpleNamespace:
    """The azureml-core names the flow uses (azureml.train.dnn is imported later: it costs several seconds)."""
    from azureml.core import Experiment, Workspace
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.core.compute_target import ComputeTargetException
    from azureml.exceptions import UserErrorException

    def chainer_estimator(**kwargs):
        from azureml.train.dnn import Chainer
        return Chainer(**kwargs)
    return SimpleNamespace(Workspace=Workspace, Experiment=Experiment, AmlCompute=AmlCompute,
                           ComputeTarget=ComputeTarget, ComputeTargetException=ComputeTargetException,
                           UserErrorException=UserErrorException, Chainer=chainer_estimator)


def target_description(environ=os.environ) -> str:
    """Which cloud azureml-core was pointed at, as its own variables say (public Azure when unset)."""
    cloud = environ.get("AZUREML_CURRENT_CLOUD") or "AzureCloud"
    metadata = environ.get("ARM_CLOUD_METADATA_URL")
    return f"{cloud} (cloud list from {metadata})" if metadata else f"{cloud} (azureml-core's built-in cloud list)"


@contextmanager
def sdk_output(console: Console):
    """What azureml-core prints (progress, deprecation warnings) as indented lines of ours, not mid-line."""
    lines = LineWriter(lambda text: console.line(f"  azureml: {text.strip()}"))
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(lines), redirect_stderr(lines):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            lines.flush_rest()
    seen = set()
    for warning in caught:
        # deprecations inside the SDK's own dependencies are not the user's business
        if issubclass(warning.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        name = warning.category.__name__
        text = str(warning.message).strip()
        text = text[len(name) + 1:].strip() if text.startswith(name + ":") else text
        if text and text not in seen:
            seen.add(text)
            console.line(f"  azureml: {name}: {text}")


# ---------------------------------------------------------------------------------------------------------------
# steps

def get_workspace(sdk, o: Options, console: Console):
    if not o.workspace:
        where = f" in {o.config}" if o.config else ""
        with console.step(f"workspace from config.json{where}"):
            try:
                return sdk.Workspace.from_config(path=str(o.config) if o.config else None)
            except sdk.UserErrorException as exc:
                raise AzureMLQuickstartError(
                    f"no usable config.json{where} ({getattr(exc, 'message', None) or exc}); give "
                    "--workspace-name, --resource-group and --subscription-id to get or create the workspace") from exc
    if not o.subscription_id or not o.resource_group:
        raise AzureMLQuickstartError("--workspace-name needs --subscription-id (or $AZURE_SUBSCRIPTION_ID) and "
                                     "--resource-group")
    # exist_ok: the workspace when it exists, else it is created (resource group too) by an ARM deployment
    with console.step(f"workspace {o.workspace} in {o.location}, resource group {o.resource_group} "
                      "(Workspace.create, exist_ok)"):
        with sdk_output(console):
            ws = sdk.Workspace.create(o.workspace, subscription_id=o.subscription_id,
                                      resource_group=o.resource_group, create_resource_group=True,
                                      location=o.location, exist_ok=True, show_output=False)
    o.out.mkdir(parents=True, exist_ok=True)
    ws.write_config(path=str(o.out))
    console.line(f"  wrote {o.out / '.azureml' / 'config.json'}: Workspace.from_config(path={str(o.out)!r}) "
                 "finds this workspace")
    return ws


def get_compute(sdk, ws, o: Options, console: Console):
    try:
        compute = sdk.ComputeTarget(workspace=ws, name=o.cluster)
        console.line(f"found existing compute target {o.cluster}")
    except sdk.ComputeTargetException:
        config = sdk.AmlCompute.provisioning_configuration(vm_size=o.vm_size, max_nodes=o.max_nodes)
        with console.step(f"creating compute target {o.cluster}: AmlCompute, {o.vm_size}, 0 to {o.max_nodes} nodes"), \
                sdk_output(console):
            compute = sdk.ComputeTarget.create(ws, o.cluster, config)
            compute.wait_for_completion(show_output=False)
    status = compute.get_status()
    counts = getattr(status, "node_state_counts", None)
    text = ", ".join(f"{k} {getattr(counts, k + '_node_count', 0) or 0}"
                     for k in ("idle", "running", "preparing", "unusable", "leaving")) if counts else "no node counts"
    console.line(f"  {getattr(compute, 'vm_size', o.vm_size)}, {getattr(status, 'allocation_state', '?')}: "
                 f"{getattr(status, 'current_node_count', 0) or 0} nodes ({text})")
    return compute


def prepare_project(o: Options, console: Console) -> Path:
    folder = o.project_folder
    folder.mkdir(parents=True, exist_ok=True)
    script = Path(o.script or default_script())
    shutil.copyfile(script, folder / SCRIPT_NAME)
    console.line(f"project folder {folder}: {SCRIPT_NAME} (from {script})")
    return folder


class RunLogFollower:
    """Prints a run's state changes and the new lines of its log files until it ends; returns the last details.

    Log files are those `run.get_details()['logFiles']` names (what the SDK's own wait_for_completion streams),
    read with ranged GETs of their signed URLs from where the previous read stopped.
    """

    def __init__(self, run, emit, *, poll: float, sleep=time.sleep, on_state=None, fetch=None):
        self.run_, self.emit, self.poll, self.sleep = run, emit, poll, sleep
        self.on_state = on_state or (lambda state: None)
        self.fetch = fetch or fetch_from
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, str] = {}

    def _read_logs(self, log_files: dict, final: bool) -> None:
        for name in sorted(log_files):
            data = self.fetch(log_files[name], self.offsets.get(name, 0))
            if data:
                self.offsets[name] = self.offsets.get(name, 0) + len(data)
                text = self.partial.pop(name, "") + data.decode("utf-8", errors="replace")
                *lines, rest = text.replace("\r\n", "\n").split("\n")
                for line in lines:
                    self.emit(name, line)
                if rest:
                    self.partial[name] = rest
            if final and self.partial.get(name):
                self.emit(name, self.partial.pop(name))

    def run(self) -> dict:
        while True:
            details = self.run_.get_details()
            state = details.get("status", "?")
            self.on_state(state)
            final = state in TERMINAL
            self._read_logs(details.get("logFiles") or {}, final)
            if final:
                return details
            self.sleep(self.poll)


def fetch_from(url: str, offset: int) -> bytes:
    """The bytes of url from offset on (b'' when there are none yet); REQUESTS_CA_BUNDLE/proxies from the env."""
    import requests
    response = requests.get(url, headers={"Range": f"bytes={offset}-"} if offset else {}, timeout=60)
    if response.status_code == 416:
        return b""
    response.raise_for_status()
    # a server that ignores Range sends the whole file
    return response.content if response.status_code == 206 or not offset else response.content[offset:]


def error_message(details: dict) -> str | None:
    error = details.get("error")
    while isinstance(error, dict) and isinstance(error.get("error"), dict):
        error = error["error"]
    if isinstance(error, dict):
        return ": ".join(str(error[k]) for k in ("code", "message") if error.get(k)) or None
    return str(error) if error else None


@dataclass
class Downloaded:
    name: str
    path: Path
    size: int


@dataclass
class AmlSummary:
    target: str
    run_id: str
    state: str
    run_seconds: float | None
    vm_size: str
    nodes: int = 1
    metrics: dict = field(default_factory=dict)
    model: str | None = None             # "name version N (id ...)"
    files: list = field(default_factory=list)
    error: str | None = None
    portal: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "Completed"

    def lines(self) -> list[str]:
        out = ["", "Summary", f"  target:        {self.target}", f"  run:           {self.run_id}",
               f"  final state:   {self.state}"]
        if self.error:
            out.append(f"  run error:     {self.error}")
        if self.run_seconds is not None:
            out.append(f"  run time:      {duration(self.run_seconds)}")
        accuracy = self.metrics.get("Accuracy")
        if isinstance(accuracy, list) and accuracy:
            out.append(f"  test accuracy: {100 * float(accuracy[-1]):.2f}% after epoch {len(accuracy)} "
                       "(metric 'Accuracy')")
        elif accuracy is not None:
            out.append(f"  test accuracy: {100 * float(accuracy):.2f}% (metric 'Accuracy')")
        else:
            out.append("  test accuracy: no 'Accuracy' metric")
        out.append(f"  model:         {self.model or 'not registered'}")
        if self.files:
            out.append(f"  files:         {', '.join(f'{f.name} ({f.size} bytes)' for f in self.files)} in "
                       f"{self.files[0].path.parent}")
        if self.run_seconds is not None and self.vm_size.upper() != "STANDARD_NC6":
            out.append(f"  Azure cost:    no list price here for {self.vm_size} (only {NC6_PRICE_BASIS})")
        elif self.run_seconds is not None:
            out.append(f"  Azure cost:    run {duration(self.run_seconds)} on {self.nodes} x {self.vm_size} = "
                       f"${cost_usd(self.run_seconds, self.nodes):.4f} at ${NC6_PRICE_USD_PER_HOUR:.2f}/h "
                       f"({NC6_PRICE_BASIS}; AmlCompute is billed as its VMs)")
        if self.portal:
            out.append(f"  portal:        {self.portal}")
        return out


def show_metrics(metrics: dict, console: Console) -> None:
    console.line("metrics")
    for name in sorted(metrics):
        value = metrics[name]
        if isinstance(value, list):
            shown = ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in value)
            console.line(f"  {name}: {shown}")
        else:
            console.line(f"  {name}: {value}")


def download_models(run, dest: Path, console: Console) -> list:
    files = []
    dest.mkdir(parents=True, exist_ok=True)
    for name in run.get_file_names():
        if name.startswith("outputs/model"):
            path = dest / name.split("/")[-1]
            with console.step(f"downloading {name} to {path}"):
                run.download_file(name=name, output_file_path=str(path))
            files.append(Downloaded(name, path, path.stat().st_size))
    return files


def run(o: Options, console: Console | None = None, *, sdk=None, sleep=time.sleep, environ=os.environ) -> AmlSummary:
    """The whole seed flow against whatever azureml-core is pointed at; returns the summary (also printed)."""
    console = console or Console()
    with console.step("loading azureml-core"):
        sdk = sdk or load_sdk()
    target = target_description(environ)
    console.line(f"Azure ML Chainer quickstart on {target}")
    ws = get_workspace(sdk, o, console)
    console.line(f"  workspace {ws.name}, resource group {ws.resource_group}, subscription {ws.subscription_id}")
    experiment = sdk.Experiment(ws, name=o.experiment)
    console.line(f"experiment {o.experiment}")
    compute = get_compute(sdk, ws, o, console)
    folder = prepare_project(o, console)
    with console.step("the Chainer estimator (azureml.train.dnn)"), sdk_output(console):
        estimator = sdk.Chainer(source_directory=str(folder), script_params=o.script_params(),
                                compute_target=compute, pip_packages=list(o.pip_packages),
                                entry_script=SCRIPT_NAME, use_gpu=o.use_gpu)
    with console.step(f"submitting {o.command_line()} to {o.cluster}"), sdk_output(console):
        aml_run = experiment.submit(estimator)
    console.line(f"  run id: {aml_run.id}")
    seen = []

    def on_state(state):
        if not seen or seen[-1] != state:
            seen.append(state)
            console.line(f"run {aml_run.id}: {state}")

    console.line(f"streaming the run's logs (get_details()['logFiles'], ranged reads every {o.poll:g} s)")
    details = RunLogFollower(aml_run, lambda name, line: console.line(f"{name} | {line}"), poll=o.poll,
                             sleep=sleep, on_state=on_state).run()
    state = details.get("status", "?")
    summary = AmlSummary(target=target, run_id=aml_run.id, state=state,
                         run_seconds=seconds_between(details.get("startTimeUtc"), details.get("endTimeUtc")),
                         vm_size=str(getattr(compute, "vm_size", None) or o.vm_size),
                         error=error_message(details), portal=_portal_url(aml_run))
    if summary.succeeded:
        summary.metrics = aml_run.get_metrics()
        show_metrics(summary.metrics, console)
        with console.step(f"registering model {o.model_name} from outputs/model.npz"), sdk_output(console):
            model = aml_run.register_model(model_name=o.model_name, model_path="outputs/model.npz")
        summary.model = f"{model.name} version {model.version} (id {model.id})"
        summary.files = download_models(aml_run, o.out / "model", console)
    for text in summary.lines():
        console.line(text)
    return summary


def _portal_url(aml_run) -> str | None:
    try:
        return aml_run.get_portal_url()
    except Exception:  # only informative; some clouds have no studio URL
        return None
