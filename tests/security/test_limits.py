"""Size limits on the ARM/JSON surface (bodies 4 MB, headers 64 KB, ARM's tag rules), answered as ARM errors, while
the Files data plane keeps its own rules; and request targets starting with `//`."""
from __future__ import annotations

import socket

import pytest
import requests

from emulator import limits
from tests.conftest import start_live

SUB = "00000000-0000-0000-0000-00000000a11c"
H = {"Authorization": "Bearer t"}
RG_V = "api-version=2021-04-01"
V = "api-version=2018-05-01"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("limits"))
    requests.put(f"{live.http_url}/subscriptions/{SUB}/resourcegroups/rg?{RG_V}", json={"location": "eastus"},
                 headers=H).raise_for_status()
    yield live
    live.server.stop()
    assert not live.server_errors


def _arm_error(r: requests.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"]["code"] == code, r.text[:300]
    return r.json()["error"]


def test_a_json_body_over_4_mb_is_refused_before_it_is_read(served):
    url = f"{served.http_url}/subscriptions/{SUB}/resourcegroups/big?{RG_V}"
    big = b'{"location": "eastus", "tags": {"a": "' + b"x" * (limits.MAX_JSON_BODY + 10) + b'"}}'
    r = requests.put(url, data=big, headers={**H, "Content-Type": "application/json"})
    _arm_error(r, 413, "RequestEntityTooLarge")
    # the same without a Content-Length (chunked): cut off at the limit
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))
    r = requests.put(url, data=chunks, headers={**H, "Content-Type": "application/json"})
    _arm_error(r, 413, "RequestEntityTooLarge")
    assert requests.get(url, headers=H).status_code == 404
    # the AAD endpoints are JSON/form surface too
    r = requests.post(f"{served.http_url}/t/oauth2/token", data={"client_id": "a", "x": "y" * (5 << 20)})
    _arm_error(r, 413, "RequestEntityTooLarge")


def test_the_files_plane_keeps_its_own_rules_for_large_bodies(served):
    # a 5 MB range is the data plane's business: answered in Storage XML, not cut off as an ARM body
    account = next(iter(served.settings.accounts()))
    r = requests.put(f"{served.http_url}/{account}/share/f?comp=range", data=b"x" * (5 << 20),
                     headers={"x-ms-range": f"bytes=0-{(5 << 20) - 1}", "x-ms-write": "update"})
    assert r.status_code != 413 or not r.headers["Content-Type"].startswith("application/json")
    assert "xml" in r.headers.get("Content-Type", "")


def test_headers_over_the_limit_get_431_as_an_arm_error(served):
    r = requests.get(f"{served.http_url}/_emulator/health", headers={"X-Big": "y" * (100 << 10)})
    error = _arm_error(r, 431, "RequestHeaderFieldsTooLarge")
    assert str(64 << 10) in error["message"]
    # within the limit: served
    assert requests.get(f"{served.http_url}/_emulator/health", headers={"X-Big": "y" * 8000}).status_code == 200


def test_a_malformed_request_line_gets_an_arm_error(served):
    with socket.create_connection(("127.0.0.1", served.server.http_port), timeout=10) as s:
        s.sendall(b"GET /x HTTP/1.1 extra\nHost: a\r\n\r\n")
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400") and b"application/json" in answer and b'"error"' in answer


def test_a_path_starting_with_two_slashes_is_served_as_one(served):
    r = requests.get(f"{served.http_url}//subscriptions/{SUB}/resourcegroups/rg?{RG_V}", headers=H)
    assert r.status_code == 200 and r.json()["name"] == "rg"
    r = requests.post(f"{served.https_url}//my-tenant/oauth2/token", verify=served.ca_bundle,
                      data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "s",
                            "resource": served.https_url + "/"})
    assert r.status_code == 200 and r.json()["access_token"]
    r = requests.get(f"{served.http_url}///nothing-here", headers=H)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")


def test_the_login_endpoint_makes_an_authority_msal_accepts(served):
    # azure-cli (az login --tenant T) gives MSAL the authority <loginEndpoint>/T
    from msal.authority import canonicalize
    for version in ("2015-01-01", "2022-09-01"):  # one object; a list of clouds (what azure-cli 2.x reads)
        document = requests.get(f"{served.https_url}/metadata/endpoints?api-version={version}",
                                verify=served.ca_bundle).json()
        login = (document[0] if isinstance(document, list) else document)["authentication"]["loginEndpoint"]
        _, host, tenant = canonicalize(f"{login}/my-tenant")
        assert (host, tenant) == ("127.0.0.1", "my-tenant")


def _ws(served, name: str, tags: dict) -> requests.Response:
    return requests.put(f"{served.http_url}/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.BatchAI/"
                        f"workspaces/{name}?{V}", json={"location": "eastus", "tags": tags}, headers=H)


def _rg(served, name: str, tags: dict) -> requests.Response:
    return requests.put(f"{served.http_url}/subscriptions/{SUB}/resourcegroups/{name}?{RG_V}",
                  json={"location": "eastus", "tags": tags}, headers=H)


def _account(served, name: str, tags: dict) -> requests.Response:
    return requests.put(f"{served.http_url}/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/"
                        f"storageAccounts/{name}?api-version=2023-01-01",
                        json={"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                              "tags": tags}, headers=H)


@pytest.mark.parametrize("make", [_ws, _rg, _account], ids=["workspace", "resource-group", "storage-account"])
def test_tags_follow_arm_rules_on_every_resource(served, make):
    name = f"tags{make.__name__.strip('_')}"
    name_limit = limits.MAX_STORAGE_TAG_NAME if make is _account else limits.MAX_TAG_NAME
    _arm_error(make(served, name, {f"k{i}": "v" for i in range(51)}), 400, "InvalidTagCount")
    _arm_error(make(served, name, {"n" * (name_limit + 1): "v"}), 400, "InvalidTagNameLength")
    _arm_error(make(served, name, {"k": "v" * 257}), 400, "InvalidTagValueLength")
    _arm_error(make(served, name, {"k": "v" * (50 << 20 >> 4)}), 400, "InvalidTagValueLength")
    at_limits = {f"k{i:02d}" + "n" * (name_limit - 3): "v" * 256 for i in range(50)}
    r = make(served, name, at_limits)
    assert r.status_code in (200, 201), r.text[:300]
    assert r.json()["tags"] == at_limits


def test_tag_updates_are_checked_too(served):
    assert _ws(served, "patched", {}).status_code == 200
    r = requests.patch(f"{served.http_url}/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.BatchAI/"
                       f"workspaces/patched?{V}", json={"tags": {f"k{i}": "v" for i in range(51)}}, headers=H)
    _arm_error(r, 400, "InvalidTagCount")
