"""Slow clients: connections that never send a byte (or never finish a TLS hello) must not hold the listener or a
worker. Before the fix one idle socket stalled the HTTPS accept loop for its 10 s timeout and 16 idle sockets took
every HTTP worker: the requests below then waited until the server timed the idle sockets out and closed them.
Here every request must be answered while every idle socket is still open (no wall-clock assertion: the server
closing an idle socket is what it had to do to reach our request)."""
from __future__ import annotations

import socket
import ssl

import pytest
import requests

from tests.conftest import start_live

IDLE = 200


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    live = start_live(tmp_path_factory.mktemp("slow-clients"))
    yield live
    live.server.stop()
    assert not live.server_errors


def _idle_sockets(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_requests_are_served_while_idle_connections_hold_nothing(served, scheme):
    port = served.server.http_port if scheme == "http" else served.server.https_port
    base = served.http_url if scheme == "http" else served.https_url
    idle = _idle_sockets(port, IDLE)
    try:
        with requests.Session() as kept_alive:
            for _ in range(10):
                # a fresh connection each time (queued behind the idle ones) and a kept-alive one
                r = requests.get(f"{base}/_emulator/health", verify=served.ca_bundle, timeout=60)
                assert r.status_code == 200
                r = kept_alive.get(f"{base}/_emulator/health", verify=served.ca_bundle, timeout=60)
                assert r.status_code == 200
        assert all(_still_open(s) for s in idle), "the server had to time idle connections out to answer"
    finally:
        for s in idle:
            s.close()


def test_a_stalled_tls_handshake_does_not_block_other_clients(served):
    # a client that sends its hello and then never finishes the handshake
    raw = socket.create_connection(("127.0.0.1", served.server.https_port), timeout=5)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.create_default_context(cafile=served.ca_bundle)
    half = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        half.do_handshake()
    raw.sendall(outgoing.read())
    try:
        for _ in range(5):
            r = requests.get(f"{served.https_url}/_emulator/health", verify=served.ca_bundle, timeout=60)
            assert r.status_code == 200
        assert _still_open(raw)
    finally:
        raw.close()


def test_plain_http_on_the_https_port_gets_an_arm_error(served):
    with socket.create_connection(("127.0.0.1", served.server.https_port), timeout=10) as s:
        s.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert b'"code": "BadRequest"' in body and b"HTTPS" in body
