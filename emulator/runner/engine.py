"""Whether the executor's engine answers, as the scheduler sees it tick after tick.

An outage starts at the first failed call and is logged once; the scheduler fails the jobs it cannot follow
once the engine has stayed away for `grace` seconds (a restart of dockerd kills its containers anyway, and a
job must not stay `running` forever behind an engine that never comes back), and keeps queued jobs queued
until it answers again, when what the failed jobs left is removed.
"""
from __future__ import annotations

import logging

from . import states

log = logging.getLogger("batchai_emulator.scheduler")

GRACE_SECONDS = 10.0
# A stopping dockerd first stops its containers (SIGTERM, SIGKILL after their stop timeout) while its API still
# answers, then closes: a master killed by a signal is reported this many seconds late, so that a job stopped
# by the engine's shutdown fails naming the engine rather than with a bare exit code 137.
SIGNAL_SETTLE = 2.0


class EngineWatch:
    def __init__(self, grace: float = GRACE_SECONDS):
        self.grace = grace
        self.down_since: float | None = None
        self.reason = ""

    def failed(self, now: float, reason) -> bool:
        """Record a failed call; True once the outage has lasted longer than the grace period."""
        self.reason = str(reason)
        if self.down_since is None:
            self.down_since = now
            log.warning("the job engine does not answer (%s): running jobs are failed if it stays away %.0f s; "
                        "queued jobs wait for it", self.reason, self.grace)
        return now - self.down_since > self.grace

    def answered(self, now: float) -> bool:
        """Record a call that worked; True if it ends an outage."""
        if self.down_since is None:
            return False
        log.warning("the job engine answers again after %.0f s", now - self.down_since)
        self.down_since = None
        return True

    def job_error(self, stopped: int | None = None) -> dict:
        if stopped is not None:
            return states.error(
                "DockerEngineUnavailable", f"The Docker engine stopped while the job ran ({self.reason}) and "
                f"stopped the job's containers (exit code {stopped}); the job is failed.", exitCode=stopped)
        return states.error(
            "DockerEngineUnavailable", f"The Docker engine stopped answering while the job ran ({self.reason}); "
            f"after {self.grace:.0f} s without it the job is failed. Its containers are removed when the engine "
            "answers again.")
