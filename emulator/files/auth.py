"""Who may do what: SharedKey signatures and SAS tokens, verified as Azure Storage computes them.

SharedKey (reference sdk-wire.md §5): the string-to-sign is the verb, eleven standard headers, the x-ms-*
headers (lower-cased, sorted, "name:value"), then "/" + account + the request path exactly as sent
(percent-encoding kept, path-style account segment included) and the query parameters (lower-cased names,
sorted, decoded values). HMAC-SHA256 with the base64-decoded account key. Either of an account's keys works.

SAS: account SAS (ss/srt/sp) and service SAS (sr=s share, sr=f file) with the string-to-sign layouts of the
service versions the SDKs generate (account: name, sp, ss, srt, st, se, sip, spr, sv[, ses from 2020-12-06];
file service: sp, st, se, "/file/<account>/<share>[/<path>]", si, sip, spr, sv, rscc, rscd, rsce, rscl, rsct).
Start, expiry, protocol, source IP, services, resource types and permissions are all enforced.
Stored access policies (si) fill in what the token leaves out (policy lookup passed in by the caller).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ..errors import StorageError
from .names import Target

_VERSION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
FIRST_FILE_VERSION = "2014-02-14"
DATE_SKEW_SECONDS = 15 * 60

_STANDARD_HEADERS = ["CONTENT_ENCODING", "CONTENT_LANGUAGE", "CONTENT_LENGTH", "CONTENT_MD5", "CONTENT_TYPE",
                     "DATE", "IF_MODIFIED_SINCE", "IF_MATCH", "IF_NONE_MATCH", "IF_UNMODIFIED_SINCE", "RANGE"]
_SAS_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]00:?00)?$")


@dataclass(frozen=True)
class Access:
    """What an operation needs. level: service | container | object (account SAS resource types s/c/o);
    perms: account-SAS permission letters, any one of which allows it; service_perms: the same for a share or
    file SAS ("" means a service SAS can never do it); file_sas: whether a file-scoped SAS (sr=f) may."""
    level: str
    perms: str
    service_perms: str = ""
    file_sas: bool = False


@dataclass
class Principal:
    scheme: str                      # SharedKey | SAS | Bearer
    version: str                     # the service version the request speaks
    overrides: dict[str, str] = field(default_factory=dict)    # rscc/rscd/rsce/rscl/rsct of a service SAS
    oid: str | None = None           # Bearer: the token's object and tenant ids
    tid: str | None = None


# The fields of a user delegation key, in the order they are signed into a user delegation SAS.
DELEGATION_FIELDS = ("skoid", "sktid", "skt", "ske", "sks", "skv", "skdutid")


def delegation_key_value(derive, fields: dict[str, str]) -> str:
    """The base64 value of the user delegation key with these fields (DELEGATION_FIELDS names). `derive(text)`
    turns text into secret bytes (the emulator's signing key does it), so the same fields always give the same
    key and nobody without the emulator's key can make one."""
    text = "\n".join(fields.get(k, "") or "" for k in DELEGATION_FIELDS)
    return base64.b64encode(hashlib.sha256(derive(text)).digest()).decode()


def auth_failed(message: str, detail: str | None = None) -> StorageError:
    extra = {"AuthenticationErrorDetail": detail} if detail else None
    return StorageError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the "
                        "value of Authorization header is formed correctly including the signature.\n" + message,
                        extra)


def check_version(value: str | None, what: str = "x-ms-version") -> str | None:
    """Any date-shaped service version from the first Files version on is accepted; a malformed one is 400."""
    if value is None:
        return None
    m = _VERSION.match(value.strip())
    ok = False
    if m:
        try:
            datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            ok = value.strip() >= FIRST_FILE_VERSION
        except ValueError:
            ok = False
    if not ok:
        raise StorageError(400, "InvalidHeaderValue" if what == "x-ms-version" else "InvalidQueryParameterValue",
                           f"The value '{value}' of {what} is not a service version this endpoint accepts "
                           f"(a date such as 2019-02-02, from {FIRST_FILE_VERSION} on).",
                           {"HeaderName" if what == "x-ms-version" else "QueryParameterName": what})
    return value.strip()


# ---- SharedKey --------------------------------------------------------------------------------------------------
def _x_ms_headers(environ: dict, meta_sep: str = "_") -> list[tuple[str, str]]:
    """The x-ms-* headers as sent. WSGI folds '-' and '_' together in header names: metadata names are C#
    identifiers, so their separators are rebuilt as underscores (or as `meta_sep`, to recognise a client that
    sent hyphens); every other x-ms-* header name uses hyphens."""
    out = []
    for key, value in environ.items():
        if not key.startswith("HTTP_X_MS_"):
            continue
        name = key[5:].lower()
        if name.startswith("x_ms_meta_"):
            name = "x-ms-meta-" + name[10:].replace("_", meta_sep)
        else:
            name = name.replace("_", "-")
        out.append((name, value))
    return out


