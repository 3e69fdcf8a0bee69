"""Azure ML workspaces in ARM, and the ARM template deployments `Workspace.create` sends.

No Flask. Workspaces are store records of kind `amlWorkspace` under their resource group; each names a storage
account the emulator serves (the Blob plane holds snapshots there): the one the request names when the emulator
has it, else one made for the workspace (as the service's template does). Deployments are carried out at once for
the resource types the emulator serves (resource groups, storage accounts, workspaces, nested deployments); every
other resource of a template (key vault, Application Insights, container registry, log analytics...) is recorded as
a succeeded placeholder, and the deployment's outputs say which.
"""
from __future__ import annotations

import hashlib
import re
import time
import uuid

from ..backend.arm import ArmBackend
from ..backend.storage import StorageBackend
from ..errors import EmulatorError
from ..models import now_iso
from ..store import Store
from . import ids

TENANT = "00000000-0000-0000-0000-00000000e111"   # the emulator's one tenant (the ARM subscription's tenantId)
_RESOURCE_ID = re.compile(r"^\[resourceId\('([^']+)',\s*'([^']+)'\)\]$", re.IGNORECASE)


def not_found(kind: str, name: str, rg: str) -> EmulatorError:
    return EmulatorError(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under resource group '{rg}' was "
                         "not found.")


