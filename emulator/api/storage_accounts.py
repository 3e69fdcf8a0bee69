"""ARM Microsoft.Storage/storageAccounts (StorageAccounts_* of the Microsoft.Storage REST API).

Creates answer synchronously (200, provisioningState Succeeded), so azure-mgmt-storage's `begin_create` poller
finishes without polling. `primaryEndpoints.file` is the emulator's path-style file endpoint for the account,
`<scheme>://<host:port>/<account>/`, on the scheme the request came in on; `primaryEndpoints.blob` is the Blob
port's path-style endpoint `http://<host>:<blob port>/<account>/`.
"""
from __future__ import annotations

from flask import Response, current_app

from .. import wire
from ..backend.storage import StorageBackend
from ..urls import link_host
from .dispatch import Call, arm_route, base_url, json_response, next_link, no_content, skip_token

_ACCOUNT = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/" \
           "storageAccounts/{accountName}"
_BY_GROUP = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/" \
            "storageAccounts"


def _backend() -> StorageBackend:
    return current_app.extensions["batchai"].storage


def blob_base_url() -> str:
    """The Blob endpoint's base URL for this request: the host it named if trusted (urls.py), on the Blob port."""
    ext = current_app.extensions["batchai"]
    if ext.settings.public_blob_url:
        return ext.settings.public_blob_url.rstrip("/")
    port = ext.bound_blob_port or ext.settings.blob_port
    return f"http://{link_host()}:{port}"


def _render(account) -> dict:
    return wire.storage_account(account, f"{base_url()}/{account.name}/", f"{blob_base_url()}/{account.name}/")


def _ids(call: Call) -> tuple[str, str, str]:
    return call["subscriptionId"], call["resourceGroupName"], call["accountName"]


@arm_route("PUT", _ACCOUNT, "StorageAccounts_Create")
def storage_accounts_create(call: Call) -> Response:
    return json_response(_render(_backend().create_from_body(*_ids(call), call.body)))


@arm_route("GET", _ACCOUNT, "StorageAccounts_GetProperties")
def storage_accounts_get_properties(call: Call) -> Response:
    return json_response(_render(_backend().storage_accounts_get(*_ids(call))))


@arm_route("PATCH", _ACCOUNT, "StorageAccounts_Update")
def storage_accounts_update(call: Call) -> Response:
    return json_response(_render(_backend().update_from_body(*_ids(call), call.body)))


@arm_route("DELETE", _ACCOUNT, "StorageAccounts_Delete")
def storage_accounts_delete(call: Call) -> Response:
    return no_content(204 if _backend().storage_accounts_delete(*_ids(call)) is None else 200)


@arm_route("GET", _BY_GROUP, "StorageAccounts_ListByResourceGroup")
def storage_accounts_list_by_resource_group(call: Call) -> Response:
    page = _backend().storage_accounts_list_by_resource_group(call["subscriptionId"], call["resourceGroupName"],
                                                              1000, skip_token())
    return json_response(wire.page([_render(a) for a in page.items], next_link(page.next_token)))


@arm_route("GET", "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/storageAccounts",
           "StorageAccounts_List")
def storage_accounts_list(call: Call) -> Response:
    page = _backend().storage_accounts_list(call["subscriptionId"], 1000, skip_token())
    return json_response(wire.page([_render(a) for a in page.items], next_link(page.next_token)))


@arm_route("POST", _ACCOUNT + "/listKeys", "StorageAccounts_ListKeys")
def storage_accounts_list_keys(call: Call) -> Response:
    return json_response({"keys": wire.to_wire(_backend().storage_accounts_list_keys(*_ids(call)))})


@arm_route("POST", _ACCOUNT + "/regenerateKey", "StorageAccounts_RegenerateKey")
def storage_accounts_regenerate_key(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    keys = _backend().storage_accounts_regenerate_key(*_ids(call), body.get("keyName"))
    return json_response({"keys": wire.to_wire(keys)})


@arm_route("POST", "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/checkNameAvailability",
           "StorageAccounts_CheckNameAvailability")
def storage_accounts_check_name_availability(call: Call) -> Response:
    return json_response(wire.to_wire(_backend().check_name_from_body(call.body)))
