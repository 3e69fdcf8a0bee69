"""The one place that knows which cloud the flow talks to: `connect(endpoint)` builds every client from it.

Without an endpoint the clients target public Azure. With one (``--endpoint URL`` or ``BATCHAI_ENDPOINT``) they
target the cloud described by ``URL/metadata/endpoints``, exactly as for a sovereign cloud or Azure Stack: the
Azure AD authority, the token audience and the Resource Manager URL all come from that document. The Batch AI
emulator serves such a document, so pointing at it is that one flag. Storage endpoints are never configured: the
flow reads them from the storage account that Resource Manager returns (``primaryEndpoints.file``).

Trust: every request, the metadata one included, goes over HTTPS verified against the system's CAs, or against
``--ca-bundle`` / ``BATCHAI_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` when given. The emulator's self-signed
certificate is ``<data-dir>/cert.pem``; nothing here downloads a certificate or turns verification off, since a
certificate fetched over the same unverified channel would prove nothing. A plain-HTTP endpoint is accepted only
on a loopback address, and only for the metadata document (which names HTTPS endpoints for everything else).
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlparse

import requests

# Endpoints of public Azure, as its own metadata document lists them (audiences[1] is the one the SDKs default to).
PUBLIC_LOGIN = "https://login.microsoftonline.com/"
PUBLIC_RESOURCE_MANAGER = "https://management.azure.com/"

# Used against a metadata endpoint when no AZURE_* credentials are set: the emulator accepts any client secret.
PLACEHOLDER_TENANT = "batchai-emulator"
PLACEHOLDER_CLIENT_ID = "batchai-quickstart"
PLACEHOLDER_CLIENT_SECRET = "any-secret"
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-00000000b0a1"

METADATA_API_VERSION = "2015-01-01"


class VerifyingSession(requests.Session):
    """A requests session whose `verify` holds even when REQUESTS_CA_BUNDLE is set.

    requests lets that variable replace a session-level CA bundle (it only keeps a per-request one), so the
    bundle is passed on every request.
    """

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


class ConnectError(Exception):
    """The target cloud could not be reached or described; the message says what to do."""


@dataclass(frozen=True)
class CloudEndpoints:
    """What a client needs to know about a cloud (the fields of its metadata document that matter here)."""
    name: str
    login: str              # Azure AD authority host, e.g. https://login.microsoftonline.com/
    audience: str           # Resource Manager's token audience
    resource_manager: str   # Resource Manager base URL

    @property
    def scope(self) -> str:
        return self.audience.rstrip("/") + "/.default"

    @classmethod
    def from_metadata(cls, document: Mapping[str, Any], endpoint: str) -> "CloudEndpoints":
        try:
            auth = document["authentication"]
            login, audience = auth["loginEndpoint"], auth["audiences"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise ConnectError(f"{endpoint}: the metadata document lacks authentication.loginEndpoint or "
                               f"authentication.audiences ({exc!r})") from None
        # Azure Stack's document has no resourceManager: then the metadata host is Resource Manager itself
        return cls(name=document.get("name") or urlparse(endpoint).netloc, login=login, audience=audience,
                   resource_manager=document.get("resourceManager") or endpoint.rstrip("/") + "/")


PUBLIC_AZURE = CloudEndpoints("AzureCloud", PUBLIC_LOGIN, PUBLIC_RESOURCE_MANAGER, PUBLIC_RESOURCE_MANAGER)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def discover(endpoint: str, session: requests.Session) -> CloudEndpoints:
    """Read `endpoint`/metadata/endpoints (what `az cloud register --endpoint-resource-manager` reads)."""
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ConnectError(f"--endpoint {endpoint!r}: expected an https:// URL")
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        raise ConnectError(f"--endpoint {endpoint}: plain HTTP is accepted only on a loopback address; use the "
                           "https:// URL (the emulator prints it) with --ca-bundle <data-dir>/cert.pem")
    url = f"{endpoint.rstrip('/')}/metadata/endpoints?api-version={METADATA_API_VERSION}"
    try:
        resp = session.get(url, timeout=30)
    except requests.exceptions.SSLError as exc:
        raise ConnectError(f"{endpoint}: its TLS certificate is not trusted ({exc.__class__.__name__}). For the "
                           "emulator pass --ca-bundle <data-dir>/cert.pem (or set BATCHAI_CA_BUNDLE)") from None
    except requests.exceptions.RequestException as exc:
        raise ConnectError(f"{endpoint}: cannot read the cloud metadata: {exc}") from None
    if resp.status_code != 200:
        raise ConnectError(f"{url} answered {resp.status_code}: is this an Azure Resource Manager endpoint?")
    try:
        document = resp.json()
    except ValueError:
        raise ConnectError(f"{url} did not answer JSON") from None
    return CloudEndpoints.from_metadata(document, endpoint)


@dataclass
class Clients:
    """The SDK clients of one cloud and subscription, and an HTTP session for download links."""
    cloud: CloudEndpoints
    subscription_id: str
    credential: Any
    batchai: Any            # azure.mgmt.batchai.BatchAI
    resources: Any          # azure.mgmt.resource.resources.ResourceManagementClient
    storage: Any            # azure.mgmt.storage.StorageManagementClient
    http: requests.Session  # for downloadUrl links (SAS-style: no bearer token goes there)
    verify: bool | str = True
    notes: list[str] = field(default_factory=list)

    def file_service(self, account_url: str, account_name: str, account_key: str):
        """An Azure Files client for an account's file endpoint, as Resource Manager reported it."""
        from azure.storage.fileshare import ShareServiceClient
        return ShareServiceClient(account_url, credential={"account_name": account_name, "account_key": account_key},
                                  **self._transport())

    def _transport(self) -> dict:
        return {} if self.verify is True else {"connection_verify": self.verify}

    def close(self) -> None:
        for client in (self.batchai, self.resources, self.storage):
            client.close()
        self.http.close()


