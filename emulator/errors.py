"""Errors as the services render them.

EmulatorError is raised anywhere below the HTTP layer (backend, validation, store users); the Flask app turns
it into an ARM CloudError body: {"error": {"code", "message", "target"?, "details"?}}. StorageError is the Azure
Storage flavour (XML body + x-ms-error-code header) used by the file data plane.
"""
from __future__ import annotations

import json
from xml.sax.saxutils import escape


class EmulatorError(Exception):
    status = 400

    def __init__(self, status: int, code: str, message: str, target: str | None = None,
                 details: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.target:
            err["target"] = self.target
        if self.details:
            err["details"] = self.details
        return {"error": err}

    def to_json(self) -> str:
        return json.dumps(self.body())


def bad_request(code: str, message: str, target: str | None = None) -> EmulatorError:
    return EmulatorError(400, code, message, target)


def not_found(code: str, message: str) -> EmulatorError:
    return EmulatorError(404, code, message)


def conflict(code: str, message: str, target: str | None = None) -> EmulatorError:
    return EmulatorError(409, code, message, target)


def not_supported(what: str, target: str | None = None) -> EmulatorError:
    """A field or operation Batch AI has but this emulator does not implement: say so, never ignore it."""
    return EmulatorError(400, "NotSupportedByEmulator",
                         f"{what} is not supported by the Batch AI emulator.", target)


def store_full(path: str) -> EmulatorError:
    """How every door answers the store's StoreFull: 507 InsufficientStorage. A 5xx because it is the emulator's
    own failure, as the service answered its own (there is no Azure control-plane 4xx for it); azure-core SDKs
    retry it for about 5 s and then raise this message, which names the directory to free; the msrest
    generations retry for about 11 s and report only the status, so the store also logs the cause."""
    return EmulatorError(507, "InsufficientStorage", f"The emulator could not store the change: the disk holding "
                         f"its data dir ({path}) is full. Free some space and retry; nothing stored was changed.")


class _NotFound(EmulatorError):
    """A named ARM resource that is not there: 404 with the service's code and message (moto-style classes)."""
    code_name = ""
    template = ""

    def __init__(self, name: str):
        super().__init__(404, self.code_name, self.template.format(name=name))


def _not_found(code: str, template: str) -> type[_NotFound]:
    return type(code, (_NotFound,), {"code_name": code, "template": template, "__module__": __name__})


# raised as ClusterNotFound(name); the messages are the service's (Batch AI 2018-05-01, ARM resource groups)
ResourceGroupNotFound = _not_found("ResourceGroupNotFound", "Resource group '{name}' could not be found.")
WorkspaceNotFound = _not_found("WorkspaceNotFound", "The specified workspace {name} is not found")
ExperimentNotFound = _not_found("ExperimentNotFound", "The specified experiment {name} is not found")
ClusterNotFound = _not_found("ClusterNotFound", "The specified cluster {name} is not found")
FileServerNotFound = _not_found("FileServerNotFound", "The specified file server {name} is not found")
JobNotFound = _not_found("JobNotFound", "The specified job {name} is not found")


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}

    def xml(self, request_id: str = "") -> bytes:
        parts = [f"<Code>{escape(self.code)}</Code>",
                 f"<Message>{escape(self.message)}\nRequestId:{escape(request_id)}</Message>"]
        parts += [f"<{k}>{escape(v)}</{k}>" for k, v in self.extra.items()]
        return ('<?xml version="1.0" encoding="utf-8"?><Error>' + "".join(parts) + "</Error>").encode()
