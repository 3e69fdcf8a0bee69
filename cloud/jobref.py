"""A Batch AI job named by its ARM id (what `python -m cloud stream|download JOB_ID` take)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_JOB_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.BatchAI/workspaces/(?P<workspace>[^/]+)/experiments/(?P<experiment>[^/]+)"
    r"/jobs/(?P<job>[^/]+)/?$", re.IGNORECASE)

TERMINAL_STATES = ("succeeded", "failed")


@dataclass(frozen=True)
class JobRef:
    subscription: str
    resource_group: str
    workspace: str
    experiment: str
    job: str

    @classmethod
    def parse(cls, job_id: str) -> "JobRef":
        m = _JOB_ID.match(job_id.strip())
        if not m:
            raise ValueError(f"{job_id!r} is not a Batch AI job id (/subscriptions/<sub>/resourceGroups/<rg>/providers/"
                             "Microsoft.BatchAI/workspaces/<ws>/experiments/<exp>/jobs/<job>)")
        return cls(**m.groupdict())

    @property
    def args(self) -> tuple[str, str, str, str]:
        """The positional arguments of the SDK's jobs.* operations."""
        return self.resource_group, self.workspace, self.experiment, self.job

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.BatchAI"
                f"/workspaces/{self.workspace}/experiments/{self.experiment}/jobs/{self.job}")


def state_of(job) -> str:
    """The job's execution state as a lower-case string (the SDK gives an enum or a plain string)."""
    state = job.execution_state
    return str(getattr(state, "value", state) or "").lower()


def iter_jobs(clients, resource_group: str | None = None):
    """(JobRef, job) for every job of every workspace the clients' subscription holds (or one resource group's)."""
    workspaces = (clients.batchai.workspaces.list_by_resource_group(resource_group) if resource_group
                  else clients.batchai.workspaces.list())
    for ws in workspaces:
        rg = ws.id.split("/")[4]
        for exp in clients.batchai.experiments.list_by_workspace(rg, ws.name):
            for job in clients.batchai.jobs.list_by_experiment(rg, ws.name, exp.name):
                yield JobRef.parse(job.id), job


def find_job(clients, name: str, *, workspace: str, experiment: str, resource_group: str | None = None) -> JobRef:
    """The ARM id of job `name` in workspace/experiment: in resource_group, or the one resource group holding it."""
    if resource_group:
        groups = [resource_group]
    else:
        groups = sorted({ws.id.split("/")[4] for ws in clients.batchai.workspaces.list()
                         if ws.name.lower() == workspace.lower()})
    found = []
    for rg in groups:
        try:
            job = clients.batchai.jobs.get(rg, workspace, experiment, name)
        except Exception as exc:  # ResourceNotFoundError: not in this group
            if getattr(exc, "status_code", None) == 404:
                continue
            raise
        found.append(JobRef.parse(job.id))
    if not found:
        raise ValueError(f"no job {name!r} in workspace {workspace!r}, experiment {experiment!r}"
                         + (f" of resource group {resource_group!r}" if resource_group else " of any resource group")
                         + " (`python -m cloud jobs` lists the jobs; --workspace/--experiment/--resource-group)")
    if len(found) > 1:
        raise ValueError(f"job {name!r} is in {len(found)} resource groups: pass --resource-group "
                         + " or ".join(r.resource_group for r in found))
    return found[0]
