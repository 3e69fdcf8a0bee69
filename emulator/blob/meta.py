"""What a file system cannot hold about containers and blobs, kept in the emulator's SQLite file.

Contract (tables prefixed `blob_`, next to the Store's tables in `<data-dir>/emulator.db`, versioned by the row
`blob_schema.version`; same rules as the file plane's meta.py):

* The disk is the truth for existence, sizes, bytes and modification times. A container exists while its
  directory `blobs/<account>/<container>` does; a blob exists while its file does (under that directory, or aside).
* `blob_containers(account, container)`: metadata, public access level, stored access policies (ACL) and the
  container's ETag sequence. A container without a row has none of these.
* `blob_props(account, container, name)`: the blob's HTTP properties, metadata, committed block list, creation
  time and copy record, for the file with inode `ino`; `aside` says whether the bytes are stored aside (by hash)
  rather than at the name's path. A row applies only while that inode is still the blob's file, so a file a job
  rewrote on disk does not inherit the old blob's properties.
* `blob_service(account)`: the XML last stored by Set Blob Service Properties.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..store.connections import ThreadConnections, Transaction as _Tx, record_schema

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blob_containers (
    account  TEXT NOT NULL,
    container TEXT NOT NULL,
    created  REAL NOT NULL,
    modified REAL NOT NULL,
    seq      INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    public   TEXT,
    acl      TEXT NOT NULL,
    PRIMARY KEY (account, container)
);
CREATE TABLE IF NOT EXISTS blob_props (
    account   TEXT NOT NULL,
    container TEXT NOT NULL,
    name      TEXT NOT NULL,
    aside     INTEGER NOT NULL,
    ino       INTEGER NOT NULL,
    props     TEXT NOT NULL,
    PRIMARY KEY (account, container, name)
);
CREATE TABLE IF NOT EXISTS blob_service (account TEXT PRIMARY KEY, properties TEXT NOT NULL);
"""


class MetaSchemaError(RuntimeError):
    pass


@dataclass
class ContainerRow:
    created: float
    modified: float = 0.0
    seq: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    public: str | None = None               # None | "blob" | "container"
    acl: list[dict] = field(default_factory=list)   # [{"id", "start", "expiry", "permission"}]


@dataclass
class BlobProps:
    content_type: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    content_disposition: str | None = None
    cache_control: str | None = None
    content_md5: str | None = None          # base64
    metadata: dict[str, str] = field(default_factory=dict)
    created: float | None = None
    blocks: list[list] = field(default_factory=list)    # committed [[block id, size], ...]
    copy: dict | None = None                # {"id", "source", "completed"} of the last Copy Blob

    @classmethod
    def from_json(cls, text: str) -> "BlobProps":
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class BlobMeta:
    def __init__(self, path: Path):
        self._connections = ThreadConnections(Path(path))
        self._conn().executescript(_SCHEMA)
        newer = record_schema(self._conn(), "blob_schema", SCHEMA_VERSION)
        if newer is not None:
            raise MetaSchemaError(f"{path} holds blob-plane schema {newer}; this emulator knows up to "
                                  f"{SCHEMA_VERSION}.")

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    # ---- containers -----------------------------------------------------------------------------------------
    def container(self, account: str, container: str) -> ContainerRow | None:
        row = self._conn().execute("SELECT created, modified, seq, metadata, public, acl FROM blob_containers "
                                   "WHERE account = ? AND container = ?", (account, container)).fetchone()
        if row is None:
            return None
        return ContainerRow(row[0], row[1], row[2], json.loads(row[3]), row[4], json.loads(row[5]))

    def put_container(self, account: str, container: str, row: ContainerRow) -> ContainerRow:
        """Insert or replace the row; bumps its sequence (so its ETag) and modification time."""
        with _Tx(self._conn()) as c:
            old = c.execute("SELECT seq FROM blob_containers WHERE account = ? AND container = ?",
                            (account, container)).fetchone()
            row.seq = (old[0] if old else 0) + 1
            row.modified = time.time()
            c.execute("INSERT OR REPLACE INTO blob_containers VALUES (?,?,?,?,?,?,?,?)",
                      (account, container, row.created, row.modified, row.seq, json.dumps(row.metadata),
                       row.public, json.dumps(row.acl)))
        return row

    def containers(self, account: str) -> dict[str, ContainerRow]:
        rows = self._conn().execute("SELECT container, created, modified, seq, metadata, public, acl FROM "
                                    "blob_containers WHERE account = ?", (account,)).fetchall()
        return {r[0]: ContainerRow(r[1], r[2], r[3], json.loads(r[4]), r[5], json.loads(r[6])) for r in rows}

    # ---- blobs ----------------------------------------------------------------------------------------------
    def blob(self, account: str, container: str, name: str) -> tuple[bool, int, BlobProps] | None:
        row = self._conn().execute("SELECT aside, ino, props FROM blob_props WHERE account = ? AND container = ? "
                                   "AND name = ?", (account, container, name)).fetchone()
        if row is None:
            return None
        return bool(row[0]), row[1], BlobProps.from_json(row[2])

    def put_blob(self, account: str, container: str, name: str, aside: bool, ino: int, props: BlobProps) -> None:
        with _Tx(self._conn()) as c:
            c.execute("INSERT OR REPLACE INTO blob_props VALUES (?,?,?,?,?,?)",
                      (account, container, name, int(aside), ino, json.dumps(asdict(props))))

    def drop_blob(self, account: str, container: str, name: str) -> None:
        with _Tx(self._conn()) as c:
            c.execute("DELETE FROM blob_props WHERE account = ? AND container = ? AND name = ?",
                      (account, container, name))

    def blobs(self, account: str, container: str, prefix: str = "") -> dict[str, tuple[bool, int, BlobProps]]:
        """Rows of the container whose names start with `prefix`."""
        rows = self._conn().execute(
            "SELECT name, aside, ino, props FROM blob_props WHERE account = ? AND container = ? AND "
            "substr(name, 1, ?) = ?", (account, container, len(prefix), prefix)).fetchall()
        return {r[0]: (bool(r[1]), r[2], BlobProps.from_json(r[3])) for r in rows}

    def aside_names(self, account: str, container: str, prefix: str = "") -> list[str]:
        rows = self._conn().execute(
            "SELECT name FROM blob_props WHERE account = ? AND container = ? AND aside = 1 AND "
            "substr(name, 1, ?) = ?", (account, container, len(prefix), prefix)).fetchall()
        return [r[0] for r in rows]

    def forget(self, account: str, container: str | None = None) -> None:
        with _Tx(self._conn()) as c:
            if container is None:
                c.execute("DELETE FROM blob_props WHERE account = ?", (account,))
                c.execute("DELETE FROM blob_containers WHERE account = ?", (account,))
                c.execute("DELETE FROM blob_service WHERE account = ?", (account,))
            else:
                c.execute("DELETE FROM blob_props WHERE account = ? AND container = ?", (account, container))
                c.execute("DELETE FROM blob_containers WHERE account = ? AND container = ?", (account, container))

    # ---- service --------------------------------------------------------------------------------------------
    def service_properties(self, account: str) -> str | None:
        row = self._conn().execute("SELECT properties FROM blob_service WHERE account = ?", (account,)).fetchone()
        return row[0] if row else None

    def put_service_properties(self, account: str, xml: str) -> None:
        with _Tx(self._conn()) as c:
            c.execute("INSERT OR REPLACE INTO blob_service VALUES (?, ?)", (account, xml))

    def close(self) -> None:
        self._connections.close()
