"""Clusters_* (2018-05-01)."""
from __future__ import annotations

from flask import Response

from .. import wire
from .dispatch import Call, deleted, json_response, next_link, operation, skip_token

V = "2018-05-01"


def _ids(call: Call):
    return call["subscriptionId"], call["resourceGroupName"], call["workspaceName"]


@operation("Clusters_Create", V)
def clusters_create(call: Call) -> Response:
    spec = wire.from_wire(call.body.get("properties") or {})
    return json_response(wire.cluster(call.ext.batchai.clusters_create(*_ids(call), call["clusterName"], spec)))


@operation("Clusters_Update", V)
def clusters_update(call: Call) -> Response:
    props = wire.from_wire((call.body or {}).get("properties") or {})
    cluster = call.ext.batchai.clusters_update(*_ids(call), call["clusterName"], props.get("scale_settings"))
    return json_response(wire.cluster(cluster))


@operation("Clusters_Get", V)
def clusters_get(call: Call) -> Response:
    return json_response(wire.cluster(call.ext.batchai.clusters_get(*_ids(call), call["clusterName"])))


@operation("Clusters_Delete", V)
def clusters_delete(call: Call) -> Response:
    return deleted(call.ext.batchai.clusters_delete(*_ids(call), call["clusterName"]))


@operation("Clusters_ListByWorkspace", V)
def clusters_list_by_workspace(call: Call) -> Response:
    page = call.ext.batchai.clusters_list_by_workspace(*_ids(call), call.query["maxresults"], skip_token())
    return json_response(wire.page([wire.cluster(c) for c in page.items], next_link(page.next_token)))


@operation("Clusters_ListRemoteLoginInformation", V)
def clusters_list_remote_login_information(call: Call) -> Response:
    nodes = call.ext.batchai.clusters_list_remote_login_information(*_ids(call), call["clusterName"])
    return json_response(wire.page(wire.to_wire(nodes), None))
