"""Fixtures of the file-plane tests: both file SDKs pointed at the live emulator's default account, unique
share names, the share directories on disk, and a raw HTTP helper (with an independent SharedKey signer) for
requests the SDKs cannot send."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import uuid
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from azure.storage.file import FileService
from azure.storage.fileshare import ShareServiceClient

from emulator.settings import DEFAULT_STORAGE_ACCOUNT as ACCOUNT, DEFAULT_STORAGE_KEY as KEY


def connection_string(url: str, account: str = ACCOUNT, key: str = KEY) -> str:
    scheme = url.split("://", 1)[0]
    return (f"DefaultEndpointsProtocol={scheme};AccountName={account};AccountKey={key};"
            f"FileEndpoint={url}/{account};")


@pytest.fixture(scope="module")
def cs(live) -> str:
    return connection_string(live.http_url)


@pytest.fixture(scope="module")
def fs(cs) -> FileService:
    return FileService(connection_string=cs)


@pytest.fixture(scope="module")
def svc(cs) -> ShareServiceClient:
    return ShareServiceClient.from_connection_string(cs)


@pytest.fixture()
def share(fs) -> str:
    name = "t" + uuid.uuid4().hex[:16]
    fs.create_share(name)
    return name


def share_dir(live, share: str, account: str = ACCOUNT) -> Path:
    return Path(live.settings.data_dir) / "shares" / account / share


def sign(method: str, raw_path: str, query: str, headers: dict[str, str], account: str = ACCOUNT,
         key: str = KEY) -> str:
    """SharedKey as the Storage REST docs define it (written here independently of the emulator's code)."""
    low = {k.lower(): v for k, v in headers.items()}
    length = low.get("content-length", "")
    std = [low.get("content-encoding", ""), low.get("content-language", ""), "" if length == "0" else length,
           low.get("content-md5", ""), low.get("content-type", ""), low.get("date", ""),
           low.get("if-modified-since", ""), low.get("if-match", ""), low.get("if-none-match", ""),
           low.get("if-unmodified-since", ""), low.get("range", "")]
    xms = "".join(f"{k}:{v}\n" for k, v in sorted(low.items()) if k.startswith("x-ms-"))
    params: dict[str, list[str]] = {}
    for item in filter(None, query.split("&")):
        k, _, v = item.partition("=")
        params.setdefault(unquote(k).lower(), []).append(unquote(v))
    resource = f"/{account}{raw_path}" + "".join(f"\n{k}:{','.join(sorted(v))}" for k, v in sorted(params.items()))
    text = "\n".join([method] + std) + "\n" + xms + resource
    mac = hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()
    return f"SharedKey {account}:{base64.b64encode(mac).decode()}"


class Raw:
    """Send exactly the request target given (no normalisation), optionally SharedKey-signed."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method: str, target: str, body: bytes = b"", headers: dict | None = None,
                signed: bool = True, account: str = ACCOUNT, key: str = KEY):
        headers = dict(headers or {})
        headers.setdefault("x-ms-version", "2019-02-02")
        headers.setdefault("x-ms-date", formatdate(usegmt=True))
        if method in ("PUT", "DELETE") or body:
            headers.setdefault("Content-Length", str(len(body)))
        if signed:
            path, _, query = target.partition("?")
            headers["Authorization"] = sign(method, path, query, headers, account, key)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


@pytest.fixture(scope="module")
def raw(live) -> Raw:
    return Raw(live.http_url)
