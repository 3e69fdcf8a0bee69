"""Signed, expiring tokens: download links for job output files, and the emulator's own AAD access tokens.

One random key per data dir (`secret.key`, 0600) signs both with HMAC-SHA256, so links and tokens survive a
restart and cannot be forged or altered to reach another file.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, data_dir: Path):
        path = Path(data_dir) / "secret.key"
        if not path.exists():
            # written whole under a temporary name, then renamed: a crash or a full disk never leaves a short key
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret.key.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        self._key = path.read_bytes()
        if len(self._key) != 32:
            raise RuntimeError(f"{path} is damaged ({len(self._key)} bytes, expected 32): delete it to make a new "
                               "key (download links and tokens issued before become invalid).")

    def sign(self, payload: dict) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return body + "." + _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def verify(self, token: str, now: float | None = None) -> dict | None:
        """The payload if the signature is right and `exp` (if any) is in the future, else None."""
        body, _, sig = token.partition(".")
        try:
            good = hmac.compare_digest(_unb64(sig), hmac.new(self._key, body.encode(), hashlib.sha256).digest())
            payload = json.loads(_unb64(body)) if good else None
        except (ValueError, TypeError):
            return None
        if payload is None:
            return None
        if "exp" in payload and (now or time.time()) > payload["exp"]:
            return None
        return payload

    def verify_jwt(self, token: str, now: float | None = None) -> dict | None:
        """The claims of an HS256 JWT this emulator signed, if the signature is right and it has not expired."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, body, sig = parts
        try:
            good = hmac.compare_digest(_unb64(sig), hmac.new(self._key, f"{header}.{body}".encode(),
                                                             hashlib.sha256).digest())
            claims = json.loads(_unb64(body)) if good else None
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict) or (now or time.time()) > claims.get("exp", 0):
            return None
        return claims

    def jwt(self, claims: dict) -> str:
        """An HS256 JWT signed with the emulator key (what its AAD endpoints hand out)."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return f"{header}.{body}.{sig}"
