"""Request checks built from the swagger, run once before any view: path-parameter patterns and lengths, query
parameter types and bounds, and request bodies (JSON Schema from the swagger definitions).

Deliberate choices, each as the ARM front door behaves: enum values compare case-insensitively (the SDKs send
`dedicated`, docs write `Dedicated`); properties the swagger does not know, and read-only properties, are
dropped rather than rejected (the service ignored unknown members; the official examples send some). A model
that lists members without `type: object` (most of the swagger's) is an object, as autorest and ARM read it:
JSON Schema alone would let `true` or `[1]` stand for it. A create's flattened `properties` is required when
its model has required members (see `_definitions`).
"""
from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from .errors import EmulatorError
from .routing import SpecOperation


def _ci_enum(validator, enums, instance, schema):
    if isinstance(instance, str):
        if instance.lower() not in {str(e).lower() for e in enums}:
            yield ValidationError(f"{instance!r} is not one of {enums}")
    elif instance not in enums:
        yield ValidationError(f"{instance!r} is not one of {enums}")


def _object_properties(validator, properties, instance, schema):
    if "type" not in schema and not validator.is_type(instance, "object"):
        yield ValidationError(f"{instance!r} is not of type 'object'", validator="type", validator_value="object")
        return
    yield from Draft4Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_Validator = validators.extend(Draft4Validator, {"enum": _ci_enum, "properties": _object_properties})

# the service's integers are .NET Int32/Int64: a value beyond the format's range cannot be read by it
_FORMATS = FormatChecker(formats=())
_BITS = {"int32": 32, "int64": 64}
for _format, _bits in _BITS.items():
    _FORMATS.checks(_format)(lambda value, bits=_bits: not isinstance(value, (int, float)) or isinstance(value, bool)
                            or -2 ** (bits - 1) <= value < 2 ** (bits - 1))


def _python_pattern(pattern: str) -> str:
    return pattern  # swagger uses ECMA regexes; every pattern in the three files is valid Python `re` too


def check_path(op: SpecOperation, params: dict[str, str]) -> None:
    for p in op.param("path"):
        name = p["name"]
        value = params.get(name)
        if value is None:
            continue
        if value in (".", ".."):  # the old versions' name pattern admits them; they would name directories
            raise EmulatorError(400, "InvalidResourceName", f"'{value}' is not a valid {name}.", name)
        _check_scalar(p, value, name, path=True)


def check_query(op: SpecOperation, args) -> dict[str, Any]:
    """Query parameters of `op`, typed and defaulted; api-version is checked by the router."""
    out: dict[str, Any] = {}
    for p in op.param("query"):
        name = p["name"]
        if name == "api-version":
            continue
        raw = args.get(name)
        if raw is None:
            if p.get("required"):
                raise EmulatorError(400, "MissingRequiredParameter",
                                    f"The query parameter '{name}' is required.", target=name)
            if "default" in p:
                out[name] = p["default"]
            continue
        out[name] = _check_scalar(p, raw, name, path=False)
    return out


def _check_scalar(p: dict, raw: str, name: str, path: bool):
    code = "InvalidResourceName" if path and name.lower().endswith("name") else "InvalidParameter"
    value: Any = raw
    if p.get("type") == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise EmulatorError(400, code, f"The value '{raw}' of parameter '{name}' is not an integer.", name)
        value = int(raw)
        if "minimum" in p and value < p["minimum"]:
            raise EmulatorError(400, code, f"The value of parameter '{name}' must be at least {p['minimum']}.",
                                name)
        if "maximum" in p and value > p["maximum"]:
            raise EmulatorError(400, code, f"The value of parameter '{name}' must be at most {p['maximum']}.",
                                name)
        return value
    if "minLength" in p and len(raw) < p["minLength"] or "maxLength" in p and len(raw) > p["maxLength"]:
        raise EmulatorError(400, code, f"The value '{raw}' of parameter '{name}' must be from "
                            f"{p.get('minLength', 0)} through {p.get('maxLength')} characters long.", name)
    if "pattern" in p and not re.search(_python_pattern(p["pattern"]), raw):
        raise EmulatorError(400, code, f"The value '{raw}' of parameter '{name}' is invalid: it must match "
                            f"the pattern '{p['pattern']}'.", name)
    return value


def body_parameter(op: SpecOperation) -> dict | None:
    found = op.param("body")
    return found[0] if found else None


