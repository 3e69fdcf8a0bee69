"""azure-mgmt-batchai 2.0.0's own live tests (azure-sdk-for-python, azure-mgmt-batchai/tests/), run against an
emulator this harness starts.

    python -m tests.batchai_sdk [--tests-dir DIR] [--executor auto|docker|local] [-k EXPR] [FILE ...]

1. The tests: from --tests-dir or BATCHAI_SDK_TESTS_DIR (a directory holding helpers.py and the test_mgmt_batchai_*
   files), else downloaded once (needs network to raw.githubusercontent.com) at the pinned commits below into
   .batchai-sdk-tests/ (never committed: they are the SDK project's files, not ours).
2. `batchai-emulator serve` on free loopback ports (tests/served.py), jobs on Docker when an engine answers, else as
   local processes; the tests' `ubuntu` image runs as the offline-built CPU image.
3. pytest in the azure-mgmt-batchai 2.0.0 environment (.venv-sdk2018) with the project's stand-ins for
   devtools_testutils / azure_devtools first on the path (tests/batchai_sdk/standin) and its plugin loaded.
   The two password-less ssh tests are deselected: their jobs `ssh 10.0.0.4` / `10.0.0.5`, the addresses Azure gave
   a cluster's nodes, and a test job must never reach an address that is not loopback or a namespace it made.
4. Passed / failed / skipped per file, the excluded tests, and each failure with one line of reason.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from tests.conformance.harness import Report, parse_junit

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "standin"
CACHE = ROOT / ".batchai-sdk-tests"
SDK2_PYTHON = Path(os.environ.get("BATCHAI_SDK2_PYTHON", ROOT / ".venv-sdk2018" / "bin" / "python"))
RAW = "https://raw.githubusercontent.com/Azure/azure-sdk-for-python/{commit}/azure-mgmt-batchai/tests/{name}"
CPU_IMAGE = "batchai-emulator/trainer-cpu:latest"

# The versions that match azure-mgmt-batchai 2.0.0 (api-version 2018-05-01: workspaces, experiments, job-level
# mounts with the legacy BlockBlobService), each at a commit that holds it, with its size in bytes as stored there.
PINNED = {
    "helpers.py": ("055c529e54beb65d401cde571459f105144544a6", 26412),
    "test_mgmt_batchai_clusters.py": ("6cca24aaae2693048fcde90e070af894cfe17b91", 10626),
    "test_mgmt_batchai_experiments.py": ("6cca24aaae2693048fcde90e070af894cfe17b91", 4806),
    "test_mgmt_batchai_file_servers.py": ("d12f77fe9e51601e7119cb47e7339519925a8341", 6602),
    "test_mgmt_batchai_jobs.py": ("d12f77fe9e51601e7119cb47e7339519925a8341", 30884),
    "test_mgmt_batchai_quota_and_usage.py": ("6cca24aaae2693048fcde90e070af894cfe17b91", 937),
    "test_mgmt_batchai_workspaces.py": ("945b82ab5e40b021706ba15a057682342280d196", 4993),
}

# Their jobs run `ssh 10.0.0.4` / `ssh 10.0.0.5`: Azure's node addresses, never reached from here.
EXCLUDED = {
    "test_mgmt_batchai_jobs.py::JobTestCase::test_password_less_ssh":
        "ssh to 10.0.0.4/10.0.0.5, the addresses Azure gave the nodes: not loopback, not a namespace the test made",
    "test_mgmt_batchai_jobs.py::JobTestCase::test_password_less_ssh_in_container":
        "ssh to 10.0.0.5, the address Azure gave a node: not loopback, not a namespace the test made",
}


def download(dest: Path = CACHE, opener=urllib.request.urlopen) -> Path:
    """The pinned files, downloaded once into `dest`; an error naming the file whose size is not the pinned one."""
    if all((dest / name).exists() for name in PINNED):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for name, (commit, size) in PINNED.items():
        url = RAW.format(commit=commit, name=name)
        with opener(url, timeout=60) as response:
            data = response.read()
        if len(data) != size:
            raise RuntimeError(f"{url} has {len(data)} bytes, not the pinned {size}: not the version this harness "
                               f"was made for")
        tmp = dest / f".{name}.part"
        tmp.write_bytes(data)
        tmp.replace(dest / name)
        print(f"downloaded {name} @ {commit[:10]} sha256 {hashlib.sha256(data).hexdigest()[:16]}", file=sys.stderr)
    return dest


def locate(tests_dir: str | None = None) -> Path:
    """The directory of the tests: the argument, BATCHAI_SDK_TESTS_DIR, the cache, or a download."""
    given = tests_dir or os.environ.get("BATCHAI_SDK_TESTS_DIR")
    if given:
        path = Path(given).expanduser().resolve()
        missing = [name for name in PINNED if not (path / name).exists()]
        if "helpers.py" in missing or len(missing) == len(PINNED):
            raise SystemExit(f"{path} does not hold azure-mgmt-batchai's tests (helpers.py and test_mgmt_batchai_*.py)")
        return path
    try:
        return download()
    except OSError as exc:
        raise SystemExit(f"cannot download azure-mgmt-batchai's tests ({exc}); put them in a directory and set "
                         f"BATCHAI_SDK_TESTS_DIR (or pass --tests-dir): "
                         + ", ".join(RAW.format(commit=c, name=n) for n, (c, _) in PINNED.items()))


def docker_answers() -> bool:
    try:
        import docker
        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def pytest_command(tests: Path, junit: Path, files: list[str] | None, keyword: str | None, timeout: int,
                   ini: Path) -> list[str]:
    """The pytest invocation in the SDK's environment: the given files (default: every test_*.py of `tests`), the
    excluded tests deselected."""
    cmd = [str(SDK2_PYTHON), "-m", "pytest", "-c", str(ini), "--rootdir", str(tests), "-p", "no:cacheprovider",
           "-p", "batchai_sdk_plugin", "-o", f"timeout={timeout}", "--junitxml", str(junit), "-q", "-rfE",
           "-W", "ignore::DeprecationWarning"]
    for node_id in EXCLUDED:     # node ids relative to --rootdir; the plugin deselects them too (BATCHAI_SDK_EXCLUDE)
        cmd += ["--deselect", node_id]
    if keyword:
        cmd += ["-k", keyword]
    selected = files or sorted(p.name for p in tests.glob("test_*.py"))
    return cmd + [str(tests / name) for name in selected]


def run(files: list[str] | None = None, keyword: str | None = None, tests_dir: str | None = None,
        executor: str = "auto", timeout: int = 900, quiet: bool = True) -> Report:
    """Run the tests (or the given files / -k expression) live against a fresh emulator."""
    from tests.served import Served
    if not SDK2_PYTHON.exists():
        raise SystemExit(f"{SDK2_PYTHON} is missing: `make batchai-sdk-tests` creates it")
    tests = locate(tests_dir)
    if executor == "auto":
        executor = "docker" if docker_answers() else "local"
    with tempfile.TemporaryDirectory(prefix="batchai-sdk-") as tmp:
        tmp = Path(tmp)
        served = Served(tmp / "data", "--executor", executor, "--allocation-delay", "0.2",
                        "--image-map", f"ubuntu={CPU_IMAGE}", log=tmp / "emulator.log").start(timeout=60)
        try:
            ini = tmp / "pytest.ini"
            ini.write_text("[pytest]\n")
            junit = tmp / "junit.xml"
            env = dict(os.environ)
            env.update({
                "PYTHONPATH": str(STANDIN),
                "BATCHAI_SDK_ENDPOINT": served.https_url,
                "BATCHAI_SDK_FILE_ENDPOINT": served.https_url,
                "BATCHAI_SDK_BLOB_ENDPOINT": served.blob_url,
                "REQUESTS_CA_BUNDLE": served.ca_bundle, "SSL_CERT_FILE": served.ca_bundle,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "BATCHAI_SDK_EXCLUDE": ",".join(EXCLUDED),
            })
            print(f"emulator: {served.https_url} (executor {executor}); tests: {tests}", file=sys.stderr, flush=True)
            subprocess.run(pytest_command(tests, junit, files, keyword, timeout, ini), cwd=str(tests), env=env,
                           stdout=subprocess.DEVNULL if quiet else None,
                           stderr=subprocess.STDOUT if quiet else None)
            if not junit.exists():
                raise SystemExit("pytest wrote no report: run with -v to see why")
            report = parse_junit(junit)
            ran = {f"{o.file}::{o.name}" for o in report.outcomes}
            leaked = [n for n in EXCLUDED if n.split("::")[0] + "::" + n.split("::")[-1] in ran]
            if leaked:
                raise SystemExit(f"excluded tests ran: {leaked}")
            if served.unhandled_errors():
                print("the emulator logged unhandled errors:\n" + "\n".join(served.unhandled_errors()),
                      file=sys.stderr)
            if os.environ.get("BATCHAI_SDK_KEEP_LOG"):
                shutil.copy(tmp / "emulator.log", os.environ["BATCHAI_SDK_KEEP_LOG"])
            return report
        finally:
            served.stop()


def render(report: Report) -> str:
    lines = [report.render(), "", "excluded (deselected, never run):"]
    lines += [f"  {node_id}: {why}" for node_id, why in EXCLUDED.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.batchai_sdk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="test files (default: every test_*.py of the tests' directory)")
    parser.add_argument("--tests-dir", help="directory with helpers.py and the test files (default: "
                                            "BATCHAI_SDK_TESTS_DIR, else downloaded at the pinned commits)")
    parser.add_argument("--executor", default="auto", choices=["auto", "docker", "local"],
                        help="how jobs run (auto: Docker when an engine answers, else local processes)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per test")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    args = parser.parse_args(argv)
    report = run(args.files or None, args.keyword, args.tests_dir, args.executor, args.timeout,
                 quiet=not args.verbose)
    print(render(report))
    return 0 if not report.failures() else 1
