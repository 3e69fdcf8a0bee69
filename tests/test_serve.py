"""`batchai-emulator serve` as a user runs it: flags and variables, the certificate, health, clean stops."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent / "batchai-emulator"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, *flags, env=None):
    out = open(tmp_path / "out.txt", "wb")
    proc = subprocess.Popen([str(BIN), "serve", *flags], stdout=out, stderr=subprocess.STDOUT,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("BATCHAI_EMULATOR")},
                                 **(env or {})})
    return proc


def _wait_health(url, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the emulator exited"
        try:
            if requests.get(url + "/_emulator/health", timeout=1, verify=False).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("never healthy")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_makes_a_certificate_answers_health_and_stops_cleanly(tmp_path, sig):
    port, https_port = _port(), _port()
    data = tmp_path / "data"
    # flags for some settings, variables for others
    proc = _start(tmp_path, "--port", str(port), "--executor", "none",
                  env={"BATCHAI_EMULATOR_HTTPS_PORT": str(https_port), "BATCHAI_EMULATOR_DATA_DIR": str(data)})
    try:
        _wait_health(f"http://127.0.0.1:{port}", proc)
        cert = data / "cert.pem"
        assert cert.exists() and (data / "key.pem").stat().st_mode & 0o077 == 0
        r = requests.get(f"https://127.0.0.1:{https_port}/_emulator/health", verify=str(cert))
        assert r.status_code == 200
        r = requests.get(f"https://localhost:{https_port}/_emulator/health", verify=str(cert))
        assert r.status_code == 200
        proc.send_signal(sig)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = (tmp_path / "out.txt").read_text()
    assert f"REQUESTS_CA_BUNDLE={data}/cert.pem" in text and "(created)" in text
    assert "batchaidev" in text and "Stopping" in text
    assert (data / "emulator.db").exists()


def test_busy_port_and_bad_flags_give_clear_errors(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        proc = _start(tmp_path, "--port", str(busy), "--https-port", str(_port()), "--data-dir", str(tmp_path / "d"),
                      "--executor", "none")
        assert proc.wait(30) == 1
    assert "cannot listen" in (tmp_path / "out.txt").read_text()
    proc = _start(tmp_path, "--storage-account", "nokey", "--data-dir", str(tmp_path / "d"))
    assert proc.wait(30) == 2
    assert "NAME:KEY" in (tmp_path / "out.txt").read_text()


def _served_and_stopped(tmp_path, *flags: str) -> str:
    """`batchai-emulator serve` with these flags, healthy, then stopped with SIGTERM (it must exit 0): its output."""
    from tests.served import Served
    served = Served(tmp_path / "d", "--executor", "none", *flags, log=tmp_path / "out.txt")
    assert served.start().stop() == 0
    return served.log_text()


def test_non_loopback_bind_warns(tmp_path):
    assert "WARNING: listening on 0.0.0.0" in _served_and_stopped(tmp_path, "--host", "0.0.0.0")


def test_a_chosen_storage_key_is_never_printed(tmp_path):
    key = "bXktb3duLXNlY3JldC1zdG9yYWdlLWtleS0xMjM0NTY3ODkwYWJjZGVm"
    text = _served_and_stopped(tmp_path, "--storage-account", f"myaccount:{key}")
    assert "account myaccount" in text and key not in text


def test_a_second_emulator_on_a_data_dir_in_use_refuses_and_a_kill9_frees_it(tmp_path):
    from tests.served import Served
    data = tmp_path / "data"
    first = Served(data, "--executor", "none", log=tmp_path / "first.log").start()
    second = Served(data, "--executor", "none", log=tmp_path / "second.log")
    try:
        second.spawn()
        assert second.proc.wait(30) == 2
        assert f"data dir {data} is in use by pid {first.proc.pid}" in second.log_text()
        assert "Traceback" not in second.log_text()
        assert requests.get(first.http_url + "/_emulator/health", timeout=5).status_code == 200
        first.kill9()            # the kernel drops the lock with the process: the stale file blocks nothing
        third = Served(data, "--executor", "none", log=tmp_path / "third.log").start()
        third.stop()
        assert third.proc.returncode == 0
    finally:
        first.kill9()
        second.kill9()
