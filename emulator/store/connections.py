"""Per-thread SQLite connections to one database file, and the one transaction helper, shared by the store and the
storage planes' metadata."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadConnections:
    """One autocommit connection per thread (busy timeout, synchronous=NORMAL, WAL); close() closes them all."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()


class Transaction:
    """`with Transaction(conn) as c:` runs the body in BEGIN IMMEDIATE ... COMMIT. A failure of the body or of the
    COMMIT (a full disk) rolls back whatever is still open, or SQLite rolled back already: either way the thread's
    connection comes out of it usable, and the error is raised, or what `translate(error)` makes of it (when that
    is not None, raised from the error)."""

    def __init__(self, conn: sqlite3.Connection, translate=None):
        self.conn = conn
        self.translate = translate

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.Error as err:
                exc = err
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        replacement = self.translate(exc) if self.translate is not None else None
        if replacement is not None:
            raise replacement from exc
        if exc_type is None:
            raise exc
        return False


def record_schema(conn: sqlite3.Connection, table: str, version: int) -> int | None:
    """Write `version` into the one-row `table` the first time; the version found there when a newer emulator
    wrote a higher one (this one must not touch that data), else None."""
    with Transaction(conn) as c:
        row = c.execute(f"SELECT version FROM {table}").fetchone()
        if row is None:
            c.execute(f"INSERT INTO {table} VALUES (?)", (version,))
    return row[0] if row is not None and row[0] > version else None
