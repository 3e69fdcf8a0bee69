"""The dashboard (emulator/ui): what it shows, that it escapes what jobs wrote, never follows a job's links, and
sends a strict Content-Security-Policy. Over a real socket against a live emulator running local jobs."""
from __future__ import annotations

import html
import os
import re
import time

import pytest
import requests

from tests.conftest import start_live
from tests.security.armjobs import Arm
from emulator.settings import DEFAULT_STORAGE_ACCOUNT as ACCOUNT

EVIL_FILE = '"><img src=x onerror=alert(1)>'
EVIL_LOG = "<script>alert('log')</script>"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("ui"), executor="local", gpus="none", allocation_delay=0.05)
    arm = Arm(live)
    arm.share_cluster("c1", "logs", nodes=1)
    yield arm
    live.server.stop()
    assert not live.server_errors, live.server_errors


def _page(env, path="/"):
    r = requests.get(env.live.http_url + path, timeout=10)
    assert r.status_code == 200, r.text
    return r


def test_overview_at_root_and_ui_path_with_a_strict_csp(env):
    for path in ("/", "/_emulator/ui"):
        r = _page(env, path)
        assert r.headers["Content-Type"].startswith("text/html")
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "c1" in r.text and "STANDARD_D2" in r.text and ACCOUNT in r.text
    # nothing is loaded from anywhere else, and nothing inline
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text)
    assert "<script>" not in r.text and "style=" not in r.text


def test_a_job_with_hostile_output_is_shown_escaped_and_its_files_are_signed_links(env):
    cmd = (f"echo {EVIL_LOG!r}; echo x > \"$AZ_BATCHAI_STDOUTERR_DIR\"/'{EVIL_FILE}'; "
           "ln -s / \"$AZ_BATCHAI_STDOUTERR_DIR/rootlink\"")
    env.job("hostile", cluster="c1", command=cmd, stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    job = env.wait_job("hostile")
    assert job["properties"]["executionState"] == "succeeded", job
    overview = _page(env).text
    assert "hostile" in overview and "succeeded" in overview
    link = re.search(r'href="(/_emulator/ui/job\?id=[^"]+)"', overview).group(1)
    page = _page(env, html.unescape(link)).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "rootlink" not in page            # a link the job planted is never listed nor followed
    urls = [html.unescape(u) for u in re.findall(r'class="download" href="([^"]+)"', page)]
    assert any(u.startswith("/_emulator/files/") and u.endswith("stdout.txt") for u in urls), urls
    stdout = requests.get(env.live.http_url + next(u for u in urls if u.endswith("stdout.txt")), timeout=10)
    assert stdout.status_code == 200 and EVIL_LOG in stdout.text


def test_job_names_from_the_store_are_escaped(env):
    # job names pass the API's name pattern; a record holding any name (an Azure ML run's, an older version's)
    # still renders as text
    store = env.live.ext.store
    parent = env.ws.split(env.live.http_url, 1)[1] + "/experiments/e"
    store.create("job", parent + "/jobs/evil", parent, "<script>", {
        "subscription_id": "s", "resource_group": "rg", "name": "<script>alert(1)</script>", "workspace": "ws",
        "experiment": "e", "execution_state": "queued", "spec": {"cluster": {"id": env.cluster_id("c1")}}},
        parent_kind="experiment")
    try:
        page = _page(env).text
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        job = _page(env, "/_emulator/ui/job?id=" + requests.utils.quote(parent + "/jobs/evil")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in job and "<script>alert" not in job
    finally:
        store.delete_tree(parent + "/jobs/evil")


def test_a_queued_job_shows_its_place_and_why_it_waits(env):
    env.job("holder", cluster="c1", command="sleep 30", stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    deadline = time.time() + 30
    while env.get_job("holder")["properties"]["executionState"] != "running":
        assert time.time() < deadline
        time.sleep(0.05)
    env.job("waiter", cluster="c1", stdOutErrPathPrefix="$AZ_BATCHAI_MOUNT_ROOT/afs")
    deadline = time.time() + 10
    while "waiting: 1 node(s) requested, 0 idle of 1" not in _page(env).text:
        assert time.time() < deadline, _page(env).text
        time.sleep(0.1)
    assert "#1" in _page(env).text
    requests.post(f"{env.ws}/experiments/e/jobs/holder/terminate?api-version=2018-05-01",
                  headers={"Authorization": "Bearer t"}, timeout=10)
    assert env.wait_job("waiter")["properties"]["executionState"] == "succeeded"


def test_storage_is_browsable_and_links_are_refused(env):
    data = env.live.settings.data_dir
    share = data / "shares" / ACCOUNT / "myshare"
    (share / "dir").mkdir(parents=True, exist_ok=True)
    (share / "dir" / "a.txt").write_text("hello share")
    os.symlink("/etc", share / "etc-link")
    page = _page(env).text
    assert "myshare" in page and "logs" in page
    top = _page(env, f"/_emulator/ui/storage/shares/{ACCOUNT}/myshare").text
    assert "dir/" in top and "etc-link" not in top
    inner = _page(env, f"/_emulator/ui/storage/shares/{ACCOUNT}/myshare/dir").text
    url = html.unescape(re.search(r'class="download" href="([^"]+)"', inner).group(1))
    assert requests.get(env.live.http_url + url, timeout=10).text == "hello share"
    for bad in (f"/_emulator/ui/storage/shares/{ACCOUNT}/myshare/etc-link",
                f"/_emulator/ui/storage/shares/{ACCOUNT}/myshare/../../../etc",
                f"/_emulator/ui/storage/nope/{ACCOUNT}/myshare"):
        assert requests.get(env.live.http_url + bad, timeout=10).status_code == 404


def test_static_files_are_served_locally(env):
    for name in ("ui.js", "ui.css"):
        r = requests.get(f"{env.live.http_url}/_emulator/ui/static/{name}", timeout=10)
        assert r.status_code == 200 and "http" not in r.text.replace("https://", "").lower().split("fetch")[0][:0]


def test_azure_ml_runs_are_listed(env):
    from emulator.azureml import ids
    ws_id = ids.workspace("s", "rg", "amlws")
    store = env.live.ext.store
    store.create(ids.WORKSPACE, ws_id, ids.resource_group("s", "rg"), "amlws", {"name": "amlws"})
    env.live.app.extensions["azureml"].runs.create_or_patch(ws_id, "mnist", "run-<b>1</b>", {
        "status": "Failed", "target": "cpu-cluster", "error": {"error": {"message": "boom <i>"}}})
    page = _page(env).text
    assert "mnist" in page and "cpu-cluster" in page and "Failed" in page
    assert "run-&lt;b&gt;1&lt;/b&gt;" in page and "boom &lt;i&gt;" in page
