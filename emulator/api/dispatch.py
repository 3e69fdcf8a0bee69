"""The ARM front door: one view for every path under /subscriptions and /providers.

It matches the route table (case-insensitively), checks the bearer token, picks the operation by api-version,
validates path, query and body from the swagger, then calls the handler registered for that operationId.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, json, request

from .. import limits, spec, validation
from ..errors import EmulatorError
from ..routing import Router, SpecOperation
from ..urls import public_base

bp = Blueprint("arm", __name__)

_HANDLERS: dict[tuple[str, str | None], Callable] = {}
_TOKEN = re.compile(r"^Bearer\s+[A-Za-z0-9\-._~+/]+=*$")


def operation(operation_id: str, *api_versions: str):
    """Register a handler for an operationId (for the given api-versions, or for any)."""
    def deco(fn):
        for v in api_versions or (None,):
            _HANDLERS[(operation_id, v)] = fn
        return fn
    return deco


def arm_route(method: str, template: str, operation_id: str, free_versions=None):
    """Register a hand-written ARM route (not in the Batch AI swagger) and its handler."""
    def deco(fn):
        _EXTRA.append((method, template, operation_id, free_versions))
        _HANDLERS[(operation_id, None)] = fn
        return fn
    return deco


_EXTRA: list[tuple] = []


def build_router() -> Router:
    router = Router()
    for version in spec.API_VERSIONS:
        router.add_swagger(version)
    for method, template, op_id, free in _EXTRA:
        router.add(method, template, op_id, free)
    return router


@dataclass
class Call:
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    api_version: str | None
    op: SpecOperation | None

    @property
    def ext(self):
        return current_app.extensions["batchai"]

    def __getitem__(self, name: str) -> str:
        return self.params[name]


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def no_content(status: int = 204) -> Response:
    """An answer without a body, and so without a media type (Flask would label it text/html)."""
    resp = Response(b"", status=status)
    del resp.headers["Content-Type"]
    return resp


def deleted(existed: bool) -> Response:
    """DELETE answers synchronously: 200 when something was removed, 204 when there was nothing to remove."""
    return no_content(200 if existed else 204)


def next_link(token: str | None) -> str | None:
    """Absolute URL of the next page: this request's URL with $skiptoken replaced."""
    if not token:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != "$skiptoken"]
    args.append(("$skiptoken", token))
    return public_base() + request.path + "?" + urlencode(args)


def skip_token() -> str | None:
    for k, v in request.args.items():
        if k.lower() == "$skiptoken":
            return v
    return None


def base_url() -> str:
    """The emulator's public base URL for this request's scheme (never a forged Host header: see urls.py)."""
    return public_base()


def _check_auth() -> None:
    header = request.headers.get("Authorization")
    if not header:
        raise EmulatorError(401, "AuthenticationFailed",
                            "Authentication failed. The 'Authorization' header is missing.")
    if not _TOKEN.match(header):
        raise EmulatorError(401, "InvalidAuthenticationToken",
                            "The access token is invalid: expected 'Authorization: Bearer <token>'.")
    ext = current_app.extensions["batchai"]
    if ext.settings.strict_auth and ext.signer.verify_jwt(header.split(None, 1)[1]) is None:
        raise EmulatorError(401, "InvalidAuthenticationToken",
                            "The access token is not one this emulator's AAD endpoint issued, or it has expired "
                            "(--strict-auth).")


@bp.route("/subscriptions", methods=["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"])
@bp.route("/subscriptions/<path:_rest>", methods=["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"])
@bp.route("/providers/<path:_rest>", methods=["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"])
def arm_dispatch(_rest: str = "") -> Response:
    router: Router = current_app.extensions["batchai"].router
    path = request.path
    method = request.method
    try:
        route, params = router.match(method, path)
    except EmulatorError as exc:
        # azure-core fetches nextLinks of POST lists (listOutputFiles) with GET: serve them as the POST.
        if exc.status == 405 and method == "GET" and skip_token() is not None:
            route, params = router.match("POST", path)
            method = "POST"
        else:
            raise
    _check_auth()
    api_version = request.args.get("api-version")
    op = route.select(api_version)
    query: dict[str, Any] = {}
    body = validation.parse_json(request.get_data(cache=True)) if method in ("PUT", "PATCH", "POST") else None
    limits.check_tags(body, path)
    if op is not None:
        validation.check_path(op, params)
        query = validation.check_query(op, request.args)
        body = validation.check_body(op, body)
    # the api-version's own operationId: one path can carry different ids per version (Usage_List, Usages_List)
    op_id = op.operation_id if op is not None else route.operation_id
    handler = _HANDLERS.get((op_id, api_version)) or _HANDLERS.get((op_id, None))
    if handler is None:
        raise EmulatorError(400, "NotSupportedByEmulator",
                            f"The operation {op_id} with api-version {api_version} is not supported "
                            "by the Batch AI emulator yet.")
    return handler(Call(params, query, body, api_version, op))
