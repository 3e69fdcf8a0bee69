"""Serving: one WSGI app on an HTTP and an HTTPS port (cheroot, threaded), plus the scheduler thread."""
from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from cheroot.ssl.builtin import BuiltinSSLAdapter

from . import create_app
from .certs import ensure_certificate
from .serving import Listener
from .settings import Settings

log = logging.getLogger("batchai_emulator")


LOW_SPACE = 64 << 20
DEFAULT_BLOB_PORT = 10000         # Azurite's


class DataDirError(RuntimeError):
    """The data dir cannot hold the emulator's state: the message says which directory and why."""


def check_data_dir(path: Path) -> str | None:
    """Refuse a data dir the emulator cannot write (read-only, not a directory, not permitted) before anything
    is opened there; a warning (or None) if its disk is almost full."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
        free = shutil.disk_usage(path).free
    except OSError as exc:
        raise DataDirError(f"cannot use the data dir {path}: {exc.strerror or exc} "
                           f"({exc.filename or path}). Give --data-dir (or BATCHAI_EMULATOR_DATA_DIR) a directory "
                           "this user can write.") from None
    if free < LOW_SPACE:
        return (f"the disk holding the data dir {path} has {free >> 20} MiB free: uploads and new resources will "
                "be refused (HTTP 413/507) once it is full")
    return None


class EmulatorServer:
    """The app on both ports. start() returns once both sockets listen; stop() shuts everything down."""

    def __init__(self, settings: Settings, app=None, threads: int = 16):
        self.settings = settings
        self.space_warning = check_data_dir(settings.data_dir)
        self.app = app or create_app(settings)
        self.ext = self.app.extensions["batchai"]
        self.cert, self.key, self.cert_created = ensure_certificate(settings.data_dir, [settings.host])
        self._servers: list[Listener] = []
        self._threads: list[threading.Thread] = []
        self.threads = threads
        self.http_port: int | None = None
        self.https_port: int | None = None
        self.blob_port: int | None = None

    def _make(self, port: int, tls: bool, app=None) -> Listener:
        server = Listener((self.settings.host, port), app or self.app, threads=self.threads)
        if tls:
            server.ssl_adapter = BuiltinSSLAdapter(str(self.cert), str(self.key))
        server.prepare()
        return server

    def start(self) -> "EmulatorServer":
        http = self._make(self.settings.port, tls=False)
        https = self._make(self.settings.https_port, tls=True)
        blob = self._make_blob()
        self.http_port = http.bind_addr[1]
        self.https_port = https.bind_addr[1]
        self.blob_port = blob.bind_addr[1]
        self.ext.bound_https_port = self.https_port
        self.ext.bound_blob_port = self.blob_port
        self.ext.bound_http_port = self.http_port
        # before the ports answer: a client that sees the emulator healthy finds its helpers up (the Azure ML
        # proxy's port is in <data-dir>/azureml/endpoints.json by then)
        for helper in self.ext.background:
            helper.start(self.ext)
        for server in (http, https, blob):
            server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=server.serve, name=f"cheroot-{server.bind_addr[1]}", daemon=True)
            t.start()
            self._servers.append(server)
            self._threads.append(t)
        self.ext.scheduler.start()
        return self

    def _make_blob(self) -> Listener:
        """The Blob port: the configured one, or 10000 (a free port when that is taken) by default."""
        from .blob import blob_port_app
        app = blob_port_app(self.app)
        if self.settings.blob_port >= 0:
            return self._make(self.settings.blob_port, tls=False, app=app)
        try:
            return self._make(DEFAULT_BLOB_PORT, tls=False, app=app)
        except OSError:
            return self._make(0, tls=False, app=app)

    @property
    def blob_url(self) -> str:
        return f"http://{_url_host(self.settings.host)}:{self.blob_port}"

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.settings.host)}:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://{_url_host(self.settings.host)}:{self.https_port}"

    def stop(self) -> None:
        for helper in self.ext.background:
            helper.stop()
        self.ext.scheduler.stop()
        for server in self._servers:
            server.stop()
        for t in self._threads:
            t.join(timeout=5)
        self.ext.store.close()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
