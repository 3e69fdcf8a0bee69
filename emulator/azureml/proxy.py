"""The emulator's HTTPS forward proxy: how `<account>.blob.<suffix>` and `<account>.file.<suffix>` host names reach
the Blob and Files planes without root or DNS changes.

azureml-core rebuilds every snapshot upload URL as `https://<account>.blob.core.windows.net/...` (it drops any
port), so the client is pointed at this proxy (`HTTPS_PROXY`, with `NO_PROXY=127.0.0.1,localhost` so everything
else goes straight to the emulator). For `CONNECT <account>.blob.<suffix>:443` (or `.file.`: the Azure Files SDK
pointed at `https://<account>.file.core.windows.net`, as its own tests are) the proxy answers 200, terminates
TLS itself with a wildcard certificate signed by the emulator's own certificate (cert.pem is a CA: the
`SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE` a client already trusts covers it), and relays the requests unchanged to the
emulator's HTTPS port — the Host header still names the account, which is how the Blob and Files planes serve
host-style requests, and the scheme stays https for SAS that require it. CONNECT to the emulator's own loopback ports is
tunnelled as is. Anything else is refused with 403: nothing sent through the proxy leaves this machine.
"""
from __future__ import annotations

import datetime
import logging
import os
import select
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("batchai_emulator.proxy")
STORAGE_SUFFIX = "core.windows.net"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


SERVICES = ("blob", "file")          # the host names the proxy terminates: <account>.<service>.<suffix>


def storage_certificate(data_dir: Path) -> tuple[Path, Path]:
    """A certificate for *.blob.<suffix> and *.file.<suffix>, signed with the emulator's cert.pem/key.pem (made
    once, reused)."""
    return leaf_certificate(data_dir, "storage", [x509.DNSName(f"*.{s}.{STORAGE_SUFFIX}") for s in SERVICES])


