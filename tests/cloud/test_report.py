"""The summary's figures: test error from the log, Azure cost at the NC6 list price, model file listing."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from cloud.download import Downloaded
from cloud.report import NC6_PRICE_USD_PER_HOUR, Summary, TestError, cost_usd, find_test_error, seconds_between

LOG = """Finished Epoch[40 of 40]: [Training] loss = 0.05 * 60000, metric = 1.2% * 60000 2.0s;

Final Results: Minibatch[1-11]: errs = 0.54% * 10000
"""


def test_test_error_from_the_trainer_log():
    assert find_test_error({"stdout.txt": "", "stderr.txt": LOG}) == TestError(0.54, 10000, "stderr.txt")
    assert find_test_error({"stdout.txt": LOG, "stderr.txt": "no result"}) == TestError(0.54, 10000, "stdout.txt")
    assert find_test_error({"stderr.txt": "Final Results: something else\n"}) is None
    # a retried job prints twice: the last line counts
    twice = LOG + "Final Results: Minibatch[1-11]: errs = 0.61% * 10000\n"
    assert find_test_error({"stderr.txt": twice}).percent == 0.61


def test_cost_at_the_2018_nc6_list_price():
    assert NC6_PRICE_USD_PER_HOUR == 0.90
    assert cost_usd(3600) == 0.90
    assert round(cost_usd(600, nodes=2), 4) == 0.30
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert seconds_between(start, start + dt.timedelta(minutes=3)) == 180
    assert seconds_between("2026-11-23T12:01:00.000Z", "2026-11-23T12:04:00.000Z") == 180
    assert seconds_between(None, start) is None


def test_summary_lines(tmp_path):
    files = [Downloaded("MODEL", f"ConvNet_MNIST_{i}.npz", 1000, tmp_path / f"ConvNet_MNIST_{i}.npz")
             for i in (10, 2, 0, 1)]
    summary = Summary(target="AzureCloud (https://management.azure.com/)", job_id="/subscriptions/s/.../jobs/j",
                      state="succeeded", exit_code=0, job_seconds=1800.0, cluster_seconds=2400.0, nodes=1,
                      vm_size="STANDARD_NC6", test_error=TestError(0.54, 10000, "stderr.txt"), model_files=files,
                      log_files=[Downloaded("stdouterr", "stderr.txt", 10, Path(tmp_path, "stderr.txt"))],
                      cleanup="resource group rg deleted")
    text = "\n".join(summary.lines())
    assert summary.succeeded
    assert "final state:   succeeded, exit code 0" in text
    assert "test error:    0.54% on 10000 test images (from stderr.txt)" in text
    assert "model files:   4 files, 0.0 MB" in text
    # newest epochs last, in number order
    assert text.index("ConvNet_MNIST_1.npz") < text.index("ConvNet_MNIST_2.npz") < text.index("ConvNet_MNIST_10.npz")
    assert "job 30 min 00 s on 1 x STANDARD_NC6 = $0.4500 at $0.90/h (Standard_NC6 pay-as-you-go list price, " \
           "East US, 2018)" in text
    assert "cluster allocated 40 min 00 s in all = $0.6000" in text
    failed = Summary(target="t", job_id="j", state="failed", exit_code=1, job_seconds=None, cluster_seconds=None,
                     nodes=1, vm_size="STANDARD_NC6", test_error=None, errors=["JobFailed: exit code 1"])
    text = "\n".join(failed.lines())
    assert not failed.succeeded
    assert "job error:     JobFailed: exit code 1" in text and "not found in the job's logs" in text
    assert "Azure cost" not in text
