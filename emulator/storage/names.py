"""The query of a storage request."""
from __future__ import annotations


def query_arg(query: list[tuple[str, str]], name: str) -> str | None:
    """The first value of a query parameter (names compared case-insensitively, as the services do)."""
    name = name.lower()
    for k, v in query:
        if k.lower() == name:
            return v
    return None
