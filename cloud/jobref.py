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
