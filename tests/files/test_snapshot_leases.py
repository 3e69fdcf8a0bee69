"""Leases on share snapshots: a snapshot has its own lease, apart from the share's."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError


def test_a_snapshot_has_its_own_lease(svc, share):
    sc = svc.get_share_client(share)
    snapshot = sc.create_snapshot()
    snap = svc.get_share_client(share, snapshot=snapshot)
    share_lease = sc.acquire_lease(lease_id="00000000-1111-2222-3333-444444444444")
    snap_lease = snap.acquire_lease(lease_id="44444444-3333-2222-1111-000000000000")
    assert snap.get_share_properties().lease.state == "leased"
    with pytest.raises(HttpResponseError):
        sc.get_share_properties(lease=snap_lease)
    with pytest.raises(HttpResponseError):
        snap.get_share_properties(lease=share_lease)
    assert snap.get_share_properties(lease=snap_lease).snapshot == snapshot["snapshot"]
    # a leased snapshot is not deleted by accident
    share_lease.release()
    with pytest.raises(HttpResponseError) as err:
        sc.delete_share(delete_snapshots=True)
    assert err.value.error_code == "DeleteShareWhenSnapshotLeased"
    with pytest.raises(HttpResponseError):
        snap.delete_share()
    snap_lease.release()
    assert snap.get_share_properties().lease.state == "available"
    snap.delete_share()
    sc.delete_share()
