"""Batch AI 2018-05-01 semantics: workspaces, experiments, clusters, jobs, file servers, usages.

Create is create-or-return: a PUT of a resource that exists with the same specification returns it (so a client
retrying a timed-out create is safe); a different specification answers 409, because clusters change only through
PATCH and jobs and file servers never change. (Unverified what the service answered; this is the ARM-consistent
choice.)
"""
from __future__ import annotations

import logging

import errno
import re
import time
import uuid

from .. import ids, mounts, vmsizes
from ..wire import camel
from ..errors import (ClusterNotFound, EmulatorError, ExperimentNotFound, FileServerNotFound, JobNotFound,
                      ResourceGroupNotFound, WorkspaceNotFound, bad_request, conflict, not_supported)
from ..models import (TOOLKITS, Cluster, ExecutionState, Experiment, FileServer, Job, Workspace, duration_seconds,
                      iso_duration)
from ..properties import ClusterProperties, JobProperties, ScaleSettings, ToolkitSettings, ToolType
from ..runner import states
from ..store import AlreadyExists, ParentNotFound, Store
from . import output_files
from .arm import ArmBackend
from .common import Page, load, paged

class BatchAIBackend:
    def __init__(self, store: Store, arm: ArmBackend, data_dir, clock=time.time, notify=None, check_job=None):
        self.store = store
        # the executor's refusal of jobs it can never run (Slurm: more nodes than its partition has), or None
        self.check_job = check_job
        self.arm = arm
        self.data_dir = data_dir
        self.clock = clock
        # called after a change the runner acts on (new job, terminate, cluster scale), so it need not wait a tick
        self.notify = notify or (lambda: None)

    # -- parents ---------------------------------------------------------------------------------------------
    def _chain(self, sub, rg, ws=None, exp=None, leaf: tuple[str, str] | None = None):
        """Check the parents of a resource in one store round trip, raising the first missing one's error;
        return the leaf record (or None) if `leaf` = (kind, id) is given."""
        wanted = [("resourceGroup", ids.resource_group(sub, rg), ResourceGroupNotFound(rg))]
        if ws is not None:
            wanted.append(("workspace", ids.workspace(sub, rg, ws), WorkspaceNotFound(ws)))
        if exp is not None:
            wanted.append(("experiment", ids.experiment(sub, rg, ws, exp), ExperimentNotFound(exp)))
        found = self.store.get_many([w[1] for w in wanted] + ([leaf[1]] if leaf else []))
        for kind, rid, missing in wanted:
            rec = found.get(rid.lower())
            if rec is None or rec.kind != kind:
                raise missing
        if leaf:
            rec = found.get(leaf[1].lower())
            return rec if rec is not None and rec.kind == leaf[0] else None
        return None

    def _workspace(self, sub, rg, ws) -> Workspace:
        rec = self._chain(sub, rg, leaf=("workspace", ids.workspace(sub, rg, ws)))
        if rec is None:
            raise WorkspaceNotFound(ws)
        return Workspace.from_body(rec.body)

    def _experiment(self, sub, rg, ws, exp) -> Experiment:
        rec = self._chain(sub, rg, ws, leaf=("experiment", ids.experiment(sub, rg, ws, exp)))
        if rec is None:
            raise ExperimentNotFound(exp)
        return Experiment.from_body(rec.body)

    def _insert(self, kind: str, rid: str, parent: str, parent_kind: str, name: str, model, missing_parent):
        """Store a new resource under an existing parent in one transaction: (the model, True); or, if one of
        that id exists, (it, False). A parent deleted meanwhile raises `missing_parent`'s error."""
        cls = type(model)
        for _ in range(10):
            try:
                self.store.create(kind, rid, parent, name, model.to_body(), parent_kind=parent_kind)
                return model, True
            except ParentNotFound:
                raise missing_parent() from None
            except AlreadyExists:
                existing, _ = load(self.store, kind, cls, rid)
                if existing is not None:
                    return existing, False
        raise conflict("Conflict", f"{name} is being created and deleted concurrently; retry.")

    def _delete(self, rid: str) -> bool:
        removed = self.store.delete_tree(rid)
        self.arm.on_delete(removed)
        return bool(removed)

    def _list(self, kind, cls, parent=None, under=None, limit=1000, after=None) -> Page:
        return paged(self.store.list(kind, parent=parent, under=under, after=after, limit=limit + 1), cls, limit)

    # -- workspaces ------------------------------------------------------------------------------------------
    def workspaces_create(self, sub, rg, name, location: str, tags: dict | None) -> Workspace:
        self.arm.resource_groups_get(sub, rg)
        rid = ids.workspace(sub, rg, name)
        ws = Workspace(subscription_id=sub, resource_group=rg, name=name, location=location, tags=tags or {})
        for _ in range(10):
            existing, rec = load(self.store, "workspace", Workspace, rid)
            if existing is None:
                stored, created = self._insert("workspace", rid, ids.resource_group(sub, rg), "resourceGroup", name,
                                               ws, lambda: ResourceGroupNotFound(rg))
                if created:
                    return stored
                continue
            if existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise conflict("InvalidResourceLocation", f"The resource '{name}' already exists in location "
                               f"'{existing.location}'. A resource with the same name cannot be created in "
                               f"location '{location}'.")
            if tags is None:
                return existing
            existing.tags = tags
            # compare-and-set, never replace: a workspace deleted meanwhile (with its group) must stay deleted
            if self.store.compare_and_set(rid, rec.version, existing.to_body()) is not None:
                return existing
        raise conflict("Conflict", f"{name} is being created and deleted concurrently; retry.")

    def workspaces_update(self, sub, rg, name, tags: dict | None) -> Workspace:
        while True:
            ws = self.workspaces_get(sub, rg, name)
            if tags is None:
                return ws
            rec = self.store.get(ids.workspace(sub, rg, name))
            if rec is None:
                continue    # deleted meanwhile: workspaces_get answers 404
            ws = Workspace.from_body(rec.body)
            ws.tags = tags
            if self.store.compare_and_set(rec.id, rec.version, ws.to_body()) is not None:
                return ws

    def workspaces_get(self, sub, rg, name) -> Workspace:
        return self._workspace(sub, rg, name)

    def workspaces_delete(self, sub, rg, name) -> bool:
        self.arm.resource_groups_get(sub, rg)
        return self._delete(ids.workspace(sub, rg, name))

    def workspaces_list(self, sub, limit, after) -> Page:
        return self._list("workspace", Workspace, under=ids.subscription(sub), limit=limit, after=after)

    def workspaces_list_by_resource_group(self, sub, rg, limit, after) -> Page:
        self.arm.resource_groups_get(sub, rg)
        return self._list("workspace", Workspace, parent=ids.resource_group(sub, rg), limit=limit, after=after)

    # -- experiments -----------------------------------------------------------------------------------------
    def experiments_create(self, sub, rg, ws, name) -> Experiment:
        self._workspace(sub, rg, ws)
        rid = ids.experiment(sub, rg, ws, name)
        existing, _ = load(self.store, "experiment", Experiment, rid)
        if existing:
            return existing
        exp = Experiment(subscription_id=sub, resource_group=rg, name=name, workspace=ws)
        return self._insert("experiment", rid, ids.workspace(sub, rg, ws), "workspace", name, exp, lambda: WorkspaceNotFound(ws))[0]

    def experiments_get(self, sub, rg, ws, name) -> Experiment:
        return self._experiment(sub, rg, ws, name)

    def experiments_delete(self, sub, rg, ws, name) -> bool:
        self._workspace(sub, rg, ws)
        return self._delete(ids.experiment(sub, rg, ws, name))

    def experiments_list_by_workspace(self, sub, rg, ws, limit, after) -> Page:
        self._workspace(sub, rg, ws)
        return self._list("experiment", Experiment, parent=ids.workspace(sub, rg, ws), limit=limit, after=after)

    # -- clusters --------------------------------------------------------------------------------------------
    def clusters_create(self, sub, rg, ws, name, spec: dict, legacy: dict | None = None) -> Cluster:
        self._workspace(sub, rg, ws)
        spec = dict(spec)
        _refuse_unsupported(spec, CLUSTER_UNSUPPORTED)
        props = ClusterProperties.parse(spec)
        _check_scale_settings(props.scale_settings, "properties.scaleSettings")
        vmsizes.check(props.vm_size, "properties.vmSize")
        mounts.check(props.node_setup.mount_volumes, "properties.nodeSetup.mountVolumes")
        if props.node_setup.setup_task is not None:
            mounts.check_node_path(props.node_setup.setup_task.std_out_err_path_prefix,
                                   "properties.nodeSetup.setupTask.stdOutErrPathPrefix")
        # Without an image the service used Ubuntu Server 16.04 LTS (GetCluster example, Batch AI docs); set
        # before the comparison below, so a retried create without an image finds the same specification.
        spec.setdefault("virtual_machine_configuration", {"image_reference": {
            "publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS", "version": "latest"}})
        rid = ids.cluster(sub, rg, ws, name)
        existing, _ = load(self.store, "cluster", Cluster, rid)
        if existing:
            if existing.spec != spec or legacy is not None and existing.legacy != legacy:
                raise conflict("ClusterAlreadyExists", f"A cluster named {name} already exists in workspace {ws} "
                               "with different properties; change it with an update (PATCH) or delete it first.")
            return existing
        cluster = Cluster(subscription_id=sub, resource_group=rg, name=name, workspace=ws, spec=spec,
                          legacy=legacy or {})
        stored, created = self._insert("cluster", rid, ids.workspace(sub, rg, ws), "workspace", name, cluster,
                                       lambda: WorkspaceNotFound(ws))
        if not created and (stored.spec != spec or legacy is not None and stored.legacy != legacy):
            raise conflict("ClusterAlreadyExists", f"A cluster named {name} already exists in workspace {ws} "
                           "with different properties; change it with an update (PATCH) or delete it first.")
        if created:
            logging.getLogger("batchai_emulator.events").info(
                "cluster %s resizing: 0 -> %d node(s) of %s", name, cluster.target_node_count(), props.vm_size,
                extra={"event": "cluster", "cluster": name, "state": "resizing"})
        self.notify()
        return stored

    def clusters_update(self, sub, rg, ws, name, scale_settings: dict | None) -> Cluster:
        self._workspace(sub, rg, ws)
        rid = ids.cluster(sub, rg, ws, name)
        while True:
            cluster, rec = load(self.store, "cluster", Cluster, rid)
            if cluster is None:
                raise ClusterNotFound(name)
            if scale_settings is None:
                return cluster
            _check_scale_settings(ScaleSettings.parse(scale_settings), "properties.scaleSettings")
            cluster.spec = {**cluster.spec, "scale_settings": scale_settings}    # replaced: `props` follows it
            if self.store.compare_and_set(rid, rec.version, cluster.to_body()):
                self.notify()
                return cluster

    def clusters_get(self, sub, rg, ws, name) -> Cluster:
        rec = self._chain(sub, rg, ws, leaf=("cluster", ids.cluster(sub, rg, ws, name)))
        if rec is None:
            raise ClusterNotFound(name)
        return Cluster.from_body(rec.body)

    def clusters_delete(self, sub, rg, ws, name) -> bool:
        self._workspace(sub, rg, ws)
        return self._delete(ids.cluster(sub, rg, ws, name))

    def clusters_list_by_workspace(self, sub, rg, ws, limit, after) -> Page:
        self._workspace(sub, rg, ws)
        return self._list("cluster", Cluster, parent=ids.workspace(sub, rg, ws), limit=limit, after=after)

    def clusters_list_remote_login_information(self, sub, rg, ws, name) -> list[dict]:
        cluster = self.clusters_get(sub, rg, ws, name)
        return [remote_login(node_id, i) for i, node_id in enumerate(cluster.node_ids[:cluster.current_node_count])]

    # -- file servers ----------------------------------------------------------------------------------------
    def file_servers_create(self, sub, rg, ws, name, spec: dict, legacy: dict | None = None) -> FileServer:
        self._workspace(sub, rg, ws)
        rid = ids.file_server(sub, rg, ws, name)
        existing, _ = load(self.store, "fileServer", FileServer, rid)
        if existing:
            if existing.spec != spec or legacy is not None and existing.legacy != legacy:
                raise conflict("FileServerAlreadyExists", f"A file server named {name} already exists in "
                               f"workspace {ws} with different properties.")
            return existing
        data = self.data_dir / "fileservers" / sub / rg / ws / name
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            # a deliberate limit: the data is a directory named after the ids, and a name of this machine's file
            # system has at most 255 bytes (64 four-byte letters, or a subscription id that is not a GUID)
            raise bad_request("InvalidResourceName", f"The file server's data directory cannot be made: the "
                              "subscription id, resource group, workspace or file server name is longer than this "
                              "machine's file system allows (255 bytes per name).") from None
        fs = FileServer(subscription_id=sub, resource_group=rg, name=name, workspace=ws, spec=spec,
                        legacy=legacy or {},
                        # The service mounted its NFS export at /mnt/data on nodes; the data is a local directory.
                        mount_settings={"mount_point": "/mnt/data", "file_server_public_ip": "127.0.0.1",
                                        "file_server_internal_ip": "127.0.0.1"})
        stored, created = self._insert("fileServer", rid, ids.workspace(sub, rg, ws), "workspace", name, fs,
                                       lambda: WorkspaceNotFound(ws))
        if not created and (stored.spec != spec or legacy is not None and stored.legacy != legacy):
            raise conflict("FileServerAlreadyExists", f"A file server named {name} already exists in "
                           f"workspace {ws} with different properties.")
        return stored

    def file_servers_get(self, sub, rg, ws, name) -> FileServer:
        self._workspace(sub, rg, ws)
        fs, _ = load(self.store, "fileServer", FileServer, ids.file_server(sub, rg, ws, name))
        if fs is None:
            raise FileServerNotFound(name)
        return fs

    def file_servers_delete(self, sub, rg, ws, name) -> bool:
        self._workspace(sub, rg, ws)
        return self._delete(ids.file_server(sub, rg, ws, name))

    def file_servers_list_by_workspace(self, sub, rg, ws, limit, after) -> Page:
        self._workspace(sub, rg, ws)
        return self._list("fileServer", FileServer, parent=ids.workspace(sub, rg, ws), limit=limit, after=after)

    # -- jobs ------------------------------------------------------------------------------------------------
    def jobs_create(self, sub, rg, ws, exp, name, spec: dict, legacy: dict | None = None,
                    segment_base: str | None = None) -> Job:
        """`legacy` and `segment_base` (the path segment before the job's uuid) are given by old api-versions
        (backend/legacy.py)."""
        self._experiment(sub, rg, ws, exp)
        spec = dict(spec)
        _refuse_unsupported(spec, JOB_UNSUPPORTED)
        props = JobProperties.parse(spec)
        tool_type = _check_job(props)
        cluster_id = props.cluster_id
        cluster, _ = load(self.store, "cluster", Cluster, cluster_id)
        if cluster is None or cluster.subscription_id.lower() != sub.lower():
            raise EmulatorError(400, "ClusterNotFound", f"The cluster '{cluster_id}' referenced by the job does "
                                "not exist.", target="properties.cluster.id")
        if self.check_job is not None:
            self.check_job(props)
        mounts.check(props.mount_volumes)
        mounts.check_node_path(props.std_out_err_path_prefix, "properties.stdOutErrPathPrefix")
        for d in props.input_directories:
            mounts.check_node_path(d.path, "properties.inputDirectories.path")
        for o in props.output_directories:
            mounts.check_node_path(o.path_prefix + "/" + (o.path_suffix or ""),
                                   "properties.outputDirectories.pathPrefix")
        # the echo answers with the defaults the service filled in: the priority (lower case) and the wall-clock
        # limit, kept in ISO 8601 whatever the request's form (the swagger's own default is the .NET timespan
        # 7.00:00:00, which its `duration` format does not allow)
        spec["scheduling_priority"] = str(props.scheduling_priority)
        spec["constraints"] = {**(spec.get("constraints") or {}),
                               "max_wall_clock_time": iso_duration(duration_seconds(props.max_wall_clock_time))}
        rid = ids.job(sub, rg, ws, exp, name)
        existing, _ = load(self.store, "job", Job, rid)
        if existing:
            if existing.spec != spec or legacy is not None and existing.legacy != legacy:
                raise conflict("JobAlreadyExists", f"A job named {name} already exists in experiment {exp}; "
                               "jobs cannot be changed: delete it first or use another name.")
            return existing
        # checked for new jobs only (a retried create of a job made before a scale-down still answers it)
        limit = vmsizes.max_node_count(cluster.props)
        if props.node_count > limit[0]:
            # waiting could never help (the service accepted such jobs and left them queued for good)
            raise bad_request("InvalidNodeCount", f"The job asks for {props.node_count} nodes (nodeCount), "
                              f"but cluster {cluster.name} can never have more than {limit[0]}: {limit[1]}.",
                              target="properties.nodeCount")
        base = segment_base or f"{sub}/{rg}/workspaces/{ws}/experiments/{exp}/jobs/{name}"
        segment = f"{base}/{uuid.uuid4()}"
        job = Job(subscription_id=sub, resource_group=rg, name=name, workspace=ws, experiment=exp, spec=spec,
                  tool_type=tool_type, job_output_directory_path_segment=segment, submitted=self.clock(),
                  legacy=legacy or {})
        stored, created = self._insert("job", rid, ids.experiment(sub, rg, ws, exp), "experiment", name, job,
                                       lambda: ExperimentNotFound(exp))
        if not created and (stored.spec != spec or legacy is not None and stored.legacy != legacy):
            raise conflict("JobAlreadyExists", f"A job named {name} already exists in experiment {exp}; "
                           "jobs cannot be changed: delete it first or use another name.")
        if created:
            logging.getLogger("batchai_emulator.events").info(
                "job %s/%s/%s queued on cluster %s", ws, exp, name, cluster_id.rsplit("/", 1)[-1],
                extra={"event": "job", "job": f"{ws}/{exp}/{name}", "state": "queued"})
        self.notify()
        return stored

    def jobs_get(self, sub, rg, ws, exp, name) -> Job:
        job, _ = self._job(sub, rg, ws, exp, name)
        return job

    def _job(self, sub, rg, ws, exp, name):
        rec = self._chain(sub, rg, ws, exp, leaf=("job", ids.job(sub, rg, ws, exp, name)))
        if rec is None:
            raise JobNotFound(name)
        return Job.from_body(rec.body), rec

    def jobs_delete(self, sub, rg, ws, exp, name) -> bool:
        self._experiment(sub, rg, ws, exp)
        return self._delete(ids.job(sub, rg, ws, exp, name))

    def jobs_list_by_experiment(self, sub, rg, ws, exp, limit, after) -> Page:
        self._experiment(sub, rg, ws, exp)
        return self._list("job", Job, parent=ids.experiment(sub, rg, ws, exp), limit=limit, after=after)

    def jobs_list_output_files(self, job: Job, signer, directory_id: str, directory: str, after: str | None,
                               limit: int, link_expiry_minutes: int) -> output_files.OutputPage:
        return output_files.list_output_files(self.store, self.data_dir, signer, job, directory_id, directory,
                                              after, limit, link_expiry_minutes)

    def jobs_terminate(self, sub, rg, ws, exp, name) -> Job:
        """queued -> failed at once; running -> terminating (the runner stops it and records failed);
        finished jobs are left as they are (as the SDK tests observed on the service)."""
        while True:
            job, rec = self._job(sub, rg, ws, exp, name)
            if job.execution_state == ExecutionState.QUEUED:
                states.transition(job, states.FAILED, self.clock(), errors=[states.terminated_error()])
            elif job.execution_state == ExecutionState.RUNNING:
                states.transition(job, states.TERMINATING, self.clock())
            else:
                return job
            if self.store.compare_and_set(rec.id, rec.version, job.to_body()):
                self.notify()
                return job

    def jobs_list_remote_login_information(self, sub, rg, ws, exp, name) -> list[dict]:
        job = self.jobs_get(sub, rg, ws, exp, name)
        cluster, _ = load(self.store, "cluster", Cluster, job.props.cluster_id)
        if cluster is None:
            return []
        return [remote_login(cluster.node_ids[i], i) for i in job.nodes if i < len(cluster.node_ids)]

    # -- usages ----------------------------------------------------------------------------------------------
    def usages_list(self, sub, location) -> list[dict]:
        loc = location.replace(" ", "").lower()
        clusters = [Cluster.from_body(r.body) for r in self.store.list("cluster", under=ids.subscription(sub))]
        in_loc = []
        for c in clusters:
            ws, _ = load(self.store, "workspace", Workspace, ids.workspace(c.subscription_id, c.resource_group,
                                                                          c.workspace))
            if ws and ws.location.replace(" ", "").lower() == loc:
                in_loc.append(c)
        families: dict[str, int] = {}
        total = 0
        for c in in_loc:
            size = vmsizes.lookup(c.props.vm_size)
            used = size.vcpus * c.current_node_count
            total += used
            families[size.family] = families.get(size.family, 0) + used
        for fam in {s.family for s in vmsizes.SIZES.values()}:
            families.setdefault(fam, 0)
        # Limits: the defaults a new subscription had (ListUsages example: 20 clusters, 600 regional vCPUs).
        quota = vmsizes.REGIONAL_VCPU_QUOTA
        out = [usage("Clusters", len(in_loc), 20), usage("Total Cluster Dedicated Regional vCPUs", total, quota)]
        out += [usage(f"{fam} Cluster Dedicated vCPUs", n, quota) for fam, n in sorted(families.items())]
        return out


