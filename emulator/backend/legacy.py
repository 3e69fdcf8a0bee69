"""The old api-versions (2017-09-01-preview, 2018-03-01) on the 2018-05-01 model: the cross-version rule.

The rule follows the service's own move to 2018-05-01 (MicrosoftDocs azure-docs
articles/batch-ai/migrate-to-new-api.md: old resources were moved to workspace `migrated-<region>` and experiment
`migrated`):

* A cluster or file server created through an old api-version in resource group RG with location L is stored as
  the 2018-05-01 resource RG/workspaces/migrated-<L>/clusters/<name> (…/fileServers/<name>); a job as
  RG/workspaces/migrated-<L>/experiments/migrated/jobs/<name>. <L> is the location without spaces, lower-cased;
  the workspace (in L) and the experiment are created on first use and kept. 2018-05-01 clients see, run and
  delete these resources there like any other.
* The old api-versions see a resource group's flat namespace: exactly the clusters and file servers of its
  `migrated-*` workspaces and the jobs of their `migrated` experiments, whoever created them, addressed by flat id
  (RG/providers/Microsoft.BatchAI/clusters/<name>) with `location` (the one given at creation, else the
  workspace's) and `tags`. Resources of other workspaces and experiments do not exist for them (404, not listed).
* A flat name is one resource: an old create of a name that a `migrated-*` workspace of another location holds
  is refused (409 InvalidResourceLocation, as ARM refuses moving a resource by PUT). If 2018-05-01 clients made
  the same name in two `migrated-*` workspaces, old api-versions address the one of the first workspace by name.
* Flat cluster and file-server ids inside bodies (a job's cluster, file-server mounts) are stored as the
  2018-05-01 ids they resolve to, so the runner and 2018-05-01 clients follow them; they render flat again. A
  2018-05-01 id given to an old api-version (a job on a cluster of another workspace) is kept and shown as it is.
* A job's integer priority (-1000..1000) schedules as schedulingPriority high (>0), normal (0) or low (<0); jobs of
  one class start in submission order (a deliberate simplification: the service's finer order is unknown).
"""
from __future__ import annotations

import re
from typing import Callable

from .. import ids
from ..errors import EmulatorError, conflict, not_found
from ..models import Cluster, FileServer, Job, SchedulingPriority, Workspace
from ..store import Record, page_token
from .batchai import BatchAIBackend
from .common import Page

PREFIX = "migrated-"
EXPERIMENT = "migrated"

_COLLECTIONS = {"cluster": "clusters", "fileServer": "fileServers", "job": "jobs"}
_TYPES = {"cluster": "Microsoft.BatchAI/clusters", "fileServer": "Microsoft.BatchAI/fileServers",
          "job": "Microsoft.BatchAI/jobs"}
_CLASSES = {"cluster": Cluster, "fileServer": FileServer, "job": Job}
_FLAT = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.BatchAI/"
                   r"(clusters|fileServers)/([^/]+)$", re.I)
_VISIBLE = {
    "cluster": re.compile(r"/workspaces/migrated-[^/]+/clusters/[^/]+$", re.I),
    "fileServer": re.compile(r"/workspaces/migrated-[^/]+/fileServers/[^/]+$", re.I),
    "job": re.compile(r"/workspaces/migrated-[^/]+/experiments/migrated/jobs/[^/]+$", re.I),
}


def workspace_name(location: str) -> str:
    loc = location.replace(" ", "").lower()
    if not re.fullmatch(r"[a-z0-9]+", loc):
        raise EmulatorError(400, "InvalidLocation", f"The location '{location}' is not a valid Azure location "
                            "name (letters and digits, e.g. eastus).", target="location")
    return PREFIX + loc


def scheduling_priority(priority: int | None) -> str:
    if priority is None or priority == 0:
        return SchedulingPriority.NORMAL
    return SchedulingPriority.HIGH if priority > 0 else SchedulingPriority.LOW


