"""ARM resource manager pieces the flows touch: subscriptions, resource groups, resource providers."""
from __future__ import annotations

from flask import Response

from .. import wire
from ..errors import EmulatorError
from .dispatch import Call, arm_route, json_response, next_link, no_content, skip_token

TENANT = "00000000-0000-0000-0000-00000000e111"


def _subscription(sub: str) -> dict:
    return {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": TENANT,
            "displayName": "Batch AI emulator", "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Emulator",
                                     "spendingLimit": "Off"}}


@arm_route("GET", "/subscriptions", "Subscriptions_List")
def subscriptions_list(call: Call) -> Response:
    # any subscription id works with the emulator; the list names the default one and every one that holds
    # resource groups (azureml-core refuses a subscription missing from this list)
    subs = ["00000000-0000-0000-0000-000000000000"]
    for rec in call.ext.store.list("resourceGroup"):
        if rec.body.get("subscription_id") and rec.body["subscription_id"].lower() not in {s.lower() for s in subs}:
            subs.append(rec.body["subscription_id"])
    return json_response({"value": [_subscription(s) for s in subs]})


@arm_route("GET", "/subscriptions/{subscriptionId}", "Subscriptions_Get")
def subscriptions_get(call: Call) -> Response:
    return json_response(_subscription(call["subscriptionId"]))


@arm_route("PUT", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}", "ResourceGroups_CreateOrUpdate")
def resource_groups_create_or_update(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise EmulatorError(400, "LocationRequired", "The location property is required for this definition.",
                            target="location")
    tags = body.get("tags")
    if tags is not None and not isinstance(tags, dict):
        raise EmulatorError(400, "InvalidRequestContent", "tags must be an object of string values.", "tags")
    _check_rg_name(call["resourceGroupName"])
    rg, created = call.ext.arm.resource_groups_create_or_update(call["subscriptionId"], call["resourceGroupName"],
                                                                location, tags, body.get("managedBy"))
    return json_response(_rg_body(rg), 201 if created else 200)


def _check_rg_name(name: str) -> None:
    import re
    if not re.fullmatch(r"[-\w._()]{1,90}", name) or name.endswith("."):
        raise EmulatorError(400, "InvalidResourceGroupName",
                            f"Resource group name '{name}' is invalid: use 1-90 letters, digits, '-', '_', '.', "
                            "'(' or ')', not ending in '.'.", target="resourceGroupName")


@arm_route("GET", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}", "ResourceGroups_Get")
def resource_groups_get(call: Call) -> Response:
    return json_response(_rg_body(call.ext.arm.resource_groups_get(call["subscriptionId"],
                                                                       call["resourceGroupName"])))


@arm_route("HEAD", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}",
           "ResourceGroups_CheckExistence")
def resource_groups_check_existence(call: Call) -> Response:
    try:
        call.ext.arm.resource_groups_get(call["subscriptionId"], call["resourceGroupName"])
    except EmulatorError:
        return no_content(404)
    return no_content(204)


@arm_route("DELETE", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}", "ResourceGroups_Delete")
def resource_groups_delete(call: Call) -> Response:
    call.ext.arm.resource_groups_delete(call["subscriptionId"], call["resourceGroupName"])
    return no_content(200)


@arm_route("GET", "/subscriptions/{subscriptionId}/resourcegroups", "ResourceGroups_List")
def resource_groups_list(call: Call) -> Response:
    limit = _top()
    page = call.ext.arm.resource_groups_list(call["subscriptionId"], limit, skip_token())
    return json_response(wire.page([_rg_body(rg) for rg in page.items], next_link(page.next_token)))


def _top() -> int:
    from flask import request
    raw = request.args.get("$top")
    if raw is None:
        return 1000
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise EmulatorError(400, "InvalidParameter", "$top must be an integer from 1 to 1000.", "$top")
    return int(raw)


def _provider_body(sub: str, info: dict) -> dict:
    from .. import spec
    versions = list(spec.API_VERSIONS) if info["namespace"] == "Microsoft.BatchAI" else ["2023-01-01"]
    return {"id": f"/subscriptions/{sub}/providers/{info['namespace']}", "namespace": info["namespace"],
            "registrationState": info["registration_state"], "registrationPolicy": "RegistrationRequired",
            "resourceTypes": [{"resourceType": t, "locations": ["East US", "West US 2", "West Europe"],
                               "apiVersions": versions} for t in info["resource_types"]]}


@arm_route("GET", "/subscriptions/{subscriptionId}/providers/{resourceProviderNamespace}", "Providers_Get")
def providers_get(call: Call) -> Response:
    return json_response(_provider_body(call["subscriptionId"],
                                        call.ext.arm.provider(call["resourceProviderNamespace"])))


@arm_route("POST", "/subscriptions/{subscriptionId}/providers/{resourceProviderNamespace}/register",
           "Providers_Register")
def providers_register(call: Call) -> Response:
    return json_response(_provider_body(call["subscriptionId"],
                                        call.ext.arm.provider(call["resourceProviderNamespace"])))


@arm_route("GET", "/subscriptions/{subscriptionId}/providers", "Providers_List")
def providers_list(call: Call) -> Response:
    from ..backend.arm import PROVIDERS
    sub = call["subscriptionId"]
    return json_response({"value": [_provider_body(sub, call.ext.arm.provider(ns)) for ns in PROVIDERS]})


def _rg_body(rg) -> dict:
    from flask import request
    from ..wire_observed import resource_group
    return resource_group(wire.resource_group(rg), request.args.get("api-version"))
