"""The emulator's own admin operations: its health summary and the reset test suites use between tests."""
from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from ..models import Cluster, Job

# the data dir's trees of user and job data (the certificate, signing key and emulator.db stay)
DATA_TREES = ("shares", "blobs", "blob-state", "jobs", "nodes", "azureml", "fileservers")


def health(ext, version: str) -> dict:
    scheduler = ext.scheduler
    clusters = [Cluster.from_body(r.body) for r in ext.store.list("cluster")]
    jobs = Counter(str(r.body.get("execution_state")) for r in ext.store.list("job"))
    allocation = Counter(str(c.allocation_state) for c in clusters)
    executor = scheduler.executor.describe() if scheduler is not None and scheduler.executor is not None else "none"
    gpus = scheduler.gpus.describe() if scheduler is not None and getattr(scheduler, "gpus", None) else "none"
    return {"status": "ok", "version": version, "dataDir": str(ext.settings.data_dir),
            "storageAccounts": sorted(ext.settings.accounts()), "executor": executor, "gpus": gpus,
            "resetAllowed": bool(ext.settings.allow_reset),
            "clusters": {"total": len(clusters), **dict(allocation)},
            "nodes": sum(c.current_node_count for c in clusters),
            "jobs": {"total": sum(jobs.values()), **dict(jobs)}}


def reset(ext) -> int:
    """Wipe all state: running jobs stopped, every record deleted, shares, blobs and job directories emptied.
    Returns how many records were deleted."""
    data_dir = Path(ext.settings.data_dir)
    deleted = [0]

    def wipe() -> None:
        deleted[0] = ext.store.clear()
        for name in DATA_TREES:
            _empty(data_dir / name)

    if ext.scheduler is not None:
        ext.scheduler.reset(wipe)
    else:
        wipe()
    return deleted[0]


def _empty(tree: Path) -> None:
    """Remove what is inside `tree` (kept itself, so code that made it at start finds it), never following a
    link a job put there (rmtree does not follow links; a link itself is unlinked). blob-state/.tmp stays."""
    try:
        entries = list(os.scandir(tree))
    except OSError:
        return
    for e in entries:
        if tree.name == "blob-state" and e.name == ".tmp":
            _empty(Path(e.path))
            continue
        try:
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
        except OSError:
            pass
