"""File and share leases through azure-storage-file-share: writes without the lease are refused, nothing changes."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError


def test_a_leased_file_refuses_writes_without_its_lease(svc, share):
    fc = svc.get_share_client(share).get_file_client("leased.txt")
    fc.upload_file(b"guarded")
    lease = fc.acquire_lease(lease_id="00000000-1111-2222-3333-444444444444")
    props = fc.get_file_properties()
    assert (props.lease.state, props.lease.status, props.lease.duration) == ("leased", "locked", "infinite")
    for call in (lambda: fc.upload_range(b"xxxxxxx", 0, 7), lambda: fc.set_file_metadata({"a": "b"}),
                 lambda: fc.resize_file(1), lambda: fc.delete_file(), lambda: fc.create_file(3)):
        with pytest.raises(HttpResponseError) as err:
            call()
        assert err.value.status_code == 412 and err.value.error_code == "LeaseIdMissing"
    with pytest.raises(HttpResponseError) as err:
        fc.upload_range(b"xxxxxxx", 0, 7, lease="99999999-1111-2222-3333-444444444444")
    assert err.value.status_code == 412
    assert fc.download_file().readall() == b"guarded"
    fc.upload_range(b"GUARDED", 0, 7, lease=lease)
    lease.change("44444444-3333-2222-1111-000000000000")
    with pytest.raises(HttpResponseError):
        fc.set_file_metadata({"a": "b"}, lease="00000000-1111-2222-3333-444444444444")
    lease.break_lease()
    assert fc.get_file_properties().lease.state == "broken"
    fc.set_file_metadata({"after": "break"})
    assert fc.download_file().readall() == b"GUARDED"
    fc.acquire_lease().release()
    fc.delete_file()


def test_share_lease_guards_delete_and_is_listed(svc, share):
    sc = svc.get_share_client(share)
    lease = sc.acquire_lease(lease_duration=15)
    assert [s.lease.state for s in svc.list_shares(name_starts_with=share)] == ["leased"]
    with pytest.raises(HttpResponseError) as err:
        sc.delete_share()
    assert err.value.status_code == 412
    lease.renew()
    assert lease.break_lease(lease_break_period=0) == 0
    assert sc.get_share_properties().lease.state == "broken"
    sc.delete_share()
