"""The load workload: concurrent clients doing mixed control-plane and file operations against one emulator.

Every client owns the resources it creates (names carry its index), works on them one operation at a time and
keeps a model of what it created and deleted. Shared parents (a resource group, a workspace, the share jobs
write to) are made once before the clients start. Because a client is sequential, its own view must equal its
model at every moment: each list it sends is compared at once (a name missing is lost, a name twice is
duplicated), every download is compared byte for byte, and at the end everything is compared again after the
jobs have finished. Each job appends its name to runs-<client>.txt on the shared share, so a job that ran twice
shows up as two lines.

A result is plain data (picklable): operations by kind with latencies, HTTP statuses, 5xx, problems.
"""
from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError
from azure.mgmt.batchai import models

from . import clients
from .clients import Recorder

RG, WS = "load-rg", "ws"
RUNS_SHARE = "load-runs"
FINAL = ("succeeded", "failed")

# operation kind -> weight; an operation whose precondition fails (nothing to delete, say) picks again
WEIGHTS = {
    "cluster.create": 3, "cluster.get": 4, "cluster.list": 3, "cluster.delete": 2,
    "experiment.create": 3, "experiment.get": 4, "experiment.list": 3, "experiment.delete": 1,
    "job.create": 8, "job.get": 8, "job.list": 4, "job.delete": 3,
    "file.upload": 8, "file.download": 8, "file.list": 3, "file.delete": 3,
}
MAX_CLUSTERS = 3


def file_size(rng: random.Random) -> int:
    """Mostly small files, some of a few hundred KiB, a few over 4 MiB (more than one Put Range)."""
    roll = rng.random()
    if roll < 0.70:
        return rng.randrange(0, 16 << 10)
    if roll < 0.96:
        return rng.randrange(16 << 10, 512 << 10)
    return rng.randrange(4 << 20, (4 << 20) + (1 << 20))


