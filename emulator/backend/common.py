"""Helpers shared by the backends: typed loading of records, paging, parents."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ..store import Record, Store, page_token

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def load(store: Store, kind: str, cls, id: str):
    rec = store.get(id)
    if rec is None or rec.kind != kind:
        return None, None
    return cls.from_body(rec.body), rec


def paged(records: list[Record], cls, limit: int) -> Page:
    """`records` were fetched with limit+1: one extra tells whether a next page exists."""
    more = len(records) > limit
    records = records[:limit]
    return Page([cls.from_body(r.body) for r in records], page_token(records[-1]) if more and records else None)
