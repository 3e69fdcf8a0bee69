"""Where the emulator is: endpoints and subscription from the harness's environment variables, the management
clients' credentials, and the redirect of the legacy storage SDKs' default endpoints to the emulator."""
import inspect
import os

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-00000000b5d2"


def endpoint():
    """The emulator's ARM endpoint; a clear error when the harness did not say where it is."""
    value = os.environ.get("BATCHAI_SDK_ENDPOINT")
    if not value:
        raise RuntimeError("BATCHAI_SDK_ENDPOINT is not set: run these tests through `python -m tests.batchai_sdk`, "
                           "which starts an emulator and sets it")
    return value.rstrip("/")


def subscription_id():
    return os.environ.get("BATCHAI_SDK_SUBSCRIPTION", DEFAULT_SUBSCRIPTION)


def credentials():
    """A bearer token credential: the emulator (without --strict-auth) accepts any well-formed bearer token."""
    from msrest.authentication import BasicTokenAuthentication
    return BasicTokenAuthentication({"access_token": "batchai-sdk-harness"})


def storage_endpoints():
    """{'file': base URL, 'blob': base URL} of the emulator's path-style storage planes (no trailing slash)."""
    found = {"file": os.environ.get("BATCHAI_SDK_FILE_ENDPOINT") or os.environ.get("BATCHAI_SDK_ENDPOINT"),
             "blob": os.environ.get("BATCHAI_SDK_BLOB_ENDPOINT")}
    return {service: url.rstrip("/") for service, url in found.items() if url}


def redirect_legacy_storage():
    """Make `FileService(account, key)` and `BlockBlobService(account, key)` (azure-storage-common 1.x/2.x) talk to
    the emulator's path-style endpoints `<base>/<account>` instead of `<account>.<service>.core.windows.net`.

    The tests build the storage clients from a name and a key only, which on Azure means the public cloud's
    endpoints; here the emulator is the cloud. Clients given an explicit endpoint (custom_domain, a connection
    string, is_emulated) are left as they are. Idempotent."""
    from azure.storage.common import _connection
    params = _connection._ServiceParameters
    original = params.get_service_parameters
    if getattr(original, "_batchai_sdk_redirect", False):
        return
    signature = inspect.signature(original)
    endpoints = storage_endpoints()

    def get_service_parameters(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        given = bound.arguments
        base = endpoints.get(given.get("service"))
        if (base and given.get("account_name") and not given.get("custom_domain")
                and not given.get("connection_string") and not given.get("is_emulated")):
            given["custom_domain"] = "{0}/{1}".format(base, given["account_name"])
        return original(*bound.args, **bound.kwargs)

    get_service_parameters._batchai_sdk_redirect = True
    params.get_service_parameters = staticmethod(get_service_parameters)
