"""What a failed launch reports: MountVolumeFailed only when a volume could not be mounted."""
from __future__ import annotations

import pytest

from emulator.errors import EmulatorError

from .test_scheduler import DELAY, WS, World


@pytest.fixture()
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.store.close()


def _errors(world, name):
    return world.get(f"{WS}/experiments/exp/jobs/{name}")["properties"]["executionInfo"].get("errors") or []


def test_a_refusal_that_is_not_a_mount_keeps_its_own_code(world):
    def refuse(*args):
        raise EmulatorError(400, "NodeRefused", "the executor refused the node")
    world.executor.create = refuse
    world.cluster("c", 1)
    world.job("j")
    world.tick(DELAY + 1)
    assert world.state("j") == "failed"
    assert [e["code"] for e in _errors(world, "j")] == ["NodeRefused"]