def _credential(cloud: CloudEndpoints, environ: Mapping[str, str], discovered: bool, transport: dict, notes: list):
    from azure.identity import ClientSecretCredential, DefaultAzureCredential
    from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

    host = urlparse(cloud.login).netloc
    authority = f"https://{host}"
    # instance discovery asks login.microsoftonline.com whether the authority is genuine: a private cloud's is not
    # known there, and the authority came from configuration the user chose
    options = dict(authority=authority, disable_instance_discovery=host not in WELL_KNOWN_AUTHORITY_HOSTS,
                   **transport)
    tenant, client_id, secret = (environ.get(k) for k in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"))
    if tenant and client_id and secret:
        return ClientSecretCredential(tenant, client_id, secret, **options)
    if discovered:
        notes.append("no AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET set: using placeholder client "
                     "credentials (the emulator accepts any)")
        return ClientSecretCredential(tenant or PLACEHOLDER_TENANT, client_id or PLACEHOLDER_CLIENT_ID,
                                      secret or PLACEHOLDER_CLIENT_SECRET, **options)
    return DefaultAzureCredential(**options)


def connect(endpoint: str | None = None, *, subscription_id: str | None = None, credential=None,
            ca_bundle: str | None = None, environ: Mapping[str, str] | None = None, **client_options) -> Clients:
    """The clients for public Azure, or for the cloud whose metadata `endpoint` serves.

    endpoint: a Resource Manager URL serving /metadata/endpoints (default: $BATCHAI_ENDPOINT, else public Azure).
    subscription_id: default $AZURE_SUBSCRIPTION_ID (required for public Azure; a fixed id otherwise).
    credential: any azure-core TokenCredential (default: AZURE_* client secret, else the default chain).
    ca_bundle: PEM file of the CA(s) to trust instead of the system's (default $BATCHAI_CA_BUNDLE).
    client_options: passed to every management client (e.g. polling_interval).
    """
    from azure.mgmt.batchai import BatchAI
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient

    environ = os.environ if environ is None else environ
    endpoint = endpoint or environ.get("BATCHAI_ENDPOINT") or None
    ca_bundle = ca_bundle or environ.get("BATCHAI_CA_BUNDLE") or None
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ConnectError(f"--ca-bundle {ca_bundle}: no such file")
    verify: bool | str = ca_bundle or True
    http = VerifyingSession()
    http.verify = verify
    notes: list[str] = []
    cloud = discover(endpoint, http) if endpoint else PUBLIC_AZURE
    subscription_id = subscription_id or environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription_id:
        if not endpoint:
            raise ConnectError("set AZURE_SUBSCRIPTION_ID (and AZURE_TENANT_ID, AZURE_CLIENT_ID, "
                               "AZURE_CLIENT_SECRET for a service principal), or pass --endpoint URL")
        subscription_id = PLACEHOLDER_SUBSCRIPTION
    transport = {} if verify is True else {"connection_verify": verify}
    credential = credential or _credential(cloud, environ, bool(endpoint), transport, notes)
    common = dict(base_url=cloud.resource_manager.rstrip("/"), credential_scopes=[cloud.scope], **transport,
                  **client_options)
    return Clients(cloud=cloud, subscription_id=subscription_id, credential=credential,
                   batchai=BatchAI(credential, subscription_id, **common),
                   resources=ResourceManagementClient(credential, subscription_id, **common),
                   storage=StorageManagementClient(credential, subscription_id, **common),
                   http=http, verify=verify, notes=notes)
