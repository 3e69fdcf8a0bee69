"""List Handles / Force Close Handles through azure-storage-file-share: the emulator has no SMB sessions (jobs
mount shares as host bind mounts), so no handle is ever open; the operations still check their paths and
headers as the service does."""
from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError


def test_no_handles_are_open_and_closing_them_closes_none(svc, share, raw, live):
    client = svc.get_share_client(share)
    d = client.create_directory("dir")
    f = d.get_file_client("f.txt")
    f.upload_file(b"x")
    root = client.get_directory_client()
    assert list(root.list_handles(recursive=True)) == []
    pages = root.list_handles(recursive=True, results_per_page=1).by_page()
    assert [list(p) for p in pages] == [[]] and pages.continuation_token in (None, "")
    assert list(d.list_handles(recursive=False)) == [] and list(f.list_handles()) == []
    assert root.close_all_handles(recursive=True) == {"closed_handles_count": 0, "failed_handles_count": 0}
    assert f.close_handle("12345") == {"closed_handles_count": 0, "failed_handles_count": 0}
    with pytest.raises(ValueError):             # the SDK's own check: '*' goes through close_all_handles
        f.close_handle("*")
    with pytest.raises(ResourceNotFoundError):
        list(client.get_directory_client("missing").list_handles())
    with pytest.raises(ResourceNotFoundError):
        d.get_file_client("missing.txt").close_all_handles()
    from emulator.settings import DEFAULT_STORAGE_ACCOUNT as account
    status, headers, _ = raw.request("PUT", f"/{account}/{share}/dir/f.txt?comp=forceclosehandles")
    assert status == 400 and headers["x-ms-error-code"] == "MissingRequiredHeader"
    status, headers, _ = raw.request("PUT", f"/{account}/{share}/dir/f.txt?comp=forceclosehandles",
                                     headers={"x-ms-handle-id": "not-an-id"})
    assert status == 400 and headers["x-ms-error-code"] == "InvalidHeaderValue"
