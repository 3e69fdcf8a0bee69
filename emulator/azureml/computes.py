"""AmlCompute: an Azure ML compute is a cluster of the emulator's runner.

A compute is a store record of kind `cluster` (the runner's own cluster model) at the compute's ARM id, so the
scheduler allocates its nodes, gives them GPUs from the same pool and VM-size table as Batch AI clusters, and writes
its nodeStateCounts. Scale settings become auto-scale bounds: the cluster holds `minNodeCount` nodes and grows up
to `maxNodeCount` as queued runs need nodes; idle nodes above the minimum go when no run needs them (at once: the
emulator does not wait out `nodeIdleTimeBeforeScaleDown`, which is recorded and shown back).
"""
from __future__ import annotations

import re
import uuid

from .. import vmsizes
from ..errors import EmulatorError
from ..models import Cluster, now_iso
from ..properties import AmlCompute
from ..store import Store
from . import ids

_VM_SIZE = re.compile(r"^STANDARD_[A-Z]+\d+[A-Z0-9_]*$")
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$", re.IGNORECASE)


def check_vm_size(value) -> str:
    """The size, upper-cased, if it is one of the table's or shaped like an Azure size name; else a clear 400."""
    if not isinstance(value, str) or not value:
        raise EmulatorError(400, "BadArgument", "properties.properties.vmSize is required for an AmlCompute.",
                            target="vmSize")
    key = value.upper()
    if key not in vmsizes.SIZES and not _VM_SIZE.match(key):
        known = ", ".join(sorted(s for s in vmsizes.SIZES if s.startswith("STANDARD_NC") or s == "STANDARD_D2_V2"))
        raise EmulatorError(400, "BadArgument", f"The VM size '{value}' is not a valid Azure VM size. Use a size "
                            f"such as {known} (sizes are named STANDARD_<family><vCPUs>[_vN]).", target="vmSize")
    return key


class ComputeBackend:
    def __init__(self, store: Store, notify=lambda: None):
        self.store = store
        self.notify = notify

    def create_or_update(self, ws: dict, ws_id: str, name: str, body: dict) -> tuple[dict, str]:
        """(the compute's record body, the operation id to poll)."""
        if not ids.COMPUTE_NAME.match(name):
            raise EmulatorError(400, "BadArgument", f"Compute name '{name}' is invalid: 2-32 letters, digits and "
                                "'-', starting with a letter.", target="name")
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        ctype = props.get("computeType")
        if ctype != "AmlCompute":
            raise EmulatorError(400, "NotSupportedByEmulator", f"computeType '{ctype}' is not supported by the "
                                "emulator: only AmlCompute clusters are.", target="properties.computeType")
        inner = props.get("properties") if isinstance(props.get("properties"), dict) else {}
        vm_size = check_vm_size(inner.get("vmSize"))
        scale = inner.get("scaleSettings") if isinstance(inner.get("scaleSettings"), dict) else {}
        try:
            lo, hi = int(scale.get("minNodeCount", 0)), int(scale.get("maxNodeCount", 1))
        except (TypeError, ValueError):
            raise EmulatorError(400, "BadArgument", "scaleSettings minNodeCount and maxNodeCount must be integers.",
                                target="scaleSettings") from None
        if lo < 0 or hi < 1 or lo > hi:
            raise EmulatorError(400, "BadArgument", f"scaleSettings: minNodeCount ({lo}) must be at least 0 and at "
                                f"most maxNodeCount ({hi}), which must be at least 1.", target="scaleSettings")
        idle = scale.get("nodeIdleTimeBeforeScaleDown") or "PT120S"
        if not isinstance(idle, str) or not _DURATION.match(idle):
            raise EmulatorError(400, "BadArgument", f"nodeIdleTimeBeforeScaleDown '{idle}' is not an ISO 8601 "
                                "duration such as PT120S.", target="scaleSettings.nodeIdleTimeBeforeScaleDown")
        cid = ids.compute(ws_id, name)
        aml = {"location": body.get("location") or ws["location"], "tags": body.get("tags") or {},
               "description": props.get("description"), "vm_priority": (inner.get("vmPriority") or "dedicated"),
               "idle": idle, "remote_login": inner.get("remoteLoginPortPublicAccess") or "NotSpecified",
               "operation": str(uuid.uuid4()), "modified": now_iso()}
        spec = {"vm_size": vm_size, "azureml": aml,
                "scale_settings": {"auto_scale": {"minimum_node_count": lo, "maximum_node_count": hi,
                                                  "initial_node_count": lo}}}
        while True:
            rec = self.store.get(cid)
            if rec is not None and rec.kind != "cluster":
                raise EmulatorError(409, "Conflict", f"'{name}' is taken.")
            if rec is None:
                cluster = Cluster(subscription_id=ws["subscription_id"], resource_group=ws["resource_group"],
                                  name=name, workspace=ws["name"], spec=spec)
                aml["created"] = aml["modified"]
                try:
                    stored = self.store.create("cluster", cid, ws_id, name, cluster.to_body(),
                                               parent_kind=ids.WORKSPACE)
                except Exception as exc:   # lost a race with another create: update it instead
                    if type(exc).__name__ == "AlreadyExists":
                        continue
                    raise
                self.notify()
                return stored.body, aml["operation"]
            cluster = Cluster.from_body(rec.body)
            if cluster.props.vm_size != vm_size:
                raise EmulatorError(409, "Conflict", f"Compute '{name}' exists with vmSize {cluster.props.vm_size}; "
                                    "the VM size of a cluster cannot be changed (delete it first).", target="vmSize")
            aml["created"] = (cluster.props.azureml.created if cluster.props.azureml else None) or aml["modified"]
            cluster.spec = spec
            if self.store.compare_and_set(cid, rec.version, cluster.to_body()) is not None:
                self.notify()
                return cluster.to_body(), aml["operation"]

    def get(self, ws_id: str, name: str) -> dict:
        rec = self.store.get(ids.compute(ws_id, name))
        if rec is None or rec.kind != "cluster":
            raise EmulatorError(404, "ResourceNotFound", f"Compute '{name}' was not found in the workspace "
                                f"'{ws_id.rsplit('/', 1)[-1]}'.", target="computeName")
        return rec.body

    def list(self, ws_id: str) -> list[dict]:
        return [r.body for r in self.store.list("cluster", parent=ws_id)]

    def delete(self, ws_id: str, name: str, on_delete) -> bool:
        rec = self.store.get(ids.compute(ws_id, name))
        if rec is None or rec.kind != "cluster":
            return False
        on_delete(self.store.delete_tree(rec.id))
        return True


