"""A job that can never fit is refused at create; a job that waits says why in its execution.log (once per change
of reason) and through the scheduler's `waiting.reason`."""
from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import start_live

from .armjobs import Arm


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("waiting"), executor="local", gpus="none", allocation_delay=0.05)
    arm = Arm(live)
    arm.cluster("one", nodes=1)
    arm.cluster("auto", scale={"autoScale": {"minimumNodeCount": 0, "maximumNodeCount": 2}})
    arm.cluster("empty", nodes=0)
    yield arm
    live.server.stop()
    assert not live.server_errors


@pytest.mark.parametrize("cluster,count,most", [("one", 5, 1), ("one", 1_000_000, 1), ("auto", 3, 2),
                                                ("empty", 1_000_000, 300)])
def test_a_job_the_cluster_can_never_hold_is_refused_at_create(env, cluster, count, most):
    r = env.put_job("toobig", cluster=cluster, nodeCount=count)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "InvalidNodeCount" and error["target"] == "properties.nodeCount"
    assert f"{count} nodes (nodeCount)" in error["message"] and f"more than {most}:" in error["message"], error


def test_a_job_that_fits_later_is_accepted(env):
    assert env.put_job("later", cluster="empty", nodeCount=2).status_code == 200   # waits for a scale-up
    assert env.put_job("fits", cluster="auto", nodeCount=2).status_code == 200


def _log(env, name: str) -> str:
    job = env.get_job(name)["properties"]
    data = env.live.settings.data_dir
    (path,) = [p for p in data.rglob("execution.log") if job["jobOutputDirectoryPathSegment"].rsplit("/", 1)[1]
               in str(p)]
    return path.read_text()


def test_a_waiting_job_says_why_once_per_reason(env):
    scheduler = env.live.ext.scheduler
    env.job("holder", cluster="one", command="sleep 30")
    deadline = time.time() + 30
    while env.get_job("holder")["properties"]["executionState"] != "running":
        assert time.time() < deadline
        time.sleep(0.05)
    env.job("second", cluster="one")
    env.job("third", cluster="one")
    rid = env.get_job("third")["id"]
    deadline = time.time() + 10
    while scheduler.waiting.reason(rid) is None:
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.5)                         # several ticks with the same reason
    assert scheduler.waiting.reason(rid) == "waiting: 1 node(s) requested, 0 idle of 1; 1 job(s) ahead"
    text = _log(env, "third")
    assert text.count("waiting:") == 1 and text.rstrip().endswith("1 job(s) ahead"), text
    assert _log(env, "second").rstrip().endswith("waiting: 1 node(s) requested, 0 idle of 1")
    requests.post(f"{env.ws}/experiments/e/jobs/holder/terminate?api-version=2018-05-01",
                       headers={"Authorization": "Bearer t"})
    assert env.wait_job("third")["properties"]["executionState"] == "succeeded"
    assert scheduler.waiting.reason(rid) is None
