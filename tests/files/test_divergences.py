"""Divergences from the service found by the SDK's own test suite, each shown by the SDK call that exposed it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.fileshare import (ContentSettings, CorsRule, Metrics, RetentionPolicy,
                                     ShareFileClient)

from .conftest import ACCOUNT, KEY


def test_smb_times_are_kept_to_the_tick_and_preserve_is_honoured(svc, share):
    fc = svc.get_share_client(share).get_file_client("t.txt")
    created = datetime(2022, 3, 10, 10, 14, 30, 123456, tzinfo=timezone.utc)
    written = datetime(2023, 1, 2, 3, 4, 5, 654321, tzinfo=timezone.utc)
    changed = datetime(2024, 5, 6, 7, 8, 9, 111111, tzinfo=timezone.utc)
    fc.create_file(1024, file_creation_time=created, file_last_write_time=written, file_change_time=changed)
    props = fc.get_file_properties()
    assert props.creation_time == created and props.last_write_time == written and props.change_time == changed
    fc.upload_range(b"x" * 512, 0, 512, file_last_write_mode="preserve")
    assert fc.get_file_properties().last_write_time == written
    fc.upload_range(b"y" * 512, 512, 512)
    assert fc.get_file_properties().last_write_time != written


def test_metadata_and_properties_do_not_touch_last_write_time(svc, share):
    fc = svc.get_share_client(share).get_file_client("m.txt")
    written = datetime(2021, 1, 1, tzinfo=timezone.utc)
    fc.create_file(10, file_last_write_time=written)
    fc.set_file_metadata({"a": "1"})
    fc.set_http_headers(ContentSettings(content_type="text/plain"))
    assert fc.get_file_properties().last_write_time == written


def test_lease_state_and_status_are_reported(svc, share):
    fc = svc.get_share_client(share).get_file_client("l.txt")
    fc.create_file(1)
    lease = fc.get_file_properties().lease
    assert lease.state == "available" and lease.status == "unlocked"


def test_names_xml_cannot_carry_are_listed_encoded(svc, share):
    directory = svc.get_share_client(share).create_directory("dir\ufffe")
    directory.create_subdirectory("sub\ufffe")
    directory.upload_file("file\ufffe", b"data")
    listed = {(i["name"], i["is_directory"]) for i in directory.list_directories_and_files()}
    assert listed == {("sub\ufffe", True), ("file\ufffe", False)}
    assert [i["name"] for i in directory.list_directories_and_files(name_starts_with="sub\ufffe")] == ["sub\ufffe"]


def test_listings_carry_file_ids(svc, share):
    sc = svc.get_share_client(share)
    sc.create_directory("d").upload_file("f", b"1")
    items = list(sc.list_directories_and_files())
    assert items[0].file_id is not None


def test_parent_not_found(svc, share):
    with pytest.raises(ResourceNotFoundError) as err:
        svc.get_share_client(share).get_directory_client("missing/child").create_directory()
    assert err.value.error_code == "ParentNotFound"


def test_trailing_dots_are_dropped_unless_allowed(live, share):
    url = f"{live.http_url}/{ACCOUNT}"
    ShareFileClient(url, share, "dot.", credential=KEY, allow_trailing_dot=False).create_file(3)
    assert ShareFileClient(url, share, "dot", credential=KEY).exists()
    kept = ShareFileClient(url, share, "kept.", credential=KEY, allow_trailing_dot=True)
    kept.create_file(3)
    assert kept.exists() and not ShareFileClient(url, share, "kept", credential=KEY).exists()


def test_service_properties_are_merged_and_cors_limited(svc):
    svc.set_service_properties(cors=[CorsRule(["www.example.com"], ["GET"])])
    svc.set_service_properties(hour_metrics=Metrics(enabled=True, include_apis=True,
                                                    retention_policy=RetentionPolicy(enabled=True, days=5)))
    props = svc.get_service_properties()
    assert len(props["cors"]) == 1 and props["hour_metrics"].enabled
    with pytest.raises(HttpResponseError) as err:
        svc.set_service_properties(cors=[CorsRule(["a"], ["GET"])] * 6)
    assert err.value.status_code == 400
    svc.set_service_properties(cors=[])


def test_an_invalid_file_permission_is_refused(svc, share):
    with pytest.raises(HttpResponseError) as err:
        svc.get_share_client(share).get_file_client("p.txt").create_file(1, file_permission="abcde")
    assert err.value.status_code == 400
    assert not svc.get_share_client(share).get_file_client("p.txt").exists()


def test_an_eight_byte_content_md5_is_stored(svc, share):
    fc = svc.get_share_client(share).get_file_client("md5.txt")
    fc.create_file(1, content_settings=ContentSettings(content_md5=bytearray(b"MDAwMDA=")))
    assert bytes(fc.get_file_properties().content_settings.content_md5) == b"MDAwMDA="
