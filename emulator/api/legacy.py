"""Clusters_*, Jobs_* and FileServers_* of the old api-versions (2017-09-01-preview, 2018-03-01): flat resources in
a resource group. Semantics in backend/legacy.py (where the cross-version rule is), shapes in wire_legacy.py."""
from __future__ import annotations

from flask import Response

from .. import wire, wire_legacy
from ..backend.legacy import LegacyBackend
from .dispatch import Call, deleted, json_response, next_link, no_content, operation, skip_token
from .jobs import list_output_files

OLD = wire_legacy.OLD_VERSIONS


def _backend(call: Call) -> LegacyBackend:
    return LegacyBackend(call.ext.batchai)


def _rg(call: Call):
    return call["subscriptionId"], call["resourceGroupName"]


def _list(call: Call, list_fn, render, *args) -> Response:
    """A list operation with maxresults, paging, and the simple $filter / $select of wire_legacy."""
    test = wire_legacy.odata_filter(call.query.get("$filter"))
    fields = wire_legacy.odata_select(call.query.get("$select"))
    predicate = (lambda m: test(render(m, call.api_version))) if test else None
    page = list_fn(*args, call.query["maxresults"], skip_token(), predicate)
    items = [wire_legacy.select(render(m, call.api_version), fields) for m in page.items]
    return json_response(wire.page(items, next_link(page.next_token)))


# -- clusters ----------------------------------------------------------------------------------------------------
@operation("Clusters_Create", *OLD)
def clusters_create(call: Call) -> Response:
    location, tags, spec, extras = wire_legacy.create_body(call.body, "ClusterBaseProperties")
    cluster = _backend(call).clusters_create(*_rg(call), call["clusterName"], location, tags, spec, extras)
    return json_response(wire_legacy.cluster(cluster, call.api_version))


@operation("Clusters_Update", *OLD)
def clusters_update(call: Call) -> Response:
    body = call.body or {}
    scale = wire.from_wire((body.get("properties") or {}).get("scaleSettings"))
    cluster = _backend(call).clusters_update(*_rg(call), call["clusterName"], body.get("tags"), scale)
    return json_response(wire_legacy.cluster(cluster, call.api_version))


@operation("Clusters_Get", *OLD)
def clusters_get(call: Call) -> Response:
    return json_response(wire_legacy.cluster(_backend(call).clusters_get(*_rg(call), call["clusterName"]),
                                             call.api_version))


@operation("Clusters_Delete", *OLD)
def clusters_delete(call: Call) -> Response:
    return deleted(_backend(call).clusters_delete(*_rg(call), call["clusterName"]))


@operation("Clusters_List", *OLD)
def clusters_list(call: Call) -> Response:
    return _list(call, _backend(call).clusters_list, wire_legacy.cluster, call["subscriptionId"])


@operation("Clusters_ListByResourceGroup", *OLD)
def clusters_list_by_resource_group(call: Call) -> Response:
    return _list(call, _backend(call).clusters_list_by_resource_group, wire_legacy.cluster, *_rg(call))


@operation("Clusters_ListRemoteLoginInformation", *OLD)
def clusters_list_remote_login_information(call: Call) -> Response:
    nodes = _backend(call).clusters_list_remote_login_information(*_rg(call), call["clusterName"])
    return json_response(wire.page(wire.to_wire(nodes), None))


# -- jobs --------------------------------------------------------------------------------------------------------
@operation("Jobs_Create", *OLD)
def jobs_create(call: Call) -> Response:
    location, tags, spec, extras = wire_legacy.create_body(call.body, "JobBaseProperties")
    job = _backend(call).jobs_create(*_rg(call), call["jobName"], location, tags, spec, extras, call.api_version)
    return json_response(wire_legacy.job(job, call.api_version))


@operation("Jobs_Get", *OLD)
def jobs_get(call: Call) -> Response:
    return json_response(wire_legacy.job(_backend(call).jobs_get(*_rg(call), call["jobName"]), call.api_version))


@operation("Jobs_Delete", *OLD)
def jobs_delete(call: Call) -> Response:
    return deleted(_backend(call).jobs_delete(*_rg(call), call["jobName"]))


@operation("Jobs_Terminate", *OLD)
def jobs_terminate(call: Call) -> Response:
    _backend(call).jobs_terminate(*_rg(call), call["jobName"])
    return no_content(200)


@operation("Jobs_List", *OLD)
def jobs_list(call: Call) -> Response:
    return _list(call, _backend(call).jobs_list, wire_legacy.job, call["subscriptionId"])


@operation("Jobs_ListByResourceGroup", *OLD)
def jobs_list_by_resource_group(call: Call) -> Response:
    return _list(call, _backend(call).jobs_list_by_resource_group, wire_legacy.job, *_rg(call))


@operation("Jobs_ListRemoteLoginInformation", *OLD)
def jobs_list_remote_login_information(call: Call) -> Response:
    nodes = _backend(call).jobs_list_remote_login_information(*_rg(call), call["jobName"])
    return json_response(wire.page(wire.to_wire(nodes), None))


@operation("Jobs_ListOutputFiles", *OLD)
def jobs_list_output_files(call: Call) -> Response:
    # the preview has no `directory` parameter: its listings are of the output directory's top level
    return list_output_files(call, _backend(call).jobs_get(*_rg(call), call["jobName"]))


# -- file servers ------------------------------------------------------------------------------------------------
@operation("FileServers_Create", *OLD)
def file_servers_create(call: Call) -> Response:
    location, tags, spec, extras = wire_legacy.create_body(call.body, "FileServerBaseProperties")
    fs = _backend(call).file_servers_create(*_rg(call), call["fileServerName"], location, tags, spec, extras)
    return json_response(wire_legacy.file_server(fs, call.api_version))


@operation("FileServers_Get", *OLD)
def file_servers_get(call: Call) -> Response:
    return json_response(wire_legacy.file_server(_backend(call).file_servers_get(*_rg(call), call["fileServerName"]),
                                                 call.api_version))


@operation("FileServers_Delete", *OLD)
def file_servers_delete(call: Call) -> Response:
    return deleted(_backend(call).file_servers_delete(*_rg(call), call["fileServerName"]))


@operation("FileServers_List", *OLD)
def file_servers_list(call: Call) -> Response:
    return _list(call, _backend(call).file_servers_list, wire_legacy.file_server, call["subscriptionId"])


@operation("FileServers_ListByResourceGroup", *OLD)
def file_servers_list_by_resource_group(call: Call) -> Response:
    return _list(call, _backend(call).file_servers_list_by_resource_group, wire_legacy.file_server, *_rg(call))
