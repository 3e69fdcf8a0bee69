"""The dashboard in a real browser: Debian's headless Chromium driven by selenium (chromium-driver).

Opens the overview, follows a running local job to its page, sees its stdout grow (the page's poller, ranged reads
of the signed download link), follows a download link, and saves a screenshot under ci-artifacts/. In CI the browser
must be there (.ci/run installs it); elsewhere the test skips without it.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, in_ci, start_live
from tests.security.armjobs import Arm

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "ci-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1280,900"]


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        return "chromium / chromium-driver are not installed"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _browser_missing()
    if missing:
        if in_ci():
            pytest.fail(f"{missing}: .ci/run installs them")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("ui-browser"), executor="local", gpus="none", allocation_delay=0.05)
    arm = Arm(live)
    arm.share_cluster("gpu-cluster", "logs", nodes=2, vm_size="STANDARD_NC6")
    yield arm
    live.server.stop()
    assert not live.server_errors, live.server_errors


def _wait(what, timeout: float = 30, step: float = 0.2):
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"not true after {timeout}s: {what}")
        time.sleep(step)


def test_a_running_jobs_log_grows_in_the_browser_and_its_files_download(env, browser):
    from selenium.webdriver.common.by import By
    out = "$AZ_BATCHAI_MOUNT_ROOT/afs"
    env.job("done-first", cluster="gpu-cluster", stdOutErrPathPrefix=out,
            command='echo model > "$AZ_BATCHAI_STDOUTERR_DIR/model.txt"; echo trained')
    env.wait_job("done-first")
    # prints a line every 0.3 s for a while: the page must show lines that were not there when it loaded
    env.job("train", cluster="gpu-cluster", stdOutErrPathPrefix=out, nodeCount=2,
            command='for i in $(seq 1 80); do echo "epoch $i loss 0.$((1000 - i))"; sleep 0.3; done')
    env.job("waits", cluster="gpu-cluster", stdOutErrPathPrefix=out)
    _wait(lambda: env.get_job("train")["properties"]["executionState"] == "running")

    browser.get(env.live.http_url + "/")
    assert "Batch AI emulator" in browser.title
    _wait(lambda: "waiting:" in browser.find_element(By.ID, "jobs").text)     # the live overview
    browser.find_element(By.LINK_TEXT, "train").click()
    _wait(lambda: "epoch 3 " in browser.find_element(By.CSS_SELECTOR, 'pre[data-log="stdout.txt"]').text)
    first = browser.find_element(By.CSS_SELECTOR, 'pre[data-log="stdout.txt"]').text.count("epoch")
    grown = _wait(lambda: browser.find_element(By.CSS_SELECTOR, 'pre[data-log="stdout.txt"]')
                  .text.count("epoch") >= first + 5 and True)
    assert grown
    text = browser.find_element(By.CSS_SELECTOR, 'pre[data-log="stdout.txt"]').text
    assert text.count("epoch 4 ") == 1           # each range read once: nothing repeated
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(env.live.http_url + "/")
    _wait(lambda: "train" in browser.find_element(By.ID, "jobs").text)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    browser.find_element(By.LINK_TEXT, "train").click()
    _wait(lambda: "epoch" in browser.find_element(By.CSS_SELECTOR, 'pre[data-log="stdout.txt"]').text)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-job.png"))

    # the finished job's output file: its link is the signed, expiring download URL; the browser downloads it
    browser.get(env.live.http_url + "/")
    browser.find_element(By.LINK_TEXT, "done-first").click()
    link = browser.find_element(By.LINK_TEXT, "model.txt")
    href = link.get_attribute("href")
    assert "/_emulator/files/" in href
    assert requests.get(href, timeout=10).text == "model\n"
    link.click()
    _wait(lambda: (browser.downloads / "model.txt").exists()
          and (browser.downloads / "model.txt").read_text() == "model\n")
    # the page's own console stayed clean: no CSP violation, no script error
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"] \
        if hasattr(browser, "get_log") else []
    assert not errors, errors
