"""What `batchai-emulator serve` says at start when a flag cannot work as given: a port in use, --gpus naming
devices this machine does not have."""
from __future__ import annotations

import socket
import subprocess
import time

from emulator.runner.gpus import detect
from tests.served import BIN, Served, free_port


def test_a_port_in_use_says_to_try_another_or_port_0(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--https-port",
                               str(free_port()), "--blob-port", "0", "--data-dir", str(tmp_path / "data"),
                               "--executor", "none"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot listen" in proc.stderr and "--port 0" in proc.stderr and "another port" in proc.stderr, proc.stderr


def _banner(served: Served, timeout: float = 30) -> str:
    """The start banner: health answers as soon as the ports listen, the banner is printed just after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and "  jobs:" not in served.log_text():
        time.sleep(0.1)
    return served.log_text()


def test_gpus_naming_devices_this_machine_lacks_warns_at_start(tmp_path):
    present = detect()
    missing = next(str(i) for i in range(64) if str(i) not in present)
    served = Served(tmp_path / "data", "--executor", "local", "--gpus", missing)
    with served:
        banner = _banner(served)
    assert f"WARNING: --gpus {missing} names GPU device(s) {missing} but this machine shows" in banner, banner
    assert "--gpus none" in banner
    with Served(tmp_path / "data2", "--executor", "local", "--gpus", "none") as quiet:
        assert "WARNING: --gpus" not in _banner(quiet)
