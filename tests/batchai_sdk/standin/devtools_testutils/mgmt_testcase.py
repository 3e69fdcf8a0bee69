"""AzureMgmtTestCase and AzureMgmtPreparer, live mode only.

A preparer is a decorator on a test method: before the test it creates a resource (`create_resource(name,
**kwargs)` returns the keyword arguments it adds), it schedules `remove_resource` as a unittest cleanup (so stacked
preparers remove their resources in reverse order), and it calls the next function with the keyword arguments
collected so far: all of them for a further preparer, only those the test method declares for the test itself.
"""
import functools
import hashlib
import inspect
import unittest
import uuid

from . import environment


class AzureMgmtTestCase(unittest.TestCase):
    """A management-plane test case whose clients talk to the emulator."""

    is_live = True          # this stand-in never replays recordings
    in_recording = False
    is_playback = False

    def setUp(self):
        super(AzureMgmtTestCase, self).setUp()
        environment.redirect_legacy_storage()
        self.settings = _Settings()

    @property
    def qualified_test_name(self):
        return self.id()

    def create_mgmt_client(self, client_class, **kwargs):
        """`client_class(credentials, subscription_id, base_url=<the emulator>)` (msrestazure-generation clients)."""
        return client_class(credentials=environment.credentials(), subscription_id=environment.subscription_id(),
                            base_url=environment.endpoint(), **kwargs)

    def create_random_name(self, name):
        """`name` plus a suffix derived from the test's id: stable for one test, distinct between tests."""
        digest = hashlib.sha256(self.qualified_test_name.encode()).hexdigest()[:8]
        return "{0}{1}".format(name, digest)

    def get_resource_name(self, name):
        return self.create_random_name(name)


class _Settings(object):
    @property
    def SUBSCRIPTION_ID(self):  # noqa: N802 (the kit's own name)
        return environment.subscription_id()


class AzureMgmtPreparer(object):
    """Base of the resource preparers: subclasses implement create_resource(name, **kwargs) -> dict and
    remove_resource(name, **kwargs)."""

    def __init__(self, name_prefix, random_name_length, disable_recording=True, playback_fake_resource=None,
                 client_kwargs=None, random_name_enabled=True):
        self.name_prefix = name_prefix
        self.random_name_length = random_name_length
        self.playback_fake_resource = playback_fake_resource
        self.client_kwargs = client_kwargs or {}
        self.test_class_instance = None
        self.resource = None

    @property
    def is_live(self):
        return True

    def random_name(self):
        """The prefix plus random lowercase hex, `random_name_length` characters in all (at least 8 random)."""
        length = max(self.random_name_length, len(self.name_prefix) + 8)
        return (self.name_prefix + uuid.uuid4().hex * 3)[:length]

    def create_mgmt_client(self, client_class, **kwargs):
        kwargs = dict(self.client_kwargs, **kwargs)
        if self.test_class_instance is not None:
            return self.test_class_instance.create_mgmt_client(client_class, **kwargs)
        return client_class(credentials=environment.credentials(), subscription_id=environment.subscription_id(),
                            base_url=environment.endpoint(), **kwargs)

    def create_resource(self, name, **kwargs):
        return {}

    def remove_resource(self, name, **kwargs):
        pass

    def __call__(self, fn):
        preparer = self

        @functools.wraps(fn)
        def prepared(test, **kwargs):
            preparer.test_class_instance = test
            name = preparer.random_name()
            added = preparer.create_resource(name, **kwargs) or {}
            test.addCleanup(preparer.remove_resource, name, **dict(kwargs))
            kwargs.update(added)
            if getattr(fn, "_batchai_sdk_preparer", False):
                return fn(test, **kwargs)
            return fn(test, **_declared(fn, kwargs))

        prepared._batchai_sdk_preparer = True
        # unittest (and pytest's unittest support) call the method with no arguments: hide the wrapped signature
        del prepared.__wrapped__
        return prepared


def _declared(fn, kwargs):
    """The keyword arguments `fn` declares (all of them if it takes **kwargs)."""
    parameters = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in parameters}
