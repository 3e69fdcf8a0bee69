"""Internal resource models: snake_case dataclasses mirroring the spec's values. No Flask, no wire names.

Each Batch AI resource keeps what the user asked for in `spec` (the create body's properties, snake_case, secrets
included so jobs can use them; wire.py never renders them back): that is the echo a GET answers with and what the
store keeps. The code reads it typed, through `props` (properties.py, parsed from `spec`), and the fields the
service computes are typed attributes. Records are stored as `dataclasses.asdict(model)`.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from .errors import bad_request
from .properties import (PRIORITY_RANK, TOOLKITS, ClusterProperties, JobProperties,  # noqa: F401 (re-exported)
                         SchedulingPriority, ToolType)


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


def now_iso(ts: float | None = None) -> str:
    """ISO-8601 UTC with milliseconds and Z, as the service wrote dates."""
    dt = datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def _enum(cls, value):
    """`value` as a member of the enum `cls`; a value the enum does not know (none is ever stored) stays as it is
    rather than making the record unreadable."""
    try:
        return cls(value)
    except ValueError:
        return value


@dataclass
class Base:
    subscription_id: str
    resource_group: str
    name: str
    creation_time: str = field(default_factory=now_iso)
    provisioning_state: ProvisioningState = ProvisioningState.SUCCEEDED
    provisioning_state_transition_time: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        # a record loaded from the store has the states as strings: make them the enums again
        self.provisioning_state = _enum(ProvisioningState, self.provisioning_state)

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


def _typed_spec(record, parse):
    """`record.spec` through `parse`, kept until `spec` is replaced (it is never changed in place)."""
    cached = record.__dict__.get("_props")
    if cached is None or cached[0] is not record.spec:
        cached = record.__dict__["_props"] = (record.spec, parse(record.spec))
    return cached[1]


@dataclass
class Cluster(Base):
    workspace: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    allocation_state: AllocationState = AllocationState.RESIZING
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

    def __post_init__(self) -> None:
        super().__post_init__()
        self.allocation_state = _enum(AllocationState, self.allocation_state)

    @property
    def props(self) -> ClusterProperties:
        """`spec`, typed (parsed on first read; `spec` is replaced, never changed in place, so it stays true)."""
        return _typed_spec(self, ClusterProperties.parse)

    def target_node_count(self, demand: int = 0) -> int:
        """Nodes the cluster should have: the manual target, or for auto-scale the demand clamped to bounds."""
        scale = self.props.scale_settings
        if scale is None:
            return 0
        if scale.manual is not None:
            return scale.manual.target_node_count
        auto = scale.auto_scale
        if auto is not None:
            return max(auto.minimum_node_count, min(auto.maximum_node_count, max(demand, auto.initial_node_count)))
        return 0


@dataclass
class Job(Base):
    workspace: str = ""
    experiment: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    tool_type: ToolType = ToolType.CUSTOM
    job_output_directory_path_segment: str = ""
    execution_state: ExecutionState = ExecutionState.QUEUED
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

    def __post_init__(self) -> None:
        super().__post_init__()
        self.execution_state = _enum(ExecutionState, self.execution_state)
        self.tool_type = _enum(ToolType, self.tool_type)

    @property
    def props(self) -> JobProperties:
        """`spec`, typed (parsed on first read; `spec` is replaced, never changed in place, so it stays true)."""
        return _typed_spec(self, JobProperties.parse)


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


# ---- durations (job constraints) ----
_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(rf"^P(?!$)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                       rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
# seconds per unit of _DURATION's groups; a year and a month count 365 and 30 days, as .NET's XmlConvert does
_UNITS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d{2}):(\d{2})(?:\.\d+)?$")


def duration_seconds(value: str) -> float:
    """ISO-8601 duration (P7D, PT1H30M, P1W, P1Y2M) or .NET timespan (7.00:00:00) in seconds."""
    m = _DURATION.match(value or "")
    if m:
        return sum(float(n) * unit for n, unit in zip(m.groups(), _UNITS) if n)
    m = _TIMESPAN.match(value or "")
    if m:
        d, h, mi, s = m.groups()
        return int(d or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + int(s)
    raise bad_request("InvalidPropertyValue", f"'{value}' is not a valid duration (use ISO 8601, e.g. P7D or "
                      "PT2H).", target="properties.constraints.maxWallClockTime")


def iso_duration(seconds: float) -> str:
    """The ISO 8601 form the service answered a duration with, whatever form it was sent in (P7D, PT1H30M)."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    secs_text = f"{secs:.7f}".rstrip("0").rstrip(".")
    date = f"{int(days)}D" if days else ""
    time_part = "".join(f"{v}{unit}" for v, unit in ((int(hours), "H"), (int(minutes), "M")) if v)
    time_part += f"{secs_text}S" if secs_text != "0" else ""
    return "P" + date + ("T" + time_part if time_part else "") if date or time_part else "PT0S"
