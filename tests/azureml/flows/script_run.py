"""Submit a script of the project dir to an AmlCompute cluster with ScriptRunConfig, then act on the run.

argv: mode compute entry_script [arguments...]; cwd is the project (config.json, ./src). Modes:
  wait    wait_for_completion(show_output=True); the exception text, if any, goes into the report
  submit  only submit (the report has the run id)
  cancel  wait until the run is Running, run.cancel(), wait for the end
  attach  (entry_script is a run id) wait_for_completion(show_output=True) of an existing run
Prints a JSON report on its last line. AML_PIP_PACKAGES (comma-separated) gives the run's environment pip packages.
"""
import json
import os
import sys
import time

from azureml.core import Experiment, Run, ScriptRunConfig, Workspace

mode, compute, script, *arguments = sys.argv[1:]
ws = Workspace.from_config()
experiment = Experiment(ws, name="emulator-tests")
out = {"mode": mode}
if mode == "attach":
    # Run.get rehydrates the run as the type it was submitted as (a ScriptRun, which can stream its logs);
    # Run(experiment, id) makes a plain Run, whose wait_for_completion(show_output=True) fails on a running run
    run = Run.get(ws, script)
else:
    config = ScriptRunConfig(source_directory="./src", script=script, arguments=arguments, compute_target=compute)
    if os.environ.get("AML_PIP_PACKAGES"):
        from azureml.core.conda_dependencies import CondaDependencies
        config.run_config.environment.python.conda_dependencies = CondaDependencies.create(
            pip_packages=os.environ["AML_PIP_PACKAGES"].split(","))
    try:
        run = experiment.submit(config)
    except Exception as exc:
        out["submit_error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(out))
        sys.exit(0)
out["run_id"] = run.id
if mode == "cancel":
    deadline = time.time() + 120
    while run.get_status() != "Running" and time.time() < deadline:
        time.sleep(0.5)
    out["before_cancel"] = run.get_status()
    run.cancel()
if mode in ("wait", "cancel", "attach"):
    try:
        run.wait_for_completion(show_output=True)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["status"] = run.get_status()
    out["metrics"] = run.get_metrics()
    out["files"] = run.get_file_names()
print(json.dumps(out))
