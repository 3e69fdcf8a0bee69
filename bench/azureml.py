"""Azure ML run overhead against Batch AI job overhead, on one emulator in one run (local executor).

For a no-op script: seconds from `experiment.submit(ScriptRunConfig(...))` to the run seen Completed
(azureml-core 1.61 in .venv-azureml, status polled every 0.1 s), against seconds from `jobs.begin_create(...)` to
the same no-op seen succeeded as a Batch AI job (azure-mgmt-batchai 7.0.0, polled every 0.1 s) on a cluster of the
same emulator. The SDK's own client-side time is reported apart: the time azureml-core spends inside submit()
(snapshot diffing, several service calls) and the polling wait, against the emulator's side measured from its own
run and job records (created -> ended). Goal: <= 1.5x on the emulator's side.

Run: .venv/bin/python bench/azureml.py [--repeat 3]; needs .venv-azureml (make install).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from azure.mgmt.batchai import models

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.sdk import clients, setup  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402

AML_PYTHON = ROOT / ".venv-azureml" / "bin" / "python"


def _iso(value: str) -> float:
    value = value.replace("Z", "+00:00")
    if "." in value:
        head, frac = value.split(".", 1)
        digits = "".join(ch for ch in frac if ch.isdigit())
        value = f"{head}.{digits[:6]}{frac[len(digits):]}"
    return datetime.fromisoformat(value).timestamp()


def batchai_runs(emu: EmulatorProcess, repeat: int) -> list[dict]:
    c, rm = clients(emu)
    cluster_id = setup(c, rm, 1, vm_size="STANDARD_D2_V2")
    noop = tempfile.mkdtemp(prefix="bench-noop-")
    Path(noop, "noop.py").write_text("pass\n")
    params = models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id), node_count=1, std_out_err_path_prefix="/tmp/batchai-bench",
        custom_toolkit_settings=models.CustomToolkitSettings(command_line=f"cd {noop} && {AML_PYTHON} noop.py"))
    out = []
    for i in range(repeat + 1):                 # the first is a warm-up, as on the Azure ML side
        started = time.perf_counter()
        c.jobs.begin_create("rg", "ws", "exp", f"job{i}", params).result()
        while (job := c.jobs.get("rg", "ws", "exp", f"job{i}")).execution_state not in ("succeeded", "failed"):
            time.sleep(0.1)
        done = time.perf_counter()
        server = (job.execution_info.end_time.timestamp() - job.creation_time.timestamp())
        if i:
            out.append({"state": job.execution_state, "total_s": done - started, "server_s": server})
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not AML_PYTHON.exists():
        print(f"{AML_PYTHON} is missing: run `make install` first", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="bench-azureml-"))
    emu = EmulatorProcess(base / "data", "--executor", "local",
                          env={"BATCHAI_EMULATOR_AZUREML_PROXY_PORT": "0",
                               "BATCHAI_EMULATOR_AZUREML_PYTHON": str(AML_PYTHON)})
    with emu:
        env_lines = subprocess.run([sys.executable, "-m", "emulator", "env", "--data-dir", str(emu.data_dir),
                                    "--azureml"], capture_output=True, text=True, check=True).stdout
        import os
        import shlex
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        for line in env_lines.splitlines():
            for word in shlex.split(line)[1:]:
                k, _, v = word.partition("=")
                env[k] = v
        env["HOME"] = str(base / "home")
        Path(env["HOME"]).mkdir()
        flow = Path(__file__).parent / "aml_flows" / "noop_runs.py"
        proc = subprocess.run([str(AML_PYTHON), str(flow), str(base / "proj"),
                               str(args.repeat)], capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        aml = json.loads(proc.stdout.strip().splitlines()[-1])
        bai = batchai_runs(emu, args.repeat)
    for r in aml:
        r["server_s"] = _iso(r["server_end"]) - _iso(r["server_start"]) if r["server_start"] else float("nan")
    aml_total = statistics.median(r["total_s"] for r in aml)
    aml_submit = statistics.median(r["submit_s"] for r in aml)
    bai_total = statistics.median(r["total_s"] for r in bai)
    print(f"no-op, median of {args.repeat} (after one warm-up each), local executor, one emulator:")
    print(f"  Azure ML run  submit -> Completed  {aml_total:6.2f} s   (inside submit(): {aml_submit:.2f} s of SDK "
          f"client-side work and calls)")
    print(f"  Batch AI job  create -> succeeded  {bai_total:6.2f} s")
    print(f"  ratio end to end                   {aml_total / bai_total:6.2f}x")
    print(f"  ratio without the SDK's submit()   {(aml_total - aml_submit) / bai_total:6.2f}x   (goal <= 1.5x)")
    print("  states: " + ", ".join(r["status"] for r in aml) + " / " + ", ".join(r["state"] for r in bai))
    return 0


if __name__ == "__main__":
    sys.exit(main())
