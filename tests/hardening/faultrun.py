"""kill -9 trials: a stream of job submissions, resource creates and deletes, and file uploads against a served
emulator, which is killed with SIGKILL at a random moment and started again on the same data dir.

Only what the emulator acknowledged counts: a create or delete that returned (a 2xx; SDK retries are off) and
an upload whose every request got a 2xx (upload_file returned). After each restart:
* every acknowledged experiment, cluster and job is there (get), every acknowledged delete stayed deleted;
* every acknowledged file downloads byte for byte as uploaded.
At the end every job (acknowledged or not, if it exists) reaches a final state, and the line each job appends
to runs.txt on the mounted share appears at most once (exactly once for a job that succeeded).
"""
from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.batchai import models

from . import clients
from .clients import Recorder
from .workload import file_bytes

RG, WS, EXP = "fault-rg", "ws", "exp"
SHARE = "fault-jobs"
UPLOADS = "fault-files"
FINAL = ("succeeded", "failed")


@dataclass
class Acked:
    """Everything the emulator acknowledged over all trials."""
    jobs: set[str] = field(default_factory=set)
    attempted_jobs: set[str] = field(default_factory=set)
    experiments: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)           # experiments whose delete was acknowledged
    clusters: set[str] = field(default_factory=set)
    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    upload_attempts: int = 0


@dataclass
class FaultReport:
    trials: int = 0
    kill_after: list[float] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)         # checks after restarts (each restart re-checks all)
    acknowledged: Counter = field(default_factory=Counter)    # distinct acknowledged things, over all trials
    lost: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    resurrected: list[str] = field(default_factory=list)
    ran_twice: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    wrong_state: list[str] = field(default_factory=list)
    job_states: Counter = field(default_factory=Counter)
    failed_codes: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    restart_seconds: list[float] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return ([f"lost {x}" for x in self.lost] + [f"corrupt {x}" for x in self.corrupt]
                + [f"deleted but back: {x}" for x in self.resurrected] + [f"ran twice: {x}" for x in self.ran_twice]
                + [f"unfinished: {x}" for x in self.unfinished] + self.wrong_state
                + [f"5xx: {e}" for e in self.server_errors])


