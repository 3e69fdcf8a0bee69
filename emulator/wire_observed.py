"""Members the service's real answers carried beyond its swagger (its recorded 2018-05-01 traffic, issue 18), added
to the rendered bodies of the api-versions that had them. The SDKs ignore members their models lack, and the
swagger's definitions do not forbid extra members, so swagger validation of what the SDKs deserialize is unchanged.

Values follow the job where the job says (its experiment, its wall-clock limit, its nodes' run time); where the
recording is all we know, the value is the one the service answered for an ordinary job, commented as such.
"""
from __future__ import annotations

from .backend.batchai import duration_seconds
from .models import Job, parse_iso


def job_2018_05(body: dict, j: Job) -> dict:
    """A 2018-05-01 job GET/PUT/list item: the service's extra properties."""
    props = body["properties"]
    # unverified defaults: the service cleaned no node around a Batch AI job and ran each job once
    props.setdefault("cleanupNodeAfterRun", False)
    props.setdefault("cleanupNodeBeforeRun", False)
    props["experimentName"] = j.experiment
    props["maxJobDurationSeconds"] = int(duration_seconds(j.props.max_wall_clock_time))
    constraints = dict(props.get("constraints") or {})
    constraints.setdefault("maxAttempts", 1)
    props["constraints"] = constraints
    info = props.get("executionInfo")
    if info and info.get("endTime"):
        props["executionInfo"] = {**info, "totalJobNodeHours": node_hours(j)}
    return body


def node_hours(j: Job) -> float:
    """Node-hours the job held: its nodes times the time from its start to its end (0 if it never started)."""
    start, end = j.execution_info.get("start_time"), j.execution_info.get("end_time")
    if not start or not end:
        return 0.0
    nodes = len(j.nodes) or j.props.node_count
    return round(max(0.0, parse_iso(end) - parse_iso(start)) * nodes / 3600.0, 6)


def cluster_legacy(body: dict, api_version: str) -> dict:
    """2017-09-01-preview cluster answers carried imageReference.version (the default image's is `latest`)."""
    if api_version == "2017-09-01-preview":
        ref = ((body.get("properties") or {}).get("virtualMachineConfiguration") or {}).get("imageReference")
        if isinstance(ref, dict):
            ref.setdefault("version", "latest")
    return body


def job_legacy(body: dict, api_version: str) -> dict:
    """2017-09-01-preview job answers carried no `location` (the cluster's answers did)."""
    if api_version == "2017-09-01-preview":
        body.pop("location", None)
    return body


def resource_group(body: dict, api_version: str | None) -> dict:
    """Resource groups under api-version 2017-05-10 were answered without `type`."""
    if api_version == "2017-05-10":
        body.pop("type", None)
    return body