def _collation_key(name: str):
    """The Storage service's header collation: case-insensitive, '-' and "'" ignored at the first level, '_'
    before digits and digits before letters."""
    primary = tuple(32 if c == "_" else ord(c) for c in name.lower() if c not in "-'")
    return primary, name


def string_to_sign(environ: dict, account: str, target: Target, version: str | None,
                   header_order: str = "plain", meta_sep: str = "_") -> str:
    lines = [environ.get("REQUEST_METHOD", "GET")]
    for name in _STANDARD_HEADERS:
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + name
        value = environ.get(key, "") or ""
        if name == "CONTENT_LENGTH" and value == "0" and (version is None or version >= "2015-02-21"):
            value = ""
        lines.append(value)
    headers = _x_ms_headers(environ, meta_sep)
    headers.sort(key=(lambda h: h[0]) if header_order == "plain" else (lambda h: _collation_key(h[0])))
    canonical_headers = "".join(f"{n}:{v}\n" for n, v in headers)
    resource = "/" + account + target.raw_path
    grouped: dict[str, list[str]] = {}
    for name, value in target.query:
        grouped.setdefault(name.lower(), []).append(value)
    for name in sorted(grouped):
        resource += f"\n{name}:{','.join(sorted(grouped[name]))}"
    return "\n".join(lines) + "\n" + canonical_headers + resource


def _sign(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sas_overrides(sas: dict) -> dict[str, str]:
    """The response headers a SAS token sets for the reads it signs (rscc, rscd, rsce, rscl, rsct)."""
    return {h: sas[k] for k, h in (("rscc", "Cache-Control"), ("rscd", "Content-Disposition"),
                                   ("rsce", "Content-Encoding"), ("rscl", "Content-Language"),
                                   ("rsct", "Content-Type")) if sas.get(k)}


def sas_version(sas: dict) -> str:
    """The signed version (sv) of a SAS token, once it is one the emulator verifies (2015-04-05 on)."""
    sv = sas.get("sv")
    if not sv:
        raise auth_failed("The SAS token has no signed version (sv).")
    check_version(sv, "sv")
    if sv < "2015-04-05":
        raise auth_failed(f"SAS version {sv} is older than 2015-04-05, the oldest the emulator verifies.")
    return sv


def shared_key_claim(environ: dict, credential: str, account: str) -> tuple[str, str]:
    """(signature, date) of a SharedKey (or SharedKeyLite) credential `account:signature`, once its account is the
    URL's and the request carries a date (x-ms-date or Date); AuthenticationFailed otherwise. Both planes use it."""
    claimed, _, signature = credential.strip().rpartition(":")
    if claimed.lower() != account.lower():
        raise auth_failed(f"The account '{claimed}' in the Authorization header does not match the account "
                          f"'{account}' of the URL.")
    date = environ.get("HTTP_X_MS_DATE") or environ.get("HTTP_DATE")
    if not date:
        raise auth_failed("The request has neither an x-ms-date nor a Date header.")
    return signature, date


def verify_shared_key(environ: dict, header: str, account: str, keys: list[bytes], target: Target,
                      version: str | None, now: datetime) -> Principal:
    scheme, _, credential = header.strip().partition(" ")
    if scheme != "SharedKey":
        raise auth_failed(f"The authorization scheme '{scheme}' is not supported by the emulator's file service "
                          "(SharedKey and SAS are).")
    signature, date = shared_key_claim(environ, credential, account)
    try:
        sent = parsedate_to_datetime(date)
        skew = abs((now - sent).total_seconds())
    except (TypeError, ValueError):
        raise auth_failed(f"The date header '{date}' is not an RFC 1123 date.") from None
    if skew > DATE_SKEW_SECONDS:
        raise auth_failed(f"The request date '{date}' is more than 15 minutes away from the server's time.")
    tried = None
    hyphens = any(k.startswith("HTTP_X_MS_META_") and "_" in k[15:] for k in environ)
    for meta_sep in ("_", "-") if hyphens else ("_",):
        for order in ("plain", "collation"):
            text = string_to_sign(environ, account, target, version, order, meta_sep)
            if any(hmac.compare_digest(_sign(key, text), signature) for key in keys):
                if meta_sep == "-":
                    raise StorageError(400, "InvalidMetadata", "Metadata names must be C# identifiers: letters, "
                                       "digits and underscores, no hyphens.")
                return Principal("SharedKey", version or "")
            tried = tried or text
    raise auth_failed("The signature does not match.",
                      f"The MAC signature found in the HTTP request '{signature}' is not the same as any computed "
                      f"signature. Server used following string to sign: '{tried}'.")


# ---- SAS --------------------------------------------------------------------------------------------------------
def parse_sas_time(value: str, name: str) -> datetime:
    m = _SAS_TIME.match(value.strip())
    if not m:
        raise auth_failed(f"The SAS field {name}='{value}' is not an ISO 8601 UTC time.")
    y, mo, d, hh, mm, ss, frac = (m.group(i) for i in range(1, 8))
    try:
        return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                        int((frac or "0").ljust(7, "0")[:6]), tzinfo=timezone.utc)
    except ValueError:
        raise auth_failed(f"The SAS field {name}='{value}' is not a valid time.") from None


