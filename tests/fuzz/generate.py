"""What the swagger fuzzer sends: the swagger read as ARM and autorest read it, requests generated from it by
schemathesis and hypothesis, aimed at seeded resources, and mutated beyond what the swagger describes.

* The swagger as ARM reads it (`load_schema`): a definition with members and no `type` is an object; a flattened
  member whose model has required members is required; the api-version parameter is the file's own version (odd
  api-versions are a mutation). emulator/validation.py reads the swagger the same way.
* Aiming (`request_strategy`): path parameters take the names of seeded resources part of the time (one family at a
  time, tests/fuzz/seeds.py), the leaf of a create is often a new name, and a job's cluster id points at the
  seeded cluster, so bodies get past "not found" and the handlers run.
* Mutations (`MUTATIONS`, `mutate`): odd api-versions, malformed JSON, members replaced by values of other types,
  huge strings (path, query, body, token), missing or malformed bearer tokens, methods the path does not have,
  unknown query parameters, other content types.
"""
from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from emulator import spec
from tests.fuzz.seeds import CLUSTER_ID, FILE_SERVER_ID, FLAT_CLUSTER_ID, OUTPUT_IDS, SEED_PERCENT, SEEDS

# -- the swagger as ARM reads it -----------------------------------------------------------------------------------
def _objects_typed(schema: Any) -> None:
    """Give `type: object` to the models that list members without it (most of the swagger's): ARM, autorest and
    the emulator read them as objects, where plain JSON Schema would let `true` or `[1]` stand for one."""
    if not isinstance(schema, dict):
        return
    if ("properties" in schema or "allOf" in schema) and "type" not in schema and "$ref" not in schema:
        schema["type"] = "object"
    for member in (schema.get("properties") or {}).values():
        _objects_typed(member)
    for part in schema.get("allOf") or []:
        _objects_typed(part)
    _objects_typed(schema.get("items"))
    _objects_typed(schema.get("additionalProperties"))


def _as_arm_reads_it(raw: dict, version: str) -> None:
    definitions = raw.get("definitions", {})
    for definition in definitions.values():
        _objects_typed(definition)
        # a flattened member whose model has required members is required (autorest asks for those members on
        # the parent, so the SDKs always send it; emulator/validation.py reads the swagger the same way)
        for name, member in (definition.get("properties") or {}).items():
            target = definitions.get(member.get("$ref", "").split("/")[-1], {})
            if member.get("x-ms-client-flatten") and target.get("required"):
                definition["required"] = sorted({*definition.get("required", []), name})
    parameters = list(raw.get("parameters", {}).values())
    for ops in raw["paths"].values():
        parameters += ops.get("parameters", [])
        for method, op in ops.items():
            if method != "parameters":
                parameters += op.get("parameters", [])
                for response in op.get("responses", {}).values():
                    _objects_typed(response.get("schema"))
    for parameter in parameters:
        _objects_typed(parameter.get("schema"))
        # the api-version is the file's own version (the SDKs send it as a constant); odd ones are a mutation
        if parameter.get("name") == "api-version" and parameter.get("in") == "query":
            parameter["enum"] = [version]


def load_schema(version: str):
    raw = copy.deepcopy(spec.load(version))
    _as_arm_reads_it(raw, version)
    config = schemathesis.Config.from_dict({"generation": {
        # ARM ignores query parameters and body members it does not know (so does the emulator, by design: see
        # emulator/validation.py); unknown query parameters are sent by the `extra-query` mutation instead
        "allow-extra-parameters": False,
    }})
    return schemathesis.openapi.from_dict(raw, config=config)


# -- requests --------------------------------------------------------------------------------------------------------
_ODD_VERSIONS = ["", " ", "2018-05-01 ", " 2018-05-01", "2018-5-1", "2099-01-01", "2018-05-01-preview", "latest",
                 "2018-05-01,2018-03-01", "../2018-05-01", "2018-05-01\x00", "2018-05-01%00", "２０１８-05-01",
                 "2018-05-01" * 200, "\u202e10-50-8102", "null", "[]"]
_BAD_JSON = [b"{", b"}", b"[1, 2", b'{"location": }', b'{"location": "eastus",}', b"\xff\xfe\xfd", b"nan", b"NaN",
             b'{"a": 1}{"b": 2}', b"[" * 5000 + b"]" * 5000, b'{"properties": ' * 3000 + b"{}" + b"}" * 3000,
             b'"just a string"', b"1e999999", b'{"location": "\xc3\x28"}', b'{"\\ud800": 1}', b"\x00",
             b'{"location": "eastus"}' + b" " * 10, "{\"location\": \"東京\"}".encode("utf-16")]
