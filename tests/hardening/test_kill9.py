"""kill -9 of the emulator at random moments during a stream of job submissions, resource creates and deletes
and file uploads (faultrun.py): after every restart each acknowledged resource and file is there and intact and
each acknowledged delete stayed deleted; at the end every job succeeded and none ran twice. Bounded: a few
trials here, 20 in bench/faults.py."""
from __future__ import annotations

import pytest

from emulator.settings import DEFAULT_STORAGE_ACCOUNT

from .faultrun import SHARE, FaultRun, remove_containers
from tests.served import Served


@pytest.mark.slow
@pytest.mark.parametrize("executor,trials", [pytest.param("docker", 5, marks=pytest.mark.docker), ("local", 3)])
def test_kill9_during_submissions_and_uploads_loses_nothing(tmp_path, request, executor, trials):
    image = request.getfixturevalue("cpu_image") if executor == "docker" else None
    data = tmp_path / "data"
    served = Served(data, "--executor", executor, "--gpus", "none", "--allocation-delay", "0.1").start()
    try:
        run = FaultRun(served, seed=trials, image=image, sleep_max=1.0)
        run.setup()
        for _ in range(trials):
            run.trial()
        report = run.finish(data / "shares" / DEFAULT_STORAGE_ACCOUNT / SHARE / "runs.txt", timeout=120)
    finally:
        served.stop()
        if executor == "docker":
            remove_containers(data)
    assert report.trials == trials
    assert report.problems == [], report.problems
    assert served.unhandled_errors() == []
    assert report.acknowledged["jobs"] > 0 and report.acknowledged["files"] > 0
    assert dict(report.job_states) == {"succeeded": report.checked["jobs at the end"]}, report.failed_codes
