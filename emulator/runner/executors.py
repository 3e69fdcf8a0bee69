"""The executor contract every executor keeps (runner/choice.py picks one).

An executor starts one process group per node from a NodePlan and reports on it by handle (a string it made):

* ``prepare(job, plan, image, registry)``  per job, before any node starts: images, networks. Raises
  LaunchError with a message for the job's errors (a failed pull carries the registry's message).
* ``create(job_key, job_id, network, node, rank, image, shm_size)`` -> handle, for every node first (a Docker
  container is created, nothing runs yet); then ``run(handle, node)`` -> handle starts it. Both raise LaunchError.
* ``poll(handles)`` -> {handle: None (running) | int (exit code) | VANISHED}. One call per tick for all.
* ``stop(handles)`` stops them (idempotent; unknown handles are ignored), ``cleanup(job_key, handles)`` removes
  what the job left (containers, networks).
* ``find(job_key, node_dirs)`` -> {rank: (handle, state)}: the job's containers or processes found on the host
  by their label (Docker) or launcher path (local), whatever the job record holds; state is ``created`` (never
  started), ``running`` or ``exited``. A restarted emulator uses it to re-attach to what a launch cut short by a
  crash left behind, and to tell a job that never started (safe to start) from one that did (never run twice).
* ``available()`` -> None if the executor can start nodes now, else why not (the Docker engine does not
  answer); ``sweep(job_keys, keep_exited)`` removes what those jobs left (after an engine outage).
* ``describe()`` one line for execution.log.

Extension for an executor that queues jobs itself (``queues_jobs = True``; the Slurm executor, runner/slurm.py):
the engine, not the emulator, does node allocation, gang queueing and priority, so the scheduler hands it whole
jobs (runner/handoff.py drives it in place of the per-node create/run steps, which such an executor refuses):

* ``submit(job_key, job_id, plan, image, registry, priority, gpus_per_node, max_seconds)`` -> handle, called while
  the job is still ``queued``; the job's handles are then ``[handle]``. Idempotent: a job already submitted under
  ``job_key`` (the emulator died between submitting and recording) answers its existing handle, never a second
  submission. Raises LaunchError.
* ``status(handles)`` -> {handle: JobStatus}: the engine's own state (pending with its reason, running on which
  nodes, ended with an exit code or the engine's reason); ``poll`` answers the same in the contract's terms.
* ``node_states()`` -> {"idle": n, "allocated": n, "unusable": n} of its nodes, for nodeStateCounts.
* ``check_job(spec)`` raises EmulatorError for a job the engine can never run (jobs_create refuses it).
"""
from __future__ import annotations

VANISHED = "vanished"


class LaunchError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
