"""Execution: a `snapshotrun` becomes a job on the compute's cluster; reading a run derives its status from that
job and finalizes it once the job has ended (see runs.py for the state table).

The job's node directory (the runner's own, `AZ_BATCHAI_JOB_TEMP`) holds `azureml/`: `wd/` the snapshot extracted
(the script's working directory, `./outputs` inside it), `setup/` the launcher, run.json, the CA certificate and the
phase and error files the launcher writes, and `azureml-logs/70_driver_log.txt`, the log the SDK streams. The job
itself is a custom-toolkit job whose command line runs the launcher with the run's python.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from .. import safeio
from ..errors import EmulatorError
from ..models import ExecutionState, now_iso
from ..runner.launch import Planner
from . import ids
from .runs import TERMINAL, copy_tree

DRIVER_LOG = "azureml-logs/70_driver_log.txt"
LAUNCHER = Path(__file__).with_name("launcher.py")


def artifacts_root(data_dir: Path, ws_id: str) -> Path:
    return Path(data_dir) / "azureml" / "artifacts" / hashlib.sha1(ws_id.lower().encode()).hexdigest()[:16]


def run_artifacts(data_dir: Path, ws_id: str, run_id: str) -> Path:
    return artifacts_root(data_dir, ws_id) / "ExperimentRun" / ids.safe(f"dcid.{run_id}")


def node_dir(data_dir: Path, job) -> Path:
    return Planner(data_dir, "host").job_dir(job) / "node-0" / "azureml"


def run_python(settings) -> str:
    """The python that runs Azure ML runs with the local executor."""
    if settings.azureml_python:
        return settings.azureml_python
    beside = Path(__file__).resolve().parents[2] / ".venv-azureml" / "bin" / "python"
    return str(beside) if beside.exists() else sys.executable


def pip_packages(config: dict) -> list[str]:
    """The pip requirements of the run's conda dependencies (the estimator's pip_packages among them)."""
    env = config.get("environment") or {}
    deps = ((env.get("python") or {}).get("condaDependencies") or {}).get("dependencies") or []
    # option lines the SDK adds ('--extra-index-url https://...') are not packages: the index is the emulator's
    # --azureml-pip-index alone, so a run never reaches an index nobody configured
    return [str(p) for d in deps if isinstance(d, dict) for p in d.get("pip") or [] if not str(p).startswith("-")]


def describe_environment(config: dict, settings, layout: str | None) -> tuple[str, list[str]]:
    """(the image or python the run uses, the log lines saying which and why)."""
    env = config.get("environment") or {}
    docker = env.get("docker") or {}
    deps = ((env.get("python") or {}).get("condaDependencies") or {}).get("dependencies") or []
    pythons = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    pips = pip_packages(config)
    asked = docker.get("baseImage") or "(no image)"
    lines = [f"Environment asked for: image {asked}, {', '.join(pythons) or 'python (any)'}, "
             f"pip packages {', '.join(pips) or '(none)'}."]
    if layout == "container":
        used = settings.azureml_image
        lines.append(f"Running in {used} instead: the emulator runs Azure ML runs offline in its own image "
                     "(python 3, numpy, chainer, azureml-core); the asked-for image is not pulled.")
    else:
        used = run_python(settings)
        lines.append(f"Running with the local executor's python {used} (the Azure ML environment of the emulator, "
                     "with numpy, chainer and azureml-core): no container, the asked-for image is not used.")
    if pips and settings.azureml_pip_index:
        lines.append(f"pip packages {', '.join(pips)}: those the run's python lacks are installed from "
                     f"{settings.azureml_pip_index} into the run's own directory before the script starts "
                     "(--azureml-pip-index).")
    elif pips:
        lines.append(f"pip packages recorded, not installed: no package index is configured, and runs do not reach "
                     f"the network unasked (serve --azureml-pip-index URL installs them); the run uses what its "
                     f"image or python has: {', '.join(pips)}.")
    return used, lines


def prepare_job(ext, ws: dict, ws_id: str, exp: str, run_id: str, snapshot_dir: Path, config: dict,
                cluster, base_url: str, token: str, experiment_id: str):
    """A function laying out the job's node directory and returning its job spec (runs.RunBackend.submit)."""
    settings = ext.core.settings
    executor = ext.core.scheduler.executor
    layout = executor.layout if executor is not None else None
    used, env_lines = describe_environment(config, settings, layout)
    pips = pip_packages(config) if settings.azureml_pip_index else []
    script = config.get("script") or ""
    arguments = [str(a) for a in config.get("arguments") or []]

    def prepare(job, body) -> dict:
        root = node_dir(settings.data_dir, job)
        wd, setup = root / "wd", root / "setup"
        if root.exists():
            shutil.rmtree(root)
        setup.mkdir(parents=True)
        copy_tree(snapshot_dir, wd)
        wd.mkdir(exist_ok=True)
        shutil.copyfile(LAUNCHER, setup / "launcher.py")
        shutil.copyfile(settings.data_dir / "cert.pem", setup / "ca.pem")
        user_env = {k: str(v) for k, v in ((config.get("environment") or {}).get("environmentVariables") or {})
                    .items()}
        env = {**user_env,
               "AZUREML_ARM_SUBSCRIPTION": ws["subscription_id"], "AZUREML_ARM_RESOURCEGROUP": ws["resource_group"],
               "AZUREML_ARM_WORKSPACE_NAME": ws["name"], "AZUREML_ARM_PROJECT_NAME": exp,
               "AZUREML_RUN_ID": run_id, "AZUREML_RUN_TOKEN": token,
               "AZUREML_RUN_TOKEN_EXPIRY": str(int(time.time()) + 7 * 86400),
               "AZUREML_SERVICE_ENDPOINT": base_url, "AZUREML_DISCOVERY_SERVICE_ENDPOINT":
                   f"{base_url}/azureml/discovery", "AZUREML_EXPERIMENT_ID": experiment_id,
               "AZUREML_WORKSPACE_ID": ws["workspace_id"], "AZUREML_EXPERIMENT_SCOPE":
                   f"{ws_id}/experiments/{exp}", "AZUREML_RUN_HISTORY_SERVICE_ENDPOINT": base_url,
               "AZUREML_DISABLE_RUN_KILL_SIGNAL": "", "AZUREML_FRAMEWORK": str(config.get("framework") or "Python"),
               "AZUREML_COMMUNICATOR": str(config.get("communicator") or "None")}
        (setup / "run.json").write_text(json.dumps({"script": script, "arguments": arguments, "env": env,
                                                    "pip": pips, "pip_index": settings.azureml_pip_index}))
        logs = root / "azureml-logs"
        logs.mkdir()
        scheduler = ext.core.scheduler
        gpus = (f"GPUs: the run gets its node's GPUs (CUDA_VISIBLE_DEVICES) when its VM size has them; this "
                f"machine: {scheduler.gpus.describe()}" if scheduler is not None else "GPUs: none")
        header = [f"Run {run_id} of experiment {exp} on compute {cluster.name} ({cluster.props.vm_size}).",
                  *env_lines, gpus, f"Entry script: {script} {' '.join(arguments)}".rstrip(), ""]
        (logs / "70_driver_log.txt").write_text("".join(f"[emulator] {line}\n" if line else "\n" for line in header))
        python = used if layout != "container" else "python3"
        command = ('cd "$AZ_BATCHAI_JOB_TEMP/azureml/wd" && exec ' + _sh(python) +
                   ' "$AZ_BATCHAI_JOB_TEMP/azureml/setup/launcher.py" '
                   '>>"$AZ_BATCHAI_JOB_TEMP/azureml/azureml-logs/70_driver_log.txt" 2>&1')
        seconds = config.get("maxRunDurationSeconds")
        spec = {"node_count": 1, "tool_type": "custom",
                "custom_toolkit_settings": {"command_line": command},
                "std_out_err_path_prefix": "$AZ_BATCHAI_JOB_MOUNT_ROOT/azureml",
                "container_settings": {"image_source_registry": {"image": settings.azureml_image}},
                "constraints": {"max_wall_clock_time": f"PT{int(seconds)}S" if seconds else "P7D"},
                "scheduling_priority": "normal"}
        return spec
    return prepare