class LegacyBackend:
    """Flat-namespace operations of the old api-versions; each one maps onto BatchAIBackend's (same semantics,
    same store, same runner). Stateless: build one per request."""

    def __init__(self, batchai: BatchAIBackend):
        self.batchai = batchai
        self.store = batchai.store

    # -- the flat namespace ----------------------------------------------------------------------------------
    def _workspaces(self, sub, rg) -> list[Record]:
        return [r for r in self.store.list("workspace", parent=ids.resource_group(sub, rg))
                if r.name.lower().startswith(PREFIX)]

    def _stored_id(self, kind: str, sub, rg, ws: str, name: str) -> str:
        if kind == "job":
            return ids.job(sub, rg, ws, EXPERIMENT, name)
        return ids.cluster(sub, rg, ws, name) if kind == "cluster" else ids.file_server(sub, rg, ws, name)

    def _find(self, kind: str, sub, rg, name) -> Record | None:
        """The record an old api-version means by (kind, resource group, name), or None."""
        wss = self._workspaces(sub, rg)
        wanted = [self._stored_id(kind, sub, rg, w.name, name) for w in wss]
        found = self.store.get_many(wanted) if wanted else {}
        return next((found[i.lower()] for i in wanted if i.lower() in found and found[i.lower()].kind == kind),
                    None)

    def _get(self, kind: str, sub, rg, name):
        self.batchai.arm.resource_groups_get(sub, rg)
        rec = self._find(kind, sub, rg, name)
        if rec is None:
            # the ARM front door's answer for a missing 2018-03-01 resource (recorded; reference §4)
            raise not_found("ResourceNotFound", f"The Resource '{_TYPES[kind]}/{name}' under resource group "
                            f"'{rg}' was not found.")
        return self._located(_CLASSES[kind].from_body(rec.body), {}), _parent_workspace(rec.id)

    def _located(self, m, cache: dict):
        """`m` with legacy["location"] filled from its workspace when it was not created with one (not stored)."""
        if not (m.legacy or {}).get("location"):
            ws_id = ids.workspace(m.subscription_id, m.resource_group, m.workspace)
            if ws_id.lower() not in cache:
                rec = self.store.get(ws_id)
                cache[ws_id.lower()] = Workspace.from_body(rec.body).location if rec else ""
            m.legacy = {**(m.legacy or {}), "location": cache[ws_id.lower()]}
        return m

    def _place(self, kind: str, sub, rg, name, location: str, experiment: bool = False) -> str:
        """The migrated workspace a new old-version resource goes to (created if missing)."""
        self.batchai.arm.resource_groups_get(sub, rg)
        ws = workspace_name(location)
        existing = self._find(kind, sub, rg, name)
        if existing is not None and _parent_workspace(existing.id).lower() != ws:
            m = self._located(_CLASSES[kind].from_body(existing.body), {})
            raise conflict("InvalidResourceLocation", f"The resource '{name}' already exists in location "
                           f"'{m.legacy['location']}' in resource group '{rg}'. A resource with the same name cannot "
                           f"be created in location '{location}'.", target="location")
        self.batchai.workspaces_create(sub, rg, ws, location, None)
        if experiment:
            self.batchai.experiments_create(sub, rg, ws, EXPERIMENT)
        return ws

    def _resolve_ids(self, value):
        """Flat cluster / file-server ids inside a body -> the stored ids they name (unknown ones unchanged)."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                m = _FLAT.match(v) if k == "id" and isinstance(v, str) else None
                if m:
                    kind = "cluster" if m.group(3).lower() == "clusters" else "fileServer"
                    rec = self._find(kind, m.group(1), m.group(2), m.group(4))
                    out[k] = rec.id if rec is not None else v
                else:
                    out[k] = self._resolve_ids(v)
            return out
        if isinstance(value, list):
            return [self._resolve_ids(v) for v in value]
        return value

    def _list(self, kind: str, under: str, limit: int, after: str | None,
              predicate: Callable | None) -> Page:
        """Old-visible records of `kind` under an id, in name order, paged after filtering."""
        out: list[tuple] = []
        cache: dict = {}
        for rec in self.store.list(kind, under=under, after=after):
            if not _VISIBLE[kind].search(rec.id):
                continue
            m = self._located(_CLASSES[kind].from_body(rec.body), cache)
            if predicate is not None and not predicate(m):
                continue
            out.append((m, rec))
            if len(out) > limit:
                break
        more = len(out) > limit
        out = out[:limit]
        return Page([m for m, _ in out], page_token(out[-1][1]) if more and out else None)

    def _list_rg(self, kind, sub, rg, limit, after, predicate) -> Page:
        self.batchai.arm.resource_groups_get(sub, rg)
        return self._list(kind, ids.provider_base(sub, rg) + "/workspaces", limit, after, predicate)

    @staticmethod
    def _legacy(location: str, tags: dict, extras: dict) -> dict:
        return {"location": location, "tags": tags or {}, "extras": extras or {}}

    # -- clusters --------------------------------------------------------------------------------------------
    def clusters_create(self, sub, rg, name, location, tags, spec: dict, extras: dict) -> Cluster:
        ws = self._place("cluster", sub, rg, name, location)
        return self.batchai.clusters_create(sub, rg, ws, name, self._resolve_ids(spec),
                                            self._legacy(location, tags, extras))

    def clusters_update(self, sub, rg, name, tags: dict | None, scale_settings: dict | None) -> Cluster:
        cluster, ws = self._get("cluster", sub, rg, name)
        if scale_settings is not None:
            self.batchai.clusters_update(sub, rg, ws, name, scale_settings)
        if tags is not None:
            self._set_tags(ids.cluster(sub, rg, ws, name), Cluster, tags)
        return self._get("cluster", sub, rg, name)[0]

    def _set_tags(self, rid: str, cls, tags: dict) -> None:
        while True:
            rec = self.store.get(rid)
            if rec is None:
                return
            m = cls.from_body(rec.body)
            m.legacy = {**(m.legacy or {}), "tags": tags}
            if self.store.compare_and_set(rid, rec.version, m.to_body()) is not None:
                return

    def clusters_get(self, sub, rg, name) -> Cluster:
        return self._get("cluster", sub, rg, name)[0]

    def clusters_delete(self, sub, rg, name) -> bool:
        self.batchai.arm.resource_groups_get(sub, rg)
        rec = self._find("cluster", sub, rg, name)
        return rec is not None and self.batchai.clusters_delete(sub, rg, _parent_workspace(rec.id), rec.name)

    def clusters_list(self, sub, limit, after, predicate=None) -> Page:
        return self._list("cluster", ids.subscription(sub), limit, after, predicate)

    def clusters_list_by_resource_group(self, sub, rg, limit, after, predicate=None) -> Page:
        return self._list_rg("cluster", sub, rg, limit, after, predicate)

    def clusters_list_remote_login_information(self, sub, rg, name) -> list[dict]:
        _, ws = self._get("cluster", sub, rg, name)
        return self.batchai.clusters_list_remote_login_information(sub, rg, ws, name)

    # -- file servers ----------------------------------------------------------------------------------------
    def file_servers_create(self, sub, rg, name, location, tags, spec: dict, extras: dict) -> FileServer:
        ws = self._place("fileServer", sub, rg, name, location)
        # the preview has cachingType read-only (the service's choice): it chose the default of later versions
        spec = {**spec, "data_disks": {"caching_type": "none", **spec["data_disks"]}}
        return self.batchai.file_servers_create(sub, rg, ws, name, spec, self._legacy(location, tags, extras))

    def file_servers_get(self, sub, rg, name) -> FileServer:
        return self._get("fileServer", sub, rg, name)[0]

    def file_servers_delete(self, sub, rg, name) -> bool:
        self.batchai.arm.resource_groups_get(sub, rg)
        rec = self._find("fileServer", sub, rg, name)
        return rec is not None and self.batchai.file_servers_delete(sub, rg, _parent_workspace(rec.id), rec.name)

    def file_servers_list(self, sub, limit, after, predicate=None) -> Page:
        return self._list("fileServer", ids.subscription(sub), limit, after, predicate)

    def file_servers_list_by_resource_group(self, sub, rg, limit, after, predicate=None) -> Page:
        return self._list_rg("fileServer", sub, rg, limit, after, predicate)

    # -- jobs ------------------------------------------------------------------------------------------------
    def jobs_create(self, sub, rg, name, location, tags, spec: dict, extras: dict, api_version: str) -> Job:
        ws = self._place("job", sub, rg, name, location, experiment=True)
        spec = self._resolve_ids(spec)
        spec["scheduling_priority"] = scheduling_priority(extras.get("priority"))
        legacy = {**self._legacy(location, tags, extras), "api_version": api_version}
        # the 2018-03-01 path segment (real recording): {subscription}/{resourceGroup}/jobs/{job}/{uuid}
        return self.batchai.jobs_create(sub, rg, ws, EXPERIMENT, name, spec, legacy,
                                        segment_base=f"{sub}/{rg}/jobs/{name}")

    def jobs_get(self, sub, rg, name) -> Job:
        return self._get("job", sub, rg, name)[0]

    def jobs_delete(self, sub, rg, name) -> bool:
        self.batchai.arm.resource_groups_get(sub, rg)
        rec = self._find("job", sub, rg, name)
        return rec is not None and self.batchai.jobs_delete(sub, rg, _parent_workspace(rec.id), EXPERIMENT,
                                                            rec.name)

    def jobs_terminate(self, sub, rg, name) -> Job:
        job, _ = self._get("job", sub, rg, name)
        return self.batchai.jobs_terminate(sub, rg, job.workspace, EXPERIMENT, job.name)

    def jobs_list(self, sub, limit, after, predicate=None) -> Page:
        return self._list("job", ids.subscription(sub), limit, after, predicate)

    def jobs_list_by_resource_group(self, sub, rg, limit, after, predicate=None) -> Page:
        return self._list_rg("job", sub, rg, limit, after, predicate)

    def jobs_list_remote_login_information(self, sub, rg, name) -> list[dict]:
        job, _ = self._get("job", sub, rg, name)
        return self.batchai.jobs_list_remote_login_information(sub, rg, job.workspace, EXPERIMENT, job.name)


def _parent_workspace(rid: str) -> str:
    """The workspace name in a stored cluster, file-server or job id."""
    m = re.search(r"/workspaces/([^/]+)/", rid, re.I)
    return m.group(1) if m else ""
