"""ARM routes of Azure ML: workspaces, computes (and their operation status), template deployments.

They go through the ARM front door (api/dispatch.py: bearer check, case-insensitive routes, api-version present).
The compute routes are also served under the workspace's `{api}/rp/workspaces/...` path, which azureml-core uses
for GETs (services.py).
"""
from __future__ import annotations

from flask import Response

from ..api.dispatch import Call, arm_route, base_url, no_content
from ..models import now_iso
from . import computes, ids
from .common import aml, https_base, json_response

_WS = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/" \
      "Microsoft.MachineLearningServices/workspaces/{workspaceName}"
_DEP = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/providers/Microsoft.Resources/" \
       "deployments/{deploymentName}"


def render_workspace(ws: dict) -> dict:
    wid = ids.workspace(ws["subscription_id"], ws["resource_group"], ws["name"])
    props = dict(ws["properties"])
    props.update({"workspaceId": ws["workspace_id"], "provisioningState": "Succeeded",
                  "creationTime": ws["creation_time"], "discoveryUrl": f"{https_base()}/azureml/discovery",
                  "mlFlowTrackingUri": None, "v1LegacyMode": False, "publicNetworkAccess": "Enabled",
                  "storageHnsEnabled": False, "privateLinkCount": 0, "notebookInfo": None,
                  "serviceProvisionedResourceGroup": None, "imageBuildCompute": None,
                  "allowPublicAccessWhenBehindVnet": False, "tenantId": ws["identity"]["tenantId"]})
    return {"id": wid, "name": ws["name"], "type": ids.WS_TYPE, "location": ws["location"],
            "tags": ws.get("tags") or {}, "identity": ws["identity"], "sku": ws["sku"], "kind": "Default",
            "properties": props,
            "systemData": {"createdAt": ws["creation_time"], "createdBy": "emulator", "createdByType": "User"}}


def _ws_args(call: Call) -> tuple[str, str, str]:
    return call["subscriptionId"], call["resourceGroupName"], call["workspaceName"]


@arm_route("PUT", _WS, "Workspaces_CreateOrUpdate")
def workspaces_create_or_update(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    ws, created = aml().workspaces.create_or_update(*_ws_args(call), body)
    return json_response(render_workspace(ws), 201 if created else 200)


@arm_route("GET", _WS, "Workspaces_Get")
def workspaces_get(call: Call) -> Response:
    return json_response(render_workspace(aml().workspaces.get(*_ws_args(call))))


@arm_route("DELETE", _WS, "Workspaces_Delete")
def workspaces_delete(call: Call) -> Response:
    return no_content(200 if aml().workspaces.delete(*_ws_args(call)) else 204)


@arm_route("GET", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
                  "Microsoft.MachineLearningServices/workspaces", "Workspaces_ListByResourceGroup")
def workspaces_list_by_resource_group(call: Call) -> Response:
    return json_response({"value": [render_workspace(w) for w in
                                    aml().workspaces.list(call["subscriptionId"], call["resourceGroupName"])]})


@arm_route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces",
           "Workspaces_ListBySubscription")
def workspaces_list_by_subscription(call: Call) -> Response:
    return json_response({"value": [render_workspace(w) for w in aml().workspaces.list(call["subscriptionId"])]})


# -- computes ---------------------------------------------------------------------------------------------------
def compute_put(sub: str, rg: str, wsname: str, name: str, body: dict) -> Response:
    ext = aml()
    ws = ext.workspaces.get(sub, rg, wsname)
    wid = ids.workspace(sub, ws["resource_group"], wsname)
    stored, operation = ext.computes.create_or_update(ws, wid, name, body)
    loc = (stored["spec"].get("azureml") or {}).get("location", ws["location"])
    op_url = (f"{https_base()}/subscriptions/{sub}/providers/{ids.PROVIDER}/locations/{loc}/"
              f"computeOperationsStatus/{operation}?api-version=2021-07-01")
    # azureml-core requires 201 with Azure-AsyncOperation on create (wire table #8)
    return json_response(computes.render(stored, ids.compute(wid, name)), 201,
                         {"Azure-AsyncOperation": op_url, "Retry-After": "0"})


def compute_get(sub: str, rg: str, wsname: str, name: str) -> Response:
    ext = aml()
    ws = ext.workspaces.get(sub, rg, wsname)
    wid = ids.workspace(sub, ws["resource_group"], wsname)
    return json_response(computes.render(ext.computes.get(wid, name), ids.compute(wid, name)))


def compute_list(sub: str, rg: str, wsname: str) -> Response:
    ext = aml()
    ws = ext.workspaces.get(sub, rg, wsname)
    wid = ids.workspace(sub, ws["resource_group"], wsname)
    return json_response({"value": [computes.render(b, ids.compute(wid, b["name"])) for b in ext.computes.list(wid)]})


