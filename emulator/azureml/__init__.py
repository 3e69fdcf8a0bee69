"""Azure Machine Learning (SDK v1 surface) on the emulator: workspaces, AmlCompute, run history, execution,
content, artifacts, metrics, model management — over the same store and runner as Batch AI.

An AmlCompute is a runner cluster; a submitted run is a runner job on it (runs.py, execution.py). The views are
the ARM routes of arm_views.py (through the ARM front door) and the workspace services of services.py (their own
blueprint). The long-lived backends live in app.extensions["azureml"]. Nothing here reaches into another surface's
internals: Batch AI's pieces are used only through the core backends (ARM, storage), the store and the runner.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.storage import StorageBackend
from .assets import AssetBackend
from .computes import ComputeBackend
from .content import ContentBackend
from .runs import RunBackend
from .workspaces import WorkspaceBackend


@dataclass
class AzureML:
    core: object
    workspaces: WorkspaceBackend
    computes: ComputeBackend
    runs: RunBackend
    content: ContentBackend
    assets: AssetBackend
    relays: object = None        # proxy.ProxyService: the blob proxy, and the Docker gateway relay

    def on_delete(self, records) -> None:
        self.core.arm.on_delete(records)


def register(app) -> None:
    from . import arm_views  # noqa: F401  (registers the ARM routes before the router is built)
    from .services import bp
    core = app.extensions["batchai"]
    store, data_dir = core.store, core.settings.data_dir
    notify = core.scheduler.wake if core.scheduler is not None else (lambda: None)
    storage = StorageBackend(store, core.settings.accounts)
    app.extensions["azureml"] = AzureML(
        core=core, workspaces=WorkspaceBackend(store, core.arm, storage),
        computes=ComputeBackend(store, notify), runs=RunBackend(store, data_dir, core.arm.on_delete, notify),
        content=ContentBackend(store, data_dir, core.https_port), assets=AssetBackend(store, data_dir, core.signer))
    app.register_blueprint(bp)
    from .proxy import ProxyService
    app.extensions["azureml"].relays = ProxyService()
    core.background.append(app.extensions["azureml"].relays)