def _sh(text: str) -> str:
    import shlex
    return shlex.quote(text)


def refresh(ext, rec) -> dict:
    """The run's body with its status derived from its job; finalizes a run whose job has ended."""
    body = dict(rec.body)
    if body.get("status") in TERMINAL or body.get("finalized"):
        return body
    job, jrec = ext.runs.job_of(rec)
    if job is None:
        return body
    root = node_dir(ext.core.settings.data_dir, job)
    state = job.execution_state
    if state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED):
        return _finalize(ext, rec, job, root)
    if state == ExecutionState.QUEUED:
        status = "Queued"
    else:
        try:
            # the node directory is the job's to write: no link followed, no fifo waited on (safeio)
            phase = safeio.read_text(ext.core.settings.data_dir, root / "setup" / "phase", 64).strip()
        except OSError:
            phase = "preparing"
        status = {"running": "Running", "finalizing": "Finalizing"}.get(phase, "Preparing")
        body["start_time_utc"] = body.get("start_time_utc") or job.execution_info.get("start_time")
    if body.get("cancel_requested"):
        status = "CancelRequested"
    if status != body.get("status"):
        body["status"] = status
        ext.core.store.compare_and_set(rec.id, rec.version, body)
    return body


def _finalize(ext, rec, job, root: Path) -> dict:
    ws_id = rec.id.split("/experiments/")[0]
    body = dict(rec.body)
    art = run_artifacts(ext.core.settings.data_dir, ws_id, body["run_id"])
    # the node directory is the job's to write: walked and read without following links (safeio)
    data = ext.core.settings.data_dir
    safeio.copy_tree(data, root / "wd" / "outputs", art / "outputs")
    safeio.copy_file(data, root / "azureml-logs" / "70_driver_log.txt", art / DRIVER_LOG)
    info = job.execution_info or {}
    if body.get("cancel_requested"):
        body["status"] = "Canceled"
    elif job.execution_state == ExecutionState.SUCCEEDED:
        body["status"] = "Completed"
    else:
        body["status"] = "Failed"
        body["error"] = _error(root, info, data)
    body["start_time_utc"] = body.get("start_time_utc") or info.get("start_time")
    body["end_time_utc"] = info.get("end_time") or now_iso()
    body["finalized"] = True
    won = ext.core.store.compare_and_set(rec.id, rec.version, body)
    if won is None:      # another reader finalized it (or it changed): answer what is stored now
        current = ext.core.store.get(rec.id)
        return current.body if current is not None else body
    return body


