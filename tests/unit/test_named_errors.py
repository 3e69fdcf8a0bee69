"""ARM not-found errors are named classes (moto-style) that render the service's code and message."""
from __future__ import annotations

import pytest

from emulator import errors


@pytest.mark.parametrize("cls, message", [
    (errors.ResourceGroupNotFound, "Resource group 'x' could not be found."),
    (errors.WorkspaceNotFound, "The specified workspace x is not found"),
    (errors.ExperimentNotFound, "The specified experiment x is not found"),
    (errors.ClusterNotFound, "The specified cluster x is not found"),
    (errors.FileServerNotFound, "The specified file server x is not found"),
    (errors.JobNotFound, "The specified job x is not found"),
])
def test_not_found_family(cls, message):
    exc = cls("x")
    assert isinstance(exc, errors.EmulatorError) and exc.status == 404
    assert exc.body() == {"error": {"code": cls.__name__, "message": message}}