def compute_delete(sub: str, rg: str, wsname: str, name: str) -> Response:
    ext = aml()
    ws = ext.workspaces.get(sub, rg, wsname)
    wid = ids.workspace(sub, ws["resource_group"], wsname)
    existed = ext.computes.delete(wid, name, ext.on_delete)
    if not existed:
        return no_content(204)
    op_url = (f"{https_base()}/subscriptions/{sub}/providers/{ids.PROVIDER}/locations/{ws['location']}/"
              f"computeOperationsStatus/deleted-{name}?api-version=2021-07-01")
    resp = no_content(202)
    resp.headers["Azure-AsyncOperation"] = op_url
    resp.headers["Retry-After"] = "0"
    return resp


@arm_route("PUT", _WS + "/computes/{computeName}", "Compute_CreateOrUpdate")
def compute_create_or_update(call: Call) -> Response:
    return compute_put(*_ws_args(call), call["computeName"], call.body if isinstance(call.body, dict) else {})


@arm_route("GET", _WS + "/computes/{computeName}", "Compute_Get")
def compute_get_arm(call: Call) -> Response:
    return compute_get(*_ws_args(call), call["computeName"])


@arm_route("DELETE", _WS + "/computes/{computeName}", "Compute_Delete")
def compute_delete_arm(call: Call) -> Response:
    return compute_delete(*_ws_args(call), call["computeName"])


@arm_route("GET", _WS + "/computes", "Compute_List")
def compute_list_arm(call: Call) -> Response:
    return compute_list(*_ws_args(call))


@arm_route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/locations/{location}/"
                  "computeOperationsStatus/{operationId}", "Compute_OperationStatus")
def compute_operation_status(call: Call) -> Response:
    # creates and deletes are carried out synchronously: every operation the emulator handed out has succeeded
    return json_response({"name": call["operationId"], "status": "Succeeded", "startTime": now_iso(),
                          "endTime": now_iso(), "error": None})


# -- template deployments ---------------------------------------------------------------------------------------
def _render_deployment(dep: dict) -> dict:
    return {"id": ids.deployment(dep["subscription_id"], dep["resource_group"], dep["name"]), "name": dep["name"],
            "type": "Microsoft.Resources/deployments",
            "properties": {"provisioningState": "Succeeded", "timestamp": dep["timestamp"],
                           "duration": dep["duration"], "mode": dep["mode"], "outputs": dep["outputs"],
                           "correlationId": dep["name"],
                           "outputResources": [{"id": o["id"]} for o in dep["operations"] if not o["placeholder"]]}}


@arm_route("PUT", _DEP, "Deployments_CreateOrUpdate")
def deployments_create_or_update(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    dep = aml().workspaces.deploy(call["subscriptionId"], call["resourceGroupName"], call["deploymentName"], body)
    return json_response(_render_deployment(dep), 201)


@arm_route("GET", _DEP, "Deployments_Get")
def deployments_get(call: Call) -> Response:
    return json_response(_render_deployment(aml().workspaces.deployment(
        call["subscriptionId"], call["resourceGroupName"], call["deploymentName"])))


@arm_route("GET", _DEP + "/operations", "DeploymentOperations_List")
def deployment_operations_list(call: Call) -> Response:
    dep = aml().workspaces.deployment(call["subscriptionId"], call["resourceGroupName"], call["deploymentName"])
    ops = []
    for i, o in enumerate(dep["operations"]):
        ops.append({"id": f"{base_url()}{ids.deployment(dep['subscription_id'], dep['resource_group'], dep['name'])}"
                          f"/operations/{i}", "operationId": str(i),
                    "properties": {"provisioningState": "Succeeded", "provisioningOperation": "Create",
                                   "timestamp": dep["timestamp"], "duration": "PT0S", "statusCode": "OK",
                                   "statusMessage": "Recorded as a succeeded placeholder: not emulated"
                                   if o["placeholder"] else "Carried out by the emulator",
                                   "targetResource": {"id": o["id"], "resourceType": o["type"],
                                                      "resourceName": o["name"]}}})
    return json_response({"value": ops})


@arm_route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Resources/deployments",
           "Deployments_ListAtSubscriptionScope")
def deployments_list_at_subscription(call: Call) -> Response:
    # subscription-scope deployments are carried out inside the resource-group deployment that holds them
    return json_response({"value": []})


@arm_route("GET", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/resources",
           "Resources_ListByResourceGroup")
def resources_list_by_resource_group(call: Call) -> Response:
    import re as _re
    from flask import request
    items = aml().workspaces.resources(call["subscriptionId"], call["resourceGroupName"])
    m = _re.match(r"^substringof\('([^']*)',\s*name\)$", (request.args.get("$filter") or "").strip())
    if m:
        items = [i for i in items if m.group(1).lower() in i["name"].lower()]
    return json_response({"value": items})
