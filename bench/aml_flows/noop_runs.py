"""The Azure ML half of bench/azureml.py, run by .venv-azureml's python (in its own directory: bench/azureml.py
would shadow the azureml package): a workspace and a cluster (not timed), then `repeat` no-op runs, each timed
from submit() to Completed (status polled every 0.1 s). Prints JSON."""
import json
import os
import sys
import time

from azureml.core import Experiment, Run, ScriptRunConfig, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget

project, repeat = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(project, "src"), exist_ok=True)
with open(os.path.join(project, "src", "noop.py"), "w") as fh:
    fh.write("pass\n")
os.chdir(project)
ws = Workspace.create("bench-ws", subscription_id="00000000-0000-0000-0000-000000000000", resource_group="bench-rg",
                      create_resource_group=True, location="eastus", exist_ok=True)
target = ComputeTarget.create(ws, "bench", AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2",
                                                                                   min_nodes=1, max_nodes=1))
target.wait_for_completion(min_node_count=1)
experiment = Experiment(ws, "bench")
config = ScriptRunConfig(source_directory="./src", script="noop.py", compute_target="bench")
experiment.submit(config).wait_for_completion()          # warm-up: snapshot uploaded, caches filled
runs = []
for _ in range(repeat):
    started = time.perf_counter()
    run = experiment.submit(config)
    submitted = time.perf_counter()
    while run.get_status() not in ("Completed", "Failed", "Canceled"):
        time.sleep(0.1)
    done = time.perf_counter()
    details = run.get_details()
    runs.append({"status": run.get_status(), "submit_s": submitted - started, "total_s": done - started,
                 "server_start": details.get("startTimeUtc"), "server_end": details.get("endTimeUtc"),
                 "run_id": run.id})
print(json.dumps(runs))
