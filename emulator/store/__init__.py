"""The persistence contract the backend and the runner rely on.

A Store holds every ARM resource the emulator knows (resource groups, Batch AI resources, storage accounts) as
records keyed by their canonical ARM id, compared case-insensitively as ARM does. Contract:

* ``get(id)`` returns the record or None; ids are case-insensitive. ``get_many(ids)`` returns the records found,
  keyed by lower-cased id, in one round trip (a resource and its parents).
* ``create(...)`` inserts a new record and fails with ``AlreadyExists`` if the id is taken; ``replace`` overwrites
  unconditionally (create-or-update semantics of PUT). With ``parent_kind``, ``create`` also fails with
  ``ParentNotFound`` unless a record of that kind is stored at ``parent`` — checked in the same transaction as
  the insert, so a create racing the delete of its parent (and so of the parent's subtree) can never leave an
  orphan, and two racing creates of one id can never both win. Check-then-``replace`` gives neither.
* ``compare_and_set(id, expected_version, body)`` writes only if the stored version still equals
  ``expected_version`` and returns the new record, else None. Every state change the runner makes goes through
  it, so two writers (a terminate request and a container exit) can never both win.
* ``delete_tree(id)`` removes the record and every record whose id starts with ``id + "/"``, atomically, and
  returns the removed records (children first).
* ``list(kind, parent=..., under=...)`` returns records of one kind in name order (case-insensitive), after
  ``after``, at most ``limit`` of them. ``after`` is a page token: ``page_token(record)`` of the last record of
  the previous page (its lower-cased name, then its lower-cased id, so equal names in different parents page
  apart). Backends hand it out as the list's skip token unchanged and must not build it any other way.
* ``list_open(kind, states=None)`` returns the records of one kind whose ``open_state`` is set (optionally one
  of ``states``), oldest first, at a cost that follows the open records only: the scheduler's view of the work
  that can still change, however many finished jobs are stored. ``open_versions(kind, states)`` gives the
  same records' {lower-cased id: version} without their bodies.
* Writes are durable when the call returns (SQLite WAL, synchronous=NORMAL survives process crashes).
* A write the disk has no room for raises ``StoreFull`` and changes nothing (the transaction is rolled back);
  reads keep working. How a door answers it (HTTP 507) is errors.py's business, not the store's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


# execution states after which a record's work can no longer change
FINAL_STATES = frozenset({"succeeded", "failed"})


def open_state(kind: str | None, body: dict) -> str | None:
    """The state a record is indexed under while its work can change: a body's `execution_state` that is not
    final (a job queued, running or terminating), else None. Derived from the body on every write."""
    state = body.get("execution_state")
    return state if isinstance(state, str) and state not in FINAL_STATES else None


class AlreadyExists(Exception):
    pass


class ParentNotFound(Exception):
    """create(parent_kind=...) found no record of that kind at the parent id."""


class StoreFull(Exception):
    """The disk holding the store has no room for a write (nothing was changed). `path` names the data dir."""

    def __init__(self, path: str):
        super().__init__(f"the disk holding the emulator's data dir ({path}) is full")
        self.path = path


@dataclass(frozen=True)
class Record:
    id: str          # ARM id as first created (original case)
    kind: str        # resourceGroup | workspace | experiment | cluster | job | fileServer | storageAccount
    parent: str      # parent ARM id (original case), "" for top level
    name: str
    body: dict[str, Any]
    version: int
    seq: int


class Store(Protocol):
    """The contract in the module docstring; SqliteStore (store/sqlite.py) is the implementation."""

    def get(self, id: str) -> Record | None: ...
    def get_many(self, ids: list[str]) -> dict[str, Record]: ...

    def create(self, kind: str, id: str, parent: str, name: str, body: dict,
               parent_kind: str | None = None) -> Record:
        """Insert; AlreadyExists if `id` is taken. With `parent_kind`: ParentNotFound unless a record of that
        kind is stored at `parent`, checked in the insert's transaction (a parent-checked create)."""

    def replace(self, kind: str, id: str, parent: str, name: str, body: dict) -> Record: ...
    def compare_and_set(self, id: str, expected_version: int, body: dict) -> Record | None: ...
    def delete_tree(self, id: str) -> list[Record]: ...
    def list_open(self, kind: str, states: list[str] | None = None) -> list[Record]: ...
    def open_versions(self, kind: str, states: list[str]) -> dict[str, int]: ...

    def list(self, kind: str, parent: str | None = None, under: str | None = None,
             after: str | None = None, limit: int | None = None) -> list[Record]:
        """Records of `kind` in name order; `after` is a page token (``page_token`` of the previous page's last
        record), `limit` caps the answer (ask limit+1 to learn whether a next page exists)."""

    def clear(self) -> int: ...
    def close(self) -> None: ...


def page_token(record: Record) -> str:
    """The ``after`` bound that continues a ``list`` past `record` (see the contract above)."""
    return record.name.lower() + "\n" + record.id.lower()
