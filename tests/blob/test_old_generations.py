"""azureBlobFileSystems through the old SDK generations (azure-mgmt-batchai 0.2.0, 1.0.1, 2.0.0: the three
api-versions), on the local executor; the outputs the job wrote into the container are read back with the Blob
SDK."""
from __future__ import annotations

import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from tests.conftest import start_live
from tests.sdk.conftest import run_flow, sdk0_python, sdk1_python, sdk2_python  # noqa: F401  (fixtures)

from .conftest import connection_string


@pytest.fixture(scope="module")
def local_live(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("blob-old"), executor="local", gpus="none", allocation_delay=0.05)
    yield live
    live.server.stop()
    assert not live.server_errors, live.server_errors


@pytest.mark.parametrize("generation,fixture,api_version", [
    ("2.0.0", "sdk2_python", "2018-05-01"), ("1.0.1", "sdk1_python", "2018-03-01"),
    ("0.2.0", "sdk0_python", "2017-09-01-preview")])
def test_blob_mounts_through_old_sdks(local_live, request, generation, fixture, api_version):
    python = request.getfixturevalue(fixture)
    account, key = next(iter(local_live.settings.accounts().items()))
    svc = BlobServiceClient.from_connection_string(connection_string(local_live.blob_url))
    data = svc.create_container("old" + uuid.uuid4().hex[:8])
    jobdata = svc.create_container("oldjob" + uuid.uuid4().hex[:8])
    data.upload_blob("input/words.txt", b"old sdk words\n")
    report = run_flow(python, "../../blob/flows/blob_mounts_old.py", "--endpoint", local_live.http_url,
                      "--account", account, "--key", key, "--data", data.container_name,
                      "--jobdata", jobdata.container_name, "--rg", f"blob-{generation}")
    assert report["api_version"] == api_version
    state, errors, refs = report["cluster"]
    assert state == "steady" and errors == []
    assert refs == [[data.container_name, "data", None]], "the key is a secret: never echoed"
    job_state, segment, job_mounts = report["job"]
    assert job_state == "succeeded"
    assert report["outputs"] == ["upper.txt"]
    written = [b.name for b in data.list_blobs() if b.name.endswith("upper.txt")]
    assert len(written) == 1 and data.download_blob(written[0]).readall() == b"OLD SDK WORDS\n"
    if segment:
        assert written == [f"{segment}/outputs/results/upper.txt"]
    assert job_mounts == (api_version != "2017-09-01-preview")
    if job_mounts:
        assert jobdata.download_blob("written.txt").readall() == b"from-job\n"
    assert report["bad_key"] == ["MountVolumeFailed"]
