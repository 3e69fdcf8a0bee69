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
  ``after`` (an exclusive name bound used for paging), at most ``limit`` of them.
* ``list_open(kind, states=None)`` returns the records of one kind whose ``open_state`` is set (optionally one
  of ``states``), oldest first, at a cost that follows the open records only: the scheduler's view of the work
  that can still change, however many finished jobs are stored. ``open_versions(kind, states)`` gives the
  same records' {lower-cased id: version} without their bodies.
* Writes are durable when the call returns (SQLite WAL, synchronous=NORMAL survives process crashes).
* A write the disk has no room for raises ``StoreFull`` and changes nothing (the transaction is rolled back);
  reads keep working.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import EmulatorError


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


class StoreFull(EmulatorError):
    """The disk holding the store has no room for a write. An EmulatorError, so every door answers it alike:
    507 InsufficientStorage. A 5xx because it is the emulator's own failure, as the service answered its own
    (there is no Azure control-plane 4xx for it); azure-core SDKs retry it for about 5 s and then raise this
    message, which names the directory to free; the msrest generations retry for about 11 s and report only
    the status, so the store also logs the cause."""

    def __init__(self, path: str):
        super().__init__(507, "InsufficientStorage", f"The emulator could not store the change: the disk holding its "
                         f"data dir ({path}) is full. Free some space and retry; nothing stored was changed.")


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
    def get(self, id: str) -> Record | None: ...
    def get_many(self, ids: list[str]) -> dict[str, Record]: ...
    def create(self, kind: str, id: str, parent: str, name: str, body: dict,
               parent_kind: str | None = None) -> Record: ...
    def replace(self, kind: str, id: str, parent: str, name: str, body: dict) -> Record: ...
    def compare_and_set(self, id: str, expected_version: int, body: dict) -> Record | None: ...
    def delete_tree(self, id: str) -> list[Record]: ...
    def list_open(self, kind: str, states: list[str] | None = None) -> list[Record]: ...
    def open_versions(self, kind: str, states: list[str]) -> dict[str, int]: ...
    def list(self, kind: str, parent: str | None = None, under: str | None = None,
             after: str | None = None, limit: int | None = None) -> list[Record]: ...
    def clear(self) -> int: ...
    def close(self) -> None: ...
