"""Why a queued job waits.

The scheduler notes each queued job's reason every tick ("waiting: 2 nodes requested, 1 idle of 3; 1 job
ahead"); a reason that changed is written once to the job's execution.log, and `Waiting.reason(job_id)` answers
it for whoever shows jobs (the dashboard). Reasons live in memory: after a restart the first tick writes them again.
"""
from __future__ import annotations

import threading


def describe(need: int, idle: int, total: int, unusable: int, ahead: int, steady: bool, cluster: str) -> str:
    """The reason a job waits, in one line."""
    if not steady:
        head = f"waiting: cluster {cluster} is resizing ({need} node(s) requested, {total} allocated)"
    else:
        head = f"waiting: {need} node(s) requested, {idle} idle of {total}"
        if unusable:
            head += f" ({unusable} unusable)"
    if ahead:
        head += f"; {ahead} job(s) ahead"
    return head


class Waiting:
    def __init__(self):
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()

    def reason(self, job_id: str) -> str | None:
        """Why the queued job `job_id` waits (None if it is not waiting, or not looked at yet)."""
        with self._lock:
            return self._reasons.get(job_id.lower())

    def all(self) -> dict[str, str]:
        with self._lock:
            return dict(self._reasons)

    def note(self, job_id: str, reason: str) -> bool:
        """Record the reason; True if it changed (the caller then logs it)."""
        with self._lock:
            changed = self._reasons.get(job_id.lower()) != reason
            self._reasons[job_id.lower()] = reason
            return changed

    def keep_only(self, job_ids: set[str]) -> None:
        """Forget jobs that no longer wait (started, finished, deleted)."""
        with self._lock:
            for key in [k for k in self._reasons if k not in job_ids]:
                del self._reasons[key]
