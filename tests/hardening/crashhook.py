"""`python -m tests.hardening.crashhook serve ...`: the emulator, which kills itself with SIGKILL just before its
N-th durable step once armed — the exact-moment kill -9 of the Files write-path crash tests (test_files_crash.py).

A durable step is anything that leaves a trace after a crash: a commit of the Files rows (meta.py's transactions)
and the file-system calls the Files plane makes (rename, unlink, link, mkdir, rmdir, truncate, pwrite, write,
copy_file_range). Killing just before step N for N = 1, 2, ... until an operation finishes without being killed
hits every point between two durable steps, whatever order the implementation takes them in.

Environment: HARDENING_CRASH_AT=N (1-based), HARDENING_CRASH_ARM=<path>: steps are counted only while that file
exists (the test creates it right before the operation under test, so set-up requests do not count). Only the
test suites start the emulator this way; the emulator itself has no such hook.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

STEPS = ("rename", "replace", "unlink", "link", "mkdir", "rmdir", "ftruncate", "truncate", "pwrite", "write",
         "copy_file_range")


def install(at: int, arm: str) -> None:
    from emulator.files import meta

    lock = threading.Lock()
    count = [0]

    def step(name: str) -> None:
        if not os.path.exists(arm):
            return
        with lock:
            count[0] += 1
            if count[0] == at:
                sys.stderr.write(f"crashhook: SIGKILL before step {at} ({name})\n")
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)

    for name in STEPS:
        real = getattr(os, name, None)
        if real is None:
            continue

        def wrapped(*args, _real=real, _name=name, **kwargs):
            if _name != "write" or args[0] > 2:       # not the log lines on stdout / stderr
                step(_name)
            return _real(*args, **kwargs)
        setattr(os, name, wrapped)

    real_exit = meta._Tx.__exit__

    def exit_(self, exc_type, exc, tb):
        if exc_type is None:
            step("commit")
        return real_exit(self, exc_type, exc, tb)
    meta._Tx.__exit__ = exit_


def main() -> int:
    at = os.environ.get("HARDENING_CRASH_AT")
    if at:
        install(int(at), os.environ["HARDENING_CRASH_ARM"])
    from emulator.__main__ import main as emulator_main
    return emulator_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
