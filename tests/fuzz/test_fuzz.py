"""The swagger fuzzer, bounded: every operation of the three swagger files gets EXAMPLES generated requests (fixed
seed) against one live emulator whose jobs do not run. A test fails on any finding of tests/fuzz/harness.py's
checks for its operation; the `live` fixture fails it on any 5xx as well. The long run is bench/fuzz.py."""
from __future__ import annotations

import pytest

from emulator import spec
from tests.conftest import in_ci
from tests.fuzz.seeds import VERSIONS

try:
    from tests.fuzz.harness import Fuzzer
except ImportError as exc:  # schemathesis is in the dev extra
    if in_ci():
        raise
    pytest.skip(f"the swagger fuzzer needs schemathesis ({exc}); `make install` installs it",
                allow_module_level=True)

EXAMPLES = 20
SEED = 20180501


def _operations() -> list[tuple[str, str]]:
    return [(version, op["operationId"]) for version in VERSIONS
            for path in spec.load(version)["paths"].values()
            for method, op in path.items() if method != "parameters"]


@pytest.fixture(scope="module")
def fuzzer(live):
    return Fuzzer(live.http_url, live.settings.data_dir)


@pytest.mark.parametrize("version, operation_id", _operations(), ids=[f"{v}:{o}" for v, o in _operations()])
def test_operation(fuzzer, live, version, operation_id):
    fuzzer.fuzz(version, fuzzer.operation(version, operation_id), EXAMPLES, SEED)
    findings = fuzzer.findings(version, operation_id)
    assert not findings, "\n\n".join(map(str, findings))


def test_the_run_reached_the_handlers(fuzzer):
    """Not only 404s and validation errors: seeded names make creates, reads and deletes succeed."""
    stats = fuzzer.stats
    if stats.requests < len(_operations()) * EXAMPLES // 2:
        pytest.skip("run with the whole module")
    assert stats.by_class["2xx"] > stats.requests // 5
    succeeded = {op for (_, op, cls), n in stats.by_operation.items() if cls == "2xx"}
    assert {"Clusters_Create", "Jobs_Create", "FileServers_Create", "Workspaces_Create",
            "Jobs_ListOutputFiles", "Clusters_Update", "Jobs_Terminate"} <= succeeded
