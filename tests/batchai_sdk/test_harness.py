"""The harness of azure-mgmt-batchai's own live tests (tests/batchai_sdk), checked without the SDK project's files:
its pieces on their own, and its stand-ins live through the harness on sample tests of this project's
(selftest/). The SDK's tests themselves run with `make batchai-sdk-tests`."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from tests.conftest import in_ci

from . import harness

SELFTEST = Path(__file__).resolve().parent / "selftest"


def test_the_ssh_tests_are_deselected_by_node_id(tmp_path):
    (tmp_path / "test_mgmt_batchai_jobs.py").write_text("")
    cmd = harness.pytest_command(tmp_path, tmp_path / "j.xml", None, None, 60, tmp_path / "pytest.ini")
    deselected = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--deselect"]
    assert deselected == ["test_mgmt_batchai_jobs.py::JobTestCase::test_password_less_ssh",
                          "test_mgmt_batchai_jobs.py::JobTestCase::test_password_less_ssh_in_container"]
    assert cmd[-1] == str(tmp_path / "test_mgmt_batchai_jobs.py")
    assert "batchai_sdk_plugin" in cmd


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_takes_the_pinned_commits_and_refuses_other_sizes(tmp_path):
    asked = []

    def opener(url, timeout):
        asked.append(url)
        name = url.rsplit("/", 1)[1]
        return _Response(b"x" * harness.PINNED[name][1])

    assert harness.download(tmp_path / "ok", opener) == tmp_path / "ok"
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == sorted(harness.PINNED)
    assert all(f"/Azure/azure-sdk-for-python/{harness.PINNED[u.rsplit('/', 1)[1]][0]}/azure-mgmt-batchai/tests/"
               in u for u in asked)
    with pytest.raises(RuntimeError, match="not the pinned"):
        harness.download(tmp_path / "bad", lambda url, timeout: _Response(b"short"))
    assert not any((tmp_path / "bad").glob("*.py"))


def test_a_directory_without_the_tests_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("BATCHAI_SDK_TESTS_DIR", raising=False)
    with pytest.raises(SystemExit, match="does not hold"):
        harness.locate(str(tmp_path))


@pytest.fixture(scope="module")
def sdk2():
    if not harness.SDK2_PYTHON.exists():
        message = f"{harness.SDK2_PYTHON} is missing: `make install` creates it"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def test_the_stand_ins_run_sdk_style_tests_live(sdk2, tmp_path):
    for sample in SELFTEST.glob("*.py.txt"):
        shutil.copy(sample, tmp_path / sample.name[:-len(".txt")])
    report = harness.run(tests_dir=str(tmp_path), executor="local", timeout=300)
    outcomes = {o.name: o for o in report.outcomes}
    assert sorted(outcomes) == ["test_a_failure_is_reported", "test_only_declared_parameters_reach_the_test",
                                "test_preparers_make_real_resources", "test_the_plugin_tunes_the_helpers_polling"], \
        harness.render(report)
    failed = {o.name: o.reason for o in report.failures()}
    assert list(failed) == ["test_a_failure_is_reported"], harness.render(report)
    assert "a deliberate failure" in failed["test_a_failure_is_reported"] or "succeeded" in \
        failed["test_a_failure_is_reported"]
    assert "test_a_failure_is_reported" in harness.render(report)