_HUGE = ["x" * 100_000, "é" * 20_000, "\U0001f600" * 5_000, "a/" * 3_000, "%2F" * 2_000]
_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"]
_HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f")
_TOKENS = [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer\tx y", "Bearer ä"]

# mutation -> weight; "none" sends the generated request as it is
MUTATIONS = {"none": 12, "api-version": 2, "bad-json": 2, "retype": 3, "huge": 1, "auth": 1, "method": 1,
             "extra-query": 1, "content-type": 1}
_BODY_MUTATIONS = {"bad-json", "retype", "content-type"}
_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=5)


def _json_paths(value: Any, prefix: tuple = ()):
    """Every place in a JSON value, as key/index paths (the root is ())."""
    yield prefix
    if isinstance(value, dict):
        for key, member in value.items():
            yield from _json_paths(member, prefix + (key,))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _json_paths(member, prefix + (index,))


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    out = copy.copy(value)
    out[path[0]] = _replaced(value[path[0]], path[1:], new)
    return out


@dataclass
class FuzzRequest:
    case: Any
    mode: GenerationMode
    mutation: str = "none"
    detail: Any = None
    fresh: bool = False     # give the created resource a name not used before (Fuzzer.send)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"FuzzRequest({self.case.operation.label}, {self.mode.value}, {self.mutation}, {self.detail!r:.200})"


_TOOLKITS = ["cntkSettings", "pyTorchSettings", "tensorFlowSettings", "caffeSettings", "caffe2Settings",
             "chainerSettings", "customToolkitSettings", "customMpiSettings", "horovodSettings"]


def _aim_body(case: Any, rng: random.Random, version: str) -> None:
    """Point references inside a generated body at seeded resources, part of the time."""
    body = case.body
    if isinstance(body, dict) and rng.random() < 0.7:
        # ARM's own rules the swagger cannot say: the resource group's location, tags within ARM's limits
        if isinstance(body.get("location"), str):
            body["location"] = SEEDS[0]["location"]
        if isinstance(body.get("tags"), dict):
            body["tags"] = {str(k)[:128]: v[:256] for k, v in list(body["tags"].items())[:50] if isinstance(v, str)}
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        return
    if isinstance(props.get("cluster"), dict) and rng.randrange(100) < SEED_PERCENT:
        # old versions name clusters by flat id (or by the 2018-05-01 id they are stored under)
        props["cluster"]["id"] = CLUSTER_ID if version == "2018-05-01" else rng.choice([CLUSTER_ID, FLAT_CLUSTER_ID])
    if "cluster" in props and rng.random() < 0.7:
        # a job body that keeps the rules the swagger cannot say (exactly one toolkit, at least one node), so
        # some creates get through
        present = [k for k in _TOOLKITS if isinstance(props.get(k), dict)]
        for extra in [k for k in _TOOLKITS if k in props and k not in present[:1]]:
            del props[extra]
        if not present:
            props["customToolkitSettings"] = {"commandLine": "true"}
        if isinstance(props.get("nodeCount"), int) and not 1 <= props["nodeCount"] <= 1:
            props["nodeCount"] = 1      # the seeded cluster has one node: more can never fit (400 at create)
    if isinstance(props.get("vmSize"), str) and rng.random() < 0.7:
        # a size of the service's table (unknown sizes answer 400), so cluster and file server creates get through
        props["vmSize"] = rng.choice(["STANDARD_NC6", "STANDARD_D1", "Standard_NC12", "STANDARD_D2_V2"])
    mounts = props.get("mountVolumes")
    servers = mounts.get("fileServers") if isinstance(mounts, dict) else None
    for ref in servers if isinstance(servers, list) else []:
        if isinstance(ref, dict) and isinstance(ref.get("fileServer"), dict) and rng.random() < 0.5:
            ref["fileServer"]["id"] = FILE_SERVER_ID


def _fingerprint(case: Any) -> str:
    # no repr() of objects: theirs can hold a memory address (schemathesis' NotSet), which differs run to run
    return json.dumps([case.path_parameters, case.query, case.headers and dict(case.headers), case.body],
                      sort_keys=True, default=lambda value: type(value).__name__)


# query parameters the emulator reads on some routes but the operation may not declare
_QUERY_KEYS = ["$skiptoken", "$top", "$filter", "$select", "maxresults", "outputdirectoryid", "directory",
               "linkexpiryinminutes", "API-VERSION", "Api-Version"]
_CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/xml", "",
                  "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                  "application/json; charset=utf-16"]


