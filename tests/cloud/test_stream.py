"""JobLogFollower's reading rules, one round at a time, against a scripted job and download links."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import requests
import responses
from azure.core.exceptions import HttpResponseError

from cloud.jobref import JobRef
from cloud.stream import JobLogFollower

REF = JobRef("sub", "rg", "ws", "exp", "job")
BASE = "https://acct.file.core.windows.net/share/seg/stdouterr"


class ScriptedJob:
    """jobs.get answers `state`; list_output_files lists `files` ({name: url}); `content` holds the bytes."""

    def __init__(self):
        self.state = "running"
        self.files = {"stderr.txt": f"{BASE}/stderr.txt?sig=1", "stdout.txt": f"{BASE}/stdout.txt?sig=1"}
        self.content = {"stderr.txt": b"", "stdout.txt": b""}
        self.lists = 0
        self.list_error = None
        self.mode = "206"     # how the link answers a range past the end: "206" (empty) or "416"
        self.ignore_range = False
        self.expired = set()  # urls answering 403

    # the SDK surface the follower uses
    def get(self, *args):
        return SimpleNamespace(execution_state=self.state, execution_info=None)

    def list_output_files(self, *args):
        self.lists += 1
        if self.list_error:
            raise self.list_error
        return [SimpleNamespace(name=n, download_url=u, file_type="file") for n, u in sorted(self.files.items())]

    def serve(self, request):
        if request.url in self.expired:
            return 403, {}, b"AuthenticationFailed"
        name = request.url.split("?")[0].rsplit("/", 1)[1]
        data = self.content[name]
        start = int(re.fullmatch(r"bytes=(\d+)-", request.headers["Range"]).group(1))
        if self.ignore_range:
            return 200, {}, data
        if start >= len(data):
            if self.mode == "416":
                return 416, {"Content-Range": f"bytes */{len(data)}"}, b""
            return 206, {"Content-Range": f"bytes */{len(data)}"}, b""
        return 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:]


@pytest.fixture()
def job():
    scripted = ScriptedJob()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=scripted.serve)
        yield scripted


def _follower(job, emitted, **kw):
    clients = SimpleNamespace(batchai=SimpleNamespace(jobs=job), http=requests.Session())
    return JobLogFollower(clients, REF, lambda name, line: emitted.append((name, line)), **kw)


@pytest.mark.parametrize("mode", ["206", "416"])
def test_new_complete_lines_only_and_the_rest_at_the_end(job, mode):
    job.mode = mode
    emitted = []
    f = _follower(job, emitted)
    job.content["stderr.txt"] = b"Epoch 1\nEpo"
    assert not f.step()
    assert emitted == [("stderr.txt", "Epoch 1")]
    assert not f.step()  # nothing new: an empty 206 or a 416, no output
    assert emitted == [("stderr.txt", "Epoch 1")]
    # a multi-byte character split between two reads is decoded whole
    job.content["stderr.txt"] += b"ch 2 \xc3"
    assert not f.step()
    job.content["stderr.txt"] += b"\xa9t\xc3\xa9\nFinal Results: errs = 1.00%"
    job.content["stdout.txt"] = b"out\n"
    job.state = "succeeded"
    assert f.step()
    # files are read in listing order; unfinished last lines are printed once the job has ended
    assert emitted == [("stderr.txt", "Epoch 1"), ("stderr.txt", "Epoch 2 été"), ("stdout.txt", "out"),
                       ("stderr.txt", "Final Results: errs = 1.00%")]
    assert f.files["stderr.txt"].offset == len(job.content["stderr.txt"])


def test_a_server_that_ignores_the_range_is_read_from_the_offset(job):
    job.ignore_range = True
    emitted = []
    f = _follower(job, emitted)
    job.content["stderr.txt"] = b"a\n"
    f.step()
    job.content["stderr.txt"] += b"b\n"
    job.state = "failed"
    f.step()
    assert [line for _, line in emitted] == ["a", "b"]


def test_no_listing_while_queued_and_listing_each_round_until_both_files_exist(job):
    emitted = []
    f = _follower(job, emitted, relist=3600)
    job.state = "queued"
    f.step()
    assert job.lists == 0
    job.state = "running"
    job.files = {"execution.log": f"{BASE}/execution.log?sig=1"}
    job.content["execution.log"] = b"started\n"
    f.step()
    f.step()
    assert job.lists == 2  # stdout.txt and stderr.txt are still missing
    job.files.update({"stderr.txt": f"{BASE}/stderr.txt?sig=1", "stdout.txt": f"{BASE}/stdout.txt?sig=1"})
    job.content["stderr.txt"] = b"late file\n"
    f.step()
    f.step()
    f.step()
    assert job.lists == 3  # then only every `relist` seconds (and once at the end)
    job.state = "succeeded"
    f.step()
    assert job.lists == 4
    assert ("stderr.txt", "late file") in emitted and ("execution.log", "started") in emitted


def test_an_expired_link_is_renewed_by_listing_again(job):
    emitted = []
    f = _follower(job, emitted, relist=3600)
    job.content["stderr.txt"] = b"one\n"
    f.step()
    job.expired.add(job.files["stderr.txt"])
    job.files["stderr.txt"] = f"{BASE}/stderr.txt?sig=2"
    job.content["stderr.txt"] += b"two\n"
    f.step()  # 403: nothing read, a new listing is due
    lists = job.lists
    f.step()
    assert job.lists == lists + 1
    assert [line for _, line in emitted] == ["one", "two"]
    assert f.files["stderr.txt"].url.endswith("sig=2")


def test_a_listing_error_is_reported_once_and_following_goes_on(job):
    emitted = []
    f = _follower(job, emitted)
    job.list_error = HttpResponseError(message="(OutputDirectoryNotReady) not yet")
    f.step()
    f.step()
    assert [line for name, line in emitted if not name] == ["(warning: cannot list the job's stdouterr files yet: "
                                                           "(OutputDirectoryNotReady) not yet)"]
    job.list_error = None
    job.content["stderr.txt"] = b"hello\n"
    job.state = "succeeded"
    assert f.step()
    assert ("stderr.txt", "hello") in emitted


def test_run_sleeps_between_rounds(job):
    sleeps, emitted = [], []
    f = _follower(job, emitted, poll=7.5, sleep=sleeps.append)
    rounds = iter(["running", "running", "succeeded"])
    original = job.get

    def get(*args):
        job.state = next(rounds)
        return original(*args)
    job.get = get
    assert f.run().execution_state == "succeeded"
    assert sleeps == [7.5, 7.5]


def test_job_ids_parse_and_print_back():
    job_id = ("/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.BatchAI/workspaces/w/experiments/e/jobs/j")
    ref = JobRef.parse(job_id)
    assert ref.args == ("rg1", "w", "e", "j") and ref.subscription == "s1" and ref.id == job_id
    assert JobRef.parse(job_id.lower().replace("microsoft.batchai", "Microsoft.BatchAI")).job == "j"
    with pytest.raises(ValueError, match="not a Batch AI job id"):
        JobRef.parse("/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.BatchAI/clusters/c")
