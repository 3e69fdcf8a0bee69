"""Loaded by the client processes of tests/azureml (PYTHONPATH): records every host a socket connects to and every
name resolved, one line each (`connect <host>` / `resolve <name>`), into $AML_SOCKET_LOG."""
import os
import socket

_LOG = os.environ.get("AML_SOCKET_LOG")

if _LOG:
    def _note(kind, host):
        with open(_LOG, "a") as fh:
            fh.write(f"{kind} {host}\n")

    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex
    _getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple):
            _note("connect", address[0])
        return _connect(self, address)

    def connect_ex(self, address):
        if isinstance(address, tuple):
            _note("connect", address[0])
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        _note("resolve", host.decode() if isinstance(host, bytes) else host)
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
