"""The on-disk layout both planes keep under the data dir: an account's directory of shares or containers."""
from __future__ import annotations

import os
import shutil


def remove_account_dir(path) -> None:
    """Remove an account's directory; an operator's link in its place is removed, never what it points to (and
    rmtree does not follow links inside)."""
    if os.path.islink(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def subdirectories(path, name_ok) -> list[str]:
    """The sorted names of the directories in `path` whose names pass `name_ok` ([] when it does not exist)."""
    try:
        found = os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in found if name_ok(n) and os.path.isdir(os.path.join(path, n)))
