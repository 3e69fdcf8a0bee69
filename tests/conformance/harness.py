"""The azure-storage-file-share SDK's own test suite, run live against an emulator this harness starts.

    python -m tests.conformance [--version 12.27.1] [-k EXPR] [FILE ...]

1. `pip download` the sdist at the pinned version (cached in .conformance/, never committed) and unpack tests/.
2. Start `batchai-emulator serve` on free ports with three accounts (standard, secondary, premium) and its
   self-signed certificate trusted through REQUESTS_CA_BUNDLE / SSL_CERT_FILE.
3. Run the tests with pytest in a subprocess, with the project's stand-in for devtools_testutils on the path.
4. Print passed / failed / skipped per file and each remaining failure with one line of reason.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from emulator.launcher import EmulatorProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).resolve().parent / "standin"
CACHE = ROOT / ".conformance"
VERSION = "12.27.1"
PACKAGE = "azure-storage-file-share"

ACCOUNTS = {
    "STORAGE": ("conformance", "Y29uZm9ybWFuY2UgYWNjb3VudCBrZXkgb2YgdGhlIGVtdWxhdG9y"),
    "SECONDARY_STORAGE": ("conformance2", "c2Vjb25kYXJ5IGFjY291bnQga2V5IG9mIHRoZSBlbXVsYXRvcg=="),
    "PREMIUM_STORAGE_FILE": ("conformancep", "cHJlbWl1bSBhY2NvdW50IGtleSBvZiB0aGUgZW11bGF0b3I="),
}


def fetch(version: str = VERSION) -> Path:
    """The sdist's tests/ directory, downloaded once per version."""
    dest = CACHE / f"{PACKAGE}-{version}"
    tests = dest / "tests"
    if (tests / "conftest.py").exists():
        return tests
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"{PACKAGE}=={version}", "--no-deps",
                        "--no-binary", ":all:", "--quiet", "-d", tmp], check=True)
        archive = next(Path(tmp).glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/tests/" in m.name and ".." not in m.name]
            tar.extractall(tmp, members=members, filter="data")
        unpacked = next(Path(tmp).glob("*/tests"))
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir()
        unpacked.rename(tests)
    # the suite's pytest.ini lives at the repository root, not in the sdist: an empty one keeps this project's
    # configuration (testpaths, timeouts) out of the run
    (dest / "pytest.ini").write_text("[pytest]\n")
    return tests


def start_emulator(data_dir: Path) -> tuple[EmulatorProcess, int]:
    """The emulator with the three accounts, on free ports, its log beside the data dir; and its HTTPS proxy's port
    (the host-style URLs of the service reach it through that proxy)."""
    proxy_port = free_port()
    flags = ["--executor", "none", "--azureml-proxy-port", str(proxy_port)]
    for prefix, (name, key) in ACCOUNTS.items():
        # the suite's premium account is a premium FileStorage account (NFS and provisioned shares)
        flags += ["--storage-account", f"{name}:{key}" + (":Premium_LRS" if prefix.startswith("PREMIUM") else "")]
    emulator = EmulatorProcess(data_dir, *flags, keep_settings=True, log=data_dir.parent / "emulator.log",
                               env={"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    return emulator.start(), proxy_port


@dataclass
class Outcome:
    file: str
    name: str
    status: str               # passed | failed | skipped
    reason: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for o in self.outcomes:
            out[o.file][o.status] += 1
        return dict(sorted(out.items()))

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def render(self) -> str:
        lines = [f"{'file':40} {'passed':>7} {'failed':>7} {'skipped':>8}"]
        total: Counter = Counter()
        for name, c in self.counts().items():
            total.update(c)
            lines.append(f"{name:40} {c['passed']:7} {c['failed']:7} {c['skipped']:8}")
        lines.append(f"{'TOTAL':40} {total['passed']:7} {total['failed']:7} {total['skipped']:8}")
        ran = total["passed"] + total["failed"]
        if ran:
            lines.append(f"pass rate: {100 * total['passed'] / ran:.1f}% of {ran} tests run")
        fails = self.failures()
        if fails:
            lines.append("")
            lines.append("remaining failures:")
            lines += [f"  {o.file}::{o.name}: {o.reason}" for o in fails]
        return "\n".join(lines)


def _reason(element: ET.Element) -> str:
    text = (element.get("message") or element.text or "").strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Content: <?xml", "RequestId:", "Time:")):
            return line[:240]
    return "(no message)"


def parse_junit(path: Path) -> Report:
    report = Report()
    for case in ET.parse(path).getroot().iter("testcase"):
        modules = [p for p in (case.get("classname") or "").split(".") if p.startswith("test_")]
        file = modules[0] + ".py" if modules else "?"
        status, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, reason = "failed", _reason(child)
                break
            if child.tag == "skipped":
                status, reason = "skipped", _reason(child)
        report.outcomes.append(Outcome(file, case.get("name") or "?", status, reason))
    return report


def run(selection: list[str] | None = None, keyword: str | None = None, version: str = VERSION,
        timeout: int = 120, quiet: bool = True, playback_too: bool = False) -> Report:
    """Run the suite (or the given files / -k expression) live against a fresh emulator. Tests marked
    playback_test_only are skipped as in the SDK's own live runs unless `playback_too`."""
    tests = fetch(version)
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        tmp = Path(tmp)
        emulator, proxy_port = start_emulator(tmp / "data")
        try:
            env = dict(os.environ)
            env.update({
                "PYTHONPATH": str(STANDIN),
                "CONFORMANCE_ENDPOINT": emulator.https_url,
                "REQUESTS_CA_BUNDLE": emulator.ca_bundle, "SSL_CERT_FILE": emulator.ca_bundle,
                # the suite's clients use the service's own URLs (https://<account>.file.core.windows.net) through
                # the emulator's HTTPS proxy, as the tests assert that shape; the emulator itself (its AAD) directly
                "CONFORMANCE_HOST_STYLE": "1",
                "HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}",
                "https_proxy": f"http://127.0.0.1:{proxy_port}",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "AZURE_TEST_RUN_LIVE": "true", "AZURE_SKIP_LIVE_RECORDING": "false" if playback_too else "true",
            })
            for prefix, (name, key) in ACCOUNTS.items():
                env[f"{prefix}_ACCOUNT_NAME"], env[f"{prefix}_ACCOUNT_KEY"] = name, key
            junit = tmp / "junit.xml"
            cmd = [sys.executable, "-m", "pytest", "-c", str(tests.parent / "pytest.ini"), "--rootdir",
                   str(tests.parent), "-p", "no:cacheprovider", "-p", "devtools_testutils.asyncio_plugin",
                   "-p", "sdk_conftest",
                   "-o", f"timeout={timeout}",
                   "--junitxml", str(junit), "-q", "-rN" if quiet else "-ra"]
            if keyword:
                cmd += ["-k", keyword]
            cmd += [str(tests / s) for s in selection] if selection else [str(tests)]
            subprocess.run(cmd, cwd=str(tests), env=env,
                           stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.STDOUT if quiet else None)
            return parse_junit(junit)
        finally:
            emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="test files of the suite (default: all)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("--version", default=VERSION)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    parser.add_argument("--playback-too", action="store_true",
                        help="also run the tests marked playback_test_only (recordings of a manually prepared "
                             "account; the SDK's live runs skip them)")
    args = parser.parse_args(argv)
    report = run(args.files or None, args.keyword, args.version, args.timeout, quiet=not args.verbose,
                 playback_too=args.playback_too)
    print(report.render())
    return 0 if not report.failures() else 1
