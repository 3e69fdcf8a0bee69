"""What every Files view is handed: the request's plane, account, target and principal (views.py builds it,
handlers.py and handlers_more.py serve it)."""
from __future__ import annotations

from dataclasses import dataclass

from ..urls import public_base
from . import httpio, nfs_headers
from .auth import Principal
from .names import Target
from .plane import FilePlane

DEFAULT_VERSION = "2019-02-02"


@dataclass
class Ctx:
    files: FilePlane
    account: str
    target: Target
    principal: Principal
    op: str

    snapshot: str | None = None
    base: str | None = None           # host style: the account's own URL (https://<account>.file.<suffix>/)

    @property
    def share(self) -> str:
        """The share's name, or `share@<id>` for a snapshot (read operations serve it like a share)."""
        return (self.target.share or "") + (f"@{self.snapshot}" if self.snapshot else "")

    @property
    def parts(self) -> list[str]:
        return self.target.parts

    def endpoint(self) -> str:
        """The service endpoint listings name: the URL the client used for the account."""
        return self.base or public_base() + "/" + self.account + "/"

    def node_times(self) -> dict:
        """The SMB times (and permission) a request sets, plus on an NFS share its owner / group / mode; headers
        of the other protocol are refused first."""
        is_nfs = self.files.is_nfs(self.account, self.target.share or "")
        nfs_headers.check_protocol_headers(is_nfs)
        times = httpio.smb_times()
        if is_nfs:
            times["nfs"] = nfs_headers.node_request()
        return times
