"""Workspaces_* (2018-05-01)."""
from __future__ import annotations

from flask import Response

from .. import wire
from .dispatch import Call, deleted, json_response, next_link, operation, skip_token

V = "2018-05-01"


@operation("Workspaces_Create", V)
def workspaces_create(call: Call) -> Response:
    ws = call.ext.batchai.workspaces_create(call["subscriptionId"], call["resourceGroupName"], call["workspaceName"],
                                            call.body["location"], call.body.get("tags"))
    return json_response(wire.workspace(ws))


@operation("Workspaces_Update", V)
def workspaces_update(call: Call) -> Response:
    ws = call.ext.batchai.workspaces_update(call["subscriptionId"], call["resourceGroupName"], call["workspaceName"],
                                            (call.body or {}).get("tags"))
    return json_response(wire.workspace(ws))


@operation("Workspaces_Get", V)
def workspaces_get(call: Call) -> Response:
    return json_response(wire.workspace(call.ext.batchai.workspaces_get(
        call["subscriptionId"], call["resourceGroupName"], call["workspaceName"])))


@operation("Workspaces_Delete", V)
def workspaces_delete(call: Call) -> Response:
    return deleted(call.ext.batchai.workspaces_delete(call["subscriptionId"], call["resourceGroupName"],
                                                      call["workspaceName"]))


@operation("Workspaces_List", V)
def workspaces_list(call: Call) -> Response:
    page = call.ext.batchai.workspaces_list(call["subscriptionId"], call.query["maxresults"], skip_token())
    return json_response(wire.page([wire.workspace(w) for w in page.items], next_link(page.next_token)))


@operation("Workspaces_ListByResourceGroup", V)
def workspaces_list_by_resource_group(call: Call) -> Response:
    page = call.ext.batchai.workspaces_list_by_resource_group(call["subscriptionId"], call["resourceGroupName"],
                                                              call.query["maxresults"], skip_token())
    return json_response(wire.page([wire.workspace(w) for w in page.items], next_link(page.next_token)))