def request_strategy(operation: Any, version: str, salt: str) -> st.SearchStrategy[FuzzRequest]:
    """Generated requests for `operation`. schemathesis and hypothesis generate the request's content; the choices
    around it (seeded names, which mutation) come from a random generator seeded with `salt` and the generated
    case: hypothesis replays and mutates its earlier choices, which would send most requests down one branch,
    while a case-seeded choice is new for every new case and the same for a replayed one (as hypothesis needs)."""
    cases = {mode: operation.as_strategy(generation_mode=mode) for mode in GenerationMode}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    sends_body = operation.method.upper() in ("PUT", "PATCH", "POST")
    creates = operation.method.upper() == "PUT"
    names = re.findall(r"\{([^}]+)\}", operation.path)  # path parameters, outermost first
    mutations = [m for m, weight in MUTATIONS.items() for _ in range(weight)
                 if sends_body or m not in _BODY_MUTATIONS]
    # methods the operation's path does not have in the swagger (others are real operations, fuzzed on their own)
    declared = {m.upper() for m in operation.schema.raw_schema["paths"][operation.path]}
    other_methods = [m for m in _METHODS if m not in declared]
    if not other_methods:
        mutations = [m for m in mutations if m != "method"]

    @st.composite
    def build(draw) -> FuzzRequest:
        # hypothesis favours the first of a sampled_from: the mode comes from a hash of a drawn number instead
        mode = random.Random(f"{salt}|mode|{draw(st.integers(0, 2**64))}").choice(modes)
        case = draw(cases[mode])
        rng = random.Random(f"{salt}|{_fingerprint(case)}")
        fresh = False
        parents_seeded = rng.random() < 0.75  # else each name is seeded or not on its own
        family = rng.choice(SEEDS)
        for name in names:
            if name == names[-1]:
                # the leaf of a create is a seeded name (re-create, conflict), the generated one, or the generated
                # one made unique (hypothesis repeats the names it generates a lot); other leaves are mostly seeded
                leaf = rng.choice(["seeded", "generated", "fresh", "fresh"] if creates else ["seeded"] * 3 + ["x"])
                fresh = leaf == "fresh"
                seeded = leaf == "seeded"
            else:
                seeded = parents_seeded or rng.random() < 0.5
            if seeded and name in family and name in case.path_parameters:
                case.path_parameters[name] = family[name]
        if case.query and "outputdirectoryid" in case.query and rng.random() < 0.5:
            case.query["outputdirectoryid"] = rng.choice(OUTPUT_IDS)
        _aim_body(case, rng, version)
        mutation = rng.choice(mutations)
        listed = rng.random() < 0.6  # a value from the lists of known troublemakers, else a generated one
        detail: Any = None
        if mutation == "api-version":
            detail = rng.choice(_ODD_VERSIONS + [list(spec.API_VERSIONS)]) if listed else draw(st.text(max_size=30))
        elif mutation == "retype":
            body = case.body if isinstance(case.body, (dict, list)) else {}
            detail = (rng.choice(list(_json_paths(body))), draw(_JSON_VALUES))
        elif mutation == "bad-json":
            detail = rng.choice(_BAD_JSON) if listed else draw(st.binary(max_size=64))
        elif mutation == "huge":
            detail = (rng.choice(["path", "query", "body", "header"]), rng.choice(_HUGE))
        elif mutation == "auth":
            detail = rng.choice(_TOKENS) if listed else draw(st.text(_HEADER_CHARS, max_size=40).map(str.lstrip))
        elif mutation == "method":
            detail = rng.choice(other_methods)
        elif mutation == "extra-query":
            keys = st.one_of(st.sampled_from(_QUERY_KEYS), st.text(min_size=1, max_size=12))
            detail = draw(st.dictionaries(keys.filter(lambda k: k != "api-version"), st.text(max_size=20),
                                          min_size=1, max_size=3))
        elif mutation == "content-type":
            detail = rng.choice(_CONTENT_TYPES)
        return FuzzRequest(case, mode, mutation, detail, fresh)

    return build()


def mutate(req: FuzzRequest, kwargs: dict) -> dict:
    """The transport kwargs of `req` with its mutation applied."""
    kind, detail = req.mutation, req.detail
    headers = kwargs.setdefault("headers", {})
    if kind == "api-version":
        kwargs["params"] = {**(kwargs.get("params") or {}), "api-version": detail}
    elif kind == "retype":
        path, new = detail
        kwargs.pop("data", None)
        kwargs["json"] = _replaced(kwargs.get("json") if isinstance(kwargs.get("json"), (dict, list)) else {},
                                   path, new)
    elif kind == "bad-json":
        kwargs.pop("json", None)
        kwargs["data"] = detail
        headers["Content-Type"] = "application/json"
    elif kind == "huge":
        where, text = detail
        if where == "path":
            pass  # applied to the case's last path parameter before serialization (Fuzzer.send)
        elif where == "header":
            headers["Authorization"] = "Bearer " + "x" * len(text)  # a well-formed token, only long
        elif where == "query":
            kwargs["params"] = {**(kwargs.get("params") or {}), "$skiptoken": text, "$filter": text}
        else:
            kwargs.pop("data", None)
            kwargs["json"] = {"location": text, "tags": {text[:500]: text}, "properties": {"vmSize": text}}
    elif kind == "auth":
        headers.pop("Authorization", None)
        if detail is not None:
            headers["Authorization"] = detail
    elif kind == "method":
        kwargs["method"] = detail
    elif kind == "extra-query":
        kwargs["params"] = {**detail, **(kwargs.get("params") or {})}
    elif kind == "content-type":
        headers["Content-Type"] = detail
    return kwargs
