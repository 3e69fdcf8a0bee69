"""The scheduler's cost follows the work that can change, never the history: a tick reads the same rows (and
runs about the same number of SQLite steps) with 10 or 2,000 finished jobs stored. Counted, not timed."""
from __future__ import annotations

import time

import pytest

from emulator.backend import ArmBackend, BatchAIBackend
from emulator.runner.local import LocalExecutor
from emulator.runner.scheduler import Scheduler
from emulator.settings import Settings
from emulator.store.sqlite import SqliteStore

from .finished_jobs import store_finished_jobs

SUB, RG, WS, EXP = "00000000-0000-0000-0000-0000005ca1e5", "rg", "ws", "exp"


class CountingStore:
    """The store, counting the records each read returns."""

    def __init__(self, store):
        self.store = store
        self.rows = 0

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name not in ("get", "get_many", "list", "list_open", "open_versions"):
            return attr

        def counted(*args, **kwargs):
            out = attr(*args, **kwargs)
            self.rows += len(out) if isinstance(out, (list, dict)) else int(out is not None)
            return out
        return counted


def _tick_cost(tmp_path, finished: int) -> dict[str, int]:
    settings = Settings.from_env(environ={}, data_dir=tmp_path / "data", executor="local", allocation_delay=0,
                                 gpus="none")
    store = SqliteStore(settings.data_dir / "emulator.db")
    arm = ArmBackend(store)
    backend = BatchAIBackend(store, arm, settings.data_dir)
    arm.resource_groups_create_or_update(SUB, RG, "eastus", None)
    backend.workspaces_create(SUB, RG, WS, "eastus", None)
    backend.experiments_create(SUB, RG, WS, EXP)
    cluster = backend.clusters_create(SUB, RG, WS, "cl", {
        "vm_size": "STANDARD_D1", "scale_settings": {"manual": {"target_node_count": 0}},
        "user_account_settings": {"admin_user_name": "u", "admin_user_password": "p"}})
    cluster_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.BatchAI/workspaces/{WS}/clusters/cl"
    assert cluster.name == "cl"
    spec = {"cluster": {"id": cluster_id}, "node_count": 1, "std_out_err_path_prefix": "$AZ_BATCHAI_JOB_TEMP",
            "custom_toolkit_settings": {"command_line": "true"}}
    backend.jobs_create(SUB, RG, WS, EXP, "waiting", spec)     # stays queued: the cluster has no node
    template = store.get(f"{cluster_id.rsplit('/workspaces/', 1)[0]}/workspaces/{WS}/experiments/{EXP}/jobs/waiting")
    store_finished_jobs(store, template, finished)
    counting = CountingStore(store)
    scheduler = Scheduler(counting, settings, executor=LocalExecutor())
    try:
        now = time.time()
        scheduler.tick(now)                  # settles the cluster
        scheduler.tick(now + 1)
        costs = {}
        steps = [0]

        def step():
            steps[0] += 1
        store._conn().set_progress_handler(step, 10)
        for label, woken in (("idle tick", False), ("woken tick", True)):
            if woken:
                scheduler.wake()
            counting.rows, steps[0] = 0, 0
            scheduler.tick(now + 2)
            costs[label + " rows"] = counting.rows
            costs[label + " steps"] = steps[0]
        store._conn().set_progress_handler(None, 0)
        assert store.get(template.id).body["execution_state"] == "queued"
        return costs
    finally:
        scheduler._pool.shutdown(wait=True)
        store.close()


def test_a_tick_reads_no_more_with_thousands_of_finished_jobs(tmp_path):
    few = _tick_cost(tmp_path / "few", 10)
    many = _tick_cost(tmp_path / "many", 2000)
    assert few["woken tick rows"] >= 2                      # it did read the cluster and the queued job
    for key in few:
        assert many[key] == few[key] if key.endswith("rows") else many[key] <= few[key] * 1.2 + 5, (key, few, many)


def test_a_store_of_schema_1_is_indexed_on_open(tmp_path):
    import json
    import sqlite3
    path = tmp_path / "emulator.db"
    with sqlite3.connect(path) as db:    # what a version-1 emulator left: no state column
        db.executescript("""
            CREATE TABLE resources (key TEXT PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL,
                parent_id TEXT NOT NULL, name TEXT NOT NULL, sort_name TEXT NOT NULL, body TEXT NOT NULL,
                version INTEGER NOT NULL, seq INTEGER NOT NULL);
            CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            PRAGMA user_version = 1;""")
        for i, state in enumerate(["queued", "succeeded", "running", "failed", "terminating"]):
            db.execute("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (f"/e/jobs/j{i}", f"/e/jobs/j{i}", "job", "/e", "/e", f"j{i}", f"j{i}",
                        json.dumps({"execution_state": state}), 1, i))
        db.execute("INSERT INTO resources VALUES ('/c', '/c', 'cluster', '', '', 'c', 'c', '{}', 1, 9)")
    store = SqliteStore(path)
    try:
        assert [r.name for r in store.list_open("job")] == ["j0", "j2", "j4"]
        assert [r.name for r in store.list_open("job", ["queued"])] == ["j0"]
        assert store.list_open("cluster") == []
        rec = store.get("/e/jobs/j0")
        store.compare_and_set(rec.id, rec.version, {"execution_state": "failed"})
        assert [r.name for r in store.list_open("job")] == ["j2", "j4"]
    finally:
        store.close()
