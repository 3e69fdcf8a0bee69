"""The executor contract every executor keeps (runner/choice.py picks one), as code: `Executor` below.

An executor starts one process group per node from a NodePlan and reports on it by handle (a string it made).
Docker (runner/docker.py), local processes (runner/local.py) and Slurm (runner/slurm.py) implement `Executor`;
the Slurm executor also implements `QueuingExecutor` (tests/unit/test_executors.py checks the signatures).
The method docstrings are the contract; LaunchError carries the code and message a job's errors show.
"""
from __future__ import annotations

from typing import Protocol

from ..properties import ImageSourceRegistry, JobProperties

VANISHED = "vanished"


class LaunchError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Executor(Protocol):
    def describe(self) -> str:
        """One line for execution.log."""

    def available(self) -> str | None:
        """None if the executor can start nodes now, else why not (the Docker engine does not answer)."""

    def sweep(self, job_keys: set[str], keep_exited: bool = False) -> None:
        """Remove what the jobs `job_keys` left (after an engine outage)."""

    def resolve_image(self, image: str) -> str:
        """The image a job's container image name runs as here (the `--image-map`)."""

    def prepare(self, job_key: str, network: str | None, image: str, registry: ImageSourceRegistry | None) -> None:
        """Per job, before any node starts: pull the image, make the job's network. Raises LaunchError (a
        failed pull carries the registry's message)."""

    def create(self, job_key: str, job_id: str, network: str | None, node, rank: int, image: str,
               shm_size: str | None) -> str:
        """Create node `rank` of the job from its NodePlan `node` (nothing runs yet) and answer its handle.
        Called for every node before the first `run`. Raises LaunchError."""

    def run(self, handle: str, node) -> str:
        """Start a created node; answers its (possibly new) handle. Raises LaunchError."""

    def poll(self, handles: list[str]) -> dict[str, object]:
        """{handle: None (running) | int (exit code) | VANISHED}. One call per tick for all handles."""

    def find(self, job_key: str, node_dirs) -> dict[int, tuple[str, str]]:
        """{rank: (handle, state)}: the job's containers or processes found on the host by their label (Docker)
        or launcher path (local), whatever the job record holds; state is ``created`` (never started),
        ``running`` or ``exited``. A restarted emulator re-attaches with it to what a launch cut short by a crash
        left behind, and tells a job that never started (safe to start) from one that did (never run twice)."""

    def stop(self, handles: list[str]) -> None:
        """Stop the nodes (idempotent; unknown handles are ignored)."""

    def cleanup(self, job_key: str, handles: list[str]) -> None:
        """Remove what the job left (containers, networks)."""


class QueuingExecutor(Executor, Protocol):
    """An executor whose engine queues jobs itself (``queues_jobs = True``; Slurm): it does node allocation,
    gang queueing and priority, so the scheduler hands it whole jobs (runner/handoff.py drives it in place of
    the per-node create/run steps, which such an executor refuses)."""

    queues_jobs: bool

    def submit(self, job_key: str, job_id: str, plan, image: str, registry: ImageSourceRegistry | None,
               priority: str, gpus_per_node: int, max_seconds: float, exclude: tuple = ()) -> str:
        """Submit the job while it is still ``queued``; the job's handles are then ``[handle]``. Idempotent: a
        job already submitted under `job_key` (the emulator died between submitting and recording) answers its
        existing handle, never a second submission. `exclude`: the engine's nodes the job may not run on (its
        cluster's nodes whose setup task failed or still runs). Raises LaunchError."""

    def queue(self) -> dict:
        """{handle: JobStatus} of every job the engine remembers: its own state (pending with its reason,
        running on which nodes, ended with an exit code or the engine's reason). Raises SlurmUnavailable when
        the engine does not answer."""

    def ended(self, handle: str):
        """JobStatus of a job the engine no longer lists (its accounting, or state UNKNOWN)."""

    def status(self, handles: list[str]) -> dict:
        """{handle: JobStatus}: ``queue`` and ``ended`` for some handles; ``poll`` answers the same in the
        contract's terms. Raises SlurmUnavailable when the engine does not answer."""

    def node_states(self) -> dict[str, int]:
        """{"idle": n, "allocated": n, "unusable": n} of its nodes, for nodeStateCounts."""

    def check_job(self, props: JobProperties) -> None:
        """Raise EmulatorError for a job the engine can never run (jobs_create refuses it)."""
