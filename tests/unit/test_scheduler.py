"""The scheduler driven one tick(now) at a time with an in-memory executor: no Docker, no threads, no sleeping.

Resources are made through the REST surface (the Flask test client), as a user makes them; the scheduler under
test is a second one over the same store, with a clock the test moves and launches run in the tick's own thread.
"""
from __future__ import annotations

import time

import pytest

from emulator import create_app
from emulator.runner.scheduler import Scheduler
from emulator.settings import Settings

AUTH = {"Authorization": "Bearer unit"}
V = "api-version=2018-05-01"
SUB = "00000000-0000-0000-0000-0000000000aa"
WS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.BatchAI/workspaces/ws"
DELAY = 5.0


class MemoryExecutor:
    """The executor contract, in memory: nodes "run" until the test sets their exit code."""
    layout = "host"

    def __init__(self):
        self.on_exit = lambda: None
        self.exits: dict[str, int] = {}      # handle -> exit code, set by the test
        self.started: list[str] = []         # the masters started, in order
        self.stopped: list[str] = []

    def describe(self) -> str:
        return "in-memory executor"

    def resolve_image(self, image: str) -> str:
        return image

    def available(self):
        return None

    def sweep(self, job_keys, keep_exited=False) -> None:
        return None

    def prepare(self, job_key, network, image, registry) -> None:
        return None

    def create(self, job_key, job_id, network, node, rank, image, shm_size) -> str:
        return f"{job_key}/{rank}"

    def run(self, handle: str, node) -> str:
        if handle.endswith("/0"):
            self.started.append(handle)
        return handle

    def poll(self, handles):
        return {h: self.exits.get(h) for h in handles}

    def stop(self, handles) -> None:
        self.stopped.extend(handles)

    def cleanup(self, job_key, handles) -> None:
        return None

    def find(self, job_key, node_dirs):
        return {}


class InThread:
    """Launches run at once in the ticking thread, so one tick leaves a started job recorded with its handles."""

    def submit(self, fn, *args):
        fn(*args)

    def shutdown(self, wait=True):
        return None


class World:
    def __init__(self, data_dir):
        settings = Settings.from_env(environ={}, data_dir=data_dir, allocation_delay=DELAY, executor="none")
        self.app = create_app(settings)
        self.http = self.app.test_client()
        ext = self.app.extensions["batchai"]
        self.store = ext.store
        self.executor = MemoryExecutor()
        # the REST surface stamps resources with the real clock: the test's clock starts there and then moves alone
        self.now = time.time()
        self.scheduler = Scheduler(self.store, settings, executor=self.executor, clock=lambda: self.now,
                                   launch_pool=InThread())
        ext.batchai.notify = self.scheduler.wake     # creates and terminates wake this scheduler, as in serve
        self.put(f"/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01", {"location": "eastus"})
        self.put(WS, {"location": "eastus"})
        self.put(f"{WS}/experiments/exp", {})

    def put(self, path, body):
        r = self.http.put(path + ("" if "api-version" in path else f"?{V}"), json=body, headers=AUTH)
        assert r.status_code in (200, 201, 202), r.get_json()
        return r.get_json()

    def get(self, path):
        r = self.http.get(f"{path}?{V}", headers=AUTH)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def cluster(self, name, nodes):
        self.put(f"{WS}/clusters/{name}", {"properties": {
            "vmSize": "STANDARD_D1", "scaleSettings": {"manual": {"targetNodeCount": nodes}},
            "userAccountSettings": {"adminUserName": "unit", "adminUserPassword": "unit-password"}}})

    def job(self, name, cluster="c", nodes=1, priority="normal"):
        self.put(f"{WS}/experiments/exp/jobs/{name}", {"properties": {
            "cluster": {"id": f"{WS}/clusters/{cluster}"}, "nodeCount": nodes, "schedulingPriority": priority,
            "stdOutErrPathPrefix": "$AZ_BATCHAI_JOB_TEMP", "customToolkitSettings": {"commandLine": "true"}}})

    def state(self, name):
        return self.get(f"{WS}/experiments/exp/jobs/{name}")["properties"]["executionState"]

    def tick(self, seconds=0.0):
        self.now += seconds
        self.scheduler.tick(self.now)

    def master(self, name):
        """The handle of the job's master node, as the scheduler recorded it."""
        rec = next(r for r in self.store.list("job") if r.name == name)
        handles = rec.body.get("handles") or []
        assert handles and handles[0], f"job {name} has no master node recorded"
        return handles[0]

    def exit(self, name, code=0):
        self.executor.exits[self.master(name)] = code


