from __future__ import annotations

from .testcase import GenericTestProxyParametrize1, LogCaptured, StorageRecordedTestCase


class AsyncStorageRecordedTestCase(StorageRecordedTestCase):
    def get_credential(self, client_class=None, is_async: bool = True, **kwargs):
        return super().get_credential(client_class, is_async=is_async, **kwargs)


__all__ = ["AsyncStorageRecordedTestCase", "GenericTestProxyParametrize1", "LogCaptured"]
