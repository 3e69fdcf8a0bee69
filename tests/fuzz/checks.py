"""What the swagger fuzzer checks in every answer (`problems`).

* never a 5xx;
* every 4xx carries an ARM error body {"error": {"code", "message"}} (HEAD answers have no body);
* a 2xx conforms to the swagger: status documented, content type, response schema (schemathesis' checks);
* schema-invalid requests are refused with a 4xx, schema-valid ones are not refused by the front door's swagger
  checks (refusals by rules the swagger cannot express, such as "exactly one toolkit", are fine);
* a mutated request gets what its mutation calls for (malformed JSON a 4xx, a bad token a 401, ...).

Reports that are deliberate emulator choices or swagger mistakes are excused in `_excused`, each with its reason.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import requests
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               positive_data_acceptance, response_schema_conformance,
                                               status_code_conformance)

from emulator import spec
from tests.fuzz.generate import FuzzRequest
from tests.fuzz.seeds import AUTH

# -- checks ----------------------------------------------------------------------------------------------------------
_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
           negative_data_rejection, positive_data_acceptance]
# for mutated requests: what the answer must be whatever was sent
_ANSWER_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]

# the messages of the front door's swagger checks (emulator/validation.py, routing.py): a schema-valid request
# refused with one of these means the emulator and the swagger disagree
_SCHEMA_REFUSALS = re.compile(r"^(The value .* of (parameter|property) '.*' (is invalid|must)|The request content is "
                              r"missing the required property|The query parameter '.*' is required|The request "
                              r"content (was invalid|is required)|The api-version)", re.S)


def error_code(resp: requests.Response) -> str:
    try:
        return str(resp.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "-"


def _arm_error_problem(resp: requests.Response) -> str | None:
    """Why a 4xx answer is not an ARM error body, or None."""
    if resp.request.method == "HEAD":
        return None  # a HEAD answer has no body
    if not resp.headers.get("Content-Type", "").startswith("application/json"):
        return f"content type {resp.headers.get('Content-Type')!r} is not application/json"
    try:
        body = resp.json()
    except ValueError:
        return "body is not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "no `error` object"
    for key in ("code", "message"):
        if not isinstance(error.get(key), str) or not error[key]:
            return f"`error.{key}` is missing or not a non-empty string"
    return None


def describe(req: FuzzRequest, resp: requests.Response, why: str) -> str:
    sent = resp.request
    body = sent.body if isinstance(sent.body, (bytes, type(None))) else sent.body.encode("utf-8", "replace")
    return (f"  mode={req.mode.value} mutation={req.mutation}\n  {sent.method} {sent.url[:600]}\n"
            f"  Authorization: {str(sent.headers.get('Authorization'))[:100]!r}"
            f"  Content-Type: {sent.headers.get('Content-Type')!r}\n"
            f"  body: {(body or b'')[:600]!r}\n  -> {resp.status_code} {resp.text[:600]}\n  {why[:1500]}")


def operation_id(req: FuzzRequest) -> str:
    return req.case.operation.definition.raw.get("operationId", req.case.operation.label)


def _check_name(failure: BaseException) -> str:
    names = {"UndefinedStatusCode": "status_code_conformance", "UndefinedContentType": "content_type_conformance",
             "MalformedMediaType": "content_type_conformance", "MissingContentType": "content_type_missing",
             "JsonSchemaError": "response_schema_conformance",
             "MalformedJson": "response_schema_conformance", "AcceptedNegativeData": "negative_data_rejection",
             "RejectedPositiveData": "positive_data_acceptance", "ServerError": "not_a_server_error"}
    return names.get(type(failure).__name__, type(failure).__name__)


def _expected_for_mutation(version: str, req: FuzzRequest, resp: requests.Response) -> str | None:
    """What a mutated request must get, when the mutation decides it; None when the answer is acceptable."""
    status = resp.status_code
    if req.mutation == "bad-json" and req.case.operation.method.upper() in ("PUT", "PATCH", "POST"):
        if not 400 <= status < 500 and not _valid_json(req.detail):
            return "malformed JSON must be refused with a 4xx"
    if req.mutation == "auth" and status not in (401, 404):
        return "a request without a valid bearer token must be refused with 401 (or 404 for a path with no route)"
    if req.mutation == "method" and not 400 <= status < 500:
        return f"{req.detail} on a path that has no such operation must be refused with a 4xx"
    if req.mutation == "api-version" and status < 400:
        # a repeated api-version is read as its first value; a value no swagger has this operation in is refused
        if isinstance(req.detail, str) and req.detail.lower() not in _versions_of(req.case.operation):
            return "an api-version the operation does not have must be refused"
    return None


def _versions_of(operation: Any) -> set[str]:
    """The api-versions (lower case) whose swagger has `operation`'s method and path."""
    method, path = operation.method.lower(), operation.path.lower()
    return {version.lower() for version in spec.API_VERSIONS
            if any(p.lower() == path and method in ops for p, ops in spec.load(version)["paths"].items())}


