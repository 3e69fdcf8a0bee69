"""FileServers_* (2018-05-01). The resource is stored; its data is a directory of the data dir."""
from __future__ import annotations

from flask import Response

from .. import wire
from .dispatch import Call, deleted, json_response, next_link, operation, skip_token

V = "2018-05-01"


def _ids(call: Call):
    return call["subscriptionId"], call["resourceGroupName"], call["workspaceName"]


@operation("FileServers_Create", V)
def file_servers_create(call: Call) -> Response:
    spec = wire.from_wire(call.body.get("properties") or {})
    return json_response(wire.file_server(call.ext.batchai.file_servers_create(*_ids(call), call["fileServerName"],
                                                                               spec)))


@operation("FileServers_Get", V)
def file_servers_get(call: Call) -> Response:
    return json_response(wire.file_server(call.ext.batchai.file_servers_get(*_ids(call), call["fileServerName"])))


@operation("FileServers_Delete", V)
def file_servers_delete(call: Call) -> Response:
    return deleted(call.ext.batchai.file_servers_delete(*_ids(call), call["fileServerName"]))


@operation("FileServers_ListByWorkspace", V)
def file_servers_list_by_workspace(call: Call) -> Response:
    page = call.ext.batchai.file_servers_list_by_workspace(*_ids(call), call.query["maxresults"], skip_token())
    return json_response(wire.page([wire.file_server(f) for f in page.items], next_link(page.next_token)))