@pytest.fixture()
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.store.close()


def counts(world, cluster="c"):
    props = world.get(f"{WS}/clusters/{cluster}")["properties"]
    return props["allocationState"], props["nodeStateCounts"]


def test_a_cluster_resizes_for_the_allocation_delay_then_is_steady_with_its_nodes(world):
    world.cluster("c", 2)
    world.tick()
    assert counts(world)[0] == "resizing"
    world.tick(DELAY - 1)
    assert counts(world)[0] == "resizing"
    world.tick(1.5)
    state, nodes = counts(world)
    assert state == "steady"
    assert nodes == {"idleNodeCount": 2, "runningNodeCount": 0, "preparingNodeCount": 0,
                     "unusableNodeCount": 0, "leavingNodeCount": 0}
    # a new target resizes again, for the same delay
    r = world.http.patch(f"{WS}/clusters/c?{V}", headers=AUTH,
                         json={"properties": {"scaleSettings": {"manual": {"targetNodeCount": 3}}}})
    assert r.status_code == 200, r.get_json()
    world.tick()
    assert counts(world)[0] == "resizing"
    world.tick(DELAY + 0.5)
    state, nodes = counts(world)
    assert (state, nodes["idleNodeCount"]) == ("steady", 3)


def test_jobs_start_by_priority_then_submission(world):
    world.cluster("c", 1)
    world.job("low1", priority="low")
    world.job("normal1")
    world.job("high1", priority="high")
    world.job("normal2")
    order = []
    world.tick(DELAY + 1)       # steady, and the first job starts
    for _ in range(4):
        running = [n for n in ("low1", "normal1", "high1", "normal2") if world.state(n) == "running"]
        assert len(running) == 1, running     # one node: one job at a time
        order.append(running[0])
        world.exit(running[0], 0)
        world.tick()            # the exit is seen, the node freed and the next job started
        assert world.state(running[0]) == "succeeded"
    assert order == ["high1", "normal1", "normal2", "low1"]


def test_a_job_waits_for_all_its_nodes_and_no_later_job_jumps_ahead(world):
    world.cluster("c", 2)
    world.job("one")
    world.tick(DELAY + 1)
    assert world.state("one") == "running"
    world.job("two", nodes=2)
    world.job("three")           # fits the idle node, but "two" is ahead of it: no back-filling
    world.tick()
    assert (world.state("two"), world.state("three")) == ("queued", "queued")
    assert counts(world)[1]["runningNodeCount"] == 1
    world.exit("one")
    world.tick()
    assert world.state("two") == "running"
    assert world.state("three") == "queued"
    assert counts(world)[1]["runningNodeCount"] == 2
    world.exit("two")
    world.tick()
    assert world.state("three") == "running"


def _one_running(world, name: str) -> None:
    """A one-node cluster and a job on it, past the allocation delay: the job takes the node."""
    world.cluster("c", 1)
    world.job(name)
    world.tick(DELAY + 1)


def test_a_waiting_job_says_why_in_its_execution_log(world):
    _one_running(world, "first")
    world.job("second")
    world.tick()
    rec = next(r for r in world.store.list("job") if r.name == "second")
    reason = world.scheduler.waiting.reason(rec.id)
    assert reason and "1 node(s) requested, 0 idle of 1" in reason


def test_terminate_beats_an_exit_seen_in_the_same_tick(world):
    _one_running(world, "j")
    assert world.state("j") == "running"
    r = world.http.post(f"{WS}/experiments/exp/jobs/j/terminate?{V}", headers=AUTH)
    assert r.status_code in (200, 202)
    world.exit("j", 0)          # the master exits 0 while the terminate is pending
    world.tick()
    props = world.get(f"{WS}/experiments/exp/jobs/j")["properties"]
    assert props["executionState"] == "failed"      # terminated jobs end failed, as the service reported them
    assert world.master("j") in world.executor.stopped


def test_an_exit_seen_first_wins_over_a_later_terminate(world):
    _one_running(world, "j")
    world.exit("j", 0)
    world.tick()
    assert world.state("j") == "succeeded"
    world.http.post(f"{WS}/experiments/exp/jobs/j/terminate?{V}", headers=AUTH)
    world.tick()
    assert world.state("j") == "succeeded"


def test_a_non_zero_exit_fails_the_job_with_its_exit_code(world):
    _one_running(world, "j")
    world.exit("j", 3)
    world.tick()
    props = world.get(f"{WS}/experiments/exp/jobs/j")["properties"]
    assert props["executionState"] == "failed"
    assert props["executionInfo"]["exitCode"] == 3
