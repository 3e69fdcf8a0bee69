"""cheroot, hardened for clients that misbehave.

* A connection that sends nothing never holds the accept loop or a worker thread: new connections wait in the
  connection manager's selector (as kept-alive ones already did) until their first byte arrives, and TLS
  handshakes are driven there without blocking, so an idle socket or a stalled hello costs one file descriptor
  until the idle timeout closes it.
* The backlog is large (the kernel caps it at somaxconn), not cheroot's 5.
* cheroot's own answers (malformed request line, headers over the limit, timeouts) come in the ARM error form, and
  headers over the limit get 431 instead of 413.
* A request target starting with `//` is served as `/...` (cheroot would read `//x` as an absolute URI with
  authority x and answer a plain-text 400), as Azure's front doors accept it: `az login --tenant T` builds
  `<loginEndpoint>/T` from a loginEndpoint ending in `/`.

This leans on cheroot's ConnectionManager internals (`_selector`, `_run`); pyproject.toml pins the major
version it was written against.
"""
from __future__ import annotations

import contextlib
import errno
import json
import re
import resource
import selectors
import socket
import ssl
import time
from http import HTTPStatus

from cheroot import connections, server as cheroot_server, wsgi
from cheroot.makefile import MakeFile

# request line + headers; bearer tokens and SharedKey headers are a few KB, a long $filter or skiptoken a few more
MAX_HEADER_BYTES = 64 << 10
# an unread request body larger than this is not drained to keep the connection alive: the connection is closed
MAX_DRAIN_BYTES = 1 << 20
IDLE_TIMEOUT = 10
BACKLOG = 1024
ACCEPTS_PER_WAKEUP = 64

_LEADING_SLASHES = re.compile(rb"^([A-Za-z]+ )//+")


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard limit (idle connections each hold one); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
    return soft


def arm_error_body(status: int, message: str) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = re.sub(r"[^A-Za-z]", "", phrase.title()) or "Error"
    return json.dumps({"error": {"code": code, "message": message or phrase}}).encode()


class _CollapseLeadingSlashes:
    """Wraps the request's input while its request line is read: `GET //a/b HTTP/1.1` is read as `GET /a/b ...`."""

    def __init__(self, inner):
        self.inner = inner

    def readline(self, size=None):
        line = self.inner.readline(size) if size is not None else self.inner.readline()
        return _LEADING_SLASHES.sub(rb"\1/", line, count=1)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _Request(cheroot_server.HTTPRequest):
    def read_request_line(self):
        inner = self.rfile
        self.rfile = _CollapseLeadingSlashes(inner)
        try:
            return super().read_request_line()
        finally:
            self.rfile = inner

    def simple_response(self, status, msg=""):
        """cheroot's own answers, as ARM errors (application/json) instead of text/plain."""
        status = str(status)
        code = int(status[:3])
        if code == 413 and "headers" in str(msg):
            status, code = "431 Request Header Fields Too Large", 431
            msg = f"The request line and headers exceed the emulator's limit of {MAX_HEADER_BYTES} bytes."
        body = arm_error_body(code, msg.decode("latin-1") if isinstance(msg, bytes) else str(msg))
        if code in (413, 414, 431):
            self.close_connection = True
        if self.response_protocol != "HTTP/1.1" and code in (413, 414, 431):
            status = "400 Bad Request"  # HTTP/1.0 has none of these statuses
        head = [f"{self.server.protocol} {status}", f"Content-Length: {len(body)}",
                "Content-Type: application/json; charset=utf-8"]
        if self.close_connection:
            head.append("Connection: close")
        try:
            self.conn.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except OSError as exc:
            if exc.args[0] not in cheroot_server.errors.socket_errors_to_ignore:
                raise

    def send_headers(self):
        # cheroot drains an unread body in one read() to keep the connection: for a large one, close instead
        if getattr(self.rfile, "remaining", 0) > MAX_DRAIN_BYTES:
            self.close_connection = True
        super().send_headers()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class _Handshake:
    """A TLS connection whose handshake is under way, stepped by the selector thread without blocking."""

    def __init__(self, sock: ssl.SSLSocket, addr):
        self.socket = sock
        self.addr = addr
        self.last_used = time.time()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()


