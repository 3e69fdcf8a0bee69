"""The run's figures: the test error from the log, what it would have cost on Azure, and the summary text."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from .console import duration

# Standard_NC6 (6 vCPUs, 56 GiB, one NVIDIA K80), Linux, pay-as-you-go list price in East US in 2018, as the Azure
# Linux VM pricing page listed it then. Batch AI itself had no charge: its clusters were billed as their VMs.
NC6_PRICE_USD_PER_HOUR = 0.90
NC6_PRICE_BASIS = "Standard_NC6 pay-as-you-go list price, East US, 2018"

# ConvNet_MNIST's last line, e.g. "Final Results: Minibatch[1-11]: errs = 0.54% * 10000"
FINAL_RESULTS = re.compile(r"^Final Results: Minibatch\[1-(\d+)\]: errs = (\d+(?:\.\d+)?)% \* (\d+)\s*$", re.M)


@dataclass
class TestError:
    __test__ = False  # not a pytest test class, despite the name
    percent: float
    samples: int
    source: str  # the log file it was read from


def find_test_error(logs: dict[str, str]) -> TestError | None:
    """The last `Final Results` line of any of the logs ({file name: text}); stderr.txt first, as the trainer
    writes there."""
    for name in sorted(logs, key=lambda n: (n != "stderr.txt", n != "stdout.txt", n)):
        matches = FINAL_RESULTS.findall(logs[name])
        if matches:
            _, percent, samples = matches[-1]
            return TestError(float(percent), int(samples), name)
    return None


def read_logs(paths: list[Path]) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file()}


def natural_key(name: str) -> list:
    """ConvNet_MNIST_2 before ConvNet_MNIST_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def seconds_between(start, end) -> float | None:
    if start is None or end is None:
        return None
    if isinstance(start, str):
        start = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if isinstance(end, str):
        end = dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0.0, (end - start).total_seconds())


def cost_usd(seconds: float, nodes: int = 1) -> float:
    return seconds / 3600.0 * NC6_PRICE_USD_PER_HOUR * nodes


@dataclass
class Summary:
    target: str
    job_id: str
    state: str
    exit_code: int | None
    job_seconds: float | None
    cluster_seconds: float | None
    nodes: int
    vm_size: str
    test_error: TestError | None
    model_files: list = field(default_factory=list)   # download.Downloaded
    log_files: list = field(default_factory=list)
    output_dir: Path | None = None
    cleanup: str = ""
    errors: list = field(default_factory=list)  # the job's executionInfo.errors, as "code: message"

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded" and (self.exit_code in (0, None))

    def lines(self) -> list[str]:
        out = ["", "Summary", f"  target:        {self.target}", f"  job:           {self.job_id}"]
        code = "" if self.exit_code is None else f", exit code {self.exit_code}"
        out.append(f"  final state:   {self.state}{code}")
        for error in self.errors:
            out.append(f"  job error:     {error}")
        if self.job_seconds is not None:
            out.append(f"  job run time:  {duration(self.job_seconds)}")
        if self.test_error is not None:
            out.append(f"  test error:    {self.test_error.percent:.2f}% on {self.test_error.samples} test images "
                       f"(from {self.test_error.source})")
        else:
            out.append("  test error:    not found in the job's logs")
        if self.model_files:
            self.model_files.sort(key=lambda f: natural_key(f.name))
            total = sum(f.size for f in self.model_files)
            out.append(f"  model files:   {len(self.model_files)} files, {total / 1e6:.1f} MB, in "
                       f"{self.model_files[0].path.parent}")
            for f in self.model_files[-3:] if len(self.model_files) > 3 else self.model_files:
                out.append(f"                 {f.name} ({f.size} bytes)")
            if len(self.model_files) > 3:
                out.append(f"                 ... and {len(self.model_files) - 3} more")
        else:
            out.append("  model files:   none")
        if self.log_files:
            out.append(f"  logs:          {', '.join(f.name for f in self.log_files)} in {self.log_files[0].path.parent}")
        if self.job_seconds is not None and self.vm_size.upper() != "STANDARD_NC6":
            out.append(f"  Azure cost:    no list price here for {self.vm_size} (only {NC6_PRICE_BASIS})")
        elif self.job_seconds is not None:
            price = f"${NC6_PRICE_USD_PER_HOUR:.2f}/h ({NC6_PRICE_BASIS})"
            out.append(f"  Azure cost:    job {duration(self.job_seconds)} on {self.nodes} x {self.vm_size} = "
                       f"${cost_usd(self.job_seconds, self.nodes):.4f} at {price}")
            if self.cluster_seconds is not None:
                out.append(f"                 cluster allocated {duration(self.cluster_seconds)} in all = "
                           f"${cost_usd(self.cluster_seconds, self.nodes):.4f} (Batch AI billed the VMs only)")
        if self.cleanup:
            out.append(f"  clean-up:      {self.cleanup}")
        return out
