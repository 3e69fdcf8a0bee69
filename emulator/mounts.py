"""Where the paths a job sees on a Batch AI node live on this machine.

A node sees cluster-level volumes under $AZ_BATCHAI_MOUNT_ROOT/<relativeMountPath> and job-level volumes under
$AZ_BATCHAI_JOB_MOUNT_ROOT/<relativeMountPath>. Here every volume is a directory of the data dir:
Azure file shares are `shares/<account>/<share>` (the real bytes the file endpoint serves), blob containers are
`blobs/<account>/<container>` (the committed blobs the Blob endpoint serves, as plain files), file servers are
`fileservers/<subscription>/<resourceGroup>/<workspace>/<name>`, unmanaged file systems are
`unmanaged/<owner id>/<relativeMountPath>`. Containers bind-mount exactly these directories.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from . import ids
from .errors import EmulatorError
from .properties import MountVolumes

NODE_ROOT = "/mnt/batch/tasks/shared/LS_root"
MOUNT_ROOT = f"{NODE_ROOT}/mounts"


class MountError(EmulatorError):
    """A volume that cannot be mounted (a share, container or file server a node cannot reach). At create it
    answers 400 like any EmulatorError; at launch it is the job's MountVolumeFailed."""


def job_mount_root(job_name: str) -> str:
    # Unverified on the real service (reference §9 gives no concrete value); chosen beside the job temp dir.
    return f"{NODE_ROOT}/jobs/{job_name}/mounts"


@dataclass(frozen=True)
class Volume:
    node_path: str     # absolute path on the node
    host_path: Path    # directory on this machine
    kind: str          # azureFileShare | azureBlobFileSystem | fileServer | unmanagedFileSystem
    source: str        # account/share, account/container, file server id, or mount command


def share_dir(data_dir: Path, account: str, share: str) -> Path:
    """The directory of a share; names that Azure would refuse (and that could name other directories) raise."""
    return _storage_dir(data_dir, "shares", account, share, "InvalidAzureFileUrl", "file share", "shares")


def blob_container_dir(data_dir: Path, account: str, container: str) -> Path:
    """The directory of a blob container (the blob plane keeps committed blobs there as plain files)."""
    return _storage_dir(data_dir, "blobs", account, container, "InvalidParameter", "blob container", "containers")


def _storage_dir(data_dir: Path, top: str, account: str, name: str, code: str, what: str, plural: str) -> Path:
    if not _ACCOUNT.match(account or "") or not _SHARE.match(name or ""):
        raise MountError(400, code, f"'{account}/{name}' is not a valid storage account and {what} name (accounts: "
                                    f"3-24 lowercase letters and digits; {plural}: 3-63 lowercase letters, digits and "
                                    "single hyphens).")
    return Path(data_dir) / top / account / name


_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_SHARE = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_ID_SEGMENT = re.compile(r"^[-\w.()]+$")


def parse_file_url(url: str) -> tuple[str | None, str]:
    """(account or None, share) from an azureFileUrl.

    Accepts `https://<account>.file.core.windows.net/<share>` (host style) and the path style the quickstart
    produces against the emulator, `https://127.0.0.1:PORT/<account>/<share>`.
    """
    parsed = urlparse(url if "://" in url else "https://" + url)
    parts = [p for p in parsed.path.split("/") if p]
    host = (parsed.hostname or "").lower()
    m = re.match(r"^([a-z0-9]+)\.file\.", host)
    account, share = None, None
    if m and len(parts) == 1:
        account, share = m.group(1), parts[0]
    elif len(parts) == 2:
        account, share = parts
    elif len(parts) == 1:
        share = parts[0]
    if share is not None:
        return account, share
    raise MountError(400, "InvalidAzureFileUrl",
                        f"The Azure file URL '{url}' does not name a file share "
                        "(expected https://<account>.file.core.windows.net/<share>).")


_URL_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")     # never "." or ".."; no "%"


def check_file_url(url: str, target: str) -> None:
    """An azureFileUrl must name one share: `https://<account>.file.<suffix>/<share>`, or the emulator's path
    style `http(s)://<host>[:port]/<account>/<share>`; anything else (dot segments, percent-encoded ones, more or
    fewer segments, a query) is refused at create with 400 naming the field. The share name's own rules (length,
    case, hyphens) are checked when a node mounts it, as the service did."""
    parsed = urlparse(url or "")
    segments = parsed.path.strip("/").split("/") if parsed.path.strip("/") else []
    host_style = re.match(r"^[a-z0-9_]+\.file\.[a-z0-9.-]+$", (parsed.hostname or "").lower())
    ok = (parsed.scheme in ("https", "http") and parsed.hostname and not parsed.query and not parsed.fragment
          and not parsed.params and len(segments) == (1 if host_style else 2)
          and all(_URL_SEGMENT.match(seg) for seg in segments) and "//" not in parsed.path)
    if not ok:
        raise EmulatorError(400, "InvalidPropertyValue",
                            f"The azureFileUrl '{url}' must name one file share: https://<account>.file.<endpoint "
                            "suffix>/<share>, or this emulator's path-style URL https://<host>:<port>/<account>/"
                            "<share>, with no other path segments.", target=target)


