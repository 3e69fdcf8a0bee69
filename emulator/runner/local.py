"""LocalExecutor: the same contract without Docker. Each node is a process group running the launcher script;
the service's paths are directories of the data dir (see launch.py, host layout) and the image is ignored.

Processes start in their own session so they survive an emulator crash; a restarted emulator finds them by pid
(checked against the launcher path in /proc/<pid>/cmdline) and reads their exit code from the file the
launcher writes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from .. import safeio
from .executors import VANISHED, LaunchError

_NO_PID = 0     # handle of a node found already exited: poll reads its exit code file, stop leaves it alone


class LocalExecutor:
    layout = "host"

    def __init__(self):
        self._children: dict[int, subprocess.Popen] = {}
        self.on_exit = lambda: None

    def describe(self) -> str:
        return "local executor (no Docker: node processes run on this machine, container images are ignored)"

    def resolve_image(self, image: str) -> str:
        return image

    def available(self) -> str | None:
        return None

    def sweep(self, job_keys: set[str], keep_exited: bool = False) -> None:
        return None     # node processes are stopped with their job; nothing can be left behind by an outage

    def prepare(self, job_key, network, image, registry) -> None:
        return None

    def create(self, job_key: str, job_id: str, network, node, rank: int, image: str, shm_size) -> str:
        return ""  # nothing to create: the process starts in run()

    def run(self, handle: str, node) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AZ_BATCHAI_")}
        env.update(node.env)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(node.gpus)
        try:
            proc = subprocess.Popen(["/bin/sh", node.script_node_path], env=env, cwd=node.env["AZ_BATCHAI_JOB_TEMP"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            raise LaunchError("ProcessStartFailed", f"Starting the node process failed: {exc}") from exc
        self._children[proc.pid] = proc
        threading.Thread(target=self._watch, args=(proc,), daemon=True, name=f"watch-{proc.pid}").start()
        return f"{proc.pid}:{node.script_node_path}"

    def _watch(self, proc: subprocess.Popen) -> None:
        proc.wait()
        self.on_exit()

    @staticmethod
    def _split(handle: str) -> tuple[int, Path]:
        pid, _, script = handle.partition(":")
        return int(pid), Path(script)

    def poll(self, handles: list[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        for h in handles:
            pid, script = self._split(h)
            child = self._children.get(pid)
            if child is not None:
                code = child.poll()
                if code is None:
                    out[h] = None
                    continue
                del self._children[pid]
                out[h] = code if code >= 0 else 128 - code
                continue
            if _alive(pid, script):
                out[h] = None
                continue
            try:
                # the node's temp directory is the job's to write: a link or fifo there is never followed
                out[h] = int(safeio.read_text(script.parent.parent, script.parent / "exit_code", 64).strip())
            except (OSError, ValueError):
                out[h] = VANISHED
        return out

    def find(self, job_key: str, node_dirs) -> dict[int, tuple[str, str]]:
        """Node processes by their launcher's path in /proc/<pid>/cmdline; a node whose launcher wrote its exit
        code has exited (its handle then names no live pid)."""
        scripts = {str(Path(d) / ".batchai" / "launch.sh"): rank for rank, d in enumerate(node_dirs)}
        out: dict[int, tuple[str, str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            rank = scripts.get(argv[1].decode(errors="replace")) if len(argv) > 1 else None
            if rank is None:
                continue
            try:
                leader = os.getsid(int(entry.name)) == int(entry.name)
            except OSError:
                continue
            if leader:      # `/bin/sh <launcher>` in its own session; its subshells share the command line
                out[rank] = (f"{entry.name}:{argv[1].decode()}", "running")
        for script, rank in scripts.items():
            if rank not in out and safeio.exists(Path(script).parent.parent, Path(script).parent / "exit_code"):
                out[rank] = (f"{_NO_PID}:{script}", "exited")
        return out

    def stop(self, handles: list[str]) -> None:
        for h in handles:
            pid, script = self._split(h)
            if pid <= 1:
                continue        # a node found exited (no pid): never signal a group we do not own
            if pid in self._children or _alive(pid, script):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cleanup(self, job_key: str, handles: list[str]) -> None:
        for h in handles:
            pid, _ = self._split(h)
            child = self._children.pop(pid, None)
            if child is not None:
                child.poll()


def _alive(pid: int, script: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(script).encode() in cmdline
