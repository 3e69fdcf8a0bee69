"""Hard links and symbolic links of NFS shares (Create Hard Link, Create / Get Symbolic Link). No Flask here.

Containment: a symbolic link made through the API is never a symbolic link on the host. It is a regular file
holding the link's text, marked as a link in its properties row (EntryProps.link_text): jobs see a small file,
and the emulator never resolves the text, so a link to `../../etc` or `/etc/passwd` leads nowhere. A hard link
is a real one (`linkat` without following links, both names looked up beneath the share's fd): it gives an inode
already inside the share a second name inside the same share, so nothing outside becomes reachable.
"""
from __future__ import annotations

import errno
import os
import stat as statmod
from urllib.parse import unquote_to_bytes

from ..errors import StorageError
from . import names
from .disk import _Parent, not_found
from .meta import EntryProps

MAX_TARGET = 2048          # the service documents the hard link target "up to 2 KiB"
MAX_LINK_TEXT = 4095       # PATH_MAX - 1: what an NFS client could store in a symbolic link


def target_parts(raw: str | None) -> list[str]:
    """x-ms-file-target-file: the target's path from the share's root (percent-encoding decoded), checked by the
    same rules as request paths (no '.', '..' or empty components)."""
    if raw is None or not raw.strip():
        raise StorageError(400, "MissingRequiredHeader", "Create Hard Link needs x-ms-file-target-file.",
                           {"HeaderName": "x-ms-file-target-file"})
    if len(raw) > MAX_TARGET:
        raise StorageError(400, "InvalidHeaderValue", "x-ms-file-target-file is longer than 2 KiB.",
                           {"HeaderName": "x-ms-file-target-file"})
    try:
        path = unquote_to_bytes(raw.strip()).decode("utf-8")
    except UnicodeDecodeError:
        raise StorageError(400, "InvalidHeaderValue", "x-ms-file-target-file is not UTF-8 after percent-decoding.",
                           {"HeaderName": "x-ms-file-target-file"}) from None
    parts = path.strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise StorageError(400, "InvalidHeaderValue", "x-ms-file-target-file must name a file by its path from "
                           "the share's root, without '.', '..' or empty components.",
                           {"HeaderName": "x-ms-file-target-file"})
    names.check_path(parts)
    return parts


def link_text(raw: str | None) -> str:
    """x-ms-link-text as the client meant it (header values arrive as Latin-1; UTF-8 text is recovered)."""
    if raw is None or raw == "":
        raise StorageError(400, "MissingRequiredHeader", "Create Symbolic Link needs x-ms-link-text.",
                           {"HeaderName": "x-ms-link-text"})
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = raw
    if len(text.encode("utf-8", "surrogatepass")) > MAX_LINK_TEXT or "\x00" in text:
        raise StorageError(400, "InvalidHeaderValue", f"x-ms-link-text must be 1 to {MAX_LINK_TEXT} bytes without "
                           "NUL.", {"HeaderName": "x-ms-link-text"})
    return text


def _nfs_only(plane, account: str, share: str, what: str) -> None:
    plane.share(account, share)                       # 404 ShareNotFound first
    if not plane.is_nfs(account, share):
        # Unverified code: the service refuses NFS-only operations on SMB shares; which code it uses is not documented
        raise StorageError(400, "UnsupportedOperation", f"{what} is an operation of NFS shares; this share's "
                           "protocol is SMB.")


def create_hard_link(plane, account: str, share: str, parts: list[str], target: list[str]):
    """Create Hard Link: `parts` becomes a second name of the regular file `target` (same share)."""
    _nfs_only(plane, account, share, "Create Hard Link")
    names.check_new_name(parts[-1])
    with plane.disk.open_share(account, share) as sh, _Parent(sh, parts) as dp, _Parent(sh, target) as tp:
        st = tp.stat()
        if st is None or not statmod.S_ISREG(st.st_mode):
            raise not_found(message="The hard link's target file does not exist.")
        props = plane.meta.entry(account, share, "/".join(target), st.st_ino) or EntryProps()
        if props.link_text is not None:
            raise StorageError(400, "InvalidHeaderValue", "A hard link to a symbolic link is not supported (NFS "
                               "shares of Azure Files do not support it either).",
                               {"HeaderName": "x-ms-file-target-file"})
        with plane.disk.locks.exclusive(sh.lock_key(parts)):
            try:
                # follow_symlinks=False: linkat without AT_SYMLINK_FOLLOW, so a link a job swaps in for the target
                # is itself linked (inside the share, never followed) rather than what it points to
                os.link(tp.name, dp.name, src_dir_fd=tp.fd, dst_dir_fd=dp.fd, follow_symlinks=False)
            except FileExistsError:
                raise StorageError(409, "ResourceAlreadyExists", "The specified resource already exists.") from None
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise not_found(message="The hard link's target file does not exist.") from None
                raise
            made = dp.stat()
            if made is None or not statmod.S_ISREG(made.st_mode):
                if made is not None:
                    os.unlink(dp.name, dir_fd=dp.fd)        # a job swapped the target for something else
                raise not_found(message="The hard link's target file does not exist.")
        return plane._save(account, share, parts, made, dp.ino, props, None)


def create_symbolic_link(plane, account: str, share: str, parts: list[str], text: str, props: EntryProps,
                         times: dict):
    """Create Symbolic Link: a regular file holding `text`, marked as a link (see the module's docstring)."""
    _nfs_only(plane, account, share, "Create Symbolic Link")
    names.check_new_name(parts[-1])
    data = text.encode("utf-8", "surrogatepass")
    with plane.disk.open_share(account, share) as sh:
        st, parent_ino, _old = plane.disk.create_file(sh, parts, len(data),
                                                      plane._quota_check(account, share, sh, len(data)), data,
                                                      exclusive=True)
        props.link_text = text
        try:
            return plane._save(account, share, parts, st, parent_ino, props, times)
        except BaseException:
            plane.disk.delete_file(sh, parts)       # no row, no link: a plain file must not be left behind
            raise


def symbolic_link(plane, account: str, share: str, parts: list[str]):
    """Get Symbolic Link: the link's node (its text in props.link_text)."""
    _nfs_only(plane, account, share, "Get Symbolic Link")
    node = plane.file(account, share, parts)
    if node.props.link_text is None:
        # Unverified code: the service's answer for Get Symbolic Link on a regular file is not documented
        raise StorageError(400, "InvalidResourceType", "The file is not a symbolic link.")
    return node
