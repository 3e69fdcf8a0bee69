"""Where the paths a job sees on a Batch AI node live on this machine.

A node sees cluster-level volumes under $AZ_BATCHAI_MOUNT_ROOT/<relativeMountPath> and job-level volumes under
$AZ_BATCHAI_JOB_MOUNT_ROOT/<relativeMountPath>. Here every volume is a directory of the data dir:
Azure file shares are `shares/<account>/<share>` (the real bytes the file endpoint serves), file servers are
`fileservers/<subscription>/<resourceGroup>/<workspace>/<name>`, unmanaged file systems are
`unmanaged/<owner id>/<relativeMountPath>`. Containers bind-mount exactly these directories.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from . import ids
from .errors import EmulatorError, not_supported

NODE_ROOT = "/mnt/batch/tasks/shared/LS_root"
MOUNT_ROOT = f"{NODE_ROOT}/mounts"


def job_mount_root(job_name: str) -> str:
    # Unverified on the real service (reference §9 gives no concrete value); chosen beside the job temp dir.
    return f"{NODE_ROOT}/jobs/{job_name}/mounts"


@dataclass(frozen=True)
class Volume:
    node_path: str     # absolute path on the node
    host_path: Path    # directory on this machine
    kind: str          # azureFileShare | fileServer | unmanagedFileSystem
    source: str        # account/share, file server id, or mount command


def share_dir(data_dir: Path, account: str, share: str) -> Path:
    return Path(data_dir) / "shares" / account / share


def parse_file_url(url: str) -> tuple[str | None, str]:
    """(account or None, share) from an azureFileUrl.

    Accepts `https://<account>.file.core.windows.net/<share>` (host style) and the path style the quickstart
    produces against the emulator, `https://127.0.0.1:PORT/<account>/<share>`.
    """
    parsed = urlparse(url if "://" in url else "https://" + url)
    parts = [p for p in parsed.path.split("/") if p]
    host = (parsed.hostname or "").lower()
    m = re.match(r"^([a-z0-9]+)\.file\.", host)
    if m and len(parts) == 1:
        return m.group(1), parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 1:
        return None, parts[0]
    raise EmulatorError(400, "InvalidAzureFileUrl",
                        f"The Azure file URL '{url}' does not name a file share "
                        "(expected https://<account>.file.core.windows.net/<share>).")


def volumes(data_dir: Path, mount_volumes: dict | None, root: str, owner_id: str) -> list[Volume]:
    """The volumes of a `mountVolumes` object (snake_case), mounted under `root` on the node."""
    out: list[Volume] = []
    mv = mount_volumes or {}
    if mv.get("azure_blob_file_systems"):
        raise not_supported("Mounting Azure blob containers (azureBlobFileSystems)",
                            target="mountVolumes.azureBlobFileSystems")
    for ref in mv.get("azure_file_shares") or []:
        account, share = parse_file_url(ref["azure_file_url"])
        account = account or ref["account_name"]
        out.append(Volume(f"{root}/{ref['relative_mount_path']}", share_dir(data_dir, account, share),
                          "azureFileShare", f"{account}/{share}"))
    for ref in mv.get("file_servers") or []:
        parsed = ids.parse(ref["file_server"]["id"])
        host = (Path(data_dir) / "fileservers" / parsed.get("subscriptions", "_") / parsed.get("resourcegroups", "_")
                / parsed.get("workspaces", "_") / parsed.get("fileservers", "_"))
        source_dir = (ref.get("source_directory") or "").strip("/")
        if source_dir:
            host = host / _safe_relative(source_dir, "sourceDirectory")
        out.append(Volume(f"{root}/{ref['relative_mount_path']}", host, "fileServer", ref["file_server"]["id"]))
    for ref in mv.get("unmanaged_file_systems") or []:
        key = re.sub(r"[^A-Za-z0-9_.-]+", "_", owner_id.strip("/"))
        out.append(Volume(f"{root}/{ref['relative_mount_path']}",
                          Path(data_dir) / "unmanaged" / key / _safe_relative(ref["relative_mount_path"],
                                                                                "relativeMountPath"),
                          "unmanagedFileSystem", ref["mount_command"]))
    return out


def _safe_relative(path: str, what: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts:
        raise EmulatorError(400, "InvalidParameter", f"{what} '{path}' must be a relative path without '..'.")
    return p


def expand(path: str, env: dict[str, str]) -> str:
    """Expand $VAR and ${VAR} from `env` (only those; other variables are left as written)."""
    def sub(m):
        name = m.group(1) or m.group(2)
        return env.get(name, m.group(0))
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, path)


def to_host(node_path: str, vols: list[Volume]) -> Path | None:
    """The host path of a node path that lies on one of `vols`, or None (node-local paths)."""
    norm = PurePosixPath(node_path)
    if ".." in norm.parts:
        return None
    best = None
    for v in vols:
        vp = PurePosixPath(v.node_path)
        if norm == vp or vp in norm.parents:
            if best is None or len(vp.parts) > len(PurePosixPath(best.node_path).parts):
                best = v
    if best is None:
        return None
    return best.host_path.joinpath(*norm.parts[len(PurePosixPath(best.node_path).parts):])
