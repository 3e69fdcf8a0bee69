"""The wire of the old api-versions (2017-09-01-preview, 2018-03-01), built on wire.py.

What differs from 2018-05-01 on the wire (reference batchai-rest.md §1, §11):
* resources are tracked ARM resources in the resource group: flat ids (`.../providers/Microsoft.BatchAI/jobs/j`),
  types `Microsoft.BatchAI/Clusters|Jobs|FileServers`, and `location` + `tags` in bodies and answers;
* a few members exist only there (job `priority` and `experimentName`, OutputDirectory `type`/`createNew`, SetupTask
  `runElevated`...), and 2018-05-01 has members they lack (`schedulingPriority`, `customMpiSettings`...).

A create body is split against the 2018-05-01 definition: what 2018-05-01 knows becomes the resource's `spec` (what
the runner and 2018-05-01 clients read); the rest is kept beside it (`legacy["extras"]`) and merged back when an old
api-version renders the resource. Answers are then trimmed to the members the requested version's own definition
has, so each version sees its own shapes. Stored ids of migrated resources (backend/legacy.py) render as flat ids.

$filter and $select of the old list operations are supported in a simple form (see `odata_filter`, `odata_select`).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable

from . import spec, wire
from .errors import not_supported
from .models import Cluster, FileServer, Job
# the swagger is walked as request validation walks it: $ref followed, allOf members merged
from .validation import _deref, _properties as _members

CURRENT = "2018-05-01"
OLD_VERSIONS = ("2017-09-01-preview", "2018-03-01")

# `type` strings: `Microsoft.BatchAI/Jobs` is from a real 2018-03-01 recording; the other two follow it (the
# 2018-03-01 examples write them so).
TYPES = {"cluster": "Microsoft.BatchAI/Clusters", "job": "Microsoft.BatchAI/Jobs",
         "fileServer": "Microsoft.BatchAI/FileServers"}

# 2018-05-01 schedulingPriority -> the old integer priority (-1000 lowest .. 1000 highest), for jobs that were not
# created with one; the other way is backend/legacy.py scheduling_priority().
PRIORITY = {"low": -1000, "normal": 0, "high": 1000}

_PROVIDER = r"(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.BatchAI)"
_MIGRATED = [
    (re.compile(_PROVIDER + r"/workspaces/migrated-[^/]+/(clusters|fileServers)/([^/]+)$", re.I), r"\1/\2/\3"),
    (re.compile(_PROVIDER + r"/workspaces/migrated-[^/]+/experiments/migrated/jobs/([^/]+)$", re.I), r"\1/jobs/\2"),
]


def flat_id(sub: str, rg: str, collection: str, name: str) -> str:
    """`collection` is clusters, jobs or fileServers."""
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.BatchAI/{collection}/{name}"


def flatten_id(rid: str) -> str:
    """The flat id of a stored id in a `migrated-*` workspace; any other id unchanged."""
    for pattern, repl in _MIGRATED:
        if pattern.match(rid):
            return pattern.sub(repl, rid)
    return rid


# -- schema walking ------------------------------------------------------------------------------------------------
def _definitions(api_version: str) -> dict:
    return spec.load(api_version)["definitions"]


def _is_map(schema: dict) -> bool:
    return "additionalProperties" in schema and not schema.get("properties")


def _split(schema: dict, value: Any, defs: dict) -> tuple[Any, Any]:
    """(the part of `value` that `schema` knows, the rest or None), following objects and arrays."""
    schema = _deref(schema, defs)
    if isinstance(value, dict) and not _is_map(schema):
        members = _members(schema, defs)
        kept, rest = {}, {}
        for k, v in value.items():
            if k not in members:
                rest[k] = v
                continue
            kept[k], extra = _split(members[k], v, defs)
            if extra is not None:
                rest[k] = extra
        return kept, rest or None
    if isinstance(value, list) and "items" in schema:
        pairs = [_split(schema["items"], v, defs) for v in value]
        extras = [e if e is not None else {} for _, e in pairs]
        return [k for k, _ in pairs], extras if any(extras) else None
    return value, None


def _shape(schema: dict, value: Any, defs: dict) -> Any:
    """`value` with only the members `schema` has (an answer trimmed to one api-version's model), and with the
    string members that model requires but a resource made through another version lacks shown empty (the
    preview requires tensorFlowSettings.masterCommandLineArgs, which later versions made optional)."""
    schema = _deref(schema, defs)
    if isinstance(value, dict) and not _is_map(schema):
        members = _members(schema, defs)
        out = {k: _shape(members[k], v, defs) for k, v in value.items() if k in members}
        for name in schema.get("required") or []:
            if name not in out and _deref(members.get(name, {}), defs).get("type") == "string":
                out[name] = ""
        return out
    if isinstance(value, list) and "items" in schema:
        return [_shape(schema["items"], v, defs) for v in value]
    return value


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for k, v in extra.items():
            out[k] = _merge(out[k], v) if k in out else v
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return [_merge(b, e) for b, e in zip(base, extra)] + base[len(extra):]
    return base


def _flatten_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (flatten_id(v) if k == "id" and isinstance(v, str) else _flatten_ids(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_flatten_ids(v) for v in value]
    return value


# -- requests ------------------------------------------------------------------------------------------------------
def create_body(body: dict, definition: str) -> tuple[str, dict, dict, dict]:
    """(location, tags, spec, extras) of a validated old create body; spec and extras are snake_case.
    `definition` names the 2018-05-01 properties model (ClusterBaseProperties, JobBaseProperties, ...)."""
    props = body.get("properties") or {}
    kept, rest = _split({"$ref": f"#/definitions/{definition}"}, props, _definitions(CURRENT))
    return body["location"], body.get("tags") or {}, wire.from_wire(kept), wire.from_wire(rest or {})


# -- answers -------------------------------------------------------------------------------------------------------
def _resource(kind: str, collection: str, m, props: dict, definition: str, api_version: str) -> dict:
    legacy = m.legacy or {}
    props = _merge(props, wire.to_wire(legacy.get("extras") or {}))
    props = _shape({"$ref": f"#/definitions/{definition}"}, _flatten_ids(props), _definitions(api_version))
    body = {"id": flat_id(m.subscription_id, m.resource_group, collection, m.name), "name": m.name,
            "type": TYPES[kind], "location": legacy.get("location", "")}
    if legacy.get("tags"):
        body["tags"] = legacy["tags"]
    body["properties"] = props
    return body


def cluster(c: Cluster, api_version: str) -> dict:
    from .wire_observed import cluster_legacy
    return cluster_legacy(_resource("cluster", "clusters", c, wire.cluster(c)["properties"], "ClusterProperties",
                                    api_version), api_version)


def job(j: Job, api_version: str) -> dict:
    props = wire.job(j)["properties"]
    extras = (j.legacy or {}).get("extras") or {}
    if "priority" not in extras:
        props["priority"] = PRIORITY.get(j.props.scheduling_priority, 0)
    info = props.get("executionInfo")
    if info and "startTime" not in info and info.get("endTime"):
        # the old versions require executionInfo.startTime; a job that ended without running (terminated while
        # queued) started and ended at the same moment
        props["executionInfo"] = {"startTime": info["endTime"], **info}
    if props.get("toolType") not in _tool_types(api_version):
        # a 2018-05-01 toolkit the version cannot name (horovod, custommpi; pytorch before 2018-03-01) shows as
        # `custom`: such a job runs a command line, which is what custom means to that version
        props["toolType"] = "custom"
    from .wire_observed import job_legacy
    return job_legacy(_resource("job", "jobs", j, props, "JobProperties", api_version), api_version)


@functools.lru_cache(maxsize=None)
def _tool_types(api_version: str) -> frozenset[str]:
    defs = _definitions(api_version)
    names = set(defs["ToolType"]["enum"])
    if "pyTorchSettings" in _members({"$ref": "#/definitions/JobBaseProperties"}, defs):
        names.add("pytorch")  # the enums omit it although the version has pyTorchSettings (see models.ToolType)
    return frozenset(names)


def file_server(f: FileServer, api_version: str) -> dict:
    props = wire.file_server(f)["properties"]
    # the emulator's file servers are what the service's were: an NFS export (a directory here)
    props["mountSettings"] = {**props.get("mountSettings", {}), "fileServerType": "nfs"}
    return _resource("fileServer", "fileServers", f, props, "FileServerProperties", api_version)


# -- $filter and $select -------------------------------------------------------------------------------------------
_PATH = r"[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*"
_TERM = re.compile(rf"\s*({_PATH})\s+(eq|ne)\s+('(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?|true|false|null)\s*", re.I)
_AND = re.compile(r"and\s+", re.I)
_FILTER_HELP = ("only comparisons `<property path> eq|ne <literal>` joined by `and` are supported, e.g. "
                "\"properties/executionState eq 'succeeded' and name ne 'x'\"")


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    return float(text) if "." in text else int(text)


def _lookup(item: Any, path: str) -> Any:
    for part in path.split("/"):
        if not isinstance(item, dict):
            return None
        item = next((v for k, v in item.items() if k.lower() == part.lower()), None)
    return item


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()  # names and enum values compare case-insensitively, as ARM does
    return a == b


def odata_filter(expr: str | None) -> Callable[[dict], bool] | None:
    """A predicate over rendered resources for a simple OData $filter; a clear 400 for anything else."""
    if expr is None or not expr.strip():
        return None
    terms, pos = [], 0
    while True:
        m = _TERM.match(expr, pos)
        if not m:
            raise not_supported(f"The $filter expression '{expr}' ({_FILTER_HELP})", target="$filter")
        terms.append((m.group(1), m.group(2).lower(), _literal(m.group(3))))
        pos = m.end()
        if pos == len(expr):
            break
        m = _AND.match(expr, pos)
        if not m:
            raise not_supported(f"The $filter expression '{expr}' ({_FILTER_HELP})", target="$filter")
        pos = m.end()

    def predicate(item: dict) -> bool:
        return all(_equal(_lookup(item, path), value) == (op == "eq") for path, op, value in terms)
    return predicate


def odata_select(expr: str | None) -> list[str] | None:
    if expr is None or not expr.strip():
        return None
    paths = [p.strip() for p in expr.split(",")]
    bad = [p for p in paths if not re.fullmatch(_PATH, p)]
    if bad:
        raise not_supported(f"The $select expression '{expr}' (only a comma-separated list of property paths such "
                            "as 'name,properties/executionState' is supported)", target="$select")
    return paths


def select(item: dict, paths: list[str] | None) -> dict:
    """The selected members of a rendered resource; id, name and type are always kept."""
    if paths is None:
        return item
    out = {k: item[k] for k in ("id", "name", "type") if k in item}
    for path in paths:
        if _lookup(item, path) is None:
            continue
        src, dst, parts = item, out, path.split("/")
        for i, part in enumerate(parts):
            key = next(k for k in src if k.lower() == part.lower())  # the member's own spelling
            if i == len(parts) - 1:
                dst[key] = src[key]
            else:
                src, dst = src[key], dst.setdefault(key, {})
    return out
