"""Local emulator of Azure Batch AI: ARM + Batch AI REST + Azure Files, with jobs that really run.

create_app(settings) builds the Flask app; long-lived objects (store, backends, router, scheduler) live in
app.extensions["batchai"].
"""
from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from .errors import EmulatorError, StorageError, store_full
from .settings import Settings
from .store import StoreFull
from .version import __version__

log = logging.getLogger("batchai_emulator")


@dataclass
class Extension:
    settings: Settings
    store: object
    router: object
    signer: object
    arm: object
    batchai: object
    scheduler: object = None
    storage: object = None      # backend.storage.StorageBackend (ARM storage accounts)
    # called with (method, path, status) after every response; tests watch for 5xx through it
    observers: list[Callable] = field(default_factory=list)
    bound_https_port: int | None = None
    bound_blob_port: int | None = None
    bound_http_port: int | None = None
    # long-lived helpers a surface starts with the server and stops with it (start(ext), stop())
    background: list = field(default_factory=list)

    def https_port(self) -> int:
        return self.bound_https_port or self.settings.https_port


def create_app(settings: Settings | None = None) -> Flask:
    from . import limits
    from .permissions import secure_data_dir
    from .api import register
    from .api.dispatch import build_router
    from .backend import ArmBackend, BatchAIBackend
    from .backend.storage import StorageBackend
    from .runner.scheduler import Scheduler
    from .store.sqlite import SqliteStore
    from .tokens import Signer

    settings = settings or Settings.from_env()
    from . import vmsizes
    vmsizes.add(settings.vm_sizes)          # --vm-size: sizes beyond the table
    secure_data_dir(settings.data_dir)
    app = Flask("emulator")
    app.url_map.strict_slashes = False
    store = SqliteStore(settings.data_dir / "emulator.db")
    from .runner.choice import choose
    scheduler = Scheduler(store, settings, executor=choose(settings, settings.data_dir))
    arm = ArmBackend(store, on_delete=scheduler.on_delete)
    ext = Extension(settings=settings, store=store, router=None, signer=Signer(settings.data_dir), arm=arm,
                    batchai=BatchAIBackend(store, arm, settings.data_dir, notify=scheduler.wake,
                                           check_job=getattr(scheduler.executor, "check_job", None)),
                    scheduler=scheduler)
    app.extensions["batchai"] = ext
    register(app)
    ext.storage = StorageBackend(store, settings.accounts, on_delete=_forget_account)
    from . import ui
    app.register_blueprint(ui.bp)
    ext.router = build_router()
    _install_error_handlers(app)
    limits.install(app)
    from . import console
    console.install(app)
    return app


def _forget_account(name: str) -> None:
    """A storage account was deleted through ARM (in a request): its shares and containers go with it. Found
    through the request's app, not a closure over it: app -> ext -> backend -> app would keep the app (and the
    planes' SQLite connections) alive after stop."""
    from . import blob, files
    files.plane(current_app).forget_account(name)
    blob.plane(current_app).forget_account(name)


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(EmulatorError)
    def _arm_error(exc: EmulatorError):
        resp = Response(exc.to_json(), status=exc.status, mimetype="application/json")
        resp.headers["x-ms-failure-cause"] = "gateway" if exc.status in (404, 405) else "service"
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer authorization_uri="https://login.microsoftonline.com/"'
        return resp

    @app.errorhandler(StoreFull)
    def _store_full(exc: StoreFull):
        return _arm_error(store_full(exc.path))

    @app.errorhandler(StorageError)
    def _storage_error(exc: StorageError):
        request_id = str(uuid.uuid4())
        resp = Response(exc.xml(request_id), status=exc.status, mimetype="application/xml")
        resp.headers["x-ms-error-code"] = exc.code
        resp.headers["x-ms-request-id"] = request_id
        for name, value in getattr(exc, "headers", {}).items():
            resp.headers[name] = value
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        err = EmulatorError(exc.code or 500, exc.name.replace(" ", ""), exc.description or exc.name)
        return _arm_error(err)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled error on %s %s\n%s", request.method, request.path, traceback.format_exc())
        err = EmulatorError(500, "InternalServerError", "The emulator hit an internal error; see its log.")
        return _arm_error(err)

    @app.after_request
    def _observe(resp: Response):
        ext = app.extensions["batchai"]
        for observer in ext.observers:
            observer(request.method, request.full_path, resp.status_code)
        request_id = request.headers.get("x-ms-client-request-id")
        if request_id and "x-ms-client-request-id" not in resp.headers:
            resp.headers["x-ms-client-request-id"] = request_id
        resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        return resp


__all__ = ["create_app", "Settings", "json", "__version__"]
