"""The file plane under a WSGI server other than cheroot (Werkzeug's test client): raw URIs, SharedKey and the
generic request-body path of Put Range."""
from __future__ import annotations

import os
from email.utils import formatdate

import pytest

from emulator import create_app
from emulator.settings import Settings

from .conftest import ACCOUNT, sign


@pytest.fixture()
def client(tmp_path):
    app = create_app(Settings.from_env(environ={}, data_dir=tmp_path, executor="none"))
    return app.test_client(), tmp_path


def _call(client, method, target, body=b"", headers=None):
    headers = dict(headers or {})
    headers.update({"x-ms-version": "2019-02-02", "x-ms-date": formatdate(usegmt=True)})
    if method == "PUT":
        headers["Content-Length"] = str(len(body))
    path, _, query = target.partition("?")
    headers["Authorization"] = sign(method, path, query, headers)
    return client.open(target, method=method, data=body, headers=headers)


def test_put_range_and_download_through_the_test_client(client):
    c, data_dir = client
    assert _call(c, "PUT", f"/{ACCOUNT}/wsgi?restype=share").status_code == 201
    size = 3 * 1024 * 1024 + 5
    assert _call(c, "PUT", f"/{ACCOUNT}/wsgi/sub%20dir?restype=directory").status_code == 201
    target = f"/{ACCOUNT}/wsgi/sub%20dir/f.bin"
    assert _call(c, "PUT", target, headers={"x-ms-type": "file", "x-ms-content-length": str(size)}).status_code == 201
    data = os.urandom(size)
    resp = _call(c, "PUT", target + "?comp=range", data, {"x-ms-range": f"bytes=0-{size - 1}", "x-ms-write": "update"})
    assert resp.status_code == 201, resp.data
    assert (data_dir / "shares" / ACCOUNT / "wsgi" / "sub dir" / "f.bin").read_bytes() == data
    resp = _call(c, "GET", target, headers={"x-ms-range": "bytes=10-19"})
    assert resp.status_code == 206 and resp.data == data[10:20]
    assert _call(c, "GET", f"/{ACCOUNT}/wsgi/%2e%2e/x").status_code == 400
