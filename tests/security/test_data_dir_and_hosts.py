"""What the data dir exposes (its secrets 0600, the dir 0700, tightened at start), links that never echo a forged
Host header, and --client-secret checked by the AAD token endpoints."""
from __future__ import annotations

import os
import stat

import pytest
import requests

from tests.conftest import start_live
from tests.security.test_auth_and_links import SUB, B, V, _job_with_output

EVIL = "evil.example:6666"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    data = tmp_path_factory.mktemp("hosts") / "data"
    data.mkdir(mode=0o755)
    # what an older version left: world-readable secrets
    (data / "secret.key").write_bytes(os.urandom(32))
    os.chmod(data / "secret.key", 0o644)
    live = start_live(data)
    url, _ = _job_with_output(live)
    yield live, url
    live.server.stop()
    assert not live.server_errors


def test_the_data_dir_and_its_secrets_are_readable_by_this_user_only(seeded):
    live, _ = seeded
    data = live.settings.data_dir
    assert _mode(data) == 0o700
    present = [name for name in ("emulator.db", "emulator.db-wal", "emulator.db-shm", "secret.key", "key.pem")
               if (data / name).exists()]
    assert {"emulator.db", "emulator.db-wal", "secret.key", "key.pem"} <= set(present)
    for name in present:
        assert _mode(data / name) == 0o600, name


def test_a_fresh_data_dir_is_created_private(tmp_path):
    live = start_live(tmp_path / "fresh")
    try:
        requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/r?api-version=2021-04-01",
                     json={"location": "eastus"}, headers={"Authorization": "Bearer t"}).raise_for_status()
        assert _mode(tmp_path / "fresh") == 0o700
        for name in ("emulator.db", "emulator.db-wal", "emulator.db-shm", "secret.key", "key.pem"):
            assert _mode(tmp_path / "fresh" / name) == 0o600, name
    finally:
        live.server.stop()


def _no_forged_host(text: str, live) -> None:
    assert "evil.example" not in text and "6666" not in text, text[:500]


def test_a_forged_host_header_never_reaches_a_link(seeded):
    live, _ = seeded
    forged = {"Authorization": "Bearer t", "Host": EVIL}
    requests.put(f"{live.http_url}{B}/workspaces/ws2?{V}", json={"location": "eastus"},
                 headers={"Authorization": "Bearer t"}).raise_for_status()
    r = requests.get(f"{live.http_url}{B}/workspaces?{V}&maxresults=1", headers=forged)
    next_link = r.json()["nextLink"]
    _no_forged_host(next_link, live)
    assert next_link.startswith(f"http://127.0.0.1:{live.server.http_port}/")
    assert requests.get(next_link, headers={"Authorization": "Bearer t"}).status_code == 200
    r = requests.post(f"{live.http_url}{B}/workspaces/ws/experiments/e/jobs/j/listOutputFiles?{V}"
                      "&outputdirectoryid=stdouterr", headers=forged)
    download = r.json()["value"][0]["downloadUrl"]
    _no_forged_host(download, live)
    assert requests.get(download).text == "job output"
    for url in (f"{live.http_url}/metadata/endpoints?api-version=2019-05-01",
                f"{live.https_url}/my-tenant/v2.0/.well-known/openid-configuration"):
        r = requests.get(url, headers={"Host": EVIL}, verify=live.ca_bundle)
        _no_forged_host(r.text, live)
        assert f"https://127.0.0.1:{live.server.https_port}" in r.text
    account = next(iter(live.settings.accounts()))
    r = requests.get(f"{live.http_url}/{account}/?comp=list", headers={"Host": EVIL})
    _no_forged_host(r.text, live)


def test_loopback_names_the_client_used_are_kept_with_the_real_port(seeded):
    live, _ = seeded
    r = requests.get(f"{live.http_url}{B}/workspaces?{V}&maxresults=1",
                     headers={"Authorization": "Bearer t", "Host": "localhost:1"})
    assert r.json()["nextLink"].startswith(f"http://localhost:{live.server.http_port}/")


def test_public_url_overrides_the_address(tmp_path):
    live = start_live(tmp_path / "d", public_https_url="https://emulator.test:9443")
    try:
        r = requests.get(f"{live.http_url}/metadata/endpoints", headers={"Host": EVIL})
        assert r.json()["resourceManager"] == "https://emulator.test:9443/"
    finally:
        live.server.stop()


def _token(live, client_id: str, secret: str) -> requests.Response:
    return requests.post(f"{live.https_url}/t/oauth2/v2.0/token", verify=live.ca_bundle,
                         data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                               "scope": live.https_url + "/.default"})


def test_client_secrets_are_checked_when_configured(tmp_path):
    live = start_live(tmp_path / "d", strict_auth=True, client_secrets=["app:s3cret", "other:x:y"])
    try:
        assert _token(live, "app", "wrong").json()["error"] == "invalid_client"
        assert _token(live, "app", "wrong").status_code == 401
        assert _token(live, "stranger", "s3cret").json()["error"] == "unauthorized_client"
        assert _token(live, "other", "x:y").status_code == 200
        token = _token(live, "app", "s3cret").json()["access_token"]
        r = requests.get(f"{live.http_url}/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01",
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    finally:
        live.server.stop()


@pytest.mark.parametrize("flag", [["--client-secret", "no-colon"], ["--public-url", "ftp://x"]])
def test_bad_auth_and_url_flags_are_refused_at_start(tmp_path, flag):
    import subprocess
    import sys
    from pathlib import Path
    cmd = [str(Path(sys.executable).parent / "batchai-emulator"), "serve", "--port", "0", "--https-port", "0",
           "--data-dir", str(tmp_path / "d"), "--executor", "none", *flag]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and flag[0] in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand a directory to another user")
def test_root_in_a_container_hands_the_data_dir_to_the_checkout_owner(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    os.chown(checkout, 4321, 4321)
    live = start_live(checkout / ".data")
    try:
        data = checkout / ".data"
        assert (os.stat(data).st_uid, _mode(data)) == (4321, 0o700)
        assert _mode(data / "cert.pem") & 0o004
        for name in ("emulator.db", "secret.key", "key.pem"):
            assert (os.stat(data / name).st_uid, _mode(data / name)) == (0, 0o600), name
    finally:
        live.server.stop()