# Fields the emulator cannot honour locally: refused by name rather than ignored. (Subnets and VM images are
# accepted: they choose the node's network and OS, which containers on this machine stand in for.)
CLUSTER_UNSUPPORTED = {
    "node_setup.performance_counters_settings": "Application Insights performance counters "
                                                "(nodeSetup.performanceCountersSettings)",
    "node_setup.mount_volumes.azure_file_shares[].credentials.account_key_secret_reference":
        "Key Vault references for storage keys (credentials.accountKeySecretReference)",
    "node_setup.mount_volumes.azure_blob_file_systems[].credentials.account_key_secret_reference":
        "Key Vault references for storage keys (credentials.accountKeySecretReference)",
}
JOB_UNSUPPORTED = {
    "secrets[].value_secret_reference": "Key Vault references for job secrets (secrets.valueSecretReference)",
    "container_settings.image_source_registry.credentials.password_secret_reference":
        "Key Vault references for registry passwords (credentials.passwordSecretReference)",
    "mount_volumes.azure_file_shares[].credentials.account_key_secret_reference":
        "Key Vault references for storage keys (credentials.accountKeySecretReference)",
    "mount_volumes.azure_blob_file_systems[].credentials.account_key_secret_reference":
        "Key Vault references for storage keys (credentials.accountKeySecretReference)",
}


