"""Which NVIDIA GPUs this machine has, and how nodes get them.

`--gpus auto` (default) asks NVML (pynvml, when installed) or `nvidia-smi`; `--gpus none` makes CPU-only nodes;
`--gpus 0,1,...` names the device ids (also how tests stand in for hardware). In auto mode a machine with no GPU
at all behaves as `none` (every node runs on CPU and the job's execution log says so); a machine with some GPUs
but fewer than a cluster asks for gives that cluster unusable nodes and a cluster error.
"""
from __future__ import annotations

import shutil
import subprocess


def detect() -> list[str]:
    try:
        import pynvml  # optional
        pynvml.nvmlInit()
        try:
            return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # pynvml missing or no driver: fall back to nvidia-smi
        pass
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


class GpuPool:
    """The device ids nodes can claim. `cpu_only` means nodes get no GPU and run on CPU."""

    def __init__(self, mode: str):
        mode = (mode or "auto").strip().lower()
        if mode == "none":
            self.devices: list[str] = []
        elif mode == "auto":
            self.devices = detect()
        else:
            self.devices = [d.strip() for d in mode.split(",") if d.strip()]
        self.mode = mode
        self.cpu_only = not self.devices

    def describe(self) -> str:
        if self.cpu_only:
            return "no GPUs (CPU-only nodes)" if self.mode != "none" else "GPUs disabled (--gpus none)"
        return "GPUs " + ",".join(self.devices)

    def warning(self) -> str | None:
        """For device ids given by hand (`--gpus 0,1`) that this machine does not show: a warning to print at start.

        Tests name ids on purpose to stand in for hardware, so this only warns; jobs still get those ids."""
        if self.mode in ("auto", "none") or not self.devices:
            return None
        present = set(detect())
        missing = [d for d in self.devices if d not in present]
        if not missing:
            return None
        seen = ("no GPU" if not present else "only GPUs " + ",".join(sorted(present)))
        return (f"--gpus {self.mode} names GPU device(s) {','.join(missing)} but this machine shows {seen} "
                "(NVML / nvidia-smi): jobs get CUDA_VISIBLE_DEVICES for devices that do not exist. Use --gpus auto "
                "(detect) or --gpus none (CPU nodes)")
