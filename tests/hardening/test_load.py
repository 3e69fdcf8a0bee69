"""Load, bounded: 8 concurrent clients x 60 mixed operations (clusters, experiments, jobs, file uploads and
downloads) against one served emulator; zero 5xx, nothing lost or duplicated, final state equal to what the
clients did (see workload.py). The full 16 x 500 with figures: bench/load.py.

Jobs run on the local executor: each is one short process, so hundreds of them fit on two cores, and they
really move through queued -> running -> succeeded while clients create, list and delete around them (the
scheduler's compare-and-set writes race the clients' deletes); Docker would spend the time starting containers.
With --executor none they stay queued: the control plane alone, checked the same way.
"""
from __future__ import annotations

import pytest

from tests.served import Served
from .workload import run_load

CLIENTS, OPERATIONS = 8, 60


@pytest.mark.parametrize("executor", ["local", "none"])
def test_concurrent_clients_lose_nothing(tmp_path, executor):
    served = Served(tmp_path / "data", "--executor", executor, "--gpus", "none", "--allocation-delay", "0.1").start()
    try:
        report = run_load(served, CLIENTS, OPERATIONS, seed=8, time_limit=120, jobs_run=executor != "none",
                          job_timeout=60)
    finally:
        served.stop()
    assert report.server_errors == []
    assert served.unhandled_errors() == []
    assert report.problems == []
    done = sum(sum(r.ops.values()) for r in report.results)
    assert done == CLIENTS * OPERATIONS
    checked = report.checked()
    assert checked["files"] > 0 and checked["experiments"] > 0 and checked["clusters"] > 0
    if executor == "local":
        assert checked["run lines"] > 0
