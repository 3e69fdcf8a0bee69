"""Copy File and Put Range From URL through azure-storage-file-share: within an account with the request's own
credential, across accounts only with a SAS on the source."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.fileshare import FileSasPermissions, generate_file_sas

from .conftest import ACCOUNT, KEY


def test_copy_file_within_the_account(svc, share):
    sc = svc.get_share_client(share)
    src = sc.get_file_client("src.bin")
    src.upload_file(b"copied bytes", metadata={"m": "1"})
    dst = sc.get_file_client("dst.bin")
    copy = dst.start_copy_from_url(src.url)
    assert copy["copy_status"] == "success" and copy["copy_id"]
    assert dst.download_file().readall() == b"copied bytes"
    props = dst.get_file_properties()
    assert props.metadata == {"m": "1"} and props.copy.status == "success" and props.copy.id == copy["copy_id"]
    with pytest.raises(HttpResponseError) as err:
        dst.abort_copy(copy["copy_id"])
    assert err.value.status_code == 409


def test_a_source_elsewhere_needs_a_sas(svc, share):
    src = svc.get_share_client(share).get_file_client("src.bin")
    src.upload_file(b"x" * 1024)
    dst = svc.get_share_client(share).get_file_client("dst.bin")
    with pytest.raises(HttpResponseError) as err:
        dst.start_copy_from_url("https://example.com/other/share/file")
    assert err.value.error_code == "CannotVerifyCopySource"
    sas = generate_file_sas(ACCOUNT, share, ["src.bin"], KEY, permission=FileSasPermissions(read=True),
                            expiry=datetime.utcnow() + timedelta(hours=1))
    dst.create_file(1024)
    dst.upload_range_from_url(src.url + "?" + sas, offset=512, length=512, source_offset=0)
    assert dst.download_file().readall() == bytes(512) + b"x" * 512
    bad = src.url + "?" + sas.replace("sp=r", "sp=w")
    with pytest.raises(HttpResponseError) as err:
        dst.upload_range_from_url(bad, offset=0, length=512, source_offset=0)
    assert err.value.error_code == "CannotVerifyCopySource"