def _check_ip(sip: str, remote: str) -> bool:
    try:
        addr = ipaddress.ip_address(remote)
        if "-" in sip:
            lo, hi = (ipaddress.ip_address(p.strip()) for p in sip.split("-", 1))
            return lo <= addr <= hi
        return addr == ipaddress.ip_address(sip.strip())
    except ValueError:
        return False


def verify_sas(sas: dict[str, str], account: str, keys: list[bytes], target: Target, access: Access,
               now: datetime, scheme: str, remote_addr: str, derive=None, policy=None) -> Principal:
    """A SAS token's principal (403 when it does not allow `access`). `derive` (see delegation_key_value) makes
    user delegation SAS tokens (skoid...) verifiable; without it they are refused. `policy(share, si)` looks up
    stored access policies ({"start", "expiry", "permission"} or None)."""
    sv = sas_version(sas)
    if sas.get("si"):
        found = policy(target.share, sas["si"]) if policy is not None and target.share else None
        if found is None:
            raise auth_failed(f"The stored access policy '{sas['si']}' named by the SAS (si) does not exist.")
        for field_name, key in (("sp", "permission"), ("st", "start"), ("se", "expiry")):
            if sas.get(field_name) and found.get(key):
                raise auth_failed(f"{field_name} is given by both the SAS and its stored access policy.")
        # the policy supplies what the token leaves out; the signature covers the token's own fields
        effective = dict(sas, sp=sas.get("sp") or found.get("permission", ""),
                         st=sas.get("st") or found.get("start", ""), se=sas.get("se") or found.get("expiry", ""))
        signed = sas
        sas = effective
    else:
        signed = sas
    delegated = bool(sas.get("skoid"))
    if delegated:
        if derive is None or "sr" not in sas:
            raise auth_failed("User delegation SAS tokens are valid only on a share or file (sr=s or sr=f).")
        key_start = parse_sas_time(sas.get("skt", ""), "skt")
        key_expiry = parse_sas_time(sas.get("ske", ""), "ske")
        if not key_start <= now <= key_expiry:
            raise auth_failed("The user delegation key of the SAS is not valid at this time (skt/ske).")
        keys = [base64.b64decode(delegation_key_value(derive, sas))]
    if not sas.get("se"):
        raise auth_failed("The SAS token has no expiry (se).")
    expiry = parse_sas_time(sas["se"], "se")
    start = parse_sas_time(sas["st"], "st") if sas.get("st") else None
    sig = sas.get("sig", "").replace(" ", "+")          # a raw '+' in a pasted token decodes to ' '
    account_sas = "sr" not in sas
    if account_sas:
        fields = [account, sas.get("sp", ""), sas.get("ss", ""), sas.get("srt", ""), sas.get("st", ""),
                  sas.get("se", ""), sas.get("sip", ""), sas.get("spr", ""), sv]
        text = "\n".join(fields) + "\n"
        if sv >= "2020-12-06":
            text += sas.get("ses", "") + "\n"
    else:
        sr = sas["sr"]
        if sr not in ("s", "f"):
            raise auth_failed(f"The signed resource sr='{sr}' is not one the file service knows (s or f).")
        if target.share is None:
            raise StorageError(403, "AuthorizationResourceTypeMismatch",
                               "A share or file SAS cannot be used on the account's service endpoint.")
        resource = f"/file/{account}/{target.share}"
        if sr == "f":
            resource += "/" + target.path
        middle = [sas.get(k, "") for k in DELEGATION_FIELDS + ("sduoid",)] if delegated else [sas.get("si", "")]
        fields = [signed.get("sp", ""), signed.get("st", ""), signed.get("se", ""), resource, *middle,
                  sas.get("sip", ""), sas.get("spr", ""), sv, sas.get("rscc", ""), sas.get("rscd", ""),
                  sas.get("rsce", ""), sas.get("rscl", ""), sas.get("rsct", "")]
        text = "\n".join(fields)
    if not any(hmac.compare_digest(_sign(key, text), sig) for key in keys):
        raise auth_failed("The SAS signature does not match.",
                          f"Signature did not match. String to sign used was {text}")
    if now > expiry:
        raise auth_failed(f"The SAS token expired at {sas['se']}.",
                          f"Signed expiry time [{sas['se']}] must be after signed start time "
                          f"[{sas.get('st', '')}] and current time.")
    if start is not None and now < start:
        raise auth_failed(f"The SAS token is not valid before {sas['st']}.")
    spr = sas.get("spr")
    if spr and scheme not in [p.strip() for p in spr.split(",")]:
        raise StorageError(403, "AuthorizationProtocolMismatch",
                           f"This request is not authorized to perform this operation using this protocol "
                           f"({scheme}; the SAS allows {spr}).")
    if sas.get("sip") and not _check_ip(sas["sip"], remote_addr):
        raise StorageError(403, "AuthorizationSourceIPMismatch",
                           f"This request is not authorized to perform this operation using this source IP "
                           f"{remote_addr}.")
    sp = sas.get("sp", "")
    if account_sas:
        if "f" not in sas.get("ss", ""):
            raise StorageError(403, "AuthorizationServiceMismatch",
                               "This request is not authorized to perform this operation using this service: "
                               "the account SAS does not include the file service (ss=f).")
        needed = {"service": "s", "container": "c", "object": "o"}[access.level]
        if needed not in sas.get("srt", ""):
            raise StorageError(403, "AuthorizationResourceTypeMismatch",
                               "This request is not authorized to perform this operation using this resource "
                               f"type: the account SAS lacks srt={needed}.")
        if not set(access.perms) & set(sp):
            raise permission_mismatch(access.perms)
        return Principal("SAS", sv)
    if not access.service_perms or (sas["sr"] == "f" and not access.file_sas):
        raise StorageError(403, "AuthorizationResourceTypeMismatch",
                           "This request is not authorized to perform this operation using this resource type: a "
                           f"{'file' if sas['sr'] == 'f' else 'share'} SAS does not allow it.")
    if not set(access.service_perms) & set(sp):
        raise permission_mismatch(access.service_perms)
    return Principal("SAS", sv, sas_overrides(sas))


