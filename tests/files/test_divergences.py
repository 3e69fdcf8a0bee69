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


SDDL = ("O:S-1-5-21-2127521184-1604012920-1887927527-21560751G:S-1-5-21-2127521184-1604012920-1887927527-513"
        "D:AI(A;;FA;;;SY)(A;;FA;;;BA)S:NO_ACCESS_CONTROL")


def test_permissions_are_stored_under_stable_keys(svc, share):
    sc = svc.get_share_client(share)
    key = sc.create_permission_for_share(SDDL)
    assert sc.get_permission_for_share(key) == SDDL
    assert sc.create_permission_for_share(sc.get_permission_for_share(key)) == key
    fc = sc.get_file_client("perm.txt")
    fc.create_file(1, permission_key=key)
    assert fc.get_file_properties().permission_key == key
    fc.set_http_headers(ContentSettings(), file_permission=SDDL)
    assert fc.get_file_properties().permission_key == key
    with pytest.raises(HttpResponseError):
        sc.get_permission_for_share("123*456")


def test_get_ranges_reports_exactly_the_written_ranges(svc, share):
    fc = svc.get_share_client(share).get_file_client("ranges.bin")
    fc.create_file(4096)
    fc.upload_range(b"a" * 512, 0, 512)
    fc.upload_range(b"b" * 512, 1024, 512)
    assert [(r["start"], r["end"]) for r in fc.get_ranges()] == [(0, 511), (1024, 1535)]
    fc.clear_range(0, 512)
    assert [(r["start"], r["end"]) for r in fc.get_ranges()] == [(1024, 1535)]
    fc.resize_file(1100)
    assert [(r["start"], r["end"]) for r in fc.get_ranges()] == [(1024, 1099)]


def test_stored_access_policies_sign_sas_tokens(live, svc, share):
    from datetime import datetime, timedelta

    from azure.storage.fileshare import AccessPolicy, ShareSasPermissions, generate_share_sas

    from .conftest import ACCOUNT, KEY
    sc = svc.get_share_client(share)
    sc.get_file_client("si.txt").upload_file(b"by policy")
    policy = AccessPolicy(permission=ShareSasPermissions(read=True), expiry=datetime.utcnow() + timedelta(hours=1),
                          start=datetime.utcnow() - timedelta(minutes=5))
    sc.set_share_access_policy({"readers": policy})
    assert [i.id for i in sc.get_share_access_policy()["signed_identifiers"]] == ["readers"]
    token = generate_share_sas(ACCOUNT, share, KEY, policy_id="readers")
    from azure.storage.fileshare import ShareFileClient
    fc = ShareFileClient(f"{live.http_url}/{ACCOUNT}", share, "si.txt", credential=token)
    assert fc.download_file().readall() == b"by policy"
    with pytest.raises(HttpResponseError):
        fc.upload_range(b"x", 0, 1)                       # the policy allows reading only
    sc.set_share_access_policy({})
    with pytest.raises(HttpResponseError):
        fc.download_file()


def test_range_diffs_against_a_snapshot(svc, share):
    fc = svc.get_share_client(share).get_file_client("diff.bin")
    fc.create_file(2048)
    first = svc.get_share_client(share).create_snapshot()
    fc.upload_range(b"z" * 1536, 0, 1536)
    second = svc.get_share_client(share).create_snapshot()
    fc.clear_range(512, 512)
    written, cleared = fc.get_ranges_diff(previous_sharesnapshot=first)
    assert [(r["start"], r["end"]) for r in written] == [(0, 511), (1024, 1535)]
    assert [(r["start"], r["end"]) for r in cleared] == [(512, 1023)]
    written, cleared = fc.get_ranges_diff(previous_sharesnapshot=second["snapshot"])
    assert written == [] and [(r["start"], r["end"]) for r in cleared] == [(512, 1023)]
    at_second = svc.get_share_client(share, snapshot=second["snapshot"]).get_file_client("diff.bin")
    assert [(r["start"], r["end"]) for r in at_second.get_ranges()] == [(0, 1535)]


def test_metadata_names_keep_their_case(svc, share):
    fc = svc.get_share_client(share).get_file_client("case.txt")
    fc.create_file(1, metadata={"UP": "upval", "lower": "v", "MiXeD_1": "m"})
    assert fc.get_file_properties().metadata == {"UP": "upval", "lower": "v", "MiXeD_1": "m"}


def test_crc64_validation_and_structured_messages(svc, share):
    fc = svc.get_share_client(share).get_file_client("crc.bin")
    data = b"crc64 checked " * 1000
    fc.create_file(len(data), data=data, validate_content="crc64")          # structured message body
    assert fc.download_file(validate_content="crc64").readall() == data     # structured message answer
    fc.upload_range(b"Z" * 512, 0, 512, validate_content="crc64")
    assert fc.download_file(validate_content="crc64").readall() == b"Z" * 512 + data[512:]


def test_empty_set_directory_properties_keeps_the_smb_times(svc, share):
    d = svc.get_share_client(share).create_directory("smbdir")
    before = d.get_directory_properties()
    d.set_http_headers()
    d.set_directory_metadata({"k": "v"})
    after = d.get_directory_properties()
    assert (after.creation_time, after.last_write_time, after.permission_key) == \
        (before.creation_time, before.last_write_time, before.permission_key)
    written = datetime(2020, 2, 2, 2, 2, 2, 222222, tzinfo=timezone.utc)
    d.set_http_headers(file_last_write_time=written)
    assert d.get_directory_properties().last_write_time == written
