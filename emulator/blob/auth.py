"""Who may do what on the blob service: SharedKey, SharedKey Lite, account SAS, service SAS, anonymous reads.

SharedKey is the file plane's verification (emulator/files/auth.py, imported: the string-to-sign is the same for
both services). SharedKey Lite signs VERB, Content-MD5, Content-Type, Date, the x-ms-* headers and "/" + account +
path (+ "?comp=..." when present).

Service SAS (sr=c container, sr=b blob) string-to-sign, by signed version (from the SDKs' generators):
  sp, st, se, "/blob/<account>/<container>[/<blob>]", si, sip, spr, sv,
  then from 2018-11-09: sr, snapshot time; from 2020-12-06: ses; then rscc, rscd, rsce, rscl, rsct.
A SAS naming a stored access policy (si) takes sp/st/se from the container's policy where the SAS leaves them out
(a field set in both is refused, as the service does). Account SAS: the file plane's layout, with ss needing b.
User delegation SAS (skoid...) needs Azure AD and answers NotSupportedByEmulator.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from ..errors import StorageError
from ..files import auth as fauth
from ..files.auth import Principal, auth_failed, check_version, parse_sas_time, permission_mismatch

SAS_FIELDS = fauth.SAS_FIELDS | {"sr", "skoid", "sktid", "skt", "ske", "sks", "skv", "sdd", "saoid", "suoid"}


@dataclass(frozen=True)
class Access:
    """What an operation needs. level: service | container | object (account SAS srt); perms: account-SAS letters,
    any of which allows it; service_perms: the same for a container or blob SAS ("" = never); blob_sas: whether a
    blob-scoped SAS (sr=b) may; anonymous: the public access level that allows it without credentials."""
    level: str
    perms: str
    service_perms: str = ""
    blob_sas: bool = False
    anonymous: str | None = None          # "blob" (blob reads) | "container" (also listing) | None


def _lite_string(environ: dict, account: str, target) -> str:
    lines = [environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_CONTENT_MD5", ""),
             environ.get("CONTENT_TYPE", ""),
             "" if environ.get("HTTP_X_MS_DATE") else environ.get("HTTP_DATE", "")]
    headers = sorted(fauth._x_ms_headers(environ))
    resource = "/" + account + target.raw_path
    comp = target.arg("comp")
    if comp is not None:
        resource += "?comp=" + comp
    return "\n".join(lines) + "\n" + "".join(f"{n}:{v}\n" for n, v in headers) + resource


def _verify_lite(environ: dict, credential: str, account: str, keys: list[bytes], target, version,
                 now: datetime) -> Principal:
    signature, _date = fauth.shared_key_claim(environ, credential, account)
    text = _lite_string(environ, account, target)
    if any(hmac.compare_digest(fauth._sign(key, text), signature) for key in keys):
        return Principal("SharedKey", version or "")
    raise auth_failed("The signature does not match.", f"The MAC signature found in the HTTP request "
                      f"'{signature}' is not the same as any computed signature. Server used following string to "
                      f"sign: '{text}'.")


def _service_string(sas: dict, account: str, target, sv: str) -> str:
    resource = f"/blob/{account}/{target.container}"
    if sas.get("sr") == "b":
        resource += "/" + (target.blob or "")
    fields = [sas.get("sp", ""), sas.get("st", ""), sas.get("se", ""), resource, sas.get("si", ""),
              sas.get("sip", ""), sas.get("spr", ""), sv]
    if sv >= "2018-11-09":
        fields += [sas.get("sr", ""), sas.get("snapshot", "")]
    if sv >= "2020-12-06":
        fields.append(sas.get("ses", ""))
    fields += [sas.get(k, "") for k in ("rscc", "rscd", "rsce", "rscl", "rsct")]
    return "\n".join(fields)


def verify_sas(sas: dict[str, str], account: str, keys: list[bytes], target, access: Access, now: datetime,
               scheme: str, remote_addr: str, policies: list[dict] | None) -> Principal:
    sv = fauth.sas_version(sas)
    if sas.get("skoid"):
        raise StorageError(400, "NotSupportedByEmulator", "User delegation SAS tokens (skoid) need Azure AD; the "
                           "Batch AI emulator's blob service verifies account and service SAS only.")
    sig = sas.get("sig", "").replace(" ", "+")
    account_sas = "sr" not in sas
    effective = dict(sas)
    if account_sas:
        if sas.get("si"):
            raise auth_failed("An account SAS cannot name a stored access policy (si).")
        text = "\n".join([account, sas.get("sp", ""), sas.get("ss", ""), sas.get("srt", ""), sas.get("st", ""),
                          sas.get("se", ""), sas.get("sip", ""), sas.get("spr", ""), sv]) + "\n"
        if sv >= "2020-12-06":
            text += sas.get("ses", "") + "\n"
    else:
        sr = sas["sr"]
        if sr not in ("c", "b"):
            raise StorageError(400, "NotSupportedByEmulator", f"SAS tokens with sr={sr} (snapshots, versions, "
                               "directories) are not supported by the Batch AI emulator's blob service.")
        if target.container is None:
            raise StorageError(403, "AuthorizationResourceTypeMismatch",
                               "A container or blob SAS cannot be used on the account's service endpoint.")
        text = _service_string(sas, account, target, sv)
        if sas.get("si"):
            policy = next((p for p in policies or [] if p.get("id") == sas["si"]), None)
            if policy is None:
                raise auth_failed(f"The stored access policy '{sas['si']}' named by the SAS (si) does not exist on "
                                  f"container '{target.container}'.")
            for short, key in (("sp", "permission"), ("st", "start"), ("se", "expiry")):
                if policy.get(key):
                    if sas.get(short):
                        raise auth_failed(f"The SAS sets {short} and so does its stored access policy "
                                          f"'{sas['si']}'; only one of them may.")
                    effective[short] = policy[key]
    if not any(hmac.compare_digest(fauth._sign(key, text), sig) for key in keys):
        raise auth_failed("The SAS signature does not match.", f"Signature did not match. String to sign used was "
                          f"{text}")
    if not effective.get("se"):
        raise auth_failed("The SAS token has no expiry (se), neither itself nor through its stored access policy.")
    expiry = parse_sas_time(effective["se"], "se")
    if now > expiry:
        raise auth_failed(f"The SAS token expired at {effective['se']}.",
                          f"Signed expiry time [{effective['se']}] must be after signed start time "
                          f"[{effective.get('st', '')}] and current time.")
    if effective.get("st") and now < parse_sas_time(effective["st"], "st"):
        raise auth_failed(f"The SAS token is not valid before {effective['st']}.")
    spr = sas.get("spr")
    if spr and scheme not in [p.strip() for p in spr.split(",")]:
        raise StorageError(403, "AuthorizationProtocolMismatch", f"This request is not authorized to perform this "
                           f"operation using this protocol ({scheme}; the SAS allows {spr}).")
    if sas.get("sip") and not fauth._check_ip(sas["sip"], remote_addr):
        raise StorageError(403, "AuthorizationSourceIPMismatch", f"This request is not authorized to perform this "
                           f"operation using this source IP {remote_addr}.")
    sp = effective.get("sp", "")
    if account_sas:
        if "b" not in sas.get("ss", ""):
            raise StorageError(403, "AuthorizationServiceMismatch", "This request is not authorized to perform "
                               "this operation using this service: the account SAS does not include the blob "
                               "service (ss=b).")
        needed = {"service": "s", "container": "c", "object": "o"}[access.level]
        if needed not in sas.get("srt", ""):
            raise StorageError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to "
                               f"perform this operation using this resource type: the account SAS lacks "
                               f"srt={needed}.")
        if not set(access.perms) & set(sp):
            raise permission_mismatch(access.perms)
        return Principal("SAS", sv)
    if not access.service_perms or (sas["sr"] == "b" and not access.blob_sas):
        raise StorageError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to perform "
                           f"this operation using this resource type: a {'blob' if sas['sr'] == 'b' else 'container'}"
                           " SAS does not allow it.")
    if not set(access.service_perms) & set(sp):
        raise permission_mismatch(access.service_perms)
    return Principal("SAS", sv, fauth.sas_overrides(sas))


def authenticate(environ: dict, target, account: str, keys: list[bytes], access: Access, now: datetime,
                 scheme: str, remote_addr: str, policies=None, public: str | None = None) -> Principal:
    """Verify the request's credentials for `access`. `policies` is a callable giving the container's stored
    access policies; `public` the container's public access level (for anonymous requests)."""
    version = check_version(environ.get("HTTP_X_MS_VERSION"))
    header = environ.get("HTTP_AUTHORIZATION")
    if header:
        scheme_name, _, credential = header.strip().partition(" ")
        if scheme_name == "SharedKeyLite":
            return _verify_lite(environ, credential, account, keys, target, version, now)
        if scheme_name != "SharedKey":
            raise auth_failed(f"The authorization scheme '{scheme_name}' is not supported by the emulator's blob "
                              "service (SharedKey, SharedKeyLite and SAS are).")
        return fauth.verify_shared_key(environ, header, account, keys, target, version, now)
    sas = {k: v for k, v in target.query if k in SAS_FIELDS}
    if "sig" in sas:
        principal = verify_sas(sas, account, keys, target, access, now, scheme, remote_addr,
                               policies() if policies and sas.get("si") else None)
        principal.version = version or principal.version
        return principal
    if access.anonymous and public and (public == "container" or access.anonymous == "blob"):
        return Principal("Anonymous", version or "")
    if target.container is not None and access.anonymous:
        # what the service answers for anonymous reads of a private container: it does not say it exists
        raise StorageError(404, "ResourceNotFound", "The specified resource does not exist (the request has no "
                           "credentials and the container does not allow public access).")
    raise StorageError(401, "NoAuthenticationInformation", "Server failed to authenticate the request: it carries "
                       "neither an Authorization header (SharedKey) nor a SAS token.")
