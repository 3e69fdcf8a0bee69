"""Many finished jobs written straight into a store (not through the API), cloned from one real job: the history
a long-used emulator accumulates. The scale test and bench/scale.py share it."""
from __future__ import annotations

import json

from emulator.store import open_state


def store_finished_jobs(store, template, count: int, prefix: str = "done", batch: int = 5000,
                        state: str = "succeeded") -> None:
    """`count` succeeded (or `state`: queued) copies of `template` (a job Record) beside it, named prefix0,
    prefix1, ..., in large transactions (one create per job would take minutes for 100,000)."""
    body = dict(template.body)
    body.update(execution_state=state, nodes=[], handles=[], log_path="",
                execution_info={"start_time": "2026-01-01T00:00:00.000Z", "end_time": "2026-01-01T00:00:01.000Z",
                                "exit_code": 0} if state == "succeeded" else {})
    parent = template.parent
    for start in range(0, count, batch):
        rows = []
        with store._tx() as conn:
            first = conn.execute("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'seq'").fetchone()[0]
            for i in range(start, min(count, start + batch)):
                name = f"{prefix}{i}"
                rid = f"{parent}/jobs/{name}"
                body["name"] = name
                body["job_output_directory_path_segment"] = f"{template.body['job_output_directory_path_segment']}-{i}"
                rows.append((rid.lower(), rid, "job", parent.lower(), parent, name, name.lower(), json.dumps(body), 1,
                             first + 1 + i - start, open_state("job", body)))
            conn.executemany("INSERT INTO resources (key, id, kind, parent, parent_id, name, sort_name, body, "
                             "version, seq, state) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            conn.execute("INSERT INTO counters(name, value) VALUES('seq', ?) ON CONFLICT(name) DO UPDATE SET "
                         "value = excluded.value", (first + len(rows),))