class WorkspaceBackend:
    def __init__(self, store: Store, arm: ArmBackend, storage: StorageBackend):
        self.store = store
        self.arm = arm
        self.storage = storage

    # -- workspaces ------------------------------------------------------------------------------------------
    def create_or_update(self, sub: str, rg: str, name: str, body: dict) -> tuple[dict, bool]:
        group = self.arm.resource_groups_get(sub, rg)
        if not ids.NAME.match(name):
            raise EmulatorError(400, "InvalidResourceName", f"Workspace name '{name}' is invalid: use 3-33 letters, "
                                "digits, '-' or '_', starting with a letter or digit.", target="name")
        location = body.get("location") or group.location
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        wid = ids.workspace(sub, group.name, name)
        existing = self.store.get(wid)
        if existing is not None and existing.kind == ids.WORKSPACE:
            ws = dict(existing.body)
            if body.get("tags") is not None:
                ws["tags"] = body["tags"]
            for key in ("friendlyName", "description"):
                if props.get(key) is not None:
                    ws["properties"][key] = props[key]
            self.store.replace(ids.WORKSPACE, wid, ids.resource_group(sub, group.name), name, ws)
            return ws, False
        account_id = self._storage_for(sub, group.name, name, location, _arm_id(sub, group.name,
                                                                                props.get("storageAccount")))
        sku = body.get("sku") if isinstance(body.get("sku"), dict) else {}
        ws = {"subscription_id": sub, "resource_group": group.name, "name": name, "location": location,
              "tags": body.get("tags") or {},
              "sku": {"name": sku.get("name") or "Basic", "tier": sku.get("tier") or sku.get("name") or "Basic"},
              "identity": {"type": "SystemAssigned", "principalId": str(uuid.uuid4()), "tenantId": TENANT},
              "workspace_id": str(uuid.uuid4()), "creation_time": now_iso(),
              "properties": {
                  "friendlyName": props.get("friendlyName") or name, "description": props.get("description") or "",
                  "storageAccount": account_id,
                  "keyVault": _arm_id(sub, group.name, props.get("keyVault")) or "",
                  "applicationInsights": _arm_id(sub, group.name, props.get("applicationInsights")) or "",
                  "containerRegistry": _arm_id(sub, group.name, props.get("containerRegistry")),
                  "hbiWorkspace": bool(props.get("hbiWorkspace")),
              }}
        self.store.replace(ids.WORKSPACE, wid, ids.resource_group(sub, group.name), name, ws)
        return ws, True

    def _storage_for(self, sub: str, rg: str, ws: str, location: str, wanted: str | None) -> str:
        """The workspace's storage account id: the one asked for when the emulator serves it (created here when it
        names this resource group and does not exist yet), else one made for the workspace."""
        if wanted:
            parts = wanted.strip("/").split("/")
            name = parts[-1].lower()
            wanted_rg = parts[3] if len(parts) > 3 else rg
            try:
                account = self.storage.storage_accounts_get(sub, wanted_rg, name)
            except EmulatorError:
                account = self.storage.storage_accounts_create(sub, wanted_rg, name, location,
                                                               {"name": "Standard_LRS", "tier": "Standard"},
                                                               "StorageV2", None)
            return ids.resource_group(sub, account.resource_group) + \
                f"/providers/Microsoft.Storage/storageAccounts/{account.name}"
        digest = hashlib.sha256(f"{sub}/{rg}/{ws}".lower().encode()).hexdigest()
        name = (re.sub(r"[^a-z0-9]", "", ws.lower())[:12] + digest)[:24]
        try:
            account = self.storage.storage_accounts_get(sub, rg, name)
        except EmulatorError:
            account = self.storage.storage_accounts_create(sub, rg, name, location,
                                                           {"name": "Standard_LRS", "tier": "Standard"},
                                                           "StorageV2", {"createdBy": "azureml-workspace"})
        return ids.resource_group(sub, rg) + f"/providers/Microsoft.Storage/storageAccounts/{account.name}"

    def get(self, sub: str, rg: str, name: str) -> dict:
        rec = self.store.get(ids.workspace(sub, rg, name))
        if rec is None or rec.kind != ids.WORKSPACE:
            self.arm.resource_groups_get(sub, rg)
            raise EmulatorError(404, "ResourceNotFound", f"The Resource '{ids.WS_TYPE}/{name}' under resource "
                                f"group '{rg}' was not found. For more details please go to "
                                "https://aka.ms/ARMResourceNotFoundFix")
        return rec.body

    def list(self, sub: str, rg: str | None = None) -> list[dict]:
        if rg is not None:
            self.arm.resource_groups_get(sub, rg)
            return [r.body for r in self.store.list(ids.WORKSPACE, parent=ids.resource_group(sub, rg))]
        return [r.body for r in self.store.list(ids.WORKSPACE, under=f"/subscriptions/{sub}")]

    def delete(self, sub: str, rg: str, name: str) -> bool:
        rec = self.store.get(ids.workspace(sub, rg, name))
        if rec is None or rec.kind != ids.WORKSPACE:
            return False
        self.arm.on_delete(self.store.delete_tree(rec.id))
        return True

    def storage_account(self, ws: dict) -> tuple[str, bytes]:
        """(name, key) of the workspace's storage account."""
        name = ws["properties"]["storageAccount"].rstrip("/").rsplit("/", 1)[-1]
        found = self.storage.keys(name)
        if found is None:
            raise EmulatorError(409, "StorageAccountNotFound", f"The workspace's storage account '{name}' no longer "
                                "exists.")
        return found[0], found[1][0]

    # -- deployments -----------------------------------------------------------------------------------------
    def deploy(self, sub: str, rg: str, name: str, body: dict) -> dict:
        """Carry out a template deployment now; the record answers GET and the operations list."""
        group = self.arm.resource_groups_get(sub, rg)
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        template = props.get("template")
        if not isinstance(template, dict):
            raise EmulatorError(400, "InvalidTemplate", "The deployment has no inline template: templateLink "
                                "deployments are not supported by the emulator.", target="properties.template")
        started = time.time()
        operations: list[dict] = []
        self._deploy_resources(sub, group.name, group.location, template.get("resources") or [], operations)
        placeholders = [f"{o['type']}/{o['name']}" for o in operations if o["placeholder"]]
        record = {"name": name, "subscription_id": sub, "resource_group": group.name,
                  "timestamp": now_iso(), "duration": f"PT{time.time() - started:.3f}S",
                  "mode": props.get("mode") or "Incremental", "operations": operations,
                  "outputs": {"emulator": {"type": "String", "value": (
                      "Carried out by the emulator: " + ", ".join(
                          f"{o['type']}/{o['name']}" for o in operations if not o["placeholder"]) +
                      (". Recorded as succeeded placeholders (not emulated): " + ", ".join(placeholders)
                       if placeholders else "") + ".")}}}
        self.store.replace(ids.DEPLOYMENT, ids.deployment(sub, group.name, name), ids.resource_group(sub, group.name),
                           name, record)
        return record

    def _deploy_resources(self, sub: str, rg: str, location: str, resources: list, operations: list) -> None:
        for res in resources:
            if not isinstance(res, dict):
                continue
            rtype, name = str(res.get("type", "")), str(res.get("name", ""))
            loc = res.get("location") if isinstance(res.get("location"), str) else location
            kind = rtype.lower()
            placeholder = False
            target = None
            if kind == "microsoft.resources/resourcegroups":
                self.arm.resource_groups_create_or_update(sub, name, loc, res.get("tags"))
                target = ids.resource_group(sub, name)
            elif kind == "microsoft.storage/storageaccounts":
                try:
                    self.storage.storage_accounts_get(sub, rg, name)
                except EmulatorError:
                    sku = res.get("sku") if isinstance(res.get("sku"), dict) else {}
                    self.storage.storage_accounts_create(sub, rg, name, loc, {"name": sku.get("name") or
                                                                              "Standard_LRS", "tier": "Standard"},
                                                         res.get("kind") or "StorageV2", res.get("tags"))
                target = ids.resource_group(sub, rg) + f"/providers/Microsoft.Storage/storageAccounts/{name}"
            elif kind == ids.WS_TYPE.lower():
                ws, _ = self.create_or_update(sub, rg, name, res)
                target = ids.workspace(sub, rg, name)
            elif kind == "microsoft.resources/deployments":
                inner = (res.get("properties") or {}).get("template") or {}
                inner_rg = res.get("resourceGroup") if isinstance(res.get("resourceGroup"), str) else rg
                self._deploy_resources(sub, inner_rg, loc, inner.get("resources") or [], operations)
                placeholder = False
            else:
                placeholder = True
                target = f"{ids.resource_group(sub, rg)}/providers/{rtype}/{name}"
                self.store.replace(ids.PLACEHOLDER, target, ids.resource_group(sub, rg), name,
                                   {"id": target, "name": name, "type": rtype, "location": loc})
            operations.append({"type": rtype, "name": name, "placeholder": placeholder,
                               "id": target or f"{ids.resource_group(sub, rg)}/providers/{rtype}/{name}"})

    def resources(self, sub: str, rg: str) -> list[dict]:
        """Generic resources of a group: storage accounts, workspaces, and template placeholders."""
        self.arm.resource_groups_get(sub, rg)
        out = []
        for kind, rtype in (("storageAccount", "Microsoft.Storage/storageAccounts"), (ids.WORKSPACE, ids.WS_TYPE)):
            for rec in self.store.list(kind, parent=ids.resource_group(sub, rg)):
                out.append({"id": rec.id, "name": rec.name, "type": rtype, "location": rec.body.get("location")})
        out += [rec.body for rec in self.store.list(ids.PLACEHOLDER, parent=ids.resource_group(sub, rg))]
        return out

    def deployment(self, sub: str, rg: str, name: str) -> dict:
        self.arm.resource_groups_get(sub, rg)
        rec = self.store.get(ids.deployment(sub, rg, name))
        if rec is None or rec.kind != ids.DEPLOYMENT:
            raise EmulatorError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
        return rec.body


def _arm_id(sub: str, rg: str, value) -> str | None:
    """A resource id from a template value: a literal id, or `[resourceId('type', 'name')]`."""
    if not isinstance(value, str) or not value:
        return None
    m = _RESOURCE_ID.match(value.strip())
    if m:
        return f"{ids.resource_group(sub, rg)}/providers/{m.group(1)}/{m.group(2)}"
    return value