def file_bytes(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 2048      # 64 KiB of a per-file pattern
    out = (block * (size // len(block) + 1))[:size]
    return out


@dataclass
class JobModel:
    experiment: str
    cluster: str
    cluster_deleted: bool = False   # its cluster was deleted while it may not have finished


@dataclass
class Result:
    client: int
    ops: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)    # resources and files compared at the end
    seconds: float = 0.0


def _on_one(attr: str):
    """An operation on one of self.<attr> (picked at random): True once done, False (nothing done) without any."""
    def wrap(operation):
        def run(self) -> bool:
            names = getattr(self, attr)
            if not names:
                return False
            operation(self, self.rng.choice(sorted(names)))
            return True
        return run
    return wrap


class LoadClient:
    def __init__(self, served, index: int, seed: int, runs_dir=None):
        self.served = served
        self.index = index
        self.rng = random.Random(seed * 1000 + index)
        self.recorder = Recorder()
        self.ai, _ = clients.batchai(served, self.recorder)
        self.fs = clients.files(served, self.recorder)
        self.prefix = f"c{index:02d}"
        self.share = f"load-{self.prefix}"
        self.counter = 0
        self.experiments: set[str] = set()
        self.clusters: dict[str, str] = {}       # name -> id
        self.jobs: dict[str, JobModel] = {}
        self.ever_jobs: set[str] = set()          # every job name acknowledged, deleted ones included
        self.files: dict[str, tuple[int, str]] = {}   # name -> (size, sha256)
        self.result = Result(client=index)

    # ---- helpers --------------------------------------------------------------------------------------------
    def _name(self, kind: str) -> str:
        self.counter += 1
        return f"{self.prefix}-{kind}{self.counter}"

    def problem(self, text: str) -> None:
        self.result.problems.append(f"client {self.index}: {text}")

    def _compare(self, what: str, listed: list[str], model) -> None:
        mine = [n for n in listed if n.startswith(self.prefix + "-")]
        dup = sorted(n for n, k in Counter(mine).items() if k > 1)
        lost = sorted(set(model) - set(mine))
        extra = sorted(set(mine) - set(model))
        if dup:
            self.problem(f"{what}: duplicated {dup}")
        if lost:
            self.problem(f"{what}: lost {lost}")
        if extra:
            self.problem(f"{what}: listed but deleted or never created {extra}")

    def setup(self) -> None:
        self.fs.get_share_client(self.share).create_share()

    # ---- operations -----------------------------------------------------------------------------------------
    def op(self, kind: str) -> bool:
        """Run one operation of `kind`; False if its precondition does not hold (nothing was sent)."""
        return getattr(self, "_" + kind.replace(".", "_"))()

    def _cluster_create(self) -> bool:
        if len(self.clusters) >= MAX_CLUSTERS:
            return False
        name = self._name("cl")
        cl = self.ai.clusters.begin_create(RG, WS, name, clients.cluster_params(self.served, RUNS_SHARE,
                                                                                  nodes=2)).result()
        self.clusters[name] = cl.id
        return True

    @_on_one("clusters")
    def _cluster_get(self, name: str) -> None:
        got = self.ai.clusters.get(RG, WS, name)
        if got.id != self.clusters[name]:
            self.problem(f"cluster {name}: id {got.id} != {self.clusters[name]}")

    def _cluster_list(self) -> bool:
        self._compare("clusters", [c.name for c in self.ai.clusters.list_by_workspace(RG, WS)], self.clusters)
        return True

    @_on_one("clusters")
    def _cluster_delete(self, name: str) -> None:
        self.ai.clusters.begin_delete(RG, WS, name).result()
        del self.clusters[name]
        for job in self.jobs.values():
            if job.cluster == name:
                job.cluster_deleted = True

    def _experiment_create(self) -> bool:
        if len(self.experiments) >= 4:
            return False
        name = self._name("exp")
        self.ai.experiments.begin_create(RG, WS, name).result()
        self.experiments.add(name)
        return True

    @_on_one("experiments")
    def _experiment_get(self, name: str) -> None:
        if self.ai.experiments.get(RG, WS, name).name != name:
            self.problem(f"experiment {name}: get answered another name")

    def _experiment_list(self) -> bool:
        self._compare("experiments", [e.name for e in self.ai.experiments.list_by_workspace(RG, WS)],
                      self.experiments)
        return True

    @_on_one("experiments")
    def _experiment_delete(self, name: str) -> None:
        self.ai.experiments.begin_delete(RG, WS, name).result()
        self.experiments.discard(name)
        for job in [j for j, m in self.jobs.items() if m.experiment == name]:
            del self.jobs[job]

    def _job_create(self) -> bool:
        if not self.experiments or not self.clusters:
            return False
        exp = self.rng.choice(sorted(self.experiments))
        cluster = self.rng.choice(sorted(self.clusters))
        name = self._name("job")
        command = f"echo {name} >> $AZ_BATCHAI_MOUNT_ROOT/afs/runs-{self.prefix}.txt"
        self.ai.jobs.begin_create(RG, WS, exp, name, clients.job_params(self.clusters[cluster], command)).result()
        self.jobs[name] = JobModel(exp, cluster)
        self.ever_jobs.add(name)
        return True

    @_on_one("jobs")
    def _job_get(self, name: str) -> None:
        job = self.ai.jobs.get(RG, WS, self.jobs[name].experiment, name)
        if job.name != name:
            self.problem(f"job {name}: get answered {job.name}")

    @_on_one("experiments")
    def _job_list(self, exp: str) -> None:
        listed = [j.name for j in self.ai.jobs.list_by_experiment(RG, WS, exp)]
        self._compare(f"jobs of {exp}", listed, [n for n, m in self.jobs.items() if m.experiment == exp])

    @_on_one("jobs")
    def _job_delete(self, name: str) -> None:
        self.ai.jobs.begin_delete(RG, WS, self.jobs[name].experiment, name).result()
        del self.jobs[name]

    def _file_upload(self) -> bool:
        # a new name, or (one time in four) a new version of an existing file
        if self.files and self.rng.random() < 0.25:
            name = self.rng.choice(sorted(self.files))
        else:
            name = self._name("file")
        size = file_size(self.rng)
        data = file_bytes(f"{name}/{self.counter}/{self.rng.random()}", size)
        self.files.pop(name, None)     # from here until the upload returns, its content is unknown
        self.fs.get_share_client(self.share).get_file_client(name).upload_file(data)
        self.files[name] = (size, hashlib.sha256(data).hexdigest())
        return True

    @_on_one("files")
    def _file_download(self, name: str) -> None:
        self._check_file(name)

    def _check_file(self, name: str) -> None:
        data = self.fs.get_share_client(self.share).get_file_client(name).download_file().readall()
        size, digest = self.files[name]
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            self.problem(f"file {name}: downloaded {len(data)} bytes that differ from the {size} uploaded")

    def _file_list(self) -> bool:
        listed = list(self.fs.get_share_client(self.share).get_directory_client().list_directories_and_files())
        self._compare("files", [i.name for i in listed], self.files)
        for item in listed:
            if item.name in self.files and item.size != self.files[item.name][0]:
                self.problem(f"file {item.name}: listed with size {item.size}, uploaded {self.files[item.name][0]}")
        return True

    @_on_one("files")
    def _file_delete(self, name: str) -> None:
        self.fs.get_share_client(self.share).get_file_client(name).delete_file()
        del self.files[name]

    # ---- driving --------------------------------------------------------------------------------------------
    def run(self, operations: int, deadline: float) -> Result:
        kinds, weights = zip(*WEIGHTS.items())
        started = time.perf_counter()
        done = 0
        attempts = 0
        while done < operations and time.monotonic() < deadline and attempts < operations * 20:
            attempts += 1
            kind = self.rng.choices(kinds, weights)[0]
            t0 = time.perf_counter()
            try:
                sent = self.op(kind)
            except HttpResponseError as exc:
                sent = True
                self.problem(f"{kind}: {exc.status_code} {str(exc).splitlines()[0][:300]}")
            except Exception as exc:  # a dropped connection, a timeout: report, keep going
                sent = True
                self.problem(f"{kind}: {type(exc).__name__}: {str(exc)[:300]}")
            if sent:
                self.result.latencies.setdefault(kind, []).append(time.perf_counter() - t0)
                self.result.ops[kind] += 1
                done += 1
        if done < operations:
            self.problem(f"only {done} of {operations} operations ran before the time limit")
        self.result.seconds = time.perf_counter() - started
        return self.result

    def unfinished_jobs(self) -> list[str]:
        out = []
        for exp in self.experiments:
            out += [j.name for j in self.ai.jobs.list_by_experiment(RG, WS, exp)
                    if j.name.startswith(self.prefix + "-") and j.execution_state not in FINAL]
        return out

    def verify(self, runs_text: str | None) -> Result:
        """Final comparison: lists against the model, every file byte for byte, job states and run counts
        (runs_text None: jobs do not run, they must all still be queued)."""
        r = self.result
        try:
            self._cluster_list()
            self._experiment_list()
            self._file_list()
            r.checked["clusters"] += len(self.clusters)
            r.checked["experiments"] += len(self.experiments)
            for name in sorted(self.files):
                self._check_file(name)
                r.checked["files"] += 1
            states: dict[str, str] = {}
            for exp in sorted(self.experiments):
                jobs = list(self.ai.jobs.list_by_experiment(RG, WS, exp))
                self._compare(f"jobs of {exp}", [j.name for j in jobs],
                              [n for n, m in self.jobs.items() if m.experiment == exp])
                states.update({j.name: j.execution_state for j in jobs})
            r.checked["jobs"] += len(self.jobs)
            lines = Counter((runs_text or "").split()) if runs_text is not None else None
            for name, model in self.jobs.items():
                state = states.get(name)
                if state is None:
                    continue       # reported as lost above
                allowed = (FINAL if model.cluster_deleted else ("succeeded",)) if lines is not None else ("queued",)
                if state not in allowed:
                    self.problem(f"job {name}: ended {state}, expected {' or '.join(allowed)}")
                if lines is not None and state == "succeeded" and lines[name] != 1:
                    self.problem(f"job {name}: succeeded but its line appears {lines[name]} times")
            if lines is not None:
                for name, count in lines.items():
                    if count > 1:
                        self.problem(f"job {name} ran {count} times")
                    if name not in self.ever_jobs:
                        self.problem(f"a job named {name} ran but was never acknowledged")
                r.checked["run lines"] += sum(lines.values())
        except Exception as exc:
            self.problem(f"final check failed: {type(exc).__name__}: {str(exc)[:300]}")
        r.statuses = Counter(self.recorder.statuses)
        r.server_errors = list(self.recorder.server_errors)
        return r


def setup_shared(served) -> None:
    recorder = Recorder()
    ai, rm = clients.batchai(served, recorder, retries=3)
    rm.resource_groups.create_or_update(RG, {"location": clients.LOCATION})
    ai.workspaces.begin_create(RG, WS, models.WorkspaceCreateParameters(location=clients.LOCATION)).result()
    fs = clients.files(served, recorder, retries=3)
    fs.get_share_client(RUNS_SHARE).create_share()


def wait_for_jobs(load_clients: list[LoadClient], timeout: float) -> list[str]:
    """Wait (bounded) until no client has a job that is not finished; the unfinished ones left."""
    deadline = time.monotonic() + timeout
    while True:
        left = [j for c in load_clients for j in c.unfinished_jobs()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


@dataclass
class Report:
    clients: int
    operations: int
    seconds: float
    results: list[Result]
    unfinished: list[str]

    @property
    def problems(self) -> list[str]:
        out = [p for r in self.results for p in r.problems]
        out += [f"job {j} did not finish" for j in self.unfinished]
        return out

    @property
    def server_errors(self) -> list:
        return [e for r in self.results for e in r.server_errors]

    @property
    def requests(self) -> int:
        return sum(sum(r.statuses.values()) for r in self.results)

    def latencies(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for r in self.results:
            for kind, values in r.latencies.items():
                out.setdefault(kind, []).extend(values)
        return out

    def checked(self) -> Counter:
        total: Counter = Counter()
        for r in self.results:
            total.update(r.checked)
        return total


def run_load(served, n_clients: int, operations: int, seed: int, time_limit: float, jobs_run: bool,
             job_timeout: float = 60) -> Report:
    """n_clients threads of `operations` each against `served` (its data dir is read for the run counts)."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    setup_shared(served)
    load_clients = [LoadClient(served, i, seed) for i in range(n_clients)]
    for c in load_clients:
        c.setup()
    deadline = time.monotonic() + time_limit
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n_clients, thread_name_prefix="load") as pool:
        results = list(pool.map(lambda c: c.run(operations, deadline), load_clients))
    seconds = time.perf_counter() - started
    unfinished = wait_for_jobs(load_clients, job_timeout) if jobs_run else []
    runs_dir = Path(served.data_dir) / "shares" / clients.ACCOUNT / RUNS_SHARE
    for c in load_clients:
        text = None
        if jobs_run:
            path = runs_dir / f"runs-{c.prefix}.txt"
            text = path.read_text() if path.exists() else ""
        c.verify(text)
    return Report(n_clients, operations, seconds, results, unfinished)
