"""The ARM route table: every Batch AI operation of the three swagger files plus the ARM pieces the flows touch.

Routes match case-insensitively on literal segments (SDKs send both `resourceGroups` and `resourcegroups`) and
capture parameter segments verbatim. One Route holds, per api-version, the swagger operation that version
defines at that path, so the api-version picks the operation and its validation rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from . import spec
from .errors import EmulatorError

# ARM accepts any published date-shaped version for its own resource types (resource groups, providers...).
ARM_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$")


@dataclass
class SpecOperation:
    api_version: str
    operation_id: str
    method: str
    template: str
    parameters: list[dict]      # resolved parameter objects
    definitions: dict           # the swagger's definitions, for body schemas

    def param(self, location: str):
        return [p for p in self.parameters if p.get("in") == location]


@dataclass
class Route:
    method: str
    template: str
    operation_id: str
    regex: re.Pattern
    names: list[str]
    # api-version -> swagger operation; empty for hand-written ARM routes
    versions: dict[str, SpecOperation] = field(default_factory=dict)
    # accepted versions for hand-written routes: None = any date-shaped version, () = no api-version needed
    free_versions: tuple[str, ...] | None = None

    def select(self, api_version: str | None) -> SpecOperation | None:
        if not self.versions:
            if self.free_versions == ():
                return None
            if not api_version:
                raise missing_api_version()
            if self.free_versions is None and ARM_API_VERSION.match(api_version):
                return None
            if self.free_versions and api_version in self.free_versions:
                return None
            raise invalid_api_version(api_version, self.free_versions or ("a date-shaped version",))
        if not api_version:
            raise missing_api_version()
        if api_version in self.versions:
            return self.versions[api_version]
        if api_version.lower() in {v.lower() for v in self.versions}:
            return next(op for v, op in self.versions.items() if v.lower() == api_version.lower())
        raise invalid_api_version(api_version, tuple(self.versions), _resource_type(self.template))


def missing_api_version() -> EmulatorError:
    return EmulatorError(400, "MissingApiVersionParameter",
                         "The api-version query parameter (?api-version=) is required for all requests.")


def invalid_api_version(value: str, supported: tuple[str, ...], resource_type: str | None = None) -> EmulatorError:
    what = f" for the resource type '{resource_type}'" if resource_type else ""
    return EmulatorError(400, "InvalidApiVersionParameter",
                         f"The api-version '{value}' is invalid{what}. "
                         f"The supported versions are '{','.join(supported)}'.", target="api-version")


def _resource_type(template: str) -> str | None:
    m = re.search(r"/providers/([^/]+)/(.+)$", template)
    if not m:
        return None
    parts = [p for p in m.group(2).split("/") if not p.startswith("{")]
    return m.group(1) + "/" + "/".join(parts)


def _compile(template: str) -> tuple[re.Pattern, list[str]]:
    names: list[str] = []
    out = []
    for seg in template.strip("/").split("/"):
        m = re.fullmatch(r"\{([^}]+)\}", seg)
        if m:
            names.append(m.group(1))
            out.append(f"(?P<p{len(names) - 1}>[^/]+)")
        else:
            out.append(re.escape(seg))
    return re.compile("^/" + "/".join(out) + "/?$", re.IGNORECASE), names


def _resolve(spec_doc: dict, obj: dict) -> dict:
    ref = obj.get("$ref")
    if ref and ref.startswith("#/parameters/"):
        return spec_doc["parameters"][ref.split("/")[-1]]
    return obj


class Router:
    def __init__(self):
        self._routes: dict[tuple[str, str], Route] = {}
        self._ordered: dict[int, list[Route]] | None = None  # by segment count

    def add(self, method: str, template: str, operation_id: str,
            free_versions: tuple[str, ...] | None = None) -> Route:
        key = (method.upper(), template.lower())
        self._ordered = None
        if key not in self._routes:
            regex, names = _compile(template)
            self._routes[key] = Route(method.upper(), template, operation_id, regex, names,
                                      free_versions=free_versions)
        return self._routes[key]

    def add_swagger(self, api_version: str) -> None:
        doc = spec.load(api_version)
        for template, ops in doc["paths"].items():
            shared = [_resolve(doc, p) for p in ops.get("parameters", [])]
            for method, op in ops.items():
                if method == "parameters":
                    continue
                route = self.add(method, template, op["operationId"])
                route.versions[api_version] = SpecOperation(
                    api_version=api_version, operation_id=op["operationId"], method=method.upper(),
                    template=template, parameters=shared + [_resolve(doc, p) for p in op.get("parameters", [])],
                    definitions=doc["definitions"])

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for `method path`, with its path parameters, or a 404/405 EmulatorError."""
        allowed = []
        # literal-rich templates first, so `/providers/Microsoft.BatchAI/...` wins over `/providers/{namespace}/...`
        if self._ordered is None:
            self._ordered = {}
            for r in sorted(self._routes.values(), key=lambda r: len(r.names)):
                self._ordered.setdefault(r.template.strip("/").count("/") + 1, []).append(r)
        for route in self._ordered.get(path.strip("/").count("/") + 1, []):
            m = route.regex.match(path)
            if not m:
                continue
            if route.method != method.upper():
                allowed.append(route.method)
                continue
            params = {name: m.group(f"p{i}") for i, name in enumerate(route.names)}
            return route, params
        if allowed:
            raise EmulatorError(405, "MethodNotAllowed",
                                f"The requested resource does not support http method '{method}'. "
                                f"Allowed: {', '.join(sorted(set(allowed)))}.")
        raise EmulatorError(404, "NotFound", f"No route is registered for '{method} {path}'.")
