"""`--executor`: which executor runs the jobs.

Apart from the contract (executors.py) so that the contract imports no executor and no executor imports it back.
"""
from __future__ import annotations

import logging

import docker

from .docker import DockerExecutor
from .local import LocalExecutor
from .slurm import SlurmExecutor

log = logging.getLogger("batchai_emulator.runner")


def choose(settings, data_dir):
    """`--executor auto|docker|local|none`: auto takes Docker when an engine answers; none runs no job (clusters
    still allocate; jobs stay queued)."""
    mode = (settings.executor or "auto").lower()
    if mode not in ("auto", "docker", "local", "slurm", "none"):
        raise ValueError(f"--executor must be auto, docker, local, slurm or none, not {settings.executor!r}")
    if mode == "none":
        return None
    if mode == "slurm":
        return SlurmExecutor(settings, data_dir)
    if mode in ("auto", "docker"):
        try:
            client = docker.from_env(timeout=30)
            client.ping()
        except Exception as exc:  # any failure to reach the engine means "no Docker" here
            if mode == "docker":
                raise RuntimeError(f"--executor docker, but no Docker engine answers: {exc}") from exc
            log.info("no Docker engine answers (%s): jobs run as local processes", exc)
        else:
            return DockerExecutor(client, settings.image_map_dict())
    return LocalExecutor()
