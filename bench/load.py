"""Load: C concurrent clients x N mixed operations each (default 16 x 500) against one `batchai-emulator serve`:
create/get/list/delete of clusters, experiments and jobs through azure-mgmt-batchai 7.0.0 (HTTPS), file uploads,
downloads, lists and deletes through azure-storage-file-share (HTTP). Every client checks its own model as it
goes and at the end (tests/hardening/workload.py): lost or duplicated resources, files compared byte for byte,
job states and how often each job ran.

Prints requests/s and p50/p99 per operation kind, and the same figures for a baseline measured in the same run:
the same clients sending GET /_emulator/health (a route that does nothing) through the same SDK pipeline, so the
ratio shows what the operations cost over serving anything at all. Clients are threads of this process and the
emulator is one process: on a small machine they share the cores, and the figures say so.

Run: .venv/bin/python bench/load.py [--clients 16] [--operations 500] [--executor local|none]
Bounded: --time-limit seconds for the operations (default 600), jobs must finish within --job-timeout.
Exit status 1 if any 5xx, lost, duplicated or corrupt resource was seen.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from azure.core.rest import HttpRequest  # noqa: E402

from tests.hardening import clients  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402
from tests.hardening.workload import percentile, run_load  # noqa: E402


def baseline(served, n_clients: int, requests: int) -> tuple[float, list[float], int]:
    """(requests/s, latencies, 5xx) of GET /_emulator/health from n_clients threads through the SDK pipeline."""
    recorder = clients.Recorder()
    ais = [clients.batchai(served, recorder)[0] for _ in range(n_clients)]
    latencies: list[list[float]] = [[] for _ in range(n_clients)]
    barrier = threading.Barrier(n_clients)

    def run(i: int) -> None:
        barrier.wait()
        for _ in range(requests):
            t0 = time.perf_counter()
            ais[i]._client.send_request(HttpRequest("GET", f"{served.https_url}/_emulator/health")).raise_for_status()
            latencies[i].append(time.perf_counter() - t0)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    seconds = time.perf_counter() - t0
    flat = [x for lat in latencies for x in lat]
    return len(flat) / seconds, flat, len(recorder.server_errors)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--operations", type=int, default=500)
    p.add_argument("--executor", choices=["local", "none"], default="local")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=600)
    p.add_argument("--job-timeout", type=float, default=180)
    p.add_argument("--baseline-requests", type=int, default=100, help="health requests per client")
    p.add_argument("--keep-data", action="store_true", help="keep the emulator's data dir (printed) afterwards")
    args = p.parse_args()

    data = Path(tempfile.mkdtemp(prefix="batchai-load-")) / "data"
    served = EmulatorProcess(data, "--executor", args.executor, "--gpus", "none", "--allocation-delay",
                             "0.1").start()
    try:
        base_rps, base_lat, base_5xx = baseline(served, args.clients, args.baseline_requests)
        report = run_load(served, args.clients, args.operations, args.seed, args.time_limit,
                          jobs_run=args.executor != "none", job_timeout=args.job_timeout)
    finally:
        served.stop()
    unhandled = served.unhandled_errors()
    if args.keep_data:
        print(f"data dir kept: {data}")
    else:
        shutil.rmtree(data.parent, ignore_errors=True)

    done = sum(sum(r.ops.values()) for r in report.results)
    print(f"load: {args.clients} clients x {args.operations} operations ({done} done) in {report.seconds:.1f} s, "
          f"jobs on --executor {args.executor}; {os.cpu_count()} CPUs shared by clients and emulator")
    print(f"{'operation':<20}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}")
    for kind, values in sorted(report.latencies().items()):
        print(f"{kind:<20}{len(values):>7}{1000 * percentile(values, 0.5):>9.1f}{1000 * percentile(values, 0.99):>9.1f}")
    every = [x for values in report.latencies().values() for x in values]
    print(f"{'all operations':<20}{len(every):>7}{1000 * percentile(every, 0.5):>9.1f}"
          f"{1000 * percentile(every, 0.99):>9.1f}")
    rps = report.requests / report.seconds
    print(f"HTTP requests: {report.requests} in {report.seconds:.1f} s = {rps:.0f} requests/s "
          f"({done / report.seconds:.0f} operations/s)")
    print(f"baseline GET /_emulator/health, same {args.clients} clients and pipeline: {base_rps:.0f} requests/s, "
          f"p50 {1000 * percentile(base_lat, 0.5):.1f} ms, p99 {1000 * percentile(base_lat, 0.99):.1f} ms; "
          f"load/baseline throughput {rps / base_rps:.2f}x")
    checked = report.checked()
    print("checked at the end: " + ", ".join(f"{v} {k}" for k, v in sorted(checked.items())))
    print(f"5xx: {len(report.server_errors) + base_5xx}; unhandled errors in the emulator log: {len(unhandled)}; "
          f"problems (lost, duplicated, corrupt, wrong state, ran twice): {len(report.problems)}")
    for line in (report.problems + [str(e) for e in report.server_errors] + unhandled)[:50]:
        print("  " + line)
    return 1 if report.problems or report.server_errors or base_5xx or unhandled else 0


if __name__ == "__main__":
    sys.exit(main())