class FaultRun:
    def __init__(self, served, seed: int, image: str | None, sleep_max: float = 1.5, nodes: int = 3):
        self.served = served
        self.rng = random.Random(seed)
        self.image = image            # None: the local executor (no container image)
        self.sleep_max = sleep_max
        self.nodes = nodes
        self.acked = Acked()
        self.report = FaultReport()
        self.recorder = Recorder()    # 5xx are looked for during verification, where no kill happens
        self._counter = 0
        self._lock = threading.Lock()
        self.cluster_id = ""

    def _name(self, kind: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{kind}{self._counter}"

    # ---- set-up (no faults) ---------------------------------------------------------------------------------
    def setup(self) -> None:
        ai, rm = clients.batchai(self.served, self.recorder, retries=3)
        rm.resource_groups.create_or_update(RG, {"location": clients.LOCATION})
        ai.workspaces.begin_create(RG, WS, models.WorkspaceCreateParameters(location=clients.LOCATION)).result()
        ai.experiments.begin_create(RG, WS, EXP).result()
        fs = clients.files(self.served, self.recorder, retries=3)
        fs.get_share_client(SHARE).create_share()
        fs.get_share_client(UPLOADS).create_share()
        cl = ai.clusters.begin_create(RG, WS, "cl", clients.cluster_params(self.served, SHARE,
                                                                            nodes=self.nodes)).result()
        self.cluster_id = cl.id

    # ---- the streams (faults happen here) -------------------------------------------------------------------
    def _jobs(self, stop: threading.Event) -> None:
        ai, _ = clients.batchai(self.served, Recorder(), timeout=10)
        while not stop.is_set():
            name = self._name("job")
            sleep = round(self.rng.uniform(0, self.sleep_max), 2)
            command = f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs.txt; sleep {sleep}"
            self.acked.attempted_jobs.add(name)
            try:
                ai.jobs.begin_create(RG, WS, EXP, name, clients.job_params(self.cluster_id, command,
                                                                           self.image)).result()
            except Exception:
                return          # the emulator went away: this stream ends for the trial
            self.acked.jobs.add(name)
            stop.wait(self.rng.uniform(0.05, 0.25))

    def _resources(self, stop: threading.Event) -> None:
        ai, _ = clients.batchai(self.served, Recorder(), timeout=10)
        while not stop.is_set():
            try:
                roll = self.rng.random()
                if roll < 0.15 and len(self.acked.clusters) < 20:
                    name = self._name("cl")
                    ai.clusters.begin_create(RG, WS, name, clients.cluster_params(self.served, SHARE)).result()
                    self.acked.clusters.add(name)
                elif roll < 0.65 or not self.acked.experiments:
                    name = self._name("exp")
                    ai.experiments.begin_create(RG, WS, name).result()
                    self.acked.experiments.add(name)
                else:
                    name = self.rng.choice(sorted(self.acked.experiments))
                    self.acked.experiments.discard(name)     # unknown until the delete is acknowledged
                    ai.experiments.begin_delete(RG, WS, name).result()
                    self.acked.deleted.add(name)
            except Exception:
                return
            stop.wait(self.rng.uniform(0.02, 0.1))

    def _uploads(self, stop: threading.Event) -> None:
        share = clients.files(self.served, Recorder(), timeout=10).get_share_client(UPLOADS)
        while not stop.is_set():
            name = self._name("file")
            size = self.rng.choice([self.rng.randrange(0, 64 << 10), self.rng.randrange(1 << 20, 10 << 20)])
            data = file_bytes(f"{name}/{self.rng.random()}", size)
            self.acked.upload_attempts += 1
            try:
                share.get_file_client(name).upload_file(data)
            except Exception:
                return
            self.acked.files[name] = (size, hashlib.sha256(data).hexdigest())

    # ---- one trial ------------------------------------------------------------------------------------------
    def trial(self, kill_window: tuple[float, float] = (0.2, 2.0)) -> None:
        stop = threading.Event()
        threads = [threading.Thread(target=fn, args=(stop,), daemon=True)
                   for fn in (self._jobs, self._resources, self._uploads, self._uploads)]
        for t in threads:
            t.start()
        delay = self.rng.uniform(*kill_window)
        time.sleep(delay)
        self.served.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        self.report.kill_after.append(delay)
        t0 = time.monotonic()
        self.served.start()
        self.report.restart_seconds.append(time.monotonic() - t0)
        self.report.trials += 1
        self.verify_acknowledged()

    def verify_acknowledged(self) -> None:
        ai, _ = clients.batchai(self.served, self.recorder, retries=0)
        share = clients.files(self.served, self.recorder).get_share_client(UPLOADS)
        r = self.report
        for kind, acked, get, parents in (("job", self.acked.jobs, ai.jobs.get, (RG, WS, EXP)),
                                          ("experiment", self.acked.experiments, ai.experiments.get, (RG, WS)),
                                          ("cluster", self.acked.clusters, ai.clusters.get, (RG, WS))):
            for name in sorted(acked):
                if _exists(get, *parents, name) is None:
                    r.lost.append(f"{kind} {name}")
                r.checked[kind + "s"] += 1
        for name in sorted(self.acked.deleted):
            if _exists(ai.experiments.get, RG, WS, name) is not None:
                r.resurrected.append(f"experiment {name}")
            r.checked["deletes"] += 1
        for name, (size, digest) in sorted(self.acked.files.items()):
            try:
                data = share.get_file_client(name).download_file().readall()
            except ResourceNotFoundError:
                r.lost.append(f"file {name}")
                continue
            if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                r.corrupt.append(f"file {name} ({len(data)} bytes, uploaded {size})")
            r.checked["files"] += 1
        r.server_errors = list(self.recorder.server_errors)

    # ---- the end --------------------------------------------------------------------------------------------
    def finish(self, runs_file, timeout: float) -> FaultReport:
        """Wait (bounded) for every job to end, then check states and run counts."""
        ai, _ = clients.batchai(self.served, self.recorder, retries=0)
        deadline = time.monotonic() + timeout
        while True:
            jobs = {j.name: j for j in ai.jobs.list_by_experiment(RG, WS, EXP)}
            waiting = [n for n, j in jobs.items() if j.execution_state not in FINAL]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        r = self.report
        r.unfinished = sorted(waiting)
        lines = Counter(runs_file.read_text().split()) if runs_file.exists() else Counter()
        for name, job in sorted(jobs.items()):
            r.job_states[job.execution_state] += 1
            if job.execution_state == "failed":
                errors = job.execution_info.errors if job.execution_info else None
                code = errors[0].code if errors else "(no error)"
                r.failed_codes[code] += 1
                if not errors:
                    r.wrong_state.append(f"job {name} failed without an error saying why")
            if job.execution_state == "succeeded" and lines[name] != 1:
                r.wrong_state.append(f"job {name} succeeded but ran {lines[name]} times")
            if name not in self.acked.attempted_jobs:
                r.wrong_state.append(f"job {name} exists but was never submitted")
        r.ran_twice = sorted(n for n, c in lines.items() if c > 1)
        a = self.acked
        r.acknowledged.update({"jobs": len(a.jobs), "experiments": len(a.experiments), "deletes": len(a.deleted),
                               "clusters": len(a.clusters), "files": len(a.files),
                               "file bytes": sum(size for size, _ in a.files.values())})
        r.acknowledged["job submissions tried"] = len(a.attempted_jobs)
        r.acknowledged["uploads tried"] = a.upload_attempts
        r.checked["run lines"] = sum(lines.values())
        r.checked["jobs at the end"] = len(jobs)
        r.server_errors = list(self.recorder.server_errors)
        return r


def _exists(get, *args):
    try:
        return get(*args)
    except ResourceNotFoundError:
        return None
    except HttpResponseError as exc:
        if exc.status_code == 404:
            return None
        raise


def remove_containers(data_dir) -> int:
    """Remove the containers of this data dir's jobs (by their job-key label) that are still there; how many."""
    from pathlib import Path

    import docker
    keys = {p.name for p in (Path(data_dir) / "jobs").iterdir()} if (Path(data_dir) / "jobs").is_dir() else set()
    if not keys:
        return 0
    client = docker.from_env()
    removed = 0
    try:
        for c in client.containers.list(all=True, filters={"label": "batchai.emulator.job"}):
            if c.labels.get("batchai.emulator.job") in keys:
                c.remove(force=True)
                removed += 1
    finally:
        client.close()
    return removed
