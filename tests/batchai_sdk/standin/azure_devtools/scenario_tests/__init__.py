"""`azure_devtools.scenario_tests` as far as azure-mgmt-batchai's tests use it: the error a preparer raises when it
is stacked wrongly."""


class AzureTestError(Exception):
    """A test was set up wrongly (a preparer without the preparer it needs before it)."""

    def __init__(self, message):
        super(AzureTestError, self).__init__("An error caused by the test's own set-up: {0}".format(message))
