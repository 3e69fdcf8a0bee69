"""ARM around Batch AI: subscriptions, resource groups, resource providers."""
from __future__ import annotations

from ..errors import EmulatorError, ResourceGroupNotFound
from ..models import ResourceGroup
from ..store import AlreadyExists, Store
from .. import ids
from .common import Page, load, paged

PROVIDERS = {
    "microsoft.batchai": ("Microsoft.BatchAI", ["workspaces", "workspaces/clusters", "workspaces/experiments",
                                                "workspaces/experiments/jobs", "workspaces/fileservers",
                                                "clusters", "jobs", "fileservers", "operations",
                                                "locations", "locations/usages"]),
    "microsoft.storage": ("Microsoft.Storage", ["storageAccounts", "operations"]),
    "microsoft.resources": ("Microsoft.Resources", ["resourceGroups", "subscriptions", "deployments"]),
    "microsoft.machinelearningservices": ("Microsoft.MachineLearningServices", [
        "workspaces", "workspaces/computes", "locations/computeOperationsStatus", "operations"]),
}


class ArmBackend:
    def __init__(self, store: Store, on_delete=None):
        self.store = store
        # called with the records a delete removed, so the runner can stop what ran inside them
        self.on_delete = on_delete or (lambda records: None)

    def resource_groups_create_or_update(self, sub: str, name: str, location: str,
                                         tags: dict | None, managed_by: str | None = None) -> tuple[ResourceGroup, bool]:
        rid = ids.resource_group(sub, name)
        while True:
            existing, rec = load(self.store, "resourceGroup", ResourceGroup, rid)
            if existing is None:
                rg = ResourceGroup(subscription_id=sub, resource_group=name, name=name, location=location,
                                   tags=tags or {}, managed_by=managed_by)
                try:   # create, never replace: of two racing creates one creates and the other updates
                    self.store.create("resourceGroup", rid, ids.subscription(sub), name, rg.to_body())
                    return rg, True
                except AlreadyExists:
                    continue
            if location and existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise EmulatorError(409, "InvalidResourceGroupLocation",
                                    f"Invalid resource group location '{location}'. The Resource group already "
                                    f"exists in location '{existing.location}'.")
            existing.tags = tags if tags is not None else existing.tags
            if managed_by is not None:
                existing.managed_by = managed_by
            # compare-and-set: an update racing the group's delete must not bring the group back half-updated
            if self.store.compare_and_set(rid, rec.version, existing.to_body()) is not None:
                return existing, False

    def resource_groups_get(self, sub: str, name: str) -> ResourceGroup:
        rg, _ = load(self.store, "resourceGroup", ResourceGroup, ids.resource_group(sub, name))
        if rg is None:
            raise ResourceGroupNotFound(name)
        return rg

    def resource_groups_list(self, sub: str, limit: int, after: str | None) -> Page:
        recs = self.store.list("resourceGroup", parent=ids.subscription(sub), after=after, limit=limit + 1)
        return paged(recs, ResourceGroup, limit)

    def resource_groups_delete(self, sub: str, name: str) -> bool:
        """Delete the group and everything inside it; False if it did not exist."""
        self.resource_groups_get(sub, name)
        removed = self.store.delete_tree(ids.resource_group(sub, name))
        self.on_delete(removed)
        return True

    def provider(self, namespace: str) -> dict:
        found = PROVIDERS.get(namespace.lower())
        if not found:
            raise EmulatorError(404, "InvalidResourceNamespace",
                                f"The resource namespace '{namespace}' is invalid.")
        return {"namespace": found[0], "resource_types": found[1], "registration_state": "Registered"}
