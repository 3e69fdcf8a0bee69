"""Request headers both planes read the same way, and the error a bad value gets (400 InvalidHeaderValue)."""
from __future__ import annotations

from ..errors import StorageError


def invalid_header(name: str, value: str, why: str) -> StorageError:
    return StorageError(400, "InvalidHeaderValue", f"The value '{value}' of header {name} is invalid: {why}.",
                        {"HeaderName": name, "HeaderValue": value})


def true_or_false(name: str, raw: str) -> bool:
    """A boolean header's value ("true" or "false", any case, spaces around ignored)."""
    if raw.strip().lower() not in ("true", "false"):
        raise invalid_header(name, raw, "expected true or false")
    return raw.strip().lower() == "true"
