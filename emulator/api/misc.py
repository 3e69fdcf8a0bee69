"""Operations_List and Usages_List."""
from __future__ import annotations

from flask import Response

from .. import wire
from .dispatch import Call, json_response, operation

_RESOURCES = {
    "workspaces": ("Batch AI Workspaces", ["read", "write", "delete"]),
    "workspaces/experiments": ("Batch AI Experiments", ["read", "write", "delete"]),
    "workspaces/experiments/jobs": ("Batch AI Jobs", ["read", "write", "delete", "terminate/action",
                                                      "listOutputFiles/action", "listRemoteLoginInformation/action"]),
    "workspaces/clusters": ("Batch AI Clusters", ["read", "write", "delete", "listRemoteLoginInformation/action"]),
    "workspaces/fileservers": ("Batch AI File Servers", ["read", "write", "delete"]),
    "locations/usages": ("Batch AI Usages", ["read"]),
}
_VERBS = {"read": "List or get", "write": "Create or update", "delete": "Delete"}


def _operations() -> list[dict]:
    out = []
    for resource, (display, actions) in _RESOURCES.items():
        for action in actions:
            verb = _VERBS.get(action, action.split("/")[0])
            out.append({"name": f"Microsoft.BatchAI/{resource}/{action}", "origin": "user,system",
                        "display": {"provider": "Microsoft Batch AI", "resource": display,
                                    "operation": f"{verb} {display}",
                                    "description": f"{verb} {display.lower()}"}})
    return out


@operation("Operations_List")
def operations_list(call: Call) -> Response:
    return json_response({"value": _operations()})


@operation("Usages_List", "2018-05-01")
@operation("Usage_List", "2018-03-01")
def usages_list(call: Call) -> Response:
    return json_response({"value": wire.to_wire(call.ext.batchai.usages_list(call["subscriptionId"],
                                                                              call["location"]))})
