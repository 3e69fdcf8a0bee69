"""Internal resource models: snake_case dataclasses mirroring the spec's values. No Flask, no wire names.

Each Batch AI resource keeps what the user asked for in `spec` (the create body's properties, snake_case, secrets
included so jobs can use them; wire.py never renders them back) and the fields the service computes as typed
attributes. Records are stored as `dataclasses.asdict(model)`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any


class ProvisioningState(StrEnum):
    CREATING = "creating"
    UPDATING = "updating"
    DELETING = "deleting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AllocationState(StrEnum):
    STEADY = "steady"
    RESIZING = "resizing"


class ExecutionState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    TERMINATING = "terminating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ToolType(StrEnum):
    CNTK = "cntk"
    TENSORFLOW = "tensorflow"
    CAFFE = "caffe"
    CAFFE2 = "caffe2"
    CHAINER = "chainer"
    HOROVOD = "horovod"
    CUSTOMMPI = "custommpi"
    CUSTOM = "custom"
    # The 2018-05-01 enum has no value for pyTorchSettings although its description lists "pytorch"; the enum is
    # modelAsString, so the SDKs accept the string. Unverified what the service sent; "pytorch" is the plausible one.
    PYTORCH = "pytorch"


# toolkit settings property (snake_case) -> tool type, in the swagger's order
TOOLKITS: dict[str, ToolType] = {
    "cntk_settings": ToolType.CNTK,
    "py_torch_settings": ToolType.PYTORCH,
    "tensor_flow_settings": ToolType.TENSORFLOW,
    "caffe_settings": ToolType.CAFFE,
    "caffe2_settings": ToolType.CAFFE2,
    "chainer_settings": ToolType.CHAINER,
    "custom_toolkit_settings": ToolType.CUSTOM,
    "custom_mpi_settings": ToolType.CUSTOMMPI,
    "horovod_settings": ToolType.HOROVOD,
}


class SchedulingPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


PRIORITY_RANK = {SchedulingPriority.HIGH: 0, SchedulingPriority.NORMAL: 1, SchedulingPriority.LOW: 2}


def now_iso(ts: float | None = None) -> str:
    """ISO-8601 UTC with milliseconds and Z, as the service wrote dates."""
    dt = datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


@dataclass
class Base:
    subscription_id: str
    resource_group: str
    name: str
    creation_time: str = field(default_factory=now_iso)
    provisioning_state: str = ProvisioningState.SUCCEEDED
    provisioning_state_transition_time: str = field(default_factory=now_iso)

    def to_body(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_body(cls, body: dict[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in known})


@dataclass
class ResourceGroup(Base):
    location: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    managed_by: str | None = None


@dataclass
class Workspace(Base):
    location: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Experiment(Base):
    workspace: str = ""


@dataclass
class NodeStateCounts:
    idle_node_count: int = 0
    running_node_count: int = 0
    preparing_node_count: int = 0
    unusable_node_count: int = 0
    leaving_node_count: int = 0


@dataclass
class Cluster(Base):
    workspace: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    allocation_state: str = AllocationState.RESIZING
    allocation_state_transition_time: str = field(default_factory=now_iso)
    current_node_count: int = 0
    node_state_counts: dict[str, int] = field(default_factory=lambda: dataclasses.asdict(NodeStateCounts()))
    errors: list[dict[str, Any]] = field(default_factory=list)
    # node ids handed out so far (stable across restarts; remote-login information lists them)
    node_ids: list[str] = field(default_factory=list)
    # per allocated node: the GPU device ids it holds; and the nodes that cannot run jobs
    node_gpus: list[list[str]] = field(default_factory=list)
    unusable_nodes: list[int] = field(default_factory=list)
    # nodes that joined and still run the cluster's setup task (runner/setuptask.py): no job starts on them
    preparing_nodes: list[int] = field(default_factory=list)
    # set when an old api-version (2017-09-01-preview, 2018-03-01) created it: location, tags and the create
    # body's members 2018-05-01 has no place for (backend/legacy.py; rendered back by wire_legacy.py only)
    legacy: dict[str, Any] = field(default_factory=dict)

    def target_node_count(self, demand: int = 0) -> int:
        """Nodes the cluster should have: the manual target, or for auto-scale the demand clamped to bounds."""
        scale = self.spec.get("scale_settings") or {}
        if "manual" in scale:
            return int(scale["manual"].get("target_node_count", 0))
        auto = scale.get("auto_scale") or {}
        if auto:
            lo, hi = int(auto["minimum_node_count"]), int(auto["maximum_node_count"])
            return max(lo, min(hi, max(demand, int(auto.get("initial_node_count", 0)))))
        return 0


@dataclass
class Job(Base):
    workspace: str = ""
    experiment: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    tool_type: str = ToolType.CUSTOM
    job_output_directory_path_segment: str = ""
    execution_state: str = ExecutionState.QUEUED
    execution_state_transition_time: str = field(default_factory=now_iso)
    execution_info: dict[str, Any] = field(default_factory=dict)
    # runner bookkeeping, never rendered: nodes the job holds, submission order, executor handles per node
    nodes: list[int] = field(default_factory=list)
    submitted: float = 0.0
    handles: list[str] = field(default_factory=list)
    log_path: str = ""
    # set when an old api-version (2017-09-01-preview, 2018-03-01) created it: location, tags and the create
    # body's members 2018-05-01 has no place for (backend/legacy.py; rendered back by wire_legacy.py only)
    legacy: dict[str, Any] = field(default_factory=dict)


@dataclass
class FileServer(Base):
    workspace: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    mount_settings: dict[str, Any] = field(default_factory=dict)
    # set when an old api-version (2017-09-01-preview, 2018-03-01) created it: location, tags and the create
    # body's members 2018-05-01 has no place for (backend/legacy.py; rendered back by wire_legacy.py only)
    legacy: dict[str, Any] = field(default_factory=dict)


@dataclass
class StorageAccount(Base):
    location: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    sku: dict[str, Any] = field(default_factory=dict)
    kind: str = "StorageV2"
    keys: list[str] = field(default_factory=list)
