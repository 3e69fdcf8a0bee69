"""File and share leases (Lease File, Lease Share) and the lease checks of every other operation.

A lease is a row of `files_leases` (meta.py): (account, share, path, ino) -> lease JSON, path "" for the share's
own lease. A file lease belongs to the inode it was taken on: a file replaced on disk (by a job) has no lease.
State is computed when read: a fixed share lease past its end is `expired`, a breaking one past its break time
is `broken`. File leases are infinite and break at once, as the service's are.

Checks (`check`): an operation that changes a leased file or share without the lease id gets 412 LeaseIdMissing;
any operation naming a lease id that is not the active one gets 412 (mismatch / not present).
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass

from ..errors import StorageError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


@dataclass
class Lease:
    id: str
    duration: int = -1                   # seconds, -1 infinite
    acquired: float = 0.0
    renewed: float = 0.0
    break_at: float | None = None        # when breaking ends (broken from then on)

    def state(self, now: float) -> str:
        if self.break_at is not None:
            return "broken" if now >= self.break_at else "breaking"
        if self.duration > 0 and now >= self.renewed + self.duration:
            return "expired"
        return "leased"

    def active(self, now: float) -> bool:
        """Whether the lease still guards its resource (a breaking lease does, until it is broken)."""
        return self.state(now) in ("leased", "breaking")

    def headers(self, now: float) -> dict[str, str]:
        state = self.state(now)
        out = {"x-ms-lease-state": state, "x-ms-lease-status": "locked" if state in ("leased", "breaking")
               else "unlocked"}
        if state == "leased":
            out["x-ms-lease-duration"] = "infinite" if self.duration < 0 else "fixed"
        return out


AVAILABLE = {"x-ms-lease-state": "available", "x-ms-lease-status": "unlocked"}


def headers(lease: Lease | None) -> dict[str, str]:
    return lease.headers(time.time()) if lease is not None else dict(AVAILABLE)


def _guid(value: str | None, header: str) -> str:
    if value is None or not _GUID.match(value.strip()):
        raise StorageError(400, "InvalidHeaderValue", f"The value '{value}' of header {header} is not a GUID.",
                           {"HeaderName": header, "HeaderValue": value or ""})
    return value.strip()


def check(lease: Lease | None, given: str | None, write: bool, kind: str = "File") -> None:
    """412 unless an operation with lease id `given` may run on a resource holding `lease`."""
    now = time.time()
    active = lease is not None and lease.active(now)
    if given is not None:
        if not active:
            raise StorageError(412, f"LeaseNotPresentWith{kind}Operation", f"There is currently no lease on the "
                               f"{kind.lower()}.")
        if given.strip().lower() != lease.id.lower():
            raise StorageError(412, f"LeaseIdMismatchWith{kind}Operation", "The lease ID specified did not match "
                               f"the lease ID for the {kind.lower()}.")
    elif write and active:
        raise StorageError(412, "LeaseIdMissing", f"There is currently a lease on the {kind.lower()} and no lease "
                           "ID was specified in the request.")


def operate(lease: Lease | None, action: str, req: dict[str, str | None], share: bool) -> tuple[Lease | None, int,
                                                                                                 dict[str, str]]:
    """Apply a lease action: (the lease to store or None to drop it, status, response headers)."""
    now = time.time()
    action = (action or "").strip().lower()
    kind = "Share" if share else "File"
    current = lease if lease is not None and lease.state(now) in ("leased", "breaking") else None
    given = req.get("x-ms-lease-id")
    if action == "acquire":
        duration = int(req.get("x-ms-lease-duration") or -1) if (req.get("x-ms-lease-duration") or "-1").lstrip(
            "-").isdigit() else None
        if duration is None or not (duration == -1 or (share and 15 <= duration <= 60)):
            raise StorageError(400, "InvalidHeaderValue", "x-ms-lease-duration must be -1 (infinite)"
                               + (" or 15 to 60 seconds" if share else "") + ".",
                               {"HeaderName": "x-ms-lease-duration"})
        proposed = _guid(req.get("x-ms-proposed-lease-id"), "x-ms-proposed-lease-id") \
            if req.get("x-ms-proposed-lease-id") else str(uuid.uuid4())
        if current is not None and (current.state(now) == "breaking" or current.id.lower() != proposed.lower()):
            raise StorageError(409, "LeaseAlreadyPresent", "There is already a lease present.")
        new = Lease(proposed, duration, now, now)
        return new, 201, {"x-ms-lease-id": new.id}
    if action == "break":
        if lease is None or lease.state(now) in ("expired",) or (lease.state(now) == "broken"):
            if lease is None or lease.state(now) == "expired":
                raise StorageError(409, "LeaseNotPresentWithLeaseOperation", "There is currently no lease.")
            return lease, 202, {"x-ms-lease-time": "0"}
        period = req.get("x-ms-lease-break-period")
        if period is not None and not share:
            raise StorageError(400, "InvalidHeaderValue", "File leases break at once; x-ms-lease-break-period is "
                               "not allowed.", {"HeaderName": "x-ms-lease-break-period"})
        wait = 0
        if share:
            remaining = (lease.renewed + lease.duration - now) if lease.duration > 0 else None
            wait = int(period) if period is not None and period.isdigit() else (int(remaining) if remaining else 0)
            if remaining is not None:
                wait = min(wait, max(0, int(remaining)))
            wait = min(wait, 60)
        if lease.break_at is None:
            lease.break_at = now + wait
        return lease, 202, {"x-ms-lease-time": str(max(0, int(lease.break_at - now)))}
    lease_id = _guid(given, "x-ms-lease-id")
    if lease is None or lease.id.lower() != lease_id.lower():
        code = "LeaseNotPresentWithLeaseOperation" if lease is None else "LeaseIdMismatchWithLeaseOperation"
        raise StorageError(409, code, f"The lease ID specified did not match the lease of the {kind.lower()}.")
    state = lease.state(now)
    if action == "release":
        return None, 200, {}
    if action == "renew":
        if not share:
            raise StorageError(400, "InvalidHeaderValue", "File leases are infinite and cannot be renewed.",
                               {"HeaderName": "x-ms-lease-action"})
        if state in ("broken", "breaking"):
            raise StorageError(409, "LeaseIsBrokenAndCannotBeRenewed", "The lease is broken and cannot be renewed.")
        lease.renewed = now
        return lease, 200, {"x-ms-lease-id": lease.id}
    if action == "change":
        if state in ("broken", "breaking"):
            raise StorageError(409, "LeaseIsBrokenAndCannotBeChanged" if state == "broken"
                               else "LeaseIsBreakingAndCannotBeChanged", "The lease is broken.")
        lease.id = _guid(req.get("x-ms-proposed-lease-id"), "x-ms-proposed-lease-id")
        return lease, 200, {"x-ms-lease-id": lease.id}
    raise StorageError(400, "InvalidHeaderValue", f"x-ms-lease-action '{action}' is not acquire, renew, change, "
                       "release or break.", {"HeaderName": "x-ms-lease-action"})


def to_json(lease: Lease) -> dict:
    return asdict(lease)


def from_json(data: dict) -> Lease:
    return Lease(**{k: v for k, v in data.items() if k in Lease.__dataclass_fields__})