def _valid_json(raw: bytes) -> bool:
    if not raw.strip():
        return True  # no body (the SDKs send empty PUTs with a JSON content type)
    try:
        json.loads(raw)
        return True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False


def _only_regex_dialect(case: Any) -> bool:
    """Is `case` schema-invalid only by path or query values that fit their patterns in Python's (Unicode) reading
    but not in ECMA's (ASCII)?"""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", None) or ()
    parameters = {(p.location.value, p.name): p.definition for p in [*case.operation.path_parameters,
                                                                     *case.operation.query]}
    dialect = False
    for mutation in mutations:
        location = mutation.parameter_location.value if mutation.parameter_location else None
        definition = parameters.get((location, mutation.parameter))
        if set(mutation.keywords) - {"pattern", "x-ms-parameter-location"} or not definition \
                or "pattern" not in definition:
            return False
        value = (case.path_parameters if location == "path" else case.query or {}).get(mutation.parameter)
        if not isinstance(value, str):
            return False
        value = unquote(value) if location == "path" else value  # schemathesis keeps path values URL-encoded
        if not re.search(definition["pattern"], value):
            return False
        dialect = dialect or not re.search(definition["pattern"], value, re.ASCII)
    return dialect


def _excused(version: str, req: FuzzRequest, resp: requests.Response, check: str, failure: BaseException) -> bool:
    """Reports of the generic checks that are deliberate emulator choices or swagger mistakes, each with why."""
    status = resp.status_code
    if check in ("response_schema_conformance", "content_type_missing") and resp.request.method == "HEAD":
        # a HEAD answer has no body (RFC 9110 9.3.2), so none to hold the CloudError or a media type
        return True
    if check == "response_schema_conformance" and list(getattr(failure, "instance_path", []))[-1:] == ["toolType"] \
            and getattr(failure, "instance", None) == "pytorch":
        # the swagger's ToolType enum has no value for pyTorchSettings jobs (its description lists "pytorch"); the
        # enum is modelAsString, so the SDKs take any string: a documented choice, see emulator/models.py ToolType
        return True
    responses = req.case.operation.definition.raw["responses"]
    if check == "status_code_conformance" and 400 <= status < 500 and "default" not in responses:
        # Operations_List and Usages_List declare only 200 (a swagger omission): ARM answers a bad api-version or
        # location on them with its error body like everywhere else (the body is checked on its own)
        return True
    if check == "content_type_missing" and not resp.content:
        # an empty answer (DELETE, terminate) has no media type; swagger 2's `produces` names the type of bodies
        return True
    if check == "negative_data_rejection" and _only_regex_dialect(req.case):
        # Azure's swagger patterns are .NET regexes, where \w is any Unicode letter or digit (so are Python's, which
        # the emulator and the autorest Python SDKs use): `è` fits `^[-\w\._]+$`. schemathesis reads them as ECMA
        # regexes (\w = [A-Za-z0-9_]) and so counts such names as invalid.
        return True
    if check == "positive_data_acceptance" and status == 400:
        # Rules the swagger cannot express (exactly one toolkit, scale-setting bounds, a job's cluster must exist,
        # output directory ids...) refuse schema-valid bodies with their own codes; only a refusal by the front
        # door's swagger checks means the emulator and the swagger disagree.
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            return False
        return not _SCHEMA_REFUSALS.match(message)
    return False


def problems(version: str, req: FuzzRequest, resp: requests.Response) -> list[tuple[str, str]]:
    """(check, why) for each check the answer to `req` fails."""
    found: list[tuple[str, str]] = []
    if resp.status_code >= 500:
        found.append(("server_error", "a 5xx answer"))
    if 400 <= resp.status_code < 500:
        problem = _arm_error_problem(resp)
        if problem:
            found.append(("arm_error_body", problem))
    if req.mutation != "none":
        expected = _expected_for_mutation(version, req, resp)
        if expected:
            found.append((f"mutation_{req.mutation}", expected))
    try:
        req.case.validate_response(resp, checks=_CHECKS if req.mutation == "none" else _ANSWER_CHECKS,
                                   headers=dict(AUTH))
    except FailureGroup as group:
        failures = list(group.exceptions)
    except AssertionError as failure:
        failures = [failure]
    else:
        failures = []
    for failure in failures:
        name = _check_name(failure)
        if name != "not_a_server_error" and not _excused(version, req, resp, name, failure):  # 5xx: see above
            found.append((name, str(failure)))
    return found


def follow_problems(req: FuzzRequest, resp: requests.Response) -> list[tuple[str, str]]:
    """(check, why) for the answer to a nextLink of `req`'s answer: a 200 page of the same operation."""
    if resp.status_code != 200:
        return [("status", f"a nextLink must answer 200, not {resp.status_code}")]
    try:
        req.case.validate_response(resp, checks=_ANSWER_CHECKS, headers=dict(AUTH))
    except FailureGroup as group:
        return [(_check_name(failure), str(failure)) for failure in group.exceptions]
    except AssertionError as failure:
        return [(_check_name(failure), str(failure))]
    return []
