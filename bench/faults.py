"""Faults: kill -9 of `batchai-emulator serve` at random moments during a stream of job submissions, experiment
and cluster creates, experiment deletes and file uploads (tests/hardening/faultrun.py), T times (default 20),
restarting it on the same data dir each time. After every restart, every acknowledged resource and file is
checked (files byte for byte) and every acknowledged delete must have stayed deleted; at the end every job must
reach a final state and the line each job appends to a file on its share must appear at most once.

Run: .venv/bin/python bench/faults.py [--trials 20] [--executor docker|local] [--seed 1]
Docker needs the CPU image (sudo bash .ci/docker.sh). Bounded: each trial kills within 0.2-2 s, jobs must end
within --job-timeout. Exit status 1 if anything acknowledged was lost, corrupt or run twice.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from emulator.settings import CPU_IMAGE, DEFAULT_STORAGE_ACCOUNT  # noqa: E402
from tests.hardening.faultrun import SHARE, FaultRun, remove_containers  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402

IMAGE = CPU_IMAGE


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--executor", choices=["docker", "local"], default="docker")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--job-timeout", type=float, default=300)
    p.add_argument("--keep-data", action="store_true", help="keep the emulator's data dir (printed) afterwards")
    args = p.parse_args()
    logging.getLogger("azure").setLevel(logging.ERROR)   # a response cut by the kill is expected, not news

    data = Path(tempfile.mkdtemp(prefix="batchai-faults-")) / "data"
    served = EmulatorProcess(data, "--executor", args.executor, "--gpus", "none", "--allocation-delay",
                             "0.1").start()
    started = time.monotonic()
    try:
        run = FaultRun(served, args.seed, IMAGE if args.executor == "docker" else None)
        run.setup()
        for i in range(args.trials):
            run.trial()
            r = run.report
            print(f"trial {i + 1:>2}: killed after {r.kill_after[-1]:.2f} s, restarted in "
                  f"{r.restart_seconds[-1]:.2f} s; acknowledged so far: {len(run.acked.jobs)} jobs, "
                  f"{len(run.acked.files)} files; problems {len(r.problems)}", flush=True)
        report = run.finish(data / "shares" / DEFAULT_STORAGE_ACCOUNT / SHARE / "runs.txt", args.job_timeout)
    finally:
        served.stop()
        if args.executor == "docker":
            remove_containers(data)
    unhandled = served.unhandled_errors()
    if args.keep_data:
        print(f"data dir kept: {data}")
    else:
        shutil.rmtree(data.parent, ignore_errors=True)
    a = report.acknowledged
    print(f"faults: {report.trials} kill -9 trials in {time.monotonic() - started:.0f} s, --executor {args.executor}")
    print(f"acknowledged and checked after every later restart: {a['jobs']} job creates "
          f"(of {a['job submissions tried']} tried), {a['experiments']} experiments, {a['clusters']} clusters, "
          f"{a['deletes']} experiment deletes, {a['files']} files of {a['file bytes'] / 1e6:.0f} MB "
          f"(of {a['uploads tried']} uploads tried); {sum(report.checked[k] for k in ('jobs', 'experiments', 'clusters', 'deletes', 'files'))} checks in all")
    print(f"lost: {len(report.lost)}, corrupt: {len(report.corrupt)}, deleted but back: {len(report.resurrected)}")
    print(f"jobs at the end: {report.checked['jobs at the end']}: " +
          ", ".join(f"{v} {k}" for k, v in sorted(report.job_states.items())) +
          (f" (failed: {dict(report.failed_codes)})" if report.failed_codes else "") +
          f"; unfinished {len(report.unfinished)}; ran twice: {len(report.ran_twice)} "
          f"({report.checked['run lines']} run lines)")
    print(f"restart to healthy: median {statistics.median(report.restart_seconds):.2f} s, "
          f"max {max(report.restart_seconds):.2f} s; 5xx after restarts: {len(report.server_errors)}; "
          f"unhandled errors logged: {len(unhandled)}")
    for line in (report.problems + unhandled)[:50]:
        print("  " + line)
    return 1 if report.problems or unhandled else 0


if __name__ == "__main__":
    sys.exit(main())
