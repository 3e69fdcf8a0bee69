"""Touching job-writable places without ever leaving them: no link followed, no fifo or device opened.

Jobs are untrusted and the emulator may run as root. Every directory a job can write (its stdouterr and output
directories on shares, its temp directory) lies under the data dir, and every directory the emulator itself makes
there is a real directory: so a path below the data dir is walked one component at a time from the data dir's
descriptor with O_NOFOLLOW. A link anywhere on the way (the file itself, or a directory swapped for a link to
/etc) raises UnsafePath instead of being followed, and because each step opens relative to the descriptor of the
previous one, nothing can be swapped between a check and the open. The last component is opened with O_NONBLOCK
(a fifo never blocks the opener) and must be a regular file (fstat), and reads are bounded.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
READ_LIMIT = 64 * 1024


class UnsafePath(OSError):
    """A component of the path is a link, or the file is not a regular file: it was not touched."""


def _parts(root: Path, path: Path | str) -> list[str]:
    rel = Path(os.path.normpath(os.path.join(root, path)))
    try:
        parts = rel.relative_to(root).parts
    except ValueError:
        raise UnsafePath(errno.EPERM, f"{path} is not inside {root}") from None
    if any(p in ("..", ".") for p in parts):
        raise UnsafePath(errno.EPERM, f"{path} is not inside {root}")
    return list(parts)


def _step(dir_fd: int, name: str, create: bool, mode: int = 0o777) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
    except FileExistsError:
        pass        # made meanwhile (or a link: the open below refuses it)
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def open_dir(root: Path | str, path: Path | str = ".", create: bool = False) -> int:
    """A descriptor of directory `path` (absolute, or relative to `root`) reached from `root` without following a
    link; `create` makes missing directories on the way. The caller closes it."""
    root = Path(root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)    # the root itself is trusted
    try:
        for name in _parts(root, path):
            try:
                nxt = _step(fd, name, create)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(exc.errno, f"{name} in {path} is a link or not a directory") from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def makedirs(root: Path | str, path: Path | str) -> None:
    """mkdir -p of `path` under `root`, refusing (UnsafePath) where a component is a link."""
    os.close(open_dir(root, path, create=True))


def open_file(root: Path | str, path: Path | str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """A descriptor of the regular file `path` under `root` (flags as os.open: O_WRONLY|O_APPEND|O_CREAT...);
    a link, fifo, socket or device there raises UnsafePath without being opened for real or blocking."""
    parts = _parts(Path(root), path)
    if not parts:
        raise UnsafePath(errno.EISDIR, f"{path} is not a file")
    dir_fd = open_dir(root, os.path.join(*parts[:-1]) if len(parts) > 1 else ".",
                      create=bool(flags & os.O_CREAT))
    try:
        return _open_regular(dir_fd, parts[-1], flags, mode, path)
    finally:
        os.close(dir_fd)


def _open_regular(dir_fd: int, name: str, flags: int, mode: int, shown) -> int:
    # O_PATH first: the inode is looked at (fstat) before anything opens it for real, so a device node a job made
    # is never opened; the real open then goes through /proc/self/fd, which names that same inode
    reopen = (flags & ~(os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW)) | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(10):
        try:
            handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            try:
                fd = os.open(name, flags | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, mode, dir_fd=dir_fd)
            except FileExistsError:
                continue        # made meanwhile: look at what it is
            os.set_blocking(fd, True)
            return fd
        try:
            st = os.fstat(handle)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(errno.EINVAL, f"{shown} is a link or not a regular file")
            fd = os.open(f"/proc/self/fd/{handle}", reopen)
        finally:
            os.close(handle)
        os.set_blocking(fd, True)
        return fd
    raise UnsafePath(errno.EAGAIN, f"{shown} keeps changing")


def read_text(root: Path | str, path: Path | str, limit: int = READ_LIMIT) -> str:
    """At most `limit` bytes of a regular file, decoded leniently. FileNotFoundError if absent, UnsafePath if a
    link or not a regular file."""
    fd = open_file(root, path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit).decode("utf-8", errors="replace")


def exists(root: Path | str, path: Path | str) -> bool:
    """Whether a regular file is at `path` (a link or fifo there counts as absent)."""
    try:
        os.close(open_file(root, path))
        return True
    except OSError:
        return False


def append_text(root: Path | str, path: Path | str, text: str) -> None:
    """Append to (creating) the regular file `path`; a link or non-regular file there raises UnsafePath."""
    fd = open_file(root, path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "ab") as fh:
        fh.write(text.encode("utf-8"))


def write_text(root: Path | str, path: Path | str, text: str, mode: int = 0o644) -> None:
    """Replace the content of the regular file `path` (creating it)."""
    fd = open_file(root, path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(text.encode("utf-8"))


def copy_tree(root: Path | str, src: Path | str, dst: Path | str) -> list[str]:
    """Copy the regular files under `src` (below `root`, walked from descriptors without following any link) into
    `dst`, a directory jobs cannot write; returns the relative paths copied. Links, fifos and devices are
    skipped, and so is `src` itself if a link leads to it."""
    copied: list[str] = []
    try:
        top = open_dir(root, src)
    except OSError:
        return copied
    stack: list[tuple[int, list[str]]] = [(top, [])]
    while stack:
        dir_fd, rel = stack.pop()
        try:
            with os.scandir(dir_fd) as it:
                entries = sorted(it, key=lambda e: e.name)
            for e in entries:
                try:
                    mode = e.stat(follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        stack.append((os.open(e.name, _DIR_FLAGS, dir_fd=dir_fd), rel + [e.name]))
                    elif stat.S_ISREG(mode):
                        fd = _open_regular(dir_fd, e.name, os.O_RDONLY, 0, e.name)
                        target = Path(dst).joinpath(*rel, e.name)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with os.fdopen(fd, "rb") as fin, open(target, "wb") as fout:
                            shutil.copyfileobj(fin, fout)
                        copied.append("/".join(rel + [e.name]))
                except OSError:
                    continue    # gone, swapped for a link, or not readable: not copied
        finally:
            os.close(dir_fd)
    return copied


def copy_file(root: Path | str, src: Path | str, dst: Path | str) -> bool:
    """Copy the regular file `src` (below `root`, reached without following links) to `dst`; False if there is
    none (absent, a link, a fifo...)."""
    try:
        fd = open_file(root, src)
    except OSError:
        return False
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(fd, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    return True
