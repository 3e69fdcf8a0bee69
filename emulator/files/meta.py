"""What a file system cannot hold about shares, directories and files, kept in the emulator's SQLite file.

Contract (tables prefixed `files_`, next to the Store's tables in `<data-dir>/emulator.db`; versioned by the row
`files_schema.version`, not by PRAGMA user_version, which belongs to the Store):

* The disk is the truth for existence, sizes, bytes and modification times: `shares/<account>/<share>/...`.
  A share, directory or file that exists on disk exists for the API, row or no row; a row whose entry is gone
  from disk is ignored.
* `files_shares(account, share)`: quota (GiB), access tier, metadata and the share's ETag sequence. A share
  without a row (made on disk) has the default quota and tier and no metadata.
* `files_entries(account, share, path)`: for directories and files, the HTTP properties (content type,
  encoding, language, disposition, cache control, MD5), metadata, SMB attributes and creation time, and the
  inode the row describes. A row applies only while the entry at `path` still has that inode, so a file that a
  job deleted and wrote again on disk does not inherit the old file's properties.
* `files_service(account)`: the XML last stored by Set File Service Properties.
* `files_permissions(account, share, key)`: security descriptors stored by Create Permission (or given inline);
  the key is derived from the descriptor, so the same descriptor always gets the same key.
* `files_ranges(account, share, path)`: the byte ranges API writes left (ranges.py), valid while the file has
  that inode and mtime.
* `files_acls(account, share)`: the SignedIdentifiers document of Set Share ACL (stored access policies).
* `files_leases(account, share, path)`: file and share leases (leases.py); a file's lease applies only while
  the file at `path` has the inode it was taken on.
* Deletes through the API remove the rows of everything they removed (`forget`), in the same request.

Rows are written with one short transaction each; the request threads each use their own connection.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from ..store.connections import ThreadConnections, Transaction as _Tx, record_schema

SCHEMA_VERSION = 1
DEFAULT_QUOTA_GIB = 5120
DEFAULT_TIER = "TransactionOptimized"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS files_shares (
    account  TEXT NOT NULL,
    share    TEXT NOT NULL,
    created  REAL NOT NULL,
    modified REAL NOT NULL,
    quota    INTEGER NOT NULL,
    tier     TEXT NOT NULL,
    metadata TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    props    TEXT NOT NULL DEFAULT '{}',   -- JSON of ShareRow.props
    PRIMARY KEY (account, share)
);
CREATE TABLE IF NOT EXISTS files_entries (
    account TEXT NOT NULL,
    share   TEXT NOT NULL,
    path    TEXT NOT NULL,         -- '/'-joined path inside the share; '' is the root directory
    ino     INTEGER NOT NULL,
    props   TEXT NOT NULL,         -- JSON of EntryProps
    PRIMARY KEY (account, share, path)
);
CREATE TABLE IF NOT EXISTS files_service (account TEXT PRIMARY KEY, properties TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files_permissions (
    account    TEXT NOT NULL,
    share      TEXT NOT NULL,
    key        TEXT NOT NULL,      -- the x-ms-file-permission-key handed out (a hash of the permission)
    permission TEXT NOT NULL,
    format     TEXT NOT NULL,      -- sddl | binary, as the client gave it
    PRIMARY KEY (account, share, key)
);
CREATE TABLE IF NOT EXISTS files_ranges (
    account TEXT NOT NULL,
    share   TEXT NOT NULL,
    path    TEXT NOT NULL,
    ino     INTEGER NOT NULL,
    stamp   INTEGER NOT NULL,      -- the file's mtime (ns) after the API write the record describes
    ranges  TEXT NOT NULL,         -- JSON [[start, end], ...] inclusive
    PRIMARY KEY (account, share, path)
);
CREATE TABLE IF NOT EXISTS files_acls (account TEXT NOT NULL, share TEXT NOT NULL, xml TEXT NOT NULL,
                                       PRIMARY KEY (account, share));
CREATE TABLE IF NOT EXISTS files_leases (
    account TEXT NOT NULL,
    share   TEXT NOT NULL,
    path    TEXT NOT NULL,         -- '' is the share's own lease
    ino     INTEGER NOT NULL,      -- the file the lease was taken on (0 for a share)
    lease   TEXT NOT NULL,         -- JSON of leases.Lease
    PRIMARY KEY (account, share, path)
);
"""