def permission_mismatch(perms: str) -> StorageError:
    wanted = " or ".join(f"'{p}'" for p in perms)
    return StorageError(403, "AuthorizationPermissionMismatch",
                        f"This request is not authorized to perform this operation using this permission: the "
                        f"SAS needs {wanted} in sp.")


SAS_FIELDS = {"sv", "ss", "srt", "sp", "se", "st", "sip", "spr", "sig", "sr", "si", "ses", "rscc", "rscd", "rsce",
              "rscl", "rsct", "sduoid", *DELEGATION_FIELDS}


def verify_bearer(token: str, verify_token, version: str | None) -> Principal:
    """An OAuth principal from a bearer token the emulator's own AAD issued (any audience, no RBAC: every valid
    token may do everything, a deliberate simplification)."""
    claims = verify_token(token) if verify_token is not None else None
    if not claims:
        raise StorageError(401, "InvalidAuthenticationInfo", "Server failed to authenticate the request: the bearer "
                           "token is not one the emulator's AAD issued, or it has expired.")
    return Principal("Bearer", version or "", oid=str(claims.get("oid") or ""), tid=str(claims.get("tid") or ""))


def authenticate(environ: dict, target: Target, account: str, keys: list[bytes], access: Access,
                 now: datetime, scheme: str, remote_addr: str, verify_token=None, derive=None,
                 policy=None) -> Principal:
    """Verify the request's credentials for `access`; raise a 403 (or 401 when there are none).
    `verify_token(token) -> claims | None` enables OAuth bearer tokens; `derive` user delegation SAS."""
    version = check_version(environ.get("HTTP_X_MS_VERSION"))
    header = environ.get("HTTP_AUTHORIZATION")
    if header:
        if header[:7].lower() == "bearer ":
            return verify_bearer(header[7:].strip(), verify_token, version)
        return verify_shared_key(environ, header, account, keys, target, version, now)
    sas = {k: v for k, v in target.query if k in SAS_FIELDS}
    if "sig" in sas:
        principal = verify_sas(sas, account, keys, target, access, now, scheme, remote_addr, derive, policy)
        principal.version = version or principal.version
        return principal
    raise StorageError(401, "NoAuthenticationInformation",
                       "Server failed to authenticate the request: it carries neither an Authorization header "
                       "(SharedKey) nor a SAS token.")