def leaf_certificate(data_dir: Path, label: str, names: list) -> tuple[Path, Path]:
    """A server certificate for `names`, signed with the emulator's cert.pem/key.pem (made once per label)."""
    out_dir = Path(data_dir) / "azureml"
    cert_path, key_path = out_dir / f"{label}-cert.pem", out_dir / f"{label}-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    ca_cert = x509.load_pem_x509_certificate((Path(data_dir) / "cert.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((Path(data_dir) / "key.pem").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"batchai-emulator {label}")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + datetime.timedelta(days=397), ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_name(f".{label}-key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.replace(tmp, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) +
                          ca_cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class BlobProxy:
    """start() binds host:port (0 = a free port) and serves in a thread; stop() closes it."""

    def __init__(self, data_dir: Path, host: str, port: int, upstream_port, allowed_ports):
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.upstream_port = upstream_port       # callable: the emulator's HTTPS port (the Blob plane)
        self.allowed_ports = allowed_ports       # callable: the emulator's own ports, tunnelled as they are
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._context: ssl.SSLContext | None = None

    def start(self) -> "BlobProxy":
        cert, key = storage_certificate(self.data_dir)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(str(cert), str(key))
        self._upstream_tls = ssl.create_default_context(cafile=str(self.data_dir / "cert.pem"))
        self._sock = socket.create_server((self.host, self.port), reuse_port=False)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, name="azureml-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            _close_quietly(self._sock)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), name="azureml-proxy-conn", daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            head = _read_head(conn)
            if head is None:
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            if len(parts) != 3 or parts[0].upper() != "CONNECT":
                _answer(conn, 405, "The emulator's proxy only tunnels HTTPS (CONNECT).")
                return
            host, _, port = parts[1].rpartition(":")
            host = host.strip("[]").lower()
            if port == "443" and any(host.endswith(f".{s}.{STORAGE_SUFFIX}") for s in SERVICES) \
                    and host.count(".") == 4:     # one label (the account) before <service>.core.windows.net
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                # the TLS socket takes over the descriptor: it is the one to close (conn no longer can)
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(None)
                    # on to the emulator's HTTPS port, so the Blob plane sees the scheme the client used (a SAS
                    # with spr=https is refused over http)
                    self._relay(tls, ("127.0.0.1", self.upstream_port()), self._upstream_tls)
            elif host in _LOOPBACK and port.isdigit() and int(port) in self.allowed_ports():
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                conn.settimeout(None)
                self._relay(conn, ("127.0.0.1", int(port)))
            else:
                _answer(conn, 403, f"The emulator's proxy reaches only *.blob.{STORAGE_SUFFIX} and "
                        f"*.file.{STORAGE_SUFFIX} (its Blob and Files planes) "
                        f"and the emulator itself, not {parts[1]}: nothing leaves this machine.")
        except (OSError, ssl.SSLError) as exc:
            log.debug("proxy connection: %s", exc)
        finally:
            _close_quietly(conn)

    @staticmethod
    def _relay(client, upstream_addr, upstream_tls: ssl.SSLContext | None = None) -> None:
        with socket.create_connection(upstream_addr, timeout=30) as raw:
            up = upstream_tls.wrap_socket(raw, server_hostname=upstream_addr[0]) if upstream_tls else raw
            # non-blocking: a TLS record that carries no application data (a TLS 1.3 session ticket) makes a
            # readable socket whose blocking recv() would wait for data that never comes while the other side waits
            socks = [client, up]
            for s in socks:
                s.setblocking(False)
            while True:
                # bytes TLS already decrypted are not visible to select(): read them first
                pending = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
                readable = pending or _wait(socks, select.POLLIN, 300)
                if not readable:
                    return
                for s in readable:
                    try:
                        data = s.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        continue
                    if not data:
                        return
                    _send_all(up if s is client else client, data)


def _send_all(sock, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            _wait([sock], select.POLLIN | select.POLLOUT, 30)


def _wait(socks: list, events: int, timeout: float) -> list:
    """The sockets of `socks` ready for `events` within `timeout` seconds. poll(), not select(): select() refuses
    descriptors above 1023, which a busy process (a test run, many clients) reaches."""
    poller = select.poll()
    by_fd = {}
    for sock in socks:
        poller.register(sock.fileno(), events)
        by_fd[sock.fileno()] = sock
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def _read_head(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    return data


def _answer(conn: socket.socket, status: int, message: str) -> None:
    reason = {403: "Forbidden", 405: "Method Not Allowed"}[status]
    body = message.encode()
    conn.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)


class GatewayRelay(BlobProxy):
    """Runs in Docker containers reach the emulator here: a TLS listener on the Docker bridge's gateway address
    (reachable from containers and this machine only), relaying every connection to the emulator's HTTPS port.
    Its certificate names the gateway address and is signed by the emulator's CA, which the run trusts."""

    def __init__(self, data_dir: Path, gateway: str, upstream_port):
        super().__init__(data_dir, gateway, 0, upstream_port, lambda: set())
        self.gateway = gateway

    def start(self) -> "GatewayRelay":
        import ipaddress
        cert, key = leaf_certificate(self.data_dir, f"gateway-{self.gateway}",
                                     [x509.IPAddress(ipaddress.ip_address(self.gateway))])
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(str(cert), str(key))
        self._upstream_tls = ssl.create_default_context(cafile=str(self.data_dir / "cert.pem"))
        self._sock = socket.create_server((self.host, self.port))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, name="azureml-gateway", daemon=True).start()
        return self

    def _handle(self, conn: socket.socket) -> None:
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                self._relay(tls, ("127.0.0.1", self.upstream_port()), self._upstream_tls)
        except (OSError, ssl.SSLError) as exc:
            log.debug("gateway connection: %s", exc)
        finally:
            _close_quietly(conn)

    @property
    def url(self) -> str:
        return f"https://{self.gateway}:{self.port}"


def docker_gateway(executor) -> str | None:
    """The default bridge network's gateway address, as containers of single-node jobs see this machine."""
    import ipaddress
    try:
        ipam = executor.client.networks.get("bridge").attrs.get("IPAM") or {}
        for config in ipam.get("Config") or []:
            if config.get("Gateway"):
                return config["Gateway"]
            if config.get("Subnet"):
                return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
    except Exception as exc:   # no engine, no bridge network: runs in containers cannot reach their services
        log.warning("cannot find the Docker bridge's gateway: %s", exc)
    return None


class ProxyService:
    """The proxy as a server helper (Extension.background): started with the server, its ports written to
    <data-dir>/azureml/endpoints.json for `batchai-emulator env`."""

    def __init__(self):
        self.proxy: BlobProxy | None = None
        self.gateway: GatewayRelay | None = None

    def start(self, ext) -> None:
        settings = ext.settings
        port = settings.azureml_proxy_port
        default = port < 0
        if default:
            port = ext.https_port() + 1 if settings.https_port else 0

        def make(p: int) -> BlobProxy:
            return BlobProxy(settings.data_dir, settings.host, p, ext.https_port,
                             lambda: {ext.bound_http_port, ext.https_port()}).start()
        try:
            self.proxy = make(port)
        except OSError as exc:
            if not default:
                raise
            # the default port (HTTPS + 1) is someone else's: any free one will do, `env` tells clients which
            log.warning("Azure ML proxy: port %s is taken (%s); using a free port instead", port, exc)
            self.proxy = make(0)
        write_endpoints(settings.data_dir, ext.bound_http_port, ext.https_port(), self.proxy.port, settings.host)
        executor = ext.scheduler.executor if ext.scheduler is not None else None
        if executor is not None and executor.layout == "container":
            gateway = docker_gateway(executor)
            if gateway:
                try:
                    self.gateway = GatewayRelay(settings.data_dir, gateway, ext.https_port).start()
                except OSError as exc:
                    log.warning("cannot listen on the Docker gateway %s for Azure ML runs: %s", gateway, exc)

    def service_url(self) -> str | None:
        """Where runs in containers reach the emulator (None: on this machine's loopback)."""
        return self.gateway.url if self.gateway is not None else None

    def stop(self) -> None:
        for relay in (self.proxy, self.gateway):
            if relay is not None:
                relay.stop()


def write_endpoints(data_dir: Path, http_port: int, https_port: int, proxy_port: int, host: str) -> None:
    import json
    path = Path(data_dir) / "azureml" / "endpoints.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".endpoints.{os.getpid()}")
    tmp.write_text(json.dumps({"http_port": http_port, "https_port": https_port, "proxy_port": proxy_port,
                               "host": host}))
    os.replace(tmp, path)


def _close_quietly(sock) -> None:
    """Close a socket whose peer may already be gone."""
    try:
        sock.close()
    except OSError:
        pass
