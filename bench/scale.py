"""Scale: what 100,000 finished jobs in the store cost. In one run, two emulators (local executor) side by side,
one with an empty history and one with N finished jobs written straight into its store (not through the API):
1. `jobs.get` p50 and `jobs.begin_create` + `begin_delete` p50 through azure-mgmt-batchai 7.0.0, interleaved;
   ratio large/empty (goal <= 1.2x);
2. idle CPU: each process's CPU time over 10 s with nothing to do (goal < 2%);
   and with 5,000 jobs queued behind a busy node;
3. a scheduler tick with nothing to do, in-process on each store (goal <= 5 ms), idle and after a wake-up (the
   tick that also reads the queue).

Run: .venv/bin/python bench/scale.py [--jobs 100000] [--requests 300]; no Docker needed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from azure.mgmt.batchai import models

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.hardening.finished_jobs import store_finished_jobs  # noqa: E402
from bench.sdk import clients  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402

FLAGS = ("--executor", "local", "--gpus", "none", "--allocation-delay", "0")


def job_params(cluster_id: str, command: str = "true"):
    return models.JobCreateParameters(
        cluster=models.ResourceId(id=cluster_id), node_count=1, std_out_err_path_prefix="$AZ_BATCHAI_JOB_TEMP",
        custom_toolkit_settings=models.CustomToolkitSettings(command_line=command))


def prepare(data: Path, finished: int, queued: int = 0) -> None:
    """Resource group, workspace, experiment, a 1-node cluster and one finished job `template` through the API;
    then `finished` copies of the job written into the stopped emulator's store. With `queued`, a job `blocker`
    holds the node (sleeps) and that many queued copies wait behind it."""
    with EmulatorProcess(data, *FLAGS) as emu:
        ai, rm = clients(emu)
        rm.resource_groups.create_or_update("rg", {"location": "eastus"})
        ai.workspaces.begin_create("rg", "ws", models.WorkspaceCreateParameters(location="eastus")).result()
        ai.experiments.begin_create("rg", "ws", "exp").result()
        cluster = ai.clusters.begin_create("rg", "ws", "cl", models.ClusterCreateParameters(
            vm_size="STANDARD_D2", user_account_settings=models.UserAccountSettings(
                admin_user_name="u", admin_user_password="p"),
            scale_settings=models.ScaleSettings(manual=models.ManualScaleSettings(target_node_count=1)))).result()
        ai.jobs.begin_create("rg", "ws", "exp", "template", job_params(cluster.id)).result()
        wait_finished(ai, "template")
        if queued:
            ai.jobs.begin_create("rg", "ws", "exp", "blocker", job_params(cluster.id, "sleep 600")).result()
            while ai.jobs.get("rg", "ws", "exp", "blocker").execution_state != "running":
                time.sleep(0.05)
    if queued:
        from emulator.store.sqlite import SqliteStore
        store = SqliteStore(data / "emulator.db")
        try:
            template = next(r for r in store.list("job") if r.name == "template")
            store_finished_jobs(store, template, queued, prefix="waiting", state="queued")
        finally:
            store.close()
    if finished:
        from emulator.store.sqlite import SqliteStore
        store = SqliteStore(data / "emulator.db")
        try:
            template = next(r for r in store.list("job") if r.name == "template")
            t0 = time.perf_counter()
            store_finished_jobs(store, template, finished)
            print(f"stored {finished} finished jobs in {time.perf_counter() - t0:.1f} s "
                  f"({(data / 'emulator.db').stat().st_size >> 20} MiB)")
        finally:
            store.close()


def wait_finished(ai, name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (state := ai.jobs.get("rg", "ws", "exp", name).execution_state) not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {name} still {state}")
        time.sleep(0.02)
    return state


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tick_ms(data: Path, rounds: int) -> tuple[float, float]:
    """p50 of an in-process tick with nothing to do on the stopped emulator's store: idle, and after a wake."""
    from emulator.runner.local import LocalExecutor
    from emulator.runner.scheduler import Scheduler
    from emulator.settings import Settings
    from emulator.store.sqlite import SqliteStore
    settings = Settings.from_env(environ={}, data_dir=data, executor="local", gpus="none", allocation_delay=0)
    store = SqliteStore(data / "emulator.db")
    scheduler = Scheduler(store, settings, executor=LocalExecutor())
    try:
        now = time.time()
        scheduler.tick(now)
        idle, woken = [], []
        for i in range(rounds):
            t0 = time.perf_counter()
            scheduler.tick(now + 0.01 * i)
            idle.append(time.perf_counter() - t0)
            scheduler.wake()
            t0 = time.perf_counter()
            scheduler.tick(now + 0.01 * i)
            woken.append(time.perf_counter() - t0)
        return p50(idle), p50(woken)
    finally:
        scheduler._pool.shutdown(wait=True)
        store.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--idle-seconds", type=float, default=10)
    p.add_argument("--queued", type=int, default=5000, help="queued jobs behind a busy node, for the idle CPU")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="batchai-scale-"))
    dirs = {"empty": root / "empty", "large": root / "large"}
    prepare(dirs["empty"], 0)
    prepare(dirs["large"], args.jobs)
    prepare(root / "queued", 0, args.queued)
    label = {"empty": "empty store", "large": f"{args.jobs} finished jobs"}
    get: dict[str, list[float]] = {k: [] for k in dirs}
    churn: dict[str, list[float]] = {k: [] for k in dirs}
    cpu: dict[str, float] = {}
    emus = {k: EmulatorProcess(d, *FLAGS).start() for k, d in dirs.items()}
    waiting = EmulatorProcess(root / "queued", *FLAGS).start()
    try:
        api = {k: clients(e)[0] for k, e in emus.items()}
        cluster_id = {k: a.clusters.get("rg", "ws", "cl").id for k, a in api.items()}
        for i in range(args.requests):          # interleaved, so machine noise hits both alike
            for k, ai in api.items():
                t0 = time.perf_counter()
                ai.jobs.get("rg", "ws", "exp", "template")
                get[k].append(time.perf_counter() - t0)
        for i in range(max(20, args.requests // 3)):
            for k, ai in api.items():
                # queued and deleted before it can start: the create and the delete are what is measured
                t0 = time.perf_counter()
                ai.jobs.begin_create("rg", "ws", "exp", f"churn{i}", job_params(cluster_id[k], "sleep 30")).result()
                ai.jobs.begin_delete("rg", "ws", "exp", f"churn{i}").result()
                churn[k].append(time.perf_counter() - t0)
        time.sleep(2)
        everyone = {**emus, "queued": waiting}
        before = {k: cpu_seconds(e.proc.pid) for k, e in everyone.items()}
        t0 = time.perf_counter()
        time.sleep(args.idle_seconds)
        wall = time.perf_counter() - t0
        cpu = {k: 100 * (cpu_seconds(e.proc.pid) - before[k]) / wall for k, e in everyone.items()}
        clients(waiting)[0].jobs.begin_delete("rg", "ws", "exp", "blocker").result()
    finally:
        for e in [*emus.values(), waiting]:
            e.stop()
    ticks = {k: tick_ms(d, 200) for k, d in dirs.items()}

    def row(what: str, values: dict[str, float], unit: str, goal: str) -> None:
        ratio = values["large"] / values["empty"] if values["empty"] else float("inf")
        print(f"{what:<34} {label['empty']}: {values['empty']:8.2f} {unit}   {label['large']}: "
              f"{values['large']:8.2f} {unit}   ratio {ratio:5.2f}x   {goal}")
    print()
    row("jobs.get p50", {k: p50(v) for k, v in get.items()}, "ms", "(goal <= 1.2x)")
    row("jobs create + delete p50", {k: p50(v) for k, v in churn.items()}, "ms", "(goal <= 1.2x)")
    row("scheduler tick, nothing to do p50", {k: t[0] for k, t in ticks.items()}, "ms", "(goal <= 5 ms)")
    row("tick after a wake-up p50", {k: t[1] for k, t in ticks.items()}, "ms", "(reads the queue too)")
    row(f"idle CPU over {args.idle_seconds:.0f} s", cpu, "% ", "(goal < 2%)")
    print(f"idle CPU with {args.queued} jobs queued behind a busy node: {cpu['queued']:.2f} % (goal < 2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
