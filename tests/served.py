"""`batchai-emulator serve` as the tests and benchmarks start it: the console script on free loopback ports
(emulator/launcher.py does the starting, health-checking, stopping and SIGKILL)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from emulator.launcher import EmulatorProcess, free_port
from emulator.settings import Settings

BIN = Path(sys.executable).parent / "batchai-emulator"

__all__ = ["BIN", "Served", "free_port"]


class Served(EmulatorProcess):
    """An EmulatorProcess run through the installed `batchai-emulator` command, as a user runs it."""

    def __init__(self, data_dir: Path, *flags: str, **options):
        super().__init__(data_dir, *flags, program=[str(BIN)], **options)

    def live(self):
        """What tests/e2e/jobenv.JobEnv needs of a live server, for this process's data dir and ports."""
        return SimpleNamespace(https_url=self.https_url, ca_bundle=self.ca_bundle,
                               settings=Settings.from_env(environ={}, data_dir=self.data_dir))