def parse_json(raw: bytes) -> Any:
    """The request body as JSON; an empty body is None (SDKs send empty PUTs with a JSON content type)."""
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EmulatorError(400, "InvalidRequestContent",
                            f"The request content was invalid and could not be deserialized: {exc}.") from None
    except RecursionError:
        raise EmulatorError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                            "deserialized: it is nested too deeply.") from None


def check_body(op: SpecOperation, body: Any) -> Any:
    """Validate `body` against the operation's body schema; return it without read-only or unknown members."""
    p = body_parameter(op)
    if p is None:
        return body
    if body is None:
        if p.get("required"):
            raise EmulatorError(400, "InvalidRequestContent", "The request content is required but was empty.")
        return None
    schema = p["schema"]
    errors = sorted(_validator(op.api_version, json.dumps(schema, sort_keys=True)).iter_errors(body),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise _to_error(errors[0])
    return prune(schema, body, op.definitions)


@functools.lru_cache(maxsize=None)
def _validator(api_version: str, schema_json: str):
    schema = dict(json.loads(schema_json))
    schema["definitions"] = _definitions(api_version)
    return _Validator(schema, format_checker=_FORMATS)


@functools.lru_cache(maxsize=None)
def _definitions(api_version: str) -> dict:
    """The swagger's definitions, with flattened members required where autorest requires them: a member marked
    `x-ms-client-flatten` whose model has required members (a create's `properties`: vmSize, cluster...) is
    required, because the SDKs ask for those members on the parent and so always send it."""
    from . import spec
    definitions = copy.deepcopy(spec.load(api_version)["definitions"])
    for model in definitions.values():
        for name, member in (model.get("properties") or {}).items():
            target = definitions.get(member.get("$ref", "").split("/")[-1], {})
            if member.get("x-ms-client-flatten") and target.get("required") and name not in model.get("required", []):
                model["required"] = [*model.get("required", []), name]
    return definitions


def _to_error(e: ValidationError) -> EmulatorError:
    path = ".".join(str(x) for x in e.absolute_path)
    if e.validator == "required":
        missing = re.match(r"'([^']+)'", e.message)
        name = missing.group(1) if missing else "?"
        target = f"{path}.{name}" if path else name
        return EmulatorError(400, "MissingRequiredProperty",
                             f"The request content is missing the required property '{target}'.", target=target)
    what = {"type": f"must be of type {e.validator_value}",
            "enum": f"must be one of {', '.join(map(str, e.validator_value))}",
            "pattern": f"must match the pattern '{e.validator_value}'",
            "minimum": f"must be at least {e.validator_value}",
            "maximum": f"must be at most {e.validator_value}",
            "minLength": f"must be at least {e.validator_value} characters long",
            "maxLength": f"must be at most {e.validator_value} characters long",
            "minItems": f"must have at least {e.validator_value} items"}.get(e.validator, e.message)
    if e.validator == "format" and e.validator_value in _BITS:
        what = f"must be a {_BITS[e.validator_value]}-bit integer"
    return EmulatorError(400, "InvalidPropertyValue",
                         f"The value {json.dumps(e.instance)[:200]} of property '{path or '(body)'}' is invalid: "
                         f"it {what}.", target=path or None)


def _deref(schema: dict, definitions: dict) -> dict:
    seen = 0
    while "$ref" in schema and seen < 32:
        schema = definitions[schema["$ref"].split("/")[-1]]
        seen += 1
    return schema


def _properties(schema: dict, definitions: dict) -> dict[str, dict]:
    schema = _deref(schema, definitions)
    props = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        props.update(_properties(part, definitions))
    return props


def prune(schema: dict, value: Any, definitions: dict) -> Any:
    """Drop read-only and unknown members and fill the swagger's declared defaults, following $ref, allOf,
    properties and items (the service echoed defaults such as vmPriority `dedicated` back)."""
    schema = _deref(schema, definitions)
    if isinstance(value, dict):
        if "additionalProperties" in schema and not schema.get("properties"):
            return value  # a map such as `tags`: keys are user data
        props = _properties(schema, definitions)
        out = {k: prune(props[k], v, definitions) for k, v in value.items()
               if k in props and not _deref(props[k], definitions).get("readOnly") and not props[k].get("readOnly")}
        for k, p in props.items():
            if k not in out and "default" in p and not p.get("readOnly"):
                out[k] = p["default"]
        return out
    if isinstance(value, list) and "items" in schema:
        return [prune(schema["items"], v, definitions) for v in value]
    return value