class MetaSchemaError(RuntimeError):
    pass


@dataclass
class ShareRow:
    created: float
    modified: float
    quota: int = DEFAULT_QUOTA_GIB
    metadata: dict[str, str] = field(default_factory=dict)
    tier: str = DEFAULT_TIER
    seq: int = 0
    # protocol and provisioning properties (nfs.py): enabled protocols, root squash, provisioned IOPS and
    # bandwidth, paid bursting, snapshot virtual directory access, when quota / IOPS / bandwidth last went up
    props: dict = field(default_factory=dict)


@dataclass
class EntryProps:
    """Properties a file or directory carries beyond its bytes. Content settings apply to files only."""
    content_type: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    content_disposition: str | None = None
    cache_control: str | None = None
    content_md5: str | None = None       # base64, as set by the client; the service never computes it
    metadata: dict[str, str] = field(default_factory=dict)
    attributes: str | None = None        # SMB attributes as the client last set them ("Archive", "ReadOnly|...")
    created: float | None = None         # x-ms-file-creation-time: epoch ns (int); older rows: seconds (float)
    permission_key: str | None = None
    written: int | None = None           # x-ms-file-last-write-time a client set (ns), shown while the file's
    written_stamp: int | None = None     # mtime is still written_stamp (a later write replaces it)
    changed: int | None = None           # x-ms-file-change-time a client set (ns), while ctime is changed_stamp
    changed_stamp: int | None = None
    copy: dict | None = None             # the last Copy File into this file: id, source, status, completion
    owner: str | None = None             # NFS shares: the owner's UID, group's GID and 4-digit octal mode as a
    group: str | None = None             # client set them (None: the defaults); kept here, never applied to the
    mode: str | None = None              # host file (the emulator runs as root: a setuid bit would be real)
    link_text: str | None = None         # NFS shares: a symbolic link, stored as a regular file holding this text

    @classmethod
    def from_json(cls, text: str) -> "EntryProps":
        data = json.loads(text)
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


class MetaStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._connections = ThreadConnections(self.path)
        self._leased: set[tuple[str, str]] | None = None
        self._conn().executescript(_SCHEMA)       # CREATE ... IF NOT EXISTS: idempotent
        columns = {r[1] for r in self._conn().execute("PRAGMA table_info(files_shares)")}
        if "props" not in columns:                # databases made before share properties had their column
            self._conn().execute("ALTER TABLE files_shares ADD COLUMN props TEXT NOT NULL DEFAULT '{}'")
        newer = record_schema(self._conn(), "files_schema", SCHEMA_VERSION)
        if newer is not None:
            raise MetaSchemaError(f"{self.path} holds file-plane schema {newer}; this emulator knows up to "
                                  f"{SCHEMA_VERSION}.")

    def _conn(self) -> sqlite3.Connection:
        return self._connections.get()

    def _tx(self):
        return _Tx(self._conn())

    # ---- shares ---------------------------------------------------------------------------------------------
    def share(self, account: str, share: str) -> ShareRow | None:
        row = self._conn().execute("SELECT created, modified, quota, metadata, tier, seq, props FROM files_shares "
                                   "WHERE account = ? AND share = ?", (account, share)).fetchone()
        if row is None:
            return None
        return ShareRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], json.loads(row[6]))

    def put_share(self, account: str, share: str, row: ShareRow) -> ShareRow:
        """Insert or replace the share's row; bumps its sequence (so its ETag) and modification time."""
        with self._tx() as c:
            old = c.execute("SELECT seq FROM files_shares WHERE account = ? AND share = ?",
                            (account, share)).fetchone()
            row.seq = (old[0] if old else 0) + 1
            row.modified = time.time()
            c.execute("INSERT OR REPLACE INTO files_shares (account, share, created, modified, quota, tier, "
                      "metadata, seq, props) VALUES (?,?,?,?,?,?,?,?,?)",
                      (account, share, row.created, row.modified, row.quota, row.tier, json.dumps(row.metadata),
                       row.seq, json.dumps(row.props)))
        return row

    def shares(self, account: str) -> dict[str, ShareRow]:
        rows = self._conn().execute("SELECT share, created, modified, quota, metadata, tier, seq, props "
                                    "FROM files_shares WHERE account = ?", (account,)).fetchall()
        return {r[0]: ShareRow(r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], json.loads(r[7])) for r in rows}

    # ---- directories and files ------------------------------------------------------------------------------
    def entry(self, account: str, share: str, path: str, ino: int) -> EntryProps | None:
        row = self._conn().execute("SELECT ino, props FROM files_entries WHERE account = ? AND share = ? "
                                   "AND path = ?", (account, share, path)).fetchone()
        if row is None or row[0] != ino:
            return None
        return EntryProps.from_json(row[1])

    def entry_of_inode(self, account: str, share: str, ino: int) -> EntryProps | None:
        """The properties another name of the same file (a hard link) carries, if any row has them."""
        row = self._conn().execute("SELECT props FROM files_entries WHERE account = ? AND share = ? AND ino = ? "
                                   "LIMIT 1", (account, share, ino)).fetchone()
        return EntryProps.from_json(row[0]) if row else None

    def put_entry(self, account: str, share: str, path: str, ino: int, props: EntryProps,
                  linked: bool = False) -> None:
        """Store a path's properties; `linked` (a file with more than one hard link): the other names of that
        inode get them too, as properties belong to the file, not to one of its names."""
        text = json.dumps(asdict(props))
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO files_entries VALUES (?,?,?,?,?)", (account, share, path, ino, text))
            if linked:
                c.execute("UPDATE files_entries SET props = ? WHERE account = ? AND share = ? AND ino = ? "
                          "AND path != ?", (text, account, share, ino, path))

    def update_copy(self, account: str, share: str, path: str, copy_id: str, change) -> bool:
        """`change(props)` on the row at `path` if it still records the pending copy `copy_id`, in one
        transaction (so a background copy never writes over the row of a file that replaced its destination);
        whether it did."""
        with self._tx() as c:
            row = c.execute("SELECT ino, props FROM files_entries WHERE account = ? AND share = ? AND path = ?",
                            (account, share, path)).fetchone()
            if row is None:
                return False
            props = EntryProps.from_json(row[1])
            copy = props.copy or {}
            if copy.get("id") != copy_id or copy.get("status") != "pending":
                return False
            change(props)
            c.execute("UPDATE files_entries SET props = ? WHERE account = ? AND share = ? AND path = ? AND ino = ?",
                      (json.dumps(asdict(props)), account, share, path, row[0]))
            return True

    def pending_copies(self) -> list[tuple[str, str, str, dict]]:
        """(account, share, path, copy record) of every file whose row says a background copy is pending."""
        rows = self._conn().execute("SELECT account, share, path, props FROM files_entries WHERE props LIKE "
                                    "'%\"status\": \"pending\"%'").fetchall()
        out = []
        for account, share, path, text in rows:
            copy = EntryProps.from_json(text).copy or {}
            if copy.get("status") == "pending" and copy.get("from") and "@" not in share:
                out.append((account, share, path, copy))
        return out

    def forget(self, account: str, share: str | None = None, path: str | None = None) -> None:
        """Drop rows: a whole account, a whole share, or one path and everything below it."""
        with self._tx() as c:
            if share is None:
                c.execute("DELETE FROM files_leases WHERE account = ?", (account,))
                c.execute("DELETE FROM files_ranges WHERE account = ?", (account,))
                c.execute("DELETE FROM files_acls WHERE account = ?", (account,))
                c.execute("DELETE FROM files_permissions WHERE account = ?", (account,))
                c.execute("DELETE FROM files_entries WHERE account = ?", (account,))
                c.execute("DELETE FROM files_shares WHERE account = ?", (account,))
                c.execute("DELETE FROM files_service WHERE account = ?", (account,))
            elif path is None:
                c.execute("DELETE FROM files_leases WHERE account = ? AND share = ?", (account, share))
                c.execute("DELETE FROM files_ranges WHERE account = ? AND share = ?", (account, share))
                c.execute("DELETE FROM files_acls WHERE account = ? AND share = ?", (account, share))
                c.execute("DELETE FROM files_permissions WHERE account = ? AND share = ?", (account, share))
                c.execute("DELETE FROM files_entries WHERE account = ? AND share = ?", (account, share))
                c.execute("DELETE FROM files_shares WHERE account = ? AND share = ?", (account, share))
            else:
                for table in ("files_entries", "files_leases", "files_ranges"):
                    c.execute(f"DELETE FROM {table} WHERE account = ? AND share = ? AND "
                              "(path = ? OR substr(path, 1, ?) = ?)", (account, share, path, len(path) + 1,
                                                                       path + "/"))
        self._leased = None

    def move(self, account: str, share: str, old: str, new: str) -> None:
        """Rows of `old` and everything below it now describe `new` (a rename); rows at `new` are dropped."""
        with self._tx() as c:
            for table in ("files_entries", "files_leases", "files_ranges"):
                c.execute(f"DELETE FROM {table} WHERE account = ? AND share = ? AND "
                          "(path = ? OR substr(path, 1, ?) = ?)", (account, share, new, len(new) + 1, new + "/"))
                c.execute(f"UPDATE {table} SET path = ? || substr(path, ?) WHERE account = ? AND share = ? AND "
                          "(path = ? OR substr(path, 1, ?) = ?)",
                          (new, len(old) + 1, account, share, old, len(old) + 1, old + "/"))
        self._leased = None

    # ---- written ranges ---------------------------------------------------------------------------------------
    def ranges(self, account: str, share: str, path: str) -> tuple[int, int, list[list[int]], list | None] | None:
        """(ino, stamp, ranges, change log or None when unknown) of a file's record."""
        row = self._conn().execute("SELECT ino, stamp, ranges FROM files_ranges WHERE account = ? AND share = ? "
                                   "AND path = ?", (account, share, path)).fetchone()
        if row is None:
            return None
        data = json.loads(row[2])
        if isinstance(data, list):
            return row[0], row[1], data, None
        return row[0], row[1], data["r"], data.get("log")

    def put_ranges(self, account: str, share: str, path: str, ino: int, stamp: int,
                   ranges: list[list[int]], log: list | None = None) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO files_ranges VALUES (?,?,?,?,?,?)",
                      (account, share, path, ino, stamp, json.dumps({"r": ranges, "log": log})))

    # ---- stored access policies ---------------------------------------------------------------------------
    def acl(self, account: str, share: str) -> str | None:
        row = self._conn().execute("SELECT xml FROM files_acls WHERE account = ? AND share = ?",
                                   (account, share)).fetchone()
        return row[0] if row else None

    def put_acl(self, account: str, share: str, xml: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO files_acls VALUES (?,?,?)", (account, share, xml))

    # ---- permissions ----------------------------------------------------------------------------------------
    def put_permission(self, account: str, share: str, key: str, permission: str, fmt: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO files_permissions VALUES (?,?,?,?,?)",
                      (account, share, key, permission, fmt))

    def permission(self, account: str, share: str, key: str) -> tuple[str, str] | None:
        row = self._conn().execute("SELECT permission, format FROM files_permissions WHERE account = ? AND "
                                   "share = ? AND key = ?", (account, share, key)).fetchone()
        return (row[0], row[1]) if row else None

    # ---- leases ---------------------------------------------------------------------------------------------
    def leased(self, account: str, share: str) -> bool:
        """Whether any lease row exists in the share (kept in memory: most requests skip the lease lookup)."""
        if self._leased is None:
            rows = self._conn().execute("SELECT DISTINCT account, share FROM files_leases").fetchall()
            self._leased = {(a, s) for a, s in rows}
        return (account, share) in self._leased

    def lease(self, account: str, share: str, path: str, ino: int) -> dict | None:
        row = self._conn().execute("SELECT ino, lease FROM files_leases WHERE account = ? AND share = ? AND path = ?",
                                   (account, share, path)).fetchone()
        if row is None or row[0] != ino:
            return None
        return json.loads(row[1])

    def put_lease(self, account: str, share: str, path: str, ino: int, lease: dict | None) -> None:
        with self._tx() as c:
            if lease is None:
                c.execute("DELETE FROM files_leases WHERE account = ? AND share = ? AND path = ?",
                          (account, share, path))
            else:
                c.execute("INSERT OR REPLACE INTO files_leases VALUES (?,?,?,?,?)",
                          (account, share, path, ino, json.dumps(lease)))
        self._leased = None

    # ---- service --------------------------------------------------------------------------------------------
    def service_properties(self, account: str) -> str | None:
        row = self._conn().execute("SELECT properties FROM files_service WHERE account = ?", (account,)).fetchone()
        return row[0] if row else None

    def put_service_properties(self, account: str, xml: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO files_service VALUES (?, ?)", (account, xml))

    def close(self) -> None:
        self._connections.close()
