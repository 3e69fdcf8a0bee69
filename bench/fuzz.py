"""The swagger fuzzer, long: every operation of the three swagger files gets --examples generated requests against
`batchai-emulator serve --executor none` (jobs are stored and scheduled, never run), with the checks of
tests/fuzz/checks.py. Prints the requests generated, answers by status class and by mutation, 5xx seen (goal 0),
schema violations (goal 0), and one example of every other finding. Exits 1 when anything was found.

Run: .venv/bin/python bench/fuzz.py [--examples N] [--seed S] [--version V ...] [--keep-data]
The bounded form is tests/fuzz (20 examples per operation).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fuzz.harness import VERSIONS, Fuzzer  # noqa: E402
from emulator.launcher import EmulatorProcess  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="generated requests per operation (default 300)")
    parser.add_argument("--seed", type=int, default=20180501)
    parser.add_argument("--version", action="append", choices=VERSIONS, help="api-versions to fuzz (default all)")
    parser.add_argument("--keep-data", action="store_true", help="keep the emulator's data dir")
    args = parser.parse_args()
    versions = args.version or list(VERSIONS)

    root = Path(tempfile.mkdtemp(prefix="batchai-fuzz-"))
    started = time.perf_counter()
    try:
        with EmulatorProcess(root / "data", "--executor", "none") as served:
            fuzzer = Fuzzer(served.http_url, served.data_dir)
            for version in versions:
                operations = fuzzer.operations(version)
                for i, operation in enumerate(operations, 1):
                    fuzzer.fuzz(version, operation, args.examples, args.seed)
                    print(f"\r{version}: {i}/{len(operations)} operations, {fuzzer.stats.requests} requests",
                          end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
            alive = requests.get(f"{served.http_url}/_emulator/health", timeout=10).ok
        logged = served.unhandled_errors()
    finally:
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"data dir and log kept in {root}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    report(fuzzer, versions, args, elapsed, alive, logged)
    return 1 if fuzzer.stats.findings or logged or not alive else 0


def report(fuzzer: Fuzzer, versions: list[str], args, elapsed: float, alive: bool, logged: list[str]) -> None:
    stats = fuzzer.stats
    per_version = Counter()
    for (version, _, _), n in stats.by_operation.items():
        per_version[version] += n
    print(f"swagger fuzzing: {args.examples} examples per operation, seed {args.seed}, {elapsed:.0f} s")
    print(f"requests generated   {stats.requests} ({stats.requests / elapsed:.0f}/s): "
          + ", ".join(f"{v} {per_version[v]}" for v in versions))
    print("responses            " + ", ".join(f"{cls} {n}" for cls, n in sorted(stats.by_class.items())))
    print("mutations            " + ", ".join(f"{m} {n}" for m, n in stats.by_mutation.most_common()))
    print(f"5xx seen             {stats.server_errors}")
    print(f"schema violations    {stats.schema_violations()}")
    print(f"other findings       {sum(f.count for f in stats.findings.values()) - stats.schema_violations()}")
    print(f"unhandled (log)      {len(logged)}")
    print(f"alive afterwards     {'yes' if alive else 'NO'}")
    codes = Counter()
    for (_, _, status, code), n in stats.error_codes.items():
        codes[f"{status} {code}"] += n
    print("most frequent errors " + ", ".join(f"{c} {n}" for c, n in codes.most_common(12)))
    for line in logged[:20]:
        print(line)
    for finding in sorted(stats.findings.values(), key=lambda f: (f.check, f.version, f.operation)):
        print()
        print(finding)


if __name__ == "__main__":
    sys.exit(main())
