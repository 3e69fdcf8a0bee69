"""SharedKey and SAS: right keys work, wrong ones and expired or under-privileged tokens are refused with 403."""
from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from email.utils import formatdate

import pytest
from azure.common import AzureHttpError
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.common import AccountPermissions, ResourceTypes
from azure.storage.file import FilePermissions, FileService, SharePermissions
from azure.storage.fileshare import (AccountSasPermissions, FileSasPermissions, ResourceTypes as ResourceTypes12,
                                     ShareClient, ShareFileClient, ShareSasPermissions, ShareServiceClient,
                                     generate_account_sas, generate_file_sas, generate_share_sas)

from .conftest import ACCOUNT, KEY, connection_string

WRONG_KEY = base64.b64encode(os.urandom(64)).decode()


def _future(hours=1):
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def _old_sdk_with_sas(live, token: str) -> FileService:
    return FileService(connection_string=f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
                                         f"SharedAccessSignature={token};FileEndpoint={live.http_url}/{ACCOUNT};")


def _status(exc_info) -> tuple[int, str]:
    exc = exc_info.value
    if isinstance(exc, AzureHttpError):
        return exc.status_code, str(exc)
    return exc.status_code, exc.error_code


@pytest.fixture()
def seeded(fs, share):
    fs.create_directory(share, "d")
    fs.create_file_from_bytes(share, "d", "a.txt", b"alpha")
    fs.create_file_from_bytes(share, "d", "b.txt", b"beta")
    return share


def test_wrong_key_is_403_for_both_sdks(live, seeded):
    bad = FileService(connection_string=connection_string(live.http_url, key=WRONG_KEY))
    with pytest.raises(AzureHttpError) as err:
        bad.get_file_to_bytes(seeded, "d", "a.txt")
    assert err.value.status_code == 403 and "AuthenticationFailed" in str(err.value)
    with pytest.raises(AzureHttpError) as err:
        bad.create_share("never-made")
    assert err.value.status_code == 403
    bad12 = ShareServiceClient.from_connection_string(connection_string(live.http_url, key=WRONG_KEY))
    with pytest.raises(ClientAuthenticationError) as err12:
        bad12.get_share_client(seeded).get_file_client("d/a.txt").download_file()
    assert err12.value.status_code == 403 and err12.value.error_code == "AuthenticationFailed"
    assert "never-made" not in [s.name for s in FileService(
        connection_string=connection_string(live.http_url)).list_shares()]


def test_missing_credentials_and_stale_dates(raw, seeded):
    status, headers, _ = raw.request("GET", f"/{ACCOUNT}/{seeded}/d/a.txt", signed=False)
    assert status == 401 and headers["x-ms-error-code"] == "NoAuthenticationInformation"
    stale = formatdate(datetime.now(timezone.utc).timestamp() - 3600, usegmt=True)
    status, headers, body = raw.request("GET", f"/{ACCOUNT}/{seeded}/d/a.txt", headers={"x-ms-date": stale})
    assert status == 403 and headers["x-ms-error-code"] == "AuthenticationFailed"
    status, headers, body = raw.request("GET", f"/{ACCOUNT}/{seeded}/d/a.txt")
    assert status == 200 and body == b"alpha"


def test_x_ms_version_is_checked_loosely(raw, seeded):
    for version in ("2014-02-14", "2019-02-02", "2026-10-06"):
        status, _, body = raw.request("GET", f"/{ACCOUNT}/{seeded}/d/a.txt", headers={"x-ms-version": version})
        assert (status, body) == (200, b"alpha")
    for version in ("yesterday", "2019-13-01", "2010-01-01"):
        status, headers, _ = raw.request("GET", f"/{ACCOUNT}/{seeded}/d/a.txt", headers={"x-ms-version": version})
        assert status == 400 and headers["x-ms-error-code"] == "InvalidHeaderValue"


def test_account_sas_old_sdk(live, fs, seeded):
    read_only = fs.generate_account_shared_access_signature(ResourceTypes.OBJECT, AccountPermissions.READ,
                                                            _future())
    reader = _old_sdk_with_sas(live, read_only)
    assert reader.get_file_to_bytes(seeded, "d", "a.txt").content == b"alpha"
    with pytest.raises(AzureHttpError) as err:
        reader.create_file_from_bytes(seeded, "d", "c.txt", b"nope")
    assert err.value.status_code == 403 and "AuthorizationPermissionMismatch" in str(err.value)
    with pytest.raises(AzureHttpError) as err:
        list(reader.list_shares())
    assert err.value.status_code == 403 and "AuthorizationResourceTypeMismatch" in str(err.value)
    everything = fs.generate_account_shared_access_signature(
        ResourceTypes.SERVICE + ResourceTypes.CONTAINER + ResourceTypes.OBJECT,
        AccountPermissions.READ + AccountPermissions.WRITE + AccountPermissions.DELETE + AccountPermissions.LIST
        + AccountPermissions.CREATE, _future())
    admin = _old_sdk_with_sas(live, everything)
    admin.create_share("sas-made")
    admin.create_directory("sas-made", "x")
    admin.create_file_from_bytes("sas-made", "x", "y.txt", b"made with a SAS")
    assert [e.name for e in admin.list_directories_and_files("sas-made", "x")] == ["y.txt"]
    assert "sas-made" in [s.name for s in admin.list_shares()]
    assert admin.delete_share("sas-made")