def _error(root: Path, info: dict, data: Path) -> dict:
    try:
        err = json.loads(safeio.read_text(data, root / "setup" / "error.json", 1 << 20))    # job-writable: safeio
    except (OSError, ValueError):
        err = None
    err = err if isinstance(err, dict) else None
    if err:
        message = f"{err.get('type')}: {err.get('message')}"
        if err.get("traceback"):
            message += "\n" + err["traceback"]
        return {"error": {"code": "UserError", "message": message, "messageFormat": message,
                          "details": [], "innerError": None,
                          "debugInfo": {"type": err.get("type"), "message": err.get("message"),
                                        "stackTrace": err.get("traceback")}},
                "time": now_iso(), "componentName": "CommonRuntime"}
    errors = info.get("errors") or []
    first = errors[0] if errors else {"code": "ExecutionFailed", "message": "The run failed; see its log."}
    code = info.get("exit_code")
    message = first.get("message", "") + (f" (exit code {code})" if code is not None else "") + \
        f". See {DRIVER_LOG}."
    return {"error": {"code": "ServiceError" if first.get("code") != "JobFailed" else "UserError",
                      "message": message, "messageFormat": message, "details": [], "innerError": None},
            "time": now_iso(), "componentName": "CommonRuntime"}


def check_submission(ext, ws_id: str, config: dict, snapshot_dir: Path):
    """The compute record, after the clear errors a submission can get: unknown compute, missing script."""
    target = config.get("target")
    if not target or target == "local":
        raise EmulatorError(400, "NotSupportedByEmulator", "Runs on the 'local' target run on your machine without "
                            "the service; the emulator runs submissions on AmlCompute clusters: give "
                            "compute_target.", target="target")
    crec = ext.core.store.get(ids.compute(ws_id, target))
    if crec is None or crec.kind != "cluster":
        raise EmulatorError(400, "ComputeTargetNotFound", f"Compute target '{target}' was not found in this "
                            "workspace. Create it first (ComputeTarget.create) or check its name.", target="target")
    script = config.get("script")
    if not script:
        raise EmulatorError(400, "BadArgument", "The run configuration has no script to run.", target="script")
    path = (snapshot_dir / script).resolve()
    if not str(path).startswith(str(snapshot_dir.resolve()) + "/") or not path.is_file():
        raise EmulatorError(400, "EntryScriptNotFound", f"The entry script '{script}' is not in the snapshot of the "
                            "source directory: check entry_script and source_directory.", target="script")
    return crec
