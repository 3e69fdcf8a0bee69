"""Size limits of the ARM/JSON surface, as Azure Resource Manager sets them.

* Request bodies: 4 MB (ARM's documented request limit). Larger bodies are refused with 413 before they are read.
  The storage data planes (Azure Files, Blob) stream their bodies and are not limited here.
* Tags, on every resource that takes them (resource groups, storage accounts, workspaces, clusters, jobs, file
  servers): at most 50 per resource, names up to 512 characters (128 on storage accounts), values up to 256.

Unverified: the exact error codes. ARM's documentation gives the limits, not the codes; 413 `RequestEntityTooLarge`
and the `InvalidTag*` codes below follow the names ARM uses for its other tag errors (`InvalidTagNameCharacters`).
"""
from __future__ import annotations

from flask import Flask, request

from .errors import EmulatorError

MAX_JSON_BODY = 4 * 1024 * 1024
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_STORAGE_TAG_NAME = 128
MAX_TAG_VALUE = 256

# blueprints whose bodies are data (file ranges, blobs), streamed to disk rather than parsed
STREAMING_BLUEPRINTS = {"azure_files", "azure_blob"}


def _too_large() -> EmulatorError:
    return EmulatorError(413, "RequestEntityTooLarge",
                         f"The request content size exceeds the maximum allowed size of {MAX_JSON_BODY} bytes "
                         "(4 MB).")


def install(app: Flask) -> None:
    """Refuse ARM/JSON bodies over the limit from their Content-Length, and cut chunked ones off at the limit."""

    @app.before_request
    def _limit_body():
        if request.blueprint in STREAMING_BLUEPRINTS:
            return None
        if request.content_length is not None and request.content_length > MAX_JSON_BODY:
            raise _too_large()
        request.max_content_length = MAX_JSON_BODY
        if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # werkzeug stops a chunked body at the limit without a word: read it here (cached for the view),
            # and one byte more raises RequestEntityTooLarge if anything is left
            request.get_data(cache=True)
            request.stream.read(1)
        return None


def check_tags(body, path: str) -> None:
    """ARM's tag limits for a request body carrying `tags` (anything else is left to the schema checks)."""
    if not isinstance(body, dict) or not isinstance(body.get("tags"), dict):
        return
    tags: dict = body["tags"]
    if len(tags) > MAX_TAGS:
        raise EmulatorError(400, "InvalidTagCount",
                            f"The resource has {len(tags)} tags; at most {MAX_TAGS} tags are allowed per resource.",
                            "tags")
    name_limit = MAX_STORAGE_TAG_NAME if "/providers/microsoft.storage/" in path.lower() else MAX_TAG_NAME
    for name, value in tags.items():
        if not name or len(name) > name_limit:
            raise EmulatorError(400, "InvalidTagNameLength",
                                f"The tag name '{name[:64]}{'...' if len(name) > 64 else ''}' has {len(name)} "
                                f"characters; tag names must have 1 to {name_limit} characters.", "tags")
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TAG_VALUE:
            raise EmulatorError(400, "InvalidTagValueLength",
                                f"The value of tag '{name[:64]}' has {len(text)} characters; tag values can have at "
                                f"most {MAX_TAG_VALUE} characters.", "tags")
