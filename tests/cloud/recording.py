"""Record every HTTP exchange a flow makes, and reduce it to the operations it performed.

Recording happens at `requests.Session.send`, below every SDK (azure-core's transport, MSAL through
azure-identity, the storage SDK, the plain download session) and above the network or the `responses` mock, so
the same recorder sees a run against the emulator and a run against mocked Azure in the same way. (The emulator's
own `observers` only see method, path and status, not bodies, and would not see the mocked side at all.)

`operations()` turns a recording into the sequence the one-flag proof compares:
- the cloud's own plumbing is set aside: the metadata document, Azure AD traffic, and polls of the URLs a
  long-running operation handed out (Location / Azure-AsyncOperation), whose number is the service's business;
- hosts are set aside: a file-plane URL `https://<account>.file.core.windows.net/<path>` (host style) and
  `https://127.0.0.1:P/<account>/<path>` (path style) both become `/<account>/<path>`;
- values the service handed out are named, not compared: the storage key from listKeys, the file endpoint from
  the storage account, each downloadUrl (as `<download DIR/NAME>`), and the random admin password;
- bodies compare as JSON; binary bodies by SHA-256;
- writes keep their exact order; the reads (GET/HEAD and listOutputFiles) between two writes compare as a set:
  how often a poll ran and how its rounds interleaved depend on timing (a log file may show up a round before
  another), what was read does not.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import requests

_FILE_HOST = re.compile(r"^(?P<account>[a-z0-9]+)\.file\.core\.windows\.net$")
_AAD_PATH = re.compile(r"/oauth2/(v2\.0/)?(token|authorize)$|/\.well-known/openid-configuration$|/discovery/")
_VOLATILE_QUERY = {"sv", "sig", "se", "sp", "sr", "st", "spr", "timeout", "monitor"}


@dataclass
class Exchange:
    method: str
    url: str
    body: bytes
    status: int
    response_headers: dict
    response_body: bytes

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def json(self):
        try:
            return json.loads(self.response_body or b"null")
        except ValueError:
            return None


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        # a file-like upload body: read it, and send the same bytes on
        data = body.read()
        data = data.encode() if isinstance(data, str) else data
        request.body = data
        return data
    data = b"".join(bytes(chunk) for chunk in body)
    request.body = data
    return data


class Recorder:
    """Install with `install(monkeypatch)`; `exchanges` grows as requests complete."""

    def __init__(self):
        self.exchanges: list[Exchange] = []

    def install(self, monkeypatch) -> "Recorder":
        original = requests.Session.send
        recorder = self

        def send(session, request, **kwargs):
            body = _body_bytes(request)
            response = original(session, request, **kwargs)
            # JSON bodies are read even when the caller streams (azure-core streams LRO initial responses):
            # requests keeps them, and iter_content replays them; file bodies stay unread
            json_body = "json" in response.headers.get("content-type", "")
            content = response.content if json_body or not kwargs.get("stream") else b""
            recorder.exchanges.append(Exchange(request.method, request.url, body, response.status_code,
                                               {k.lower(): v for k, v in response.headers.items()}, content))
            return response

        monkeypatch.setattr(requests.Session, "send", send)
        return self

    def clear(self) -> None:
        self.exchanges.clear()


def is_aad(ex: Exchange) -> bool:
    return bool(_AAD_PATH.search(ex.path))


def is_metadata(ex: Exchange) -> bool:
    return ex.path.rstrip("/").endswith("/metadata/endpoints")


def _handed_out(exchanges: list[Exchange]) -> tuple[set, dict]:
    """(LRO poll URLs, {service-issued string: its name})."""
    polls, names = set(), {}
    for ex in exchanges:
        for header in ("location", "azure-asyncoperation"):
            if ex.response_headers.get(header) and 200 <= ex.status < 300:
                polls.add(ex.response_headers[header])
        doc = ex.json()
        if not isinstance(doc, dict):
            continue
        if ex.path.lower().endswith("/listkeys"):
            for key in doc.get("keys") or []:
                names[key["value"]] = f"<storage key {key.get('keyName')}>"
        endpoint = ((doc.get("properties") or {}).get("primaryEndpoints") or {}).get("file")
        if endpoint:
            names[endpoint.rstrip("/")] = "<file endpoint>"
        if ex.path.lower().endswith("/listoutputfiles"):
            directory = dict(parse_qsl(urlsplit(ex.url).query)).get("outputdirectoryid", "?")
            for entry in doc.get("value") or []:
                if entry.get("downloadUrl"):
                    names[entry["downloadUrl"]] = f"<download {directory}/{entry['name']}>"
    return polls, names


def _address(ex: Exchange, names: dict) -> str:
    if ex.url in names:
        return names[ex.url]
    parts = urlsplit(ex.url)
    m = _FILE_HOST.match(parts.hostname or "")
    path = f"/{m.group('account')}{parts.path}" if m else parts.path
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _VOLATILE_QUERY)
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")


def _mask(value, names: dict):
    if isinstance(value, dict):
        return {k: ("<password>" if k == "adminUserPassword" else _mask(v, names)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, names) for v in value]
    if isinstance(value, str):
        for issued in sorted(names, key=len, reverse=True):
            value = value.replace(issued, names[issued])
        return value
    return value


def _body(ex: Exchange, names: dict):
    if not ex.body:
        return None
    try:
        return _mask(json.loads(ex.body), names)
    except ValueError:
        return "sha256:" + hashlib.sha256(ex.body).hexdigest()[:16]


def _is_read(ex: Exchange) -> bool:
    return ex.method in ("GET", "HEAD") or (ex.method == "POST" and ex.path.lower().endswith("/listoutputfiles"))


def operations(exchanges: list[Exchange]) -> list[tuple]:
    """Every write as (method, address, body), and between writes the sorted distinct reads as one entry
    ("reads", (method, address, body), ...), as described in the module docstring."""
    polls, names = _handed_out(exchanges)
    out, reads = [], set()

    def close_reads():
        if reads:
            out.append(("reads", *sorted(reads)))
            reads.clear()
    for ex in exchanges:
        if is_aad(ex) or is_metadata(ex) or ex.url in polls:
            continue
        op = (ex.method, _address(ex, names), json.dumps(_body(ex, names), sort_keys=True))
        if _is_read(ex):
            reads.add(op)
        else:
            close_reads()
            out.append(op)
    close_reads()
    return out


def token_requests(exchanges: list[Exchange]) -> list[dict]:
    """The form fields of every Azure AD token request (secrets removed)."""
    out = []
    for ex in exchanges:
        if ex.method == "POST" and ex.path.endswith("/token"):
            form = dict(parse_qsl(ex.body.decode()))
            form.pop("client_secret", None)
            out.append({"path": ex.path, **form})
    return out
