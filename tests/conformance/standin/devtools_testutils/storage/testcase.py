"""StorageRecordedTestCase for live runs against the emulator: the account URL is the service's own
(`https://<account>.<service>.core.windows.net`, reached through the emulator's HTTPS proxy in HTTPS_PROXY) when
CONFORMANCE_HOST_STYLE is set, else the emulator's path-style endpoint (CONFORMANCE_ENDPOINT/<account>); token
credentials come from the emulator's own AAD."""
from __future__ import annotations

import io
import logging
import os
import random
import string
import time
import uuid
from datetime import datetime, timedelta


def GenericTestProxyParametrize1():  # noqa: N802
    return lambda fn: fn


def generate_sas_token() -> str:
    """A syntactically valid SAS query string that signs nothing (for URL-building tests)."""
    expiry = (datetime.utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"?sv=2025-01-05&ss=f&srt=sco&sp=rwdlc&se={expiry}&spr=https&sig=ZmFrZQ%3D%3D"


def _authority() -> str:
    return os.environ["CONFORMANCE_ENDPOINT"]


class StorageRecordedTestCase:
    is_live = True

    def account_url(self, account: str, endpoint_type: str) -> str:
        if os.environ.get("CONFORMANCE_HOST_STYLE"):
            return f"https://{account}.{endpoint_type}.core.windows.net"
        return f"{_authority()}/{account}"

    def get_credential(self, client_class=None, is_async: bool = False, **kwargs):
        if is_async:
            from azure.identity.aio import ClientSecretCredential
        else:
            from azure.identity import ClientSecretCredential
        return ClientSecretCredential("conformance-tenant", "conformance-client", "conformance-secret",
                                      authority=_authority(), disable_instance_discovery=True)

    def get_resource_name(self, prefix: str = "") -> str:
        return (prefix + uuid.uuid4().hex)[: max(len(prefix) + 12, 20)]

    def get_random_bytes(self, size: int) -> bytes:
        return random.Random(size).randbytes(size)

    def get_random_text_data(self, size: int) -> str:
        rng = random.Random(size)
        return "".join(rng.choice(string.ascii_letters + string.digits + " ") for _ in range(size))

    def generate_sas(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def get_datetime_variable(self, variables: dict, name: str, value: datetime) -> datetime:
        variables[name] = str(value)
        return value

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def is_playback(self) -> bool:
        return False

    @staticmethod
    def _check_progress(size, progress, first_step, step, total, ranged=False):
        """Progress reports name the same total, stay within the size and reach its end. `ranged`: a download of
        part of a file, whose first report names the whole file's size (the SDK reads the total from the first
        response's Content-Range, as against the service), the later ones the part's."""
        assert progress, "no progress was reported"
        for i, (current, reported) in enumerate(progress):
            assert reported == total or ranged and i == 0 and total is not None and reported >= total
            assert 0 <= current <= size
        # concurrent chunks report their progress racily (reports repeat, trail and skip each other), so only
        # the end is checked: the reports reach the whole size to within one chunk
        assert max(c for c, _ in progress) >= size - step, progress

    def assert_upload_progress(self, size, max_chunk_size, progress, unknown_size=False):
        self._check_progress(size, progress, max_chunk_size, max_chunk_size, None if unknown_size else size)

    def assert_download_progress(self, size, max_chunk_size, max_get_size, progress):
        self._check_progress(size, progress, max_get_size, max_chunk_size, size, ranged=True)

    def assertNamedItemInContainer(self, container, item_name, msg=None):  # noqa: N802
        names = [getattr(item, "name", item) for item in container]
        names += [item.snapshot for item in container if getattr(item, "snapshot", None)]   # snapshots too
        assert item_name in names, msg or f"{item_name!r} not found in {names!r}"

    def validate_standard_account_endpoints(self, service, url_type, account_name, account_key):
        assert service is not None
        assert service.account_name == account_name
        assert service.credential.account_name == account_name
        assert service.credential.account_key == account_key


class LogCaptured:
    """Captures the azure loggers' DEBUG output for the duration of the block."""

    def __init__(self, test_case=None):
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.logger = logging.getLogger("azure")

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self.stream

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        return False
