"""What the file plane answers: a share's or a node's facts as the API shows them (plane.py and plane_more.py
build them, httpio.py and render.py render them)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .disk import etag
from .meta import DEFAULT_TIER, EntryProps

PERMISSION_KEY = "4066528134148476695*1"     # one synthetic security descriptor for everything (no SMB ACLs here)


@dataclass
class ShareInfo:
    name: str
    etag: str
    last_modified: float
    quota: int
    metadata: dict[str, str]
    tier: str = DEFAULT_TIER
    snapshot: str | None = None
    extra: dict = field(default_factory=dict)    # protocol and provisioning properties by header (nfs.py)


@dataclass
class NodeInfo:
    """A directory or file as the API shows it: disk facts plus the row's properties."""
    path: str
    is_dir: bool
    st: os.stat_result
    parent_ino: int
    props: EntryProps = field(default_factory=EntryProps)
    nfs: bool = False                  # on an NFS share: NFS properties instead of SMB attributes and permissions

    @property
    def etag(self) -> str:
        return etag(self.st)

    @property
    def size(self) -> int:
        return 0 if self.is_dir else self.st.st_size

    @property
    def attributes(self) -> str:
        return self.props.attributes or ("Directory" if self.is_dir else "Archive")

    @property
    def created(self) -> int:
        """Creation time in ns: as a client set it, else the older of mtime and ctime."""
        c = self.props.created
        if c is None:
            return min(self.st.st_mtime_ns, self.st.st_ctime_ns)
        return int(round(c * 1e9)) if isinstance(c, float) else int(c)

    @property
    def written(self) -> int:
        p = self.props
        return p.written if p.written is not None and p.written_stamp == self.st.st_mtime_ns else self.st.st_mtime_ns

    @property
    def changed(self) -> int:
        p = self.props
        return p.changed if p.changed is not None and p.changed_stamp == self.st.st_ctime_ns else self.st.st_ctime_ns

    def stamp(self, written: int | None = None, changed: int | None = None) -> None:
        """Record client-set last-write / change times against the current stat."""
        if written is not None:
            self.props.written, self.props.written_stamp = written, self.st.st_mtime_ns
        elif self.props.written_stamp is not None and self.props.written_stamp != self.st.st_mtime_ns:
            self.props.written = self.props.written_stamp = None
        if changed is not None:
            self.props.changed, self.props.changed_stamp = changed, self.st.st_ctime_ns
