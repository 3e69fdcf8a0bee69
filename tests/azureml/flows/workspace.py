"""Workspace.create(..., create_resource_group=True) + write_config(): the config.json the seed reads.
argv: name subscription resource_group project_dir. Prints a JSON report."""
import json
import sys

from azureml.core import Workspace

name, sub, rg, project = sys.argv[1:5]
ws = Workspace.create(name, subscription_id=sub, resource_group=rg, create_resource_group=True, location="eastus",
                      exist_ok=True)
ws.write_config(path=project)
details = ws.get_details()
print(json.dumps({"name": ws.name, "location": ws.location, "storage": details.get("storageAccount"),
                  "discovery": details.get("discoveryUrl"), "workspaceId": details.get("workspaceid")}))
