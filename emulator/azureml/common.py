"""Helpers shared by this package's views: base URLs, the extension object, bearer checks, JSON answers."""
from __future__ import annotations

import re

from flask import Response, current_app, json, request

from ..urls import public_base
from ..errors import EmulatorError

_BEARER = re.compile(r"^Bearer\s+[A-Za-z0-9\-._~+/]+=*$")


def aml():
    """The Azure ML extension of this app (see azureml/__init__.py)."""
    return current_app.extensions["azureml"]


def core():
    return current_app.extensions["batchai"]


def https_base() -> str:
    """The emulator's HTTPS base URL as this request reached it: the SDK refuses bearer tokens over http, so every
    URL it is handed (discovery, services, downloads) is on the TLS port whatever port the question came in on."""
    return public_base("https")


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def check_bearer() -> None:
    """Any well-formed bearer token is accepted (with --strict-auth: only the emulator's own), as on ARM."""
    header = request.headers.get("Authorization")
    if not header:
        raise EmulatorError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                            "missing.")
    if not _BEARER.match(header):
        raise EmulatorError(401, "InvalidAuthenticationToken", "The access token is invalid: expected "
                            "'Authorization: Bearer <token>'.")
    ext = core()
    if ext.settings.strict_auth and ext.signer.verify_jwt(header.split(None, 1)[1]) is None:
        raise EmulatorError(401, "InvalidAuthenticationToken", "The access token is not one this emulator issued, or "
                            "it has expired (--strict-auth).")


def body_json() -> dict:
    data = request.get_data(cache=True)
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError:
        raise EmulatorError(400, "InvalidRequestContent", "The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise EmulatorError(400, "InvalidRequestContent", "The request body must be a JSON object.")
    return value