def check(mv: MountVolumes, target: str = "properties.mountVolumes") -> None:
    """What a create request can be refused for: unsupported kinds, file URLs that do not name one share, mount
    paths or ids that climb out. Share names are checked when a node mounts them (as on the service, a bad share
    makes unusable nodes, not a 400)."""
    for ref in mv.azure_file_shares:
        check_file_url(ref.azure_file_url, f"{target}.azureFileShares.azureFileUrl")
    for refs in (mv.azure_file_shares, mv.azure_blob_file_systems, mv.file_servers, mv.unmanaged_file_systems):
        for ref in refs:
            _safe_relative(ref.relative_mount_path, "relativeMountPath")
    for ref in mv.file_servers:
        _file_server_parts(ref.file_server_id)


def _file_server_parts(resource_id: str) -> dict[str, str]:
    parsed = ids.parse(resource_id)
    if not all(_ID_SEGMENT.match(v) and v not in (".", "..") for v in parsed.values()):
        raise MountError(400, "InvalidParameter", f"'{resource_id}' is not a valid file server id.",
                            target="fileServer.id")
    return parsed


def volumes(data_dir: Path, mv: MountVolumes, root: str, owner_id: str) -> list[Volume]:
    """The volumes of a `mountVolumes` object, mounted under `root` on the node."""
    check(mv)
    out: list[Volume] = []
    for ref in mv.azure_file_shares:
        account, share = parse_file_url(ref.azure_file_url)
        account = account or ref.account_name
        _safe_relative(ref.relative_mount_path, "relativeMountPath")
        out.append(Volume(f"{root}/{ref.relative_mount_path}", share_dir(data_dir, account, share),
                          "azureFileShare", f"{account}/{share}"))
    for blob in mv.azure_blob_file_systems:
        # blobfuse on the service's nodes; here a bind mount of the container's directory (mountOptions, which
        # were blobfuse flags, change nothing about a bind mount and are ignored)
        _safe_relative(blob.relative_mount_path, "relativeMountPath")
        account, container = blob.account_name, blob.container_name
        out.append(Volume(f"{root}/{blob.relative_mount_path}", blob_container_dir(data_dir, account, container),
                          "azureBlobFileSystem", f"{account}/{container}"))
    for fs in mv.file_servers:
        parsed = _file_server_parts(fs.file_server_id)
        host = (Path(data_dir) / "fileservers" / parsed.get("subscriptions", "_") / parsed.get("resourcegroups", "_")
                / parsed.get("workspaces", "_") / parsed.get("fileservers", "_"))
        source_dir = (fs.source_directory or "").strip("/")
        if source_dir:
            host = host / _safe_relative(source_dir, "sourceDirectory")
        out.append(Volume(f"{root}/{fs.relative_mount_path}", host, "fileServer", fs.file_server_id))
    for unmanaged in mv.unmanaged_file_systems:
        key = re.sub(r"[^A-Za-z0-9_.-]+", "_", owner_id.strip("/"))
        out.append(Volume(f"{root}/{unmanaged.relative_mount_path}",
                          Path(data_dir) / "unmanaged" / key / _safe_relative(unmanaged.relative_mount_path,
                                                                                "relativeMountPath"),
                          "unmanagedFileSystem", unmanaged.mount_command))
    return out


def blob_mount_notes(cluster_volumes: MountVolumes, job_volumes: MountVolumes) -> list[str]:
    """execution.log lines for the blob containers a job's nodes mount: where, and that mountOptions (blobfuse
    flags on the service) were accepted but change nothing about a bind mount."""
    out = []
    for mv, root in ((cluster_volumes, "$AZ_BATCHAI_MOUNT_ROOT"), (job_volumes, "$AZ_BATCHAI_JOB_MOUNT_ROOT")):
        for ref in mv.azure_blob_file_systems:
            options = ref.mount_options
            out.append(f"blob container {ref.account_name}/{ref.container_name} mounted at "
                       f"{root}/{ref.relative_mount_path} (a bind mount of the emulator's copy"
                       + (f"; mountOptions '{options}' accepted, not applied)" if options else ")"))
    return out


def _safe_relative(path: str, what: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts:
        raise MountError(400, "InvalidParameter", f"{what} '{path}' must be a relative path without '..'.")
    return p


def check_node_path(path: str, what: str) -> None:
    """Paths a job names (output prefixes, stdout/err prefix, inputs) may not climb out with '..'."""
    if ".." in PurePosixPath(path).parts:
        raise EmulatorError(400, "InvalidPropertyValue", f"{what} '{path}' must not contain '..' components.",
                            target=what)


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
