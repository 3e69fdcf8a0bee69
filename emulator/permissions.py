"""The data dir holds secrets in plain text: keep it and them readable by this user only.

What is secret there: `emulator.db` (with its -wal/-shm files: storage account keys, cluster admin passwords and
SSH keys, job secret environment values and mount credentials, all in plain text), `secret.key` (signs download
links and the emulator's own AAD tokens) and `key.pem` (the TLS private key). They are created 0600 and the data
dir 0700; files and a dir an older version left more open are tightened at every start.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

SECRET_FILES = ("emulator.db", "emulator.db-wal", "emulator.db-shm", "emulator.db-journal", "secret.key", "key.pem")


def secure_data_dir(data_dir: Path) -> None:
    """chmod the data dir 0700 and its secret files 0600; create an absent emulator.db 0600 (SQLite gives its WAL and
    shared-memory files the database file's mode)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(data_dir, 0o700)
    _give_to_parents_owner(data_dir)
    db = data_dir / "emulator.db"
    if not db.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in SECRET_FILES:
        path = data_dir / name
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)


def _give_to_parents_owner(data_dir: Path) -> None:
    """An emulator running as root in a container (compose) on a data dir inside a user's checkout: that user gets
    the directory, so they can read cert.pem (0644) to trust the emulator, while the secret files stay root's 0600."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        parent, own = data_dir.parent.stat(), data_dir.stat()
        if parent.st_uid != 0 and own.st_uid == 0:
            os.chown(data_dir, parent.st_uid, parent.st_gid)
