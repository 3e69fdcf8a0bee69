"""SQLite implementation of the Store contract (see store/__init__.py).

One file, WAL journal, a busy timeout so concurrent request threads and the scheduler thread queue instead of
failing, and a schema version in PRAGMA user_version. Connections are per thread.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from . import FINAL_STATES, AlreadyExists, ParentNotFound, Record, StoreFull, open_state
from .connections import ThreadConnections, Transaction

SCHEMA_VERSION = 2
log = logging.getLogger("batchai_emulator.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    key     TEXT PRIMARY KEY,          -- lower-cased ARM id
    id      TEXT NOT NULL,             -- ARM id as created
    kind    TEXT NOT NULL,
    parent  TEXT NOT NULL,             -- lower-cased parent id
    parent_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    sort_name TEXT NOT NULL,           -- lower-cased name
    body    TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    state   TEXT                       -- open_state(kind, body): set while work on the record can change
);
CREATE INDEX IF NOT EXISTS resources_by_parent ON resources(kind, parent, sort_name);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# version 1 -> 2: the `state` column and its partial index, filled from the stored bodies
_OPEN_INDEX = "CREATE INDEX IF NOT EXISTS resources_open ON resources(kind, state, seq) WHERE state IS NOT NULL"
_FINAL_SQL = ", ".join(f"'{s}'" for s in sorted(FINAL_STATES))
_MIGRATE_STATE = (f"UPDATE resources SET state = json_extract(body, '$.execution_state') "
                  f"WHERE json_type(body, '$.execution_state') = 'text' "
                  f"AND json_extract(body, '$.execution_state') NOT IN ({_FINAL_SQL})")


_INSERT = ("INSERT INTO resources (key, id, kind, parent, parent_id, name, sort_name, body, version, seq, state) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?)")


class SchemaError(RuntimeError):
    pass


class SqliteStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(self.path)
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaError(f"{self.path} has schema version {version}; this emulator knows up to "
                              f"{SCHEMA_VERSION}. Use a newer emulator or another --data-dir.")
        if version != SCHEMA_VERSION:     # a restart on a full disk must not need to write
            with self._tx() as tx:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        tx.execute(statement)
                columns = {row[1] for row in tx.execute("PRAGMA table_info(resources)")}
                if "state" not in columns:
                    tx.execute("ALTER TABLE resources ADD COLUMN state TEXT")
                    tx.execute(_MIGRATE_STATE)
                tx.execute(_OPEN_INDEX)
                tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _tx(self):
        return Transaction(self._conn(), _full_disk(str(self.path.parent)))

    @staticmethod
    def _record(row) -> Record:
        return Record(id=row[0], kind=row[1], parent=row[2], name=row[3], body=json.loads(row[4]),
                      version=row[5], seq=row[6])

    _COLS = "id, kind, parent_id, name, body, version, seq"

    def get(self, id: str) -> Record | None:
        row = self._conn().execute(f"SELECT {self._COLS} FROM resources WHERE key = ?", (id.lower(),)).fetchone()
        return self._record(row) if row else None

    def get_many(self, ids: list[str]) -> dict[str, Record]:
        """Records of `ids` found, by lower-cased id, in one query."""
        keys = [i.lower() for i in ids]
        rows = self._conn().execute(f"SELECT {self._COLS} FROM resources WHERE key IN "
                                    f"({','.join('?' * len(keys))})", keys).fetchall()
        return {r[0].lower(): self._record(r) for r in rows}

    def _next_seq(self, conn) -> int:
        conn.execute("INSERT INTO counters(name, value) VALUES('seq', 1) "
                     "ON CONFLICT(name) DO UPDATE SET value = value + 1")
        return conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]

    def create(self, kind: str, id: str, parent: str, name: str, body: dict,
               parent_kind: str | None = None) -> Record:
        with self._tx() as conn:
            if parent_kind is not None and not conn.execute(
                    "SELECT 1 FROM resources WHERE key = ? AND kind = ?", (parent.lower(), parent_kind)).fetchone():
                raise ParentNotFound(parent)
            if conn.execute("SELECT 1 FROM resources WHERE key = ?", (id.lower(),)).fetchone():
                raise AlreadyExists(id)
            seq = self._next_seq(conn)
            conn.execute(_INSERT, (id.lower(), id, kind, parent.lower(), parent, name, name.lower(),
                                   json.dumps(body), 1, seq, open_state(kind, body)))
        return Record(id, kind, parent, name, body, 1, seq)

    def replace(self, kind: str, id: str, parent: str, name: str, body: dict) -> Record:
        with self._tx() as conn:
            row = conn.execute("SELECT id, version, seq FROM resources WHERE key = ?", (id.lower(),)).fetchone()
            if row:
                conn.execute("UPDATE resources SET body = ?, version = ?, state = ? WHERE key = ?",
                             (json.dumps(body), row[1] + 1, open_state(kind, body), id.lower()))
                return Record(row[0], kind, parent, name, body, row[1] + 1, row[2])
            seq = self._next_seq(conn)
            conn.execute(_INSERT, (id.lower(), id, kind, parent.lower(), parent, name, name.lower(),
                                   json.dumps(body), 1, seq, open_state(kind, body)))
            return Record(id, kind, parent, name, body, 1, seq)

    def compare_and_set(self, id: str, expected_version: int, body: dict) -> Record | None:
        with self._tx() as conn:
            cur = conn.execute("UPDATE resources SET body = ?, version = version + 1, state = ? "
                               "WHERE key = ? AND version = ?", (json.dumps(body), open_state(None, body),
                                                                 id.lower(), expected_version))
            if cur.rowcount != 1:
                return None
            row = conn.execute(f"SELECT {self._COLS} FROM resources WHERE key = ?", (id.lower(),)).fetchone()
        return self._record(row)

    def delete_tree(self, id: str) -> list[Record]:
        key = id.lower()
        # the subtree is the keys from key + "/" up to key + "0" ("0" follows "/"): a range of the primary key,
        # so a delete costs what it removes, not what is stored
        subtree = "(key = ? OR (key >= ? AND key < ?))"
        bounds = (key, key + "/", key + "0")
        with self._tx() as conn:
            rows = conn.execute(f"SELECT {self._COLS} FROM resources WHERE {subtree} ORDER BY length(key) DESC",
                                bounds).fetchall()
            conn.execute(f"DELETE FROM resources WHERE {subtree}", bounds)
        return [self._record(r) for r in rows]

    def clear(self) -> int:
        """Delete every record (the emulator's reset), and the rows the data planes keep in the same database
        (share and container properties, leases): every table but schema versions and counters. Returns how many
        resource records there were."""
        with self._tx() as conn:
            count = conn.execute("DELETE FROM resources").rowcount
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table not in ("resources", "counters") and not table.endswith("_schema") \
                        and not table.startswith("sqlite_"):
                    conn.execute(f'DELETE FROM "{table}"')
            return count

    def list(self, kind: str, parent: str | None = None, under: str | None = None,
             after: str | None = None, limit: int | None = None) -> list[Record]:
        sql = f"SELECT {self._COLS} FROM resources WHERE kind = ?"
        args: list = [kind]
        if parent is not None:
            sql += " AND parent = ?"
            args.append(parent.lower())
        if under is not None:
            prefix = under.lower().rstrip("/")
            sql += " AND key >= ? AND key < ?"      # the keys starting with prefix + "/" ("0" follows "/")
            args += [prefix + "/", prefix + "0"]
        if after is not None:
            sql += " AND (sort_name, key) > (?, ?)"
            args += list(after_key(after))
        sql += " ORDER BY sort_name, key"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [self._record(r) for r in self._conn().execute(sql, args).fetchall()]

    def list_open(self, kind: str, states: list[str] | None = None) -> list[Record]:
        """Records of `kind` whose open_state is set (and in `states`, if given), oldest first; read through a
        partial index, so the cost follows the open records, never the finished ones."""
        sql = f"SELECT {self._COLS} FROM resources WHERE kind = ? AND state IS NOT NULL"
        args: list = [kind]
        if states is not None:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        return [self._record(r) for r in self._conn().execute(sql + " ORDER BY seq", args).fetchall()]

    def open_versions(self, kind: str, states: list[str]) -> dict[str, int]:
        """{lower-cased id: version} of the records list_open(kind, states) would return, without their bodies:
        a reader that keeps decoded records fetches (get_many) only those whose version changed."""
        sql = (f"SELECT key, version FROM resources WHERE kind = ? AND state IS NOT NULL "
               f"AND state IN ({','.join('?' * len(states))})")
        return dict(self._conn().execute(sql, [kind, *states]).fetchall())

    def close(self) -> None:
        self._connections.close()


def after_key(token: str) -> tuple[str, str]:
    """Paging bound: the (sort_name, key) of the last record of the previous page, joined by a newline."""
    name, _, key = token.partition("\n")
    return name, key


def _full_disk(where: str):
    """A Transaction's translate: a full disk becomes StoreFull (and a log line), other errors stay as they are."""
    def translate(exc):
        if not _full(exc):
            return None
        # the old SDKs (msrest) retry a 5xx and then report only its status: say it here as well
        log.warning("the disk holding %s is full: a change was refused (HTTP 507); free some space", where)
        return StoreFull(where)
    return translate


def _full(exc) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
