from .testcase import GenericTestProxyParametrize1, LogCaptured, StorageRecordedTestCase

__all__ = ["GenericTestProxyParametrize1", "LogCaptured", "StorageRecordedTestCase"]
