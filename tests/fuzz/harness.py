"""Property-based fuzzing of the ARM front door from the official swaggers, against a live emulator.

schemathesis turns each operation of emulator/spec/<version>/BatchAI.json into a hypothesis strategy of requests
(schema-valid ones, and schema-invalid ones: wrong types, missing members, broken patterns and bounds, unicode);
tests/fuzz/generate.py aims them at seeded resources and mutates some beyond the swagger; tests/fuzz/checks.py
says what is wrong with each answer; `Fuzzer` sends them, counts, and keeps one example of each finding.

Used by tests/fuzz (fixed seed, bounded count) and bench/fuzz.py (long run with figures).
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from tests.fuzz.checks import describe, error_code, follow_problems, operation_id, problems
from tests.fuzz.generate import FuzzRequest, load_schema, mutate, request_strategy
from tests.fuzz.seeds import AUTH, VERSIONS, seed

__all__ = ["Fuzzer", "Finding", "Stats", "VERSIONS"]


@dataclass
class Finding:
    version: str
    operation: str
    check: str
    status: int
    count: int = 0
    example: str = ""

    def __str__(self) -> str:
        return f"[{self.version} {self.operation}] {self.check} (HTTP {self.status}, {self.count}x)\n{self.example}"


@dataclass
class Stats:
    requests: int = 0
    by_class: Counter = field(default_factory=Counter)
    by_mutation: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)   # (version, operationId, status class)
    error_codes: Counter = field(default_factory=Counter)    # (version, operationId, status, ARM error code)
    server_errors: int = 0
    findings: dict[tuple, Finding] = field(default_factory=dict)

    def schema_violations(self) -> int:
        return sum(f.count for f in self.findings.values()
                   if f.check in ("response_schema_conformance", "status_code_conformance",
                                  "content_type_conformance"))


class Fuzzer:
    """Sends generated requests to a live emulator and records what the checks find."""

    def __init__(self, base_url: str, data_dir: Path | None = None):
        self.base_url = base_url.rstrip("/")
        self.data_dir = data_dir
        self.session = requests.Session()
        self.stats = Stats()
        self._schemas: dict[str, Any] = {}
        self._fresh = itertools.count(1)
        seed(self.session, self.base_url, data_dir)

    def schema(self, version: str):
        if version not in self._schemas:
            self._schemas[version] = load_schema(version)
        return self._schemas[version]

    def operations(self, version: str) -> list:
        return [result.ok() for result in self.schema(version).get_all_operations()]

    def operation(self, version: str, operation_id: str):
        return self.schema(version).find_operation_by_id(operation_id)

    def fuzz(self, version: str, operation: Any, examples: int, seed_value: int) -> None:
        """Run `examples` generated requests against `operation` (deterministic for a seed and emulator state)."""
        @hypothesis_seed(seed_value)
        @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(request_strategy(operation, version, f"{seed_value}:{version}:{operation.label}"))
        def run(req: FuzzRequest) -> None:
            self.send(version, req)
        run()

    def send(self, version: str, req: FuzzRequest) -> requests.Response:
        leaf = (re.findall(r"\{([^}]+)\}", req.case.operation.path) or [None])[-1]
        if req.fresh and leaf in (req.case.path_parameters or {}):
            req.case.path_parameters[leaf] = f"{str(req.case.path_parameters[leaf])[:54]}-{next(self._fresh)}"
        if req.mutation == "huge" and req.detail[0] == "path" and leaf in (req.case.path_parameters or {}):
            req.case.path_parameters[leaf] = req.detail[1]
        kwargs = req.case.as_transport_kwargs(base_url=self.base_url, headers=dict(AUTH))
        kwargs = mutate(req, kwargs)
        kwargs.pop("cookies", None)
        resp = self.session.request(**kwargs, timeout=60)
        self._count(version, req, resp, req.mutation)
        for check, why in problems(version, req, resp):
            self._record(version, req, resp, check, why)
        if 200 <= resp.status_code < 300:
            self._follow(version, req, resp)
        if kwargs["method"] == "DELETE" and resp.status_code == 200:
            seed(self.session, self.base_url, self.data_dir)  # a seeded resource may be gone: bring it back
        return resp

    def _follow(self, version: str, req: FuzzRequest, resp: requests.Response) -> None:
        """What a client does next with a list: fetch its nextLink (with GET, as azure-core does even for the
        POST lists) and the first download link of an output listing."""
        try:
            body = resp.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if isinstance(body.get("nextLink"), str):
            page = self.session.get(body["nextLink"], headers=AUTH, timeout=60)
            self._count(version, req, page, "follow")
            for check, why in follow_problems(req, page):
                self._record(version, req, page, f"next_link_{check}", why)
        files = [item for item in body.get("value") or []
                 if isinstance(item, dict) and isinstance(item.get("downloadUrl"), str) and item["downloadUrl"]]
        if files:
            download = self.session.get(files[0]["downloadUrl"], timeout=60)
            self._count(version, req, download, "follow")
            size = (files[0].get("properties") or {}).get("contentLength")
            if download.status_code != 200 or size is not None and len(download.content) != size:
                self._record(version, req, download, "download_link",
                             f"a listed file's downloadUrl must answer 200 with its {size} bytes")

    def _count(self, version: str, req: FuzzRequest, resp: requests.Response, label: str) -> None:
        self.stats.requests += 1
        self.stats.by_class[f"{resp.status_code // 100}xx"] += 1
        self.stats.by_mutation[label] += 1
        self.stats.by_operation[(version, operation_id(req), f"{resp.status_code // 100}xx")] += 1
        if resp.status_code >= 500:
            self.stats.server_errors += 1
        if resp.status_code >= 400:
            self.stats.error_codes[(version, operation_id(req), resp.status_code, error_code(resp))] += 1

    def _record(self, version: str, req: FuzzRequest, resp: requests.Response, check: str, why: str) -> None:
        op_id = operation_id(req)
        key = (version, op_id, check, resp.status_code)
        finding = self.stats.findings.get(key)
        if finding is None:
            finding = self.stats.findings[key] = Finding(version, op_id, check, resp.status_code,
                                                         example=describe(req, resp, why))
        finding.count += 1

    def findings(self, version: str | None = None, operation_id: str | None = None) -> list[Finding]:
        return [f for f in self.stats.findings.values()
                if (version is None or f.version == version) and (operation_id is None or f.operation == operation_id)]


