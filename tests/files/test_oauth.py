"""OAuth on the file service: bearer tokens from the emulator's own AAD (with x-ms-file-request-intent: backup),
user delegation keys and the SAS tokens signed with them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential
from azure.storage.fileshare import (FileSasPermissions, ShareFileClient, ShareServiceClient, generate_file_sas)

from .conftest import ACCOUNT, KEY


@pytest.fixture(scope="module")
def token_credential(live):
    return ClientSecretCredential("tenant", "client", "secret", authority=live.https_url,
                                  disable_instance_discovery=True, connection_verify=live.ca_bundle)


@pytest.fixture(scope="module")
def oauth_svc(live, token_credential) -> ShareServiceClient:
    return ShareServiceClient(f"{live.https_url}/{ACCOUNT}", credential=token_credential, token_intent="backup",
                              connection_verify=live.ca_bundle)


def test_bearer_tokens_reach_files_with_the_backup_intent(live, oauth_svc, svc, share, raw):
    fc = oauth_svc.get_share_client(share).get_file_client("oauth.txt")
    fc.upload_file(b"written with a token")
    assert svc.get_share_client(share).get_file_client("oauth.txt").download_file().readall() == \
        b"written with a token"
    assert fc.get_file_properties().size == 20
    # no intent header: refused before anything is done
    status, headers, _ = raw.request("GET", f"/{ACCOUNT}/{share}/oauth.txt", signed=False,
                                     headers={"Authorization": "Bearer " + oauth_svc.credential.get_token(
                                         "https://storage.azure.com/.default").token})
    assert status == 400 and headers["x-ms-error-code"] == "MissingRequiredHeader"


def test_a_token_the_emulator_did_not_issue_is_refused(live, share):
    class Forged:
        def get_token(self, *scopes, **kwargs):
            from azure.core.credentials import AccessToken
            return AccessToken("eyJhbGciOiJIUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJl", 2 ** 31)
    fc = ShareFileClient(f"{live.https_url}/{ACCOUNT}", share, "x.txt", credential=Forged(), token_intent="backup",
                         connection_verify=live.ca_bundle)
    with pytest.raises(ClientAuthenticationError) as err:
        fc.create_file(1)
    assert err.value.status_code == 401


def test_user_delegation_key_and_sas(live, oauth_svc, svc, share):
    svc.get_share_client(share).get_file_client("udk.txt").upload_file(b"delegated")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    key = oauth_svc.get_user_delegation_key(start=now - timedelta(minutes=1), expiry=now + timedelta(hours=1))
    again = oauth_svc.get_user_delegation_key(start=now - timedelta(minutes=1), expiry=now + timedelta(hours=1))
    assert key.value == again.value and key.signed_oid and key.signed_service == "f"
    token = generate_file_sas(ACCOUNT, share, ["udk.txt"], user_delegation_key=key,
                              permission=FileSasPermissions(read=True), expiry=now + timedelta(hours=1))
    fc = ShareFileClient(f"{live.http_url}/{ACCOUNT}", share, "udk.txt", credential=token)
    assert fc.download_file().readall() == b"delegated"
    key.value = "Zm9yZ2VkIGtleSB2YWx1ZSwgdGhpcnR5LXR3byBieXRlcw=="          # a key the emulator never handed out
    forged = generate_file_sas(ACCOUNT, share, ["udk.txt"], user_delegation_key=key,
                               permission=FileSasPermissions(read=True), expiry=now + timedelta(hours=1))
    with pytest.raises(ClientAuthenticationError):
        ShareFileClient(f"{live.http_url}/{ACCOUNT}", share, "udk.txt", credential=forged).download_file()
    # shared keys cannot get delegation keys
    with pytest.raises(HttpResponseError) as err:
        ShareServiceClient(f"{live.http_url}/{ACCOUNT}", credential=KEY).get_user_delegation_key(start=now, expiry=now + timedelta(hours=1))
    assert err.value.status_code in (400, 403)
