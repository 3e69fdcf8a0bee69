"""What the emulator prints while it serves: one access-log line per request and one line per lifecycle event.

Access lines (logger `batchai_emulator.access`): method, path, status, milliseconds. Never a secret: SAS
parameters (sig, se, skoid, ...) and anything named like a token, key, secret or password lose their values, and
the token segment of the emulator's own signed download links (/_emulator/files/<token>/...) is replaced.
Lifecycle events (logger `batchai_emulator.events`): cluster resizing -> steady, job queued -> running ->
succeeded/failed with the reason, mount failures, node process/container start and exit.

`setup_logging(verbose, fmt)` configures the `batchai-emulator serve` console: text or JSON lines; -v turns on the
emulator's own DEBUG lines while the docker SDK's urllib3 stays at WARNING.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from urllib.parse import parse_qsl, quote

from flask import Flask, g, request

access_log = logging.getLogger("batchai_emulator.access")
events = logging.getLogger("batchai_emulator.events")

# query parameters whose values are credentials: Azure SAS (account, service and user-delegation) and OAuth
SECRET_PARAMS = {"sig", "se", "st", "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid", "sduoid",
                 "code", "client_secret", "assertion", "client_assertion", "refresh_token", "access_token",
                 "id_token", "password", "sv"}
_SECRET_WORDS = re.compile(r"token|secret|key|password|signature|credential|auth", re.I)
_SIGNED_LINK = re.compile(r"^(/_emulator/files/)[^/]+", re.I)
REDACTED = "REDACTED"
NOISY = ("urllib3", "docker", "requests", "charset_normalizer", "azure")


def scrub(path: str, query: str = "") -> str:
    """The request path and query as logged: credentials replaced by REDACTED."""
    path = _SIGNED_LINK.sub(r"\1" + REDACTED, path)
    if not query:
        return path
    parts = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        secret = name.lower() in SECRET_PARAMS or _SECRET_WORDS.search(name)
        parts.append(f"{quote(name, safe='-_.')}={REDACTED if secret and value else quote(value, safe='-_.:/')}")
    return path + "?" + "&".join(parts)


def install(app: Flask) -> None:
    """Time every request and write its access line once the response is made."""
    @app.before_request
    def _start():
        g.console_start = time.perf_counter()

    @app.after_request
    def _access(resp):
        start = g.get("console_start")
        ms = (time.perf_counter() - start) * 1000 if start is not None else 0.0
        path = scrub(request.path, request.query_string.decode("latin-1"))
        access_log.info("%s %s %s %.1fms", request.method, path, resp.status_code, ms,
                        extra={"method": request.method, "path": path, "status": resp.status_code,
                               "ms": round(ms, 1)})
        return resp


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the access fields when there are any."""
    FIELDS = ("method", "path", "status", "ms", "event", "job", "cluster", "state")

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
               + f".{int(record.msecs):03d}Z", "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        for name in self.FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(verbose: bool = False, fmt: str = "text", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("batchai_emulator").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in NOISY:       # the docker SDK's urllib3 logs every request at DEBUG: never wanted here
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("cheroot").setLevel(logging.WARNING)