class _IdleSafeConnections(connections.ConnectionManager):
    """cheroot's selector loop, but a connection reaches a worker only once it has bytes to read."""

    def __init__(self, server, max_connections: int):
        super().__init__(server)
        self.max_connections = max_connections

    def put(self, conn):
        # bytes already decrypted inside the TLS object do not wake the selector: serve them now
        pending = getattr(conn.socket, "pending", None)
        if pending is not None and pending() > 0:
            conn.last_used = time.time()
            self.server.process_conn(conn)
            return
        super().put(conn)

    def _run(self, expiration_interval):
        last_expiration_check = time.time()
        while not self._stop_requested:
            try:
                ready = list(self._selector.select(timeout=expiration_interval))
            except OSError:
                self._remove_invalid_sockets()
                continue
            for fd, item in ready:
                if item is self.server:
                    self._accept()
                elif isinstance(item, _Handshake):
                    self._step_handshake(fd, item)
                else:
                    self._selector.unregister(fd)
                    self.server.process_conn(item)
            now = time.time()
            if now - last_expiration_check > expiration_interval:
                self._expire(threshold=now - self.server.timeout)
                last_expiration_check = now

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, addr = self.server.socket.accept()
            except (BlockingIOError, InterruptedError, socket.timeout):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._expire(threshold=time.time() - 1)  # out of descriptors: drop the longest idle
                    return
                if exc.errno in cheroot_server.errors.socket_errors_to_ignore:
                    return
                raise
            if self._num_connections >= self.max_connections:
                self._expire(threshold=time.time() - 1)
                if self._num_connections >= self.max_connections:
                    sock.close()
                    continue
            connections.prevent_socket_inheritance(sock)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            adapter = self.server.ssl_adapter
            if adapter is None:
                sock.settimeout(self.server.timeout)
                self.put(self._connection(sock, addr, MakeFile, {}))
                continue
            sock.setblocking(False)
            try:
                tls = adapter.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except OSError:
                sock.close()
                continue
            self._selector.register(tls.fileno(), selectors.EVENT_READ, _Handshake(tls, addr))

    def _step_handshake(self, fd: int, hs: _Handshake) -> None:
        self._selector.unregister(fd)
        try:
            hs.socket.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.register(fd, selectors.EVENT_READ, hs)
            return
        except ssl.SSLWantWriteError:
            self._selector.register(fd, selectors.EVENT_WRITE, hs)
            return
        except ssl.SSLError as exc:
            if "http request" in str(exc).lower():
                self._answer_plain_http(hs)
            hs.close()
            return
        except OSError:
            hs.close()
            return
        adapter = self.server.ssl_adapter
        tls = hs.socket
        tls.settimeout(self.server.timeout)
        try:
            conn = self._connection(tls, hs.addr, adapter.makefile, adapter.get_environ(tls))
        except OSError:
            hs.close()
            return
        self.put(conn)

    @staticmethod
    def _answer_plain_http(hs: _Handshake) -> None:
        body = arm_error_body(400, "The client sent a plain HTTP request to the emulator's HTTPS port.")
        head = f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n" \
               "Connection: close\r\n\r\n"
        raw = hs.socket  # written to as the plain socket under the TLS object
        with contextlib.suppress(OSError):
            socket.socket.send(raw, head.encode() + body)
            # read what is left of the request, or closing with unread bytes resets the answer away
            for _ in range(16):
                if not socket.socket.recv(raw, 65536):
                    break
        with contextlib.suppress(OSError):
            socket.socket.shutdown(raw, socket.SHUT_WR)

    def _connection(self, sock, addr, makefile, ssl_env):
        conn = self.server.ConnectionClass(self.server, sock, makefile)
        if isinstance(addr, tuple) and len(addr) >= 2:
            conn.remote_addr, conn.remote_port = addr[0], addr[1]
        conn.ssl_env = ssl_env
        return conn


class Listener(wsgi.Server):
    """A cheroot WSGI server on one port with the behaviour above."""

    ConnectionClass = _Connection
    max_request_header_size = MAX_HEADER_BYTES

    def __init__(self, bind_addr, app, threads: int = 16, server_name: str = "batchai-emulator"):
        super().__init__(bind_addr, app, numthreads=threads, server_name=server_name, request_queue_size=BACKLOG,
                         timeout=IDLE_TIMEOUT, shutdown_timeout=2)
        self.max_connections = max(256, raise_open_files_limit() - 256)
        self.keep_alive_conn_limit = self.max_connections

    def prepare(self):
        super().prepare()
        self._connections.close()
        self._connections = _IdleSafeConnections(self, self.max_connections)
        self.socket.setblocking(False)
