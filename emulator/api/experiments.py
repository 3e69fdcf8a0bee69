"""Experiments_* (2018-05-01)."""
from __future__ import annotations

from flask import Response

from .. import wire
from .dispatch import Call, deleted, json_response, next_link, operation, skip_token

V = "2018-05-01"


def _ids(call: Call):
    return call["subscriptionId"], call["resourceGroupName"], call["workspaceName"]


@operation("Experiments_Create", V)
def experiments_create(call: Call) -> Response:
    return json_response(wire.experiment(call.ext.batchai.experiments_create(*_ids(call), call["experimentName"])))


@operation("Experiments_Get", V)
def experiments_get(call: Call) -> Response:
    return json_response(wire.experiment(call.ext.batchai.experiments_get(*_ids(call), call["experimentName"])))


@operation("Experiments_Delete", V)
def experiments_delete(call: Call) -> Response:
    return deleted(call.ext.batchai.experiments_delete(*_ids(call), call["experimentName"]))


@operation("Experiments_ListByWorkspace", V)
def experiments_list_by_workspace(call: Call) -> Response:
    page = call.ext.batchai.experiments_list_by_workspace(*_ids(call), call.query["maxresults"], skip_token())
    return json_response(wire.page([wire.experiment(e) for e in page.items], next_link(page.next_token)))