def test_expired_and_not_yet_valid_sas(live, fs, seeded):
    expired = fs.generate_account_shared_access_signature(ResourceTypes.OBJECT, AccountPermissions.READ,
                                                          datetime.now(timezone.utc) - timedelta(minutes=1))
    with pytest.raises(AzureHttpError) as err:
        _old_sdk_with_sas(live, expired).get_file_to_bytes(seeded, "d", "a.txt")
    assert err.value.status_code == 403 and "AuthenticationFailed" in str(err.value)
    early = generate_file_sas(ACCOUNT, seeded, ["d", "a.txt"], KEY, FileSasPermissions(read=True),
                              expiry=_future(2), start=_future(1))
    with pytest.raises(ClientAuthenticationError):
        ShareFileClient(f"{live.http_url}/{ACCOUNT}", seeded, "d/a.txt", credential=early).download_file()


def test_share_and_file_sas_old_sdk(live, fs, seeded):
    share_token = fs.generate_share_shared_access_signature(seeded, SharePermissions.READ + SharePermissions.LIST,
                                                            _future())
    reader = _old_sdk_with_sas(live, share_token)
    assert {e.name for e in reader.list_directories_and_files(seeded, "d")} == {"a.txt", "b.txt"}
    assert reader.get_file_to_bytes(seeded, "d", "b.txt").content == b"beta"
    with pytest.raises(AzureHttpError) as err:
        reader.create_file_from_bytes(seeded, "d", "c.txt", b"nope")
    assert err.value.status_code == 403
    with pytest.raises(AzureHttpError) as err:
        reader.delete_share(seeded, fail_not_exist=True)
    assert err.value.status_code == 403
    file_token = fs.generate_file_shared_access_signature(seeded, "d", "a.txt", FilePermissions.READ, _future())
    one_file = _old_sdk_with_sas(live, file_token)
    assert one_file.get_file_to_bytes(seeded, "d", "a.txt").content == b"alpha"
    with pytest.raises(AzureHttpError) as err:          # the signature names a.txt, not b.txt
        one_file.get_file_to_bytes(seeded, "d", "b.txt")
    assert err.value.status_code == 403


def test_sas_v12_helpers(live, seeded):
    base = f"{live.http_url}/{ACCOUNT}"
    acct = generate_account_sas(ACCOUNT, KEY, ResourceTypes12(service=True, container=True, object=True),
                                AccountSasPermissions(read=True, list=True), expiry=_future())
    svc = ShareServiceClient(base, credential=acct)
    assert seeded in [s.name for s in svc.list_shares()]
    assert svc.get_share_client(seeded).get_file_client("d/a.txt").download_file().readall() == b"alpha"
    with pytest.raises(HttpResponseError) as err:
        svc.get_share_client(seeded).get_file_client("d/new.txt").upload_file(b"nope")
    assert err.value.status_code == 403 and err.value.error_code == "AuthorizationPermissionMismatch"

    share_sas = generate_share_sas(ACCOUNT, seeded, KEY, ShareSasPermissions(read=True, write=True, create=True,
                                                                              list=True), expiry=_future())
    share = ShareClient(base, seeded, credential=share_sas)
    share.get_file_client("d/new.txt").upload_file(b"written with a share SAS")
    assert {i.name for i in share.get_directory_client("d").list_directories_and_files()} == \
        {"a.txt", "b.txt", "new.txt"}
    with pytest.raises(HttpResponseError) as err:
        share.get_file_client("d/new.txt").delete_file()
    assert err.value.status_code == 403

    file_sas = generate_file_sas(ACCOUNT, seeded, ["d", "new.txt"], KEY, FileSasPermissions(read=True),
                                 expiry=_future())
    fc = ShareFileClient(base, seeded, "d/new.txt", credential=file_sas)
    assert fc.download_file().readall() == b"written with a share SAS"
    other = ShareFileClient(base, seeded, "d/a.txt", credential=file_sas)
    with pytest.raises(ClientAuthenticationError):
        other.download_file()


def test_sas_protocol_ip_tampering_and_overrides(live, raw, seeded):
    base = f"/{ACCOUNT}/{seeded}/d/a.txt"
    https_only = generate_file_sas(ACCOUNT, seeded, ["d", "a.txt"], KEY, FileSasPermissions(read=True),
                                   expiry=_future(), protocol="https")
    status, headers, _ = raw.request("GET", f"{base}?{https_only}", signed=False)
    assert status == 403 and headers["x-ms-error-code"] == "AuthorizationProtocolMismatch"
    elsewhere = generate_file_sas(ACCOUNT, seeded, ["d", "a.txt"], KEY, FileSasPermissions(read=True),
                                  expiry=_future(), ip="10.1.2.3")
    status, headers, _ = raw.request("GET", f"{base}?{elsewhere}", signed=False)
    assert status == 403 and headers["x-ms-error-code"] == "AuthorizationSourceIPMismatch"
    local = generate_file_sas(ACCOUNT, seeded, ["d", "a.txt"], KEY, FileSasPermissions(read=True),
                              expiry=_future(), ip="127.0.0.0-127.0.0.255", content_type="text/x-alpha",
                              content_disposition="attachment")
    status, headers, body = raw.request("GET", f"{base}?{local}", signed=False)
    assert (status, body) == (200, b"alpha")
    assert headers["content-type"] == "text/x-alpha" and headers["content-disposition"] == "attachment"
    tampered = local.replace("sp=r", "sp=rw")
    status, headers, _ = raw.request("GET", f"{base}?{tampered}", signed=False)
    assert status == 403 and headers["x-ms-error-code"] == "AuthenticationFailed"
