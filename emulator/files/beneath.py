"""Opening paths inside a share so that nothing a job does to the share can make the emulator leave it.

Jobs write the share directories through bind mounts while the emulator serves them, so any check-then-open on
path strings can be raced (a directory swapped for a symbolic link between the check and the open). Here every
lookup is one step that cannot be raced: it starts from a directory fd the emulator holds and never follows a
symbolic link.

* With Linux's openat2 (5.6+): one syscall with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS.
* Otherwise (older kernels, seccomp profiles that refuse openat2): a walk from the directory fd, one component
  at a time, each opened with O_NOFOLLOW (and O_DIRECTORY for the directories on the way).

Both refuse a symbolic link anywhere on the path with ELOOP, so they answer the same for every path. Symbolic
links a job leaves in a share are therefore never followed, not even ones that point inside the share.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import stat

O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
O_PATH = getattr(os, "O_PATH", 0)
DIR_FLAGS = os.O_RDONLY | O_DIRECTORY | O_CLOEXEC

_RESOLVE_NO_MAGICLINKS, _RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH = 0x02, 0x04, 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
# openat2 has number 437 on every architecture (syscalls from 5.1 on share one table)
_SYS_OPENAT2 = 437


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = None
use_openat2: bool | None = None       # None: not probed yet; tests may set False to exercise the walk


def _load():
    global _libc, use_openat2
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    except OSError:
        _libc = False
    if use_openat2 is None:
        use_openat2 = bool(_libc) and platform.system() == "Linux" and _probe()


def _openat2(dirfd: int, path: bytes, flags: int, mode: int) -> int:
    how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, _RESOLVE)
    while True:
        fd = _libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd), ctypes.c_char_p(path),
                           ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err in (errno.EAGAIN, errno.EINTR):
            continue         # a rename raced the lookup (RESOLVE_BENEATH asks to retry): try again
        if err == errno.EXDEV:
            err = errno.ELOOP
        raise OSError(err, os.strerror(err), path.decode("utf-8", "surrogateescape"))


def _probe() -> bool:
    root = os.open("/", DIR_FLAGS)
    try:
        os.close(_openat2(root, b".", DIR_FLAGS, 0))
    except OSError:
        return False           # ENOSYS (old kernel) or EPERM (a seccomp profile): walk instead
    finally:
        os.close(root)
    return True


def _walk(dirfd: int, parts: list[str], flags: int, mode: int) -> int:
    cur = dirfd
    try:
        for name in parts[:-1]:
            nxt = os.open(name, DIR_FLAGS | O_NOFOLLOW, dir_fd=cur)
            if cur != dirfd:
                os.close(cur)
            cur = nxt
        fd = os.open(parts[-1], flags | O_NOFOLLOW, mode, dir_fd=cur)
        if flags & O_PATH:
            if stat.S_ISLNK(os.fstat(fd).st_mode):      # O_PATH|O_NOFOLLOW hands out the link itself
                os.close(fd)
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), parts[-1])
        return fd
    finally:
        if cur != dirfd:
            os.close(cur)


def open_beneath(dirfd: int, parts: list[str], flags: int, mode: int = 0o666) -> int:
    """An fd for `parts` below the directory `dirfd` (no parts: the directory itself, a new fd).

    Raises OSError: ELOOP when any component is a symbolic link, ENOENT / ENOTDIR when it does not exist, and
    whatever open(2) raises for `flags` (O_CLOEXEC is always added)."""
    if use_openat2 is None:
        _load()
    flags |= O_CLOEXEC
    parts = parts or ["."]
    if use_openat2:
        return _openat2(dirfd, "/".join(parts).encode("utf-8", "surrogateescape"), flags, mode)
    return _walk(dirfd, parts, flags, mode)


def open_dir(dirfd: int, parts: list[str]) -> int:
    return open_beneath(dirfd, parts, DIR_FLAGS)


def stat_beneath(dirfd: int, parts: list[str]) -> os.stat_result:
    """The stat of what `parts` names (never through a link; a link itself is ELOOP)."""
    fd = open_beneath(dirfd, parts, O_PATH if O_PATH else os.O_RDONLY | O_NONBLOCK)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


# ---- hole punching --------------------------------------------------------------------------------------------
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
_fallocate = None


def punch_hole(fd: int, offset: int, length: int) -> bool:
    global _fallocate
    if _fallocate is None:
        if _libc is None:
            _load()
        try:
            _fallocate = _libc.fallocate if _libc else False
            if _fallocate:
                _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        except AttributeError:
            _fallocate = False
    if not _fallocate:
        return False
    return _fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0
