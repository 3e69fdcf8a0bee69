"""File-system errors on the emulator's host that both planes answer alike (a full disk, a path it may not change,
a name too long): Storage errors, never a 5xx, that say they are about this machine."""
from __future__ import annotations

import errno

from ..errors import StorageError


def common_host_error(exc: OSError, op: str, what: str) -> StorageError | None:
    """The answer to `exc` raised during operation `op`, for the errors every plane answers the same way; None for
    the others (each plane maps those itself). `what` names what may be too long: "name" or "path"."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(413, "InsufficientStorage", f"{op} failed: the disk holding the emulator's data dir is "
                            f"full{where}.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(403, "AuthorizationFailure", f"{op} failed: the emulator may not change this path on "
                            f"its host{where}: {exc.strerror}. A job running as another user may own it.")
    if exc.errno == errno.ENAMETOOLONG:
        return StorageError(400, "InvalidResourceName", f"The {what} is too long for the host file system{where}.")
    return None
