"""Cloud metadata and Azure AD token endpoints, so credentials built for a sovereign cloud get tokens here.

Shapes from reference sdk-wire.md §7: adal (ServicePrincipalCredentials) posts to /{tenant}/oauth2/token and needs
`expires_in`; MSAL (azure-identity) reads /{tenant}/v2.0/.well-known/openid-configuration, then posts to
/{tenant}/oauth2/v2.0/token. Any client id and secret are accepted, unless --client-secret pairs are configured.
"""
from __future__ import annotations

import hmac
import time
import uuid

from flask import Blueprint, Response, current_app, json, request

from ..errors import EmulatorError
from ..urls import public_base

bp = Blueprint("aad", __name__)


def _https_base() -> str:
    """AAD must be https for adal and MSAL: point at the TLS port whatever scheme the question came in on."""
    return public_base("https")


def _json(body, status=200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


CLOUD_NAME = "BatchAIEmulator"


@bp.route("/metadata/endpoints", methods=["GET"])
def metadata_endpoints() -> Response:
    base = _https_base()
    version = request.args.get("api-version", "")
    if version >= "2019-05-01":
        # the 2019-05-01 format is a list of clouds (azureml-core's copy of the Azure CLI cloud loader, through
        # ARM_CLOUD_METADATA_URL, reads only this form); earlier versions and no version answer one object.
        # From 2022-09-01 (what `az cloud register --endpoint-resource-manager` asks) the same entry comes alone,
        # as an Azure Stack Hub answers for its one cloud: azure-cli maps the body itself, not a list. Unverified
        # against a real Stack Hub; the shape is the one azure-cli's mapper reads.
        entry = {
            # resourceManager without the trailing slash: azureml-core appends paths that begin with one
            "name": CLOUD_NAME, "portal": f"{base}/", "resourceManager": base, "gallery": f"{base}/",
            "graph": f"{base}/", "graphAudience": f"{base}/", "microsoftGraphResourceId": f"{base}/",
            "sqlManagement": f"{base}/", "batch": f"{base}/", "media": f"{base}/", "appInsightsResourceId": f"{base}/",
            "authentication": {"loginEndpoint": base, "audiences": [f"{base}/"], "tenant": "common",
                               "identityProvider": "AAD"},
            "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net",
                         "acrLoginServer": "azurecr.io", "sqlServerHostname": "database.windows.net",
                         "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
                         "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net"},
        }
        return _json(entry if version >= "2022-09-01" else [entry])
    return _json({
        "galleryEndpoint": f"{base}/",
        "graphEndpoint": f"{base}/",
        "portalEndpoint": f"{base}/",
        # no trailing '/' (public Azure's document has one): azure-cli builds its MSAL authority as
        # loginEndpoint + '/' + tenant, and MSAL refuses the '//tenant' path that makes (az login --tenant)
        "authentication": {"loginEndpoint": base, "audiences": [f"{base}/"]},
        "resourceManager": f"{base}/",
        "name": CLOUD_NAME,
        "suffixes": {"storage": "core.windows.net"},
    })


def _token_response(audience: str) -> Response:
    form = request.form
    if form.get("grant_type") not in ("client_credentials", None):
        return _json({"error": "unsupported_grant_type",
                      "error_description": "The emulator issues tokens for client credentials only."}, 400)
    if not form.get("client_id"):
        return _json({"error": "invalid_request", "error_description": "client_id is required."}, 400)
    refused = _check_client_secret(form.get("client_id"), form.get("client_secret"))
    if refused is not None:
        return refused
    now = int(time.time())
    ext = current_app.extensions["batchai"]
    token = ext.signer.jwt({"aud": audience, "iss": f"{_https_base()}/", "iat": now, "nbf": now, "exp": now + 3600,
                            "appid": form.get("client_id"), "oid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                               form.get("client_id"))),
                            "tid": request.view_args.get("tenant")})
    return _json({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                  "expires_on": str(now + 3600), "not_before": str(now), "resource": audience})


def _check_client_secret(client_id: str, secret: str | None) -> Response | None:
    """With --client-secret ID:SECRET configured, only those pairs get tokens (AAD's own error shapes)."""
    known = current_app.extensions["batchai"].settings.client_secrets_dict()
    if not known:
        return None
    if client_id not in known:
        return _json({"error": "unauthorized_client",
                      "error_description": f"AADSTS700016: Application with identifier '{client_id}' was not found "
                                           "(the emulator knows only the clients given with --client-secret)."},
                     400)
    if not hmac.compare_digest((secret or "").encode(), known[client_id].encode()):
        return _json({"error": "invalid_client",
                      "error_description": "AADSTS7000215: Invalid client secret provided."}, 401)
    return None


@bp.route("/<tenant>/oauth2/token", methods=["POST"])
def token_v1(tenant: str) -> Response:
    return _token_response(request.form.get("resource", ""))


@bp.route("/<tenant>/oauth2/v2.0/token", methods=["POST"])
def token_v2(tenant: str) -> Response:
    return _token_response(request.form.get("scope", ""))


@bp.route("/<tenant>/v2.0/.well-known/openid-configuration", methods=["GET"])
@bp.route("/<tenant>/.well-known/openid-configuration", methods=["GET"])
def openid_configuration(tenant: str) -> Response:
    base = _https_base()
    return _json({"token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                  "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                  "issuer": f"{base}/{tenant}/v2.0", "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                  "token_endpoint_auth_methods_supported": ["client_secret_post"],
                  "response_types_supported": ["code", "token"], "tenant_region_scope": "EM"})


@bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET"])
@bp.route("/<tenant>/oauth2/authorize", methods=["GET"])
def authorize(tenant: str) -> Response:
    raise EmulatorError(400, "NotSupportedByEmulator", "Interactive sign-in is not supported by the emulator; use "
                        "client credentials (any client id and secret).")