def _refuse_unsupported(spec: dict, table: dict[str, str]) -> None:
    for path, what in table.items():
        if _present(spec, path.split(".")):
            raise not_supported(what, target="properties." + ".".join(_camel(p.rstrip("[]")) for p in
                                                                      path.split(".")))


def _present(value, parts: list[str]) -> bool:
    if not parts:
        return value is not None
    head, rest = parts[0], parts[1:]
    if not isinstance(value, dict):
        return False
    if head.endswith("[]"):
        return any(_present(item, rest) for item in value.get(head[:-2]) or [])
    return _present(value.get(head), rest)


def usage(name: str, current: int, limit: int) -> dict:
    return {"unit": "Count", "current_value": current, "limit": limit, "name": {"value": name, "localized_value": name}}


def remote_login(node_id: str, index: int) -> dict:
    # Nodes are local: the address is the loopback and the ports follow the service's 50000+ convention.
    return {"node_id": node_id, "ip_address": "127.0.0.1", "port": 50000 + index}


def _check_scale_settings(scale: ScaleSettings | None, target: str) -> None:
    if scale is None:
        return
    if (scale.manual is None) == (scale.auto_scale is None):
        raise bad_request("InvalidScaleSettings", "Exactly one of manual and autoScale scale settings must be "
                          "given.", target=target)
    auto = scale.auto_scale
    if auto is not None:
        lo, hi, init = auto.minimum_node_count, auto.maximum_node_count, auto.initial_node_count
        if lo < 0 or hi < lo:
            raise bad_request("InvalidScaleSettings", f"autoScale needs 0 <= minimumNodeCount ({lo}) <= "
                              f"maximumNodeCount ({hi}).", target=target + ".autoScale")
        if init and not lo <= init <= hi:
            raise bad_request("InvalidScaleSettings", f"autoScale initialNodeCount ({init}) must lie between "
                              f"minimumNodeCount and maximumNodeCount.", target=target + ".autoScale")
    if scale.manual is not None and scale.manual.target_node_count < 0:
        raise bad_request("InvalidScaleSettings", "manual targetNodeCount must not be negative.", target=target)


