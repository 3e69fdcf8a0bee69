"""Azure ML artifact and log links serve only the regular file they were made for: a live run's log that the job
swaps for a link (to the data dir's signing key, say) after it was listed serves nothing."""
from __future__ import annotations

import os

from emulator import create_app
from emulator.settings import Settings


def test_a_linked_artifact_swapped_for_a_link_is_not_served(tmp_path):
    app = create_app(Settings.from_env(environ={}, data_dir=tmp_path / "data", executor="none"))
    data = app.extensions["batchai"].settings.data_dir
    assets = app.extensions["azureml"].assets
    log = data / "jobs" / "k" / "node-0" / "azureml" / "azureml-logs" / "70_driver_log.txt"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"0123456789")
    url = assets.link(log, "http://x")
    path = url.split("http://x", 1)[1]
    client = app.test_client()
    r = client.get(path, headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.data == b"234" and r.headers["ETag"]
    assert client.get(path).data == b"0123456789"
    if not (data / "key.pem").exists():
        (data / "key.pem").write_text("SIGNING KEY")
    log.unlink()
    os.symlink(data / "key.pem", log)
    r = client.get(path)
    assert r.status_code == 403 and b"SIGNING" not in r.data and b"PRIVATE" not in r.data
    app.extensions["batchai"].store.close()