def render(body: dict, cid: str) -> dict:
    """The compute resource as azureml-core reads it (azureml/core/compute/amlcompute.py: a missing key is an
    error there)."""
    cluster = Cluster.from_body(body)
    aml = cluster.props.azureml or AmlCompute()
    auto = cluster.props.scale_settings.auto_scale
    counts = cluster.node_state_counts or {}
    errors = [{"error": {"code": e.get("code"), "message": e.get("message")}} for e in cluster.errors] or None
    return {
        "id": cid, "name": cluster.name, "type": ids.COMPUTE_TYPE, "location": aml.location,
        "tags": dict(aml.tags or {}), "identity": {"type": "None"},
        "properties": {
            "computeType": "AmlCompute", "computeLocation": aml.location, "provisioningState": "Succeeded",
            "description": aml.description, "createdOn": aml.created, "modifiedOn": aml.modified,
            "resourceId": None, "provisioningErrors": None, "isAttachedCompute": False, "disableLocalAuth": False,
            "properties": {
                "vmSize": cluster.props.vm_size, "vmPriority": aml.vm_priority.capitalize(),
                "scaleSettings": {"minNodeCount": auto.minimum_node_count,
                                  "maxNodeCount": auto.maximum_node_count,
                                  "nodeIdleTimeBeforeScaleDown": aml.idle},
                "subnet": None, "osType": "Linux",
                "remoteLoginPortPublicAccess": aml.remote_login,
                "allocationState": cluster.allocation_state.capitalize(),
                "allocationStateTransitionTime": cluster.allocation_state_transition_time,
                "errors": errors, "currentNodeCount": cluster.current_node_count,
                "targetNodeCount": cluster.target_node_count(cluster.current_node_count),
                "nodeStateCounts": {"idleNodeCount": counts.get("idle_node_count", 0),
                                    "runningNodeCount": counts.get("running_node_count", 0),
                                    "preparingNodeCount": counts.get("preparing_node_count", 0),
                                    "unusableNodeCount": counts.get("unusable_node_count", 0),
                                    "leavingNodeCount": counts.get("leaving_node_count", 0),
                                    "preemptedNodeCount": 0},
                "enableNodePublicIp": True, "isolatedNetwork": False, "virtualMachineImage": None,
            }},
    }
