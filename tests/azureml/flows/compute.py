"""ComputeTarget lookups and creates that must fail clearly. argv: what name [vm_size]. Prints a JSON report."""
import json
import sys

from azureml.core import Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException

what, name, *rest = sys.argv[1:]
ws = Workspace.from_config()
out = {}
try:
    if what == "get":
        target = ComputeTarget(workspace=ws, name=name)
        out["found"] = target.get_status().serialize()
    else:
        config = AmlCompute.provisioning_configuration(vm_size=rest[0], min_nodes=0, max_nodes=2)
        target = ComputeTarget.create(ws, name, config)
        target.wait_for_completion(show_output=True)
        out["created"] = target.get_status().serialize()
except ComputeTargetException as exc:
    out["error"] = str(exc)
print(json.dumps(out))
