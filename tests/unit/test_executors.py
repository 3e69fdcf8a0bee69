"""Every executor implements the executor contract (runner/executors.py) with the contract's parameters."""
from __future__ import annotations

import inspect

import pytest

from emulator.runner.docker import DockerExecutor
from emulator.runner.executors import Executor, QueuingExecutor
from emulator.runner.local import LocalExecutor
from emulator.runner.slurm import SlurmExecutor


def _members(protocol) -> dict[str, inspect.Signature]:
    own = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object, ) or klass.__name__ in ("Protocol", "Generic"):
            continue
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                own[name] = inspect.signature(value)
    return own


def _shape(sig: inspect.Signature) -> list[tuple[str, str, bool]]:
    """Names, kinds and whether each parameter has a default: what a caller relies on (not annotations)."""
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()]


@pytest.mark.parametrize("executor, protocol", [(DockerExecutor, Executor), (LocalExecutor, Executor),
                                                (SlurmExecutor, QueuingExecutor)])
def test_executor_keeps_the_contract(executor, protocol):
    members = _members(protocol)
    assert {"prepare", "create", "run", "poll", "find", "stop", "cleanup"} <= set(members)
    for name, sig in members.items():
        impl = getattr(executor, name, None)
        assert callable(impl), f"{executor.__name__} lacks {name}"
        assert _shape(inspect.signature(impl)) == _shape(sig), f"{executor.__name__}.{name}"


def test_queuing_executor_says_so():
    assert SlurmExecutor.queues_jobs is True
    assert not getattr(DockerExecutor, "queues_jobs", False) and not getattr(LocalExecutor, "queues_jobs", False)


def test_the_contract_names_the_parameters_the_code_takes():
    # the old docstring said prepare(job, plan, ...): the contract is the code now
    assert list(inspect.signature(Executor.prepare).parameters) == ["self", "job_key", "network", "image",
                                                                    "registry"]