def _check_job(props: JobProperties) -> ToolType:
    if len(props.toolkits) != 1 or props.toolkit is None:
        names = ", ".join(_camel(k) for k, tool in TOOLKITS.items() if tool in props.toolkits) or "none"
        raise bad_request("InvalidToolkitSettings", "Exactly one toolkit settings object (cntkSettings, "
                          "pyTorchSettings, tensorFlowSettings, caffeSettings, caffe2Settings, chainerSettings, "
                          "customToolkitSettings, customMpiSettings, horovodSettings) must be given; got "
                          f"{names}.", target="properties")
    settings: ToolkitSettings = props.toolkit
    if settings.tool_type == ToolType.CNTK:
        lang = (settings.language_type or "Python").lower()
        if lang == "python" and not settings.python_script_file_path:
            raise bad_request("MissingRequiredProperty", "cntkSettings with languageType Python needs "
                              "pythonScriptFilePath.", target="properties.cntkSettings.pythonScriptFilePath")
        if lang == "brainscript" and not settings.config_file_path:
            raise bad_request("MissingRequiredProperty", "cntkSettings with languageType BrainScript needs "
                              "configFilePath.", target="properties.cntkSettings.configFilePath")
        if lang not in ("python", "brainscript"):
            raise bad_request("InvalidPropertyValue", "cntkSettings.languageType must be Python or BrainScript.",
                              target="properties.cntkSettings.languageType")
    if settings.tool_type == ToolType.CAFFE and bool(settings.config_file_path) == bool(
            settings.python_script_file_path):
        raise bad_request("InvalidPropertyValue", "caffeSettings needs exactly one of configFilePath and "
                          "pythonScriptFilePath.", target="properties.caffeSettings")
    for field_name, directories in (("input_directories", props.input_directories),
                                    ("output_directories", props.output_directories)):
        seen = set()
        for d in directories:
            if not re.fullmatch(r"[A-Za-z0-9_]+", d.id):
                raise bad_request("InvalidPropertyValue", f"Directory id '{d.id}' may only contain letters, "
                                  "digits and underscores (it names the $AZ_BATCHAI_* variable).",
                                  target=f"properties.{_camel(field_name)}")
            if d.id.lower() in seen or d.id.lower() == "stdouterr":
                raise bad_request("InvalidPropertyValue", f"Directory id '{d.id}' is used twice or reserved.",
                                  target=f"properties.{_camel(field_name)}")
            seen.add(d.id.lower())
    if props.node_count < 1:
        raise bad_request("InvalidPropertyValue", "nodeCount must be at least 1.", target="properties.nodeCount")
    return settings.tool_type


def _camel(snake_name: str) -> str:
    return camel(snake_name)
