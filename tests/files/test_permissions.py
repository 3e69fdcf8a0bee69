"""Create / Get Permission and x-ms-file-permission in both formats (SDDL and binary), through the SDK."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.fileshare import ContentSettings

from tests.unit.test_sddl import BINARY, SDDL


def test_a_permission_is_given_back_in_the_format_asked_for(svc, share):
    sc = svc.get_share_client(share)
    key = sc.create_permission_for_share(SDDL)
    assert sc.get_permission_for_share(key, file_permission_format="sddl") == SDDL
    assert sc.get_permission_for_share(key, file_permission_format="binary") == BINARY
    assert sc.get_permission_for_share(key) == SDDL


def test_the_same_descriptor_has_one_key_in_either_format(svc, share):
    sc = svc.get_share_client(share)
    key = sc.create_permission_for_share(SDDL)
    # (the SDK's create_permission_for_share sends SDDL only: set the binary form on a file instead)
    fc = sc.get_file_client("f")
    fc.create_file(16, file_permission=BINARY, file_permission_format="binary")
    assert fc.get_file_properties().permission_key == key
    fc.set_http_headers(ContentSettings(content_language="es"), file_permission=SDDL)
    assert fc.get_file_properties().permission_key == key


def test_binary_permissions_on_directories_and_renames(svc, share):
    sc = svc.get_share_client(share)
    d = sc.create_directory("d", file_permission=BINARY, file_permission_format="binary")
    key = d.get_directory_properties().permission_key
    assert sc.get_permission_for_share(key, file_permission_format="sddl") == SDDL
    moved = d.rename_directory("e", file_permission=BINARY, file_permission_format="binary")
    assert moved.get_directory_properties().permission_key == key


@pytest.mark.parametrize("value, fmt", [("abcde", "sddl"), ("O:SY", "binary"), ("AQAUhGwAAAA=", "binary"),
                                        ("D:(Q;;FA;;;SY)", "sddl")])
def test_what_is_not_a_descriptor_is_refused(svc, share, value, fmt):
    fc = svc.get_share_client(share).get_file_client("bad")
    with pytest.raises(HttpResponseError) as err:
        fc.create_file(1, file_permission=value, file_permission_format=fmt)
    assert err.value.status_code == 400
    assert list(svc.get_share_client(share).list_directories_and_files()) == []
