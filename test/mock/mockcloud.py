#!/usr/bin/python3
"""mockcloud.py - mock Alibaba Cloud API Gateway (CloudAPI 2016-07-14) and
Huawei Cloud APIG + IAM endpoints for the gwresize test suites.

Python 3.11 standard library only.  Listens on 127.0.0.1 only.

    mockcloud.py --http-port 0 --https-port 0 --cert CERT --key KEY \
                 --port-file FILE [--config CONFIG.json] [--verbose]

See README.md next to this file for the control API and the behaviour.

The signature verifiers here are written from the providers' documentation
(test/vectors and /work/shared/reference) and deliberately share nothing with
the C extension.
"""

import argparse
import base64
import collections
import datetime as _dt
import email.utils
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

# ---------------------------------------------------------------------------
# Limits and constants
# ---------------------------------------------------------------------------

MAX_SKEW_S = 15 * 60            # allowed clock difference for signed requests
NONCE_TTL_S = 15 * 60           # Alibaba nonces are remembered this long
NONCE_CAP = 2_000_000           # ... but never more than this many
IDEM_CAP = 1_000_000            # Alibaba Token idempotency entries kept
TOKEN_CAP = 100_000             # Huawei IAM tokens kept
LOG_CAP = 200_000               # request log entries kept (stats never truncate)
MAX_BODY = 16 * 1024 * 1024     # request body limit
MAX_HOLD_MS = 300_000           # cap for latency / hang faults
DEFAULT_HANG_MS = 60_000
DEFAULT_LATENCY_MS = 1000
DEFAULT_OVERSIZE = 5 * 1024 * 1024
HANDLER_IDLE_TIMEOUT_S = 120    # idle keep-alive connections are closed after this
TEMP_CAP = 100_000              # issued temporary credentials kept, per family (oldest evicted)
META_TOKEN_CAP = 100_000        # metadata session tokens kept, per metadata service
META_TOKEN_MAX_TTL_S = 21600    # X-aliyun-ecs-metadata-token-ttl-seconds / X-Metadata-Token-Ttl-Seconds
ALI_META_LIFE_S = 3600          # lifetime of an ECS RAM role credential (before temp_ttl_s)
HW_META_LIFE_S = 3600           # Huawei ECS securitykey: "valid for one hour"
STS_VERSION = "2015-04-01"
STS_MIN_DURATION_S = 900
STS_DEFAULT_DURATION_S = 3600
STS_ROLE_ARN_RE = re.compile(r"^acs:ram::(\d+):role/([^/]+)$")
STS_SESSION_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
STS_POLICY_MAX = 1024
IAM_AR_MIN_S, IAM_AR_MAX_S, IAM_AR_DEFAULT_S = 900, 86400, 900
ALI_META_CRED_PATH = "/latest/meta-data/ram/security-credentials"
HW_AGENCY_ERROR = "Please configure Cloud Service Agency first"

ALI_VERSION = "2016-07-14"
ALI_SPEC_RE = re.compile(r"^api\.[a-z0-9]+\.[a-z0-9]+$")
ALI_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

HW_PATH_RE = re.compile(r"^/v2/([^/]+)/apigw/instances/([^/]+)(/postpaid-resize)?/?$")
_HW_BASE = ["BASIC", "PROFESSIONAL", "ENTERPRISE", "PLATINUM"]
HW_RANK = {}
for _i, _s in enumerate(_HW_BASE):
    HW_RANK[_s] = _i
    HW_RANK[_s + "_IPV6"] = _i
for _n in range(2, 9):
    HW_RANK["PLATINUM_X%d" % _n] = 3 + (_n - 1)
HW_STATUS_CODES = {
    "Creating": 1, "CreateSuccess": 2, "CreateFail": 3, "Initing": 4,
    "Registering": 5, "Running": 6, "InitingFailed": 7, "RegisterFailed": 8,
    "Installing": 10, "InstallFailed": 11, "Updating": 12, "UpdateFailed": 20,
    "Rollbacking": 21, "RollbackSuccess": 22, "RollbackFailed": 23,
    "Deleting": 24, "DeleteFailed": 25, "Unregistering": 26,
    "UnRegisterFailed": 27, "CreateTimeout": 28, "InitTimeout": 29,
    "RegisterTimeout": 30, "InstallTimeout": 31, "UpdateTimeout": 32,
    "RollbackTimeout": 33, "DeleteTimeout": 34, "UnregisterTimeout": 35,
    "Starting": 36, "Freezing": 37, "Frozen": 38, "Restarting": 39,
    "RestartFail": 40, "Unhealthy": 41, "Resizing": 42, "ResizeFailed": 43,
    "ResizeTimeout": 44,
}

# hostile kinds answered with a normally framed (Content-Length) answer
HOSTILE_SEND_KINDS = {"nested", "huge_fields", "nul", "bad_utf8", "retry_hint",
                      "redirect", "html"}
# hostile kinds that break HTTP framing: written by Handler._hostile, which
# always closes the connection afterwards
HOSTILE_WIRE_KINDS = {"lying_length", "endless", "info_storm", "http10"}
FAULT_KINDS = {"latency", "hang", "status", "throttle", "malformed", "oversized", "drop",
               "expire_token", "echo"} | HOSTILE_SEND_KINDS | HOSTILE_WIRE_KINDS
FAULT_INT_FIELDS = ("ms", "status", "bytes", "depth", "n", "max_bytes", "max_ms",
                    "interval_ms", "chunk", "interim", "pad")
FAULT_PROVIDERS = {"aliyun", "huawei", "iam", "sts", "aliyun_metadata", "huawei_metadata", "any"}
# error/answer shape of each provider: Alibaba JSON, Huawei JSON, or plain text (metadata)
_FAMILY = {"aliyun": "aliyun", "sts": "aliyun", "huawei": "huawei", "iam": "huawei",
           "aliyun_metadata": "meta", "huawei_metadata": "meta", "meta": "meta"}


def _fam(provider):
    return _FAMILY.get(provider, "huawei")
MALFORMED_BODY = b'{"RequestId": "abc", broken'

# bounds and defaults of the hostile kinds
DEFAULT_NEST_DEPTH = 15000
MAX_NEST_DEPTH = 10_000_000             # 50 MB body
DEFAULT_HUGE_FIELD = 900_000
MAX_HUGE_FIELD = 32 * 1024 * 1024       # per field
HUGE_HEADER_CAP = 60_000                # request-id header value of huge_fields
LYING_LENGTH = 100_000                  # Content-Length announced by lying_length
LYING_SENT = 100                        # body bytes it really sends
DEFAULT_STREAM_BYTES = 64 * 1024 * 1024
MAX_STREAM_BYTES = 1024 * 1024 * 1024
DEFAULT_STREAM_MS = 60_000              # capped by MAX_HOLD_MS
DEFAULT_STREAM_CHUNK = 16384
MAX_STREAM_CHUNK = 1024 * 1024
MAX_INTERVAL_MS = 60_000
DEFAULT_STORM_N = 1000
HOSTILE_WRITE_TIMEOUT_S = 30            # one-shot hostile writes (lying_length, http10)
TLS_CLOSE_TIMEOUT_S = 0.5               # close_notify exchange after a hostile answer
REDIRECT_LOCATION = "http://127.0.0.1:1/elsewhere"
REDIRECT_BODY = b"<html><body>Moved</body></html>"
HTML_BODY = b"<html><body>Service maintenance</body></html>"
BAD_UTF8 = b"\xff\xfe" + b"\xc3\x28" + b"\x80" + b"\xc0\xaf"   # bad pair, bad 2nd byte, lone cont., overlong "/"

# the echo fault: encodings ("forms") of a quoted secret and where they go
ECHO_FORMS = ("raw", "pct", "pct2", "pct_lower", "json_slash", "json_u", "json_U")
ECHO_WHERE = ("message", "code", "text", "request_id", "header")
ECHO_MAX_PAD = 1024 * 1024
ECHO_MAX_SECRET = 64 * 1024             # a longer secret is quoted cut to this many characters
ECHO_PLACEHOLDER = "\x00mockcloud-echo\x00"   # stands for the echo field while dumping JSON
ECHO_CODES = {"aliyun": "SignatureDoesNotMatch", "huawei": "APIGW.0301", "meta": "APIGW.0301"}
ECHO_MESSAGES = {"aliyun": "Specified signature is not matched with our calculation.",
                 "huawei": "Incorrect IAM authentication information: verify aksk signature fail",
                 "iam": "The request you have made requires authentication."}

# forward-proxy trap: absolute-form request targets (RFC 9112 3.2.2) and CONNECT
ABS_TARGET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
PROXY_BODY = b"mockcloud: not a proxy; this request was not forwarded\n"

# IAM X-Subject-Token length ("MII" + base64): default, bounds
DEFAULT_IAM_TOKEN_BYTES = 4003
MIN_IAM_TOKEN_BYTES = 4
MAX_IAM_TOKEN_BYTES = 1024 * 1024

LOG_FIELDS = ("seq", "t", "provider", "action", "method", "path", "instance_id",
              "spec", "token", "auth", "status", "code", "fault", "ak")

DEFAULT_CREDS = {
    "aliyun_keys": {
        "testAccessKeyId": {"secret": "testAccessKeySecret"},
        "LTAIbenchkey": {"secret": "benchsecret"},
        "STS.testStsKeyId": {"secret": "testStsKeySecret",
                             "security_token": "testStsSecurityToken"},
        # for echo tests: secret and token with characters every encoding changes
        "STS.echoKeyId": {"secret": "echo/Secret+Key=01",
                          "security_token": "echo+Token/With=Chars/0123456789abcdef"},
    },
    "huawei_aksk": {
        "HWTESTAK0001": {"sk": "hwTestSecretKey0001"},
        "HWTEMPAK0001": {"sk": "hwTempSecretKey0001",
                         "security_token": "hwTempSecurityToken0001"},
        "HWECHOAK0001": {"sk": "hw/Echo+Secret=01", "security_token": "hw+Echo/Token=0123456789"},
    },
    "huawei_users": [
        {"domain": "testdomain", "name": "testuser", "password": "testPassword!1"},
    ],
    # token -> project id it is valid for (None: any project)
    "huawei_static_tokens": {"hw-static-token-0001": None},
    # project name -> project id, used for IAM scope by name
    "huawei_projects": {"cn-north-4": "9f0e1d2c3b4a49587766554433221100"},
    # temporary-credential sources
    "aliyun_ecs_roles": ["gwresize-ecs-role"],
    "aliyun_roles": {
        "acs:ram::1234567890123456:role/gwresize-resizer": {"external_id": None,
                                                           "max_duration": 3600},
        "acs:ram::1234567890123456:role/gwresize-external": {"external_id": "ext-0001",
                                                            "max_duration": 3600},
    },
    "huawei_agencies": [{"domain_name": "otherdomain", "agency_name": "gwresize_agency"}],
}
DEFAULT_RESIZE_DELAY_MS = 2000
DEFAULT_TOKEN_TTL_S = 86400
DEFAULT_TEMP_TTL_S = 3600


class ApiError(Exception):
    """An error answer.  `code` is the provider error code."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


# ---------------------------------------------------------------------------
# Signature primitives (pure functions; the unit test calls them directly)
# ---------------------------------------------------------------------------

def pct(s):
    """RFC 3986 percent-encoding of the UTF-8 bytes: only A-Za-z0-9-_.~ stay."""
    return quote(s, safe="-_.~")


def _json_u(s, hexfmt):
    """Every character but an ASCII letter or digit as a JSON \\u escape
    (surrogate pairs beyond the BMP)."""
    out = []
    for ch in s:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
            continue
        cp = ord(ch)
        if cp > 0xFFFF:
            cp -= 0x10000
            out.append("\\u" + hexfmt % (0xD800 + (cp >> 10)))
            cp = 0xDC00 + (cp & 0x3FF)
        out.append("\\u" + hexfmt % cp)
    return "".join(out)


def echo_form(value, form):
    """`value` in one echo form.  Returns (text, verbatim): `verbatim` means
    the text is already JSON string content (the json_* forms) and goes into
    a JSON body as it is; the others are JSON-escaped there."""
    if form == "raw":
        return value, False
    if form == "pct":
        return pct(value), False
    if form == "pct2":
        return pct(pct(value)), False
    if form == "pct_lower":
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), pct(value)), False
    if form == "json_slash":
        return json.dumps(value)[1:-1].replace("/", "\\/"), True
    if form == "json_u":
        return _json_u(value, "%04x"), True
    if form == "json_U":
        return _json_u(value, "%04X"), True
    raise ValueError("unknown echo form %r" % (form,))


def echo_field(items, forms, pad, labels, in_json):
    """The text of an echo field: `pad` x's, then for each (name, secret) of
    `items` its forms, as "Name: raw=.. pct=..; Name2: raw=.." (labels) or
    just the values separated by spaces.  in_json: JSON string content
    (without quotes), else plain text."""
    def esc(t):
        return json.dumps(t)[1:-1] if in_json else t
    parts = []
    for name, secret in items:
        vals = []
        for form in forms:
            text, verbatim = echo_form(secret, form)
            text = text if verbatim or not in_json else esc(text)
            vals.append(form + "=" + text if labels else text)
        parts.append(esc(name) + ": " + " ".join(vals) if labels else " ".join(vals))
    return "x" * pad + ("; " if labels else " ").join(parts)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ---- Alibaba classic RPC (HMAC-SHA1, SignatureVersion 1.0) -----------------

def aliyun_rpc_canonical_query(params):
    """params: dict of every parameter except Signature."""
    return "&".join(pct(k) + "=" + pct(params[k]) for k in sorted(params))


def aliyun_rpc_string_to_sign(method, params):
    return method.upper() + "&%2F&" + pct(aliyun_rpc_canonical_query(params))


def aliyun_rpc_signature(secret, string_to_sign):
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"),
                   hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


# ---- Alibaba ACS3-HMAC-SHA256 (V3) -----------------------------------------

def aliyun_v3_canonical_query(pairs):
    """pairs: iterable of (name, value) from the wire query string (decoded)."""
    return "&".join(pct(k) + "=" + pct(v) for k, v in sorted(pairs))


def aliyun_v3_canonical_request(method, pathname, query_pairs, headers,
                                signed_headers, body_sha256):
    """headers: dict lower-case name -> value; signed_headers: sorted lower-case names."""
    canon_headers = "".join("%s:%s\n" % (h, headers.get(h, "").strip())
                            for h in signed_headers)
    return "\n".join([method.upper(), pathname or "/",
                      aliyun_v3_canonical_query(query_pairs), canon_headers,
                      ";".join(signed_headers), body_sha256])


def aliyun_v3_string_to_sign(canonical_request):
    return "ACS3-HMAC-SHA256\n" + sha256_hex(canonical_request.encode("utf-8"))


def aliyun_v3_signature(secret, string_to_sign):
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                    hashlib.sha256).hexdigest()


# ---- Huawei SDK-HMAC-SHA256 --------------------------------------------------

def huawei_canonical_uri(raw_path):
    uri = "/".join(pct(unquote(seg)) for seg in raw_path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    return uri


def huawei_canonical_query(pairs):
    grouped = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    out = []
    for k in sorted(grouped):
        ek = pct(k)
        for v in sorted(grouped[k]):
            out.append(ek + "=" + pct(v))
    return "&".join(out)


def huawei_canonical_request(method, raw_path, query_pairs, headers,
                             signed_headers, body):
    """headers: dict lower-case name -> value; signed_headers: sorted lower-case
    names; body: the exact body bytes."""
    canon_headers = "".join("%s:%s\n" % (h, headers.get(h, "").strip())
                            for h in signed_headers)
    return "\n".join([method.upper(), huawei_canonical_uri(raw_path),
                      huawei_canonical_query(query_pairs), canon_headers,
                      ";".join(signed_headers), sha256_hex(body)])


def huawei_string_to_sign(sdk_date, canonical_request):
    return "SDK-HMAC-SHA256\n%s\n%s" % (sdk_date,
                                         sha256_hex(canonical_request.encode("utf-8")))


def huawei_signature(sk, string_to_sign):
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"),
                    hashlib.sha256).hexdigest()


# ---- time parsing ----------------------------------------------------------

def _parse_utc(s, fmts):
    for f in fmts:
        try:
            d = _dt.datetime.strptime(s, f)
        except (ValueError, TypeError):
            continue
        return d.replace(tzinfo=_dt.timezone.utc).timestamp()
    return None


def parse_aliyun_time(s):
    return _parse_utc(s, ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"))


def parse_huawei_time(s):
    if not s or len(s) != 16:
        return None
    return _parse_utc(s, ("%Y%m%dT%H%M%SZ",))


parse_aliyun_time("2025-01-15T08:30:00Z")   # warm up _strptime before threads start


def _iso_us(ts):
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- request parsing + verification (pure: no state) -----------------------

def aliyun_parse_params(query, headers, body):
    """Returns (query_pairs, params).  params merges the query string with a
    form-encoded body (query wins on duplicates)."""
    qpairs = parse_qsl(query, keep_blank_values=True)
    params = dict(qpairs)
    ct = headers.get("content-type", "").lower()
    if body and ct.startswith("application/x-www-form-urlencoded"):
        try:
            bpairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            bpairs = []
        for k, v in bpairs:
            params.setdefault(k, v)
    return qpairs, params


def _ali_time_check(value, now):
    ts = parse_aliyun_time(value)
    if ts is None:
        raise ApiError(400, "InvalidTimeStamp.Format",
                       "Specified time stamp or date value is not well formatted.")
    if abs(now - ts) > MAX_SKEW_S:
        raise ApiError(400, "InvalidTimeStamp.Expired",
                       "Specified time stamp or date value is expired.")


def _ali_key(keys, ak):
    key = keys.get(ak)
    if key is None:
        raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return key


def _ali_sts_check(key, token, now=None):
    """STS keys need their security token; temporary keys the mock issued
    (they carry "expires") are refused once expired."""
    want = key.get("security_token")
    if not want:
        return      # permanent key: a security token, if any, is ignored
    if not token:
        raise ApiError(400, "InvalidSecurityToken.Malformed",
                       "Specified SecurityToken is malformed: it is missing.")
    if not hmac.compare_digest(token.encode("utf-8"), want.encode("utf-8")):
        raise ApiError(400, "InvalidSecurityToken.Mismatch",
                       "Specified SecurityToken mismatch with the AccessKey.")
    exp = key.get("expires")
    if exp is not None and now is not None and now >= exp:
        raise ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")


def _incomplete(detail):
    return ApiError(400, "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards. " + detail)


def verify_aliyun(method, qpairs, params, headers, body, keys, now):
    """Verifies an Alibaba request (V3 or RPC).  `keys` maps AccessKeyId ->
    {"secret", "security_token"?, "expires"?} (only .get is used).  Returns a dict with scheme, access_key,
    nonce, action, version.  Raises ApiError."""
    authz = headers.get("authorization", "")
    if authz.startswith("ACS3-HMAC-SHA256"):
        return _verify_aliyun_v3(method, qpairs, headers, body, keys, now, authz)
    if "Signature" in params:
        return _verify_aliyun_rpc(method, params, keys, now)
    raise _incomplete("No Signature parameter and no ACS3-HMAC-SHA256 Authorization header.")


def _verify_aliyun_rpc(method, params, keys, now):
    p = dict(params)
    sig = p.pop("Signature")
    missing = [k for k in ("AccessKeyId", "SignatureMethod", "SignatureVersion",
                           "SignatureNonce", "Timestamp") if not p.get(k)]
    if not sig or missing:
        raise _incomplete("Missing: " + ", ".join(missing or ["Signature"]))
    if p["SignatureMethod"] != "HMAC-SHA1":
        raise ApiError(400, "InvalidSignatureMethod",
                       "Specified signature method is not supported (use HMAC-SHA1).")
    if p["SignatureVersion"] != "1.0":
        raise ApiError(400, "InvalidSignatureVersion",
                       "Specified signature version is not supported (use 1.0).")
    key = _ali_key(keys, p["AccessKeyId"])
    _ali_time_check(p["Timestamp"], now)
    sts = aliyun_rpc_string_to_sign(method, p)
    want = aliyun_rpc_signature(key["secret"], sts)
    if not hmac.compare_digest(want.encode("ascii"), sig.encode("utf-8", "replace")):
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature is not matched with our calculation. "
                       "server string to sign is:" + sts)
    _ali_sts_check(key, p.get("SecurityToken"), now)
    return {"scheme": "rpc", "access_key": p["AccessKeyId"], "nonce": p["SignatureNonce"],
            "action": p.get("Action"), "version": p.get("Version")}


def _verify_aliyun_v3(method, qpairs, headers, body, keys, now, authz):
    fields = {}
    for part in authz[len("ACS3-HMAC-SHA256"):].strip().split(","):
        k, _, v = part.strip().partition("=")
        if k:
            fields[k.strip()] = v.strip()
    ak = fields.get("Credential")
    sh = fields.get("SignedHeaders")
    sig = fields.get("Signature")
    if not ak or not sh or not sig:
        raise _incomplete("Authorization needs Credential, SignedHeaders and Signature.")
    for h in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
        if not headers.get(h):
            raise _incomplete("Missing header " + h + ".")
    signed = sorted({h.strip().lower() for h in sh.split(";") if h.strip()})
    must = {"host"} | {h for h in headers if h.startswith("x-acs-")}
    unsigned = sorted(must - set(signed))
    if unsigned:
        raise _incomplete("These headers must be signed: " + ";".join(unsigned) + ".")
    key = _ali_key(keys, ak)
    _ali_time_check(headers["x-acs-date"], now)
    body_hash = sha256_hex(body)
    if headers["x-acs-content-sha256"].strip().lower() != body_hash:
        raise ApiError(400, "SignatureDoesNotMatch",
                       "x-acs-content-sha256 does not match the SHA-256 of the body "
                       "(server computed %s)." % body_hash)
    canon = aliyun_v3_canonical_request(method, "/", qpairs, headers, signed, body_hash)
    sts = aliyun_v3_string_to_sign(canon)
    want = aliyun_v3_signature(key["secret"], sts)
    if not hmac.compare_digest(want.encode("ascii"), sig.lower().encode("utf-8", "replace")):
        raise ApiError(400, "SignatureDoesNotMatch",
                       "Specified signature is not matched with our calculation. "
                       "server string to sign is:" + sts + " canonical request is:" + canon)
    _ali_sts_check(key, headers.get("x-acs-security-token"), now)
    return {"scheme": "acs3", "access_key": ak, "nonce": headers["x-acs-signature-nonce"],
            "action": headers.get("x-acs-action"), "version": headers.get("x-acs-version")}


def verify_aliyun_request(method, path_and_query, headers, body, keys, now):
    """Convenience wrapper for tests: raw wire pieces in, verify_aliyun out."""
    sp = urlsplit(path_and_query)
    hdrs = {k.lower(): v for k, v in headers.items()}
    qpairs, params = aliyun_parse_params(sp.query, hdrs, body)
    return verify_aliyun(method, qpairs, params, hdrs, body, keys, now)


def _hw_authfail(detail):
    return ApiError(401, "APIGW.0301", "Incorrect IAM authentication information: " + detail)


def verify_huawei_aksk(method, raw_path, query, headers, body, aksk, now):
    """Verifies `Authorization: SDK-HMAC-SHA256 ...`.  `aksk` maps AK ->
    {"sk", "security_token"?}.  headers: dict lower-case -> value.  Returns the AK."""
    authz = headers.get("authorization", "")
    fields = {}
    for part in authz[len("SDK-HMAC-SHA256"):].strip().split(","):
        k, _, v = part.strip().partition("=")
        if k:
            fields[k.strip()] = v.strip()
    ak = fields.get("Access")
    sh = fields.get("SignedHeaders")
    sig = fields.get("Signature")
    if not ak or not sh or not sig:
        raise _hw_authfail("Authorization needs Access, SignedHeaders and Signature")
    cred = aksk.get(ak)
    if cred is None:
        raise _hw_authfail("verify aksk signature fail, access key not found")
    signed = sorted({h.strip().lower() for h in sh.split(";") if h.strip()})
    if "x-sdk-date" not in signed:
        raise _hw_authfail("x-sdk-date must be signed")
    date = headers.get("x-sdk-date", "").strip()
    ts = parse_huawei_time(date)
    if ts is None:
        raise _hw_authfail("x-sdk-date is missing or not in YYYYMMDDTHHMMSSZ format")
    if abs(now - ts) > MAX_SKEW_S:
        raise _hw_authfail("x-sdk-date is expired (more than 15 minutes off)")
    canon = huawei_canonical_request(method, raw_path, parse_qsl(query, keep_blank_values=True),
                                     headers, signed, body)
    want = huawei_signature(cred["sk"], huawei_string_to_sign(date, canon))
    if not hmac.compare_digest(want.encode("ascii"), sig.lower().encode("utf-8", "replace")):
        raise _hw_authfail("verify aksk signature fail")
    want_tok = cred.get("security_token")
    if want_tok:
        tok = headers.get("x-security-token", "")
        if not hmac.compare_digest(tok.encode("utf-8"), want_tok.encode("utf-8")):
            raise _hw_authfail("the security token is missing or does not match the temporary AK")
    exp = cred.get("expires")
    if exp is not None and now >= exp:
        raise _hw_authfail("the temporary AK/SK and security token have expired")
    return ak


def verify_huawei_request(method, url, headers, body, aksk, now):
    """Convenience wrapper for tests."""
    sp = urlsplit(url)
    hdrs = {k.lower(): v for k, v in headers.items()}
    return verify_huawei_aksk(method, sp.path, sp.query, hdrs, body, aksk, now)


# ---------------------------------------------------------------------------
# Credentials / configuration
# ---------------------------------------------------------------------------

def check_iam_token_bytes(v):
    """iam_token_bytes as an int within bounds; ValueError otherwise."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise ValueError("iam_token_bytes must be an integer")
    v = int(v)
    if not MIN_IAM_TOKEN_BYTES <= v <= MAX_IAM_TOKEN_BYTES:
        raise ValueError("iam_token_bytes must be %d..%d" % (MIN_IAM_TOKEN_BYTES,
                                                              MAX_IAM_TOKEN_BYTES))
    return v


def load_creds(config_path):
    creds = json.loads(json.dumps(DEFAULT_CREDS))
    extra = {}
    if config_path:
        with open(config_path, "r", encoding="utf-8") as f:
            extra = json.load(f)
    for k, v in (extra.get("aliyun_keys") or {}).items():
        creds["aliyun_keys"][k] = {"secret": v} if isinstance(v, str) else dict(v)
    for k, v in (extra.get("huawei_aksk") or {}).items():
        creds["huawei_aksk"][k] = {"sk": v} if isinstance(v, str) else dict(v)
    for u in extra.get("huawei_users") or []:
        creds["huawei_users"] = [x for x in creds["huawei_users"]
                                 if (x["domain"], x["name"]) != (u["domain"], u["name"])]
        creds["huawei_users"].append(dict(u))
    st = extra.get("huawei_static_tokens")
    if isinstance(st, list):
        for t in st:
            creds["huawei_static_tokens"][t] = None
    elif isinstance(st, dict):
        creds["huawei_static_tokens"].update(st)
    creds["huawei_projects"].update(extra.get("huawei_projects") or {})
    creds["default_resize_delay_ms"] = int(extra.get("default_resize_delay_ms",
                                                     DEFAULT_RESIZE_DELAY_MS))
    creds["token_ttl_s"] = float(extra.get("token_ttl_s", DEFAULT_TOKEN_TTL_S))
    creds["temp_ttl_s"] = float(extra.get("temp_ttl_s", DEFAULT_TEMP_TTL_S))
    creds["huawei_ecs_agency"] = bool(extra.get("huawei_ecs_agency", True))
    creds["iam_token_bytes"] = check_iam_token_bytes(extra.get("iam_token_bytes",
                                                               DEFAULT_IAM_TOKEN_BYTES))
    if extra.get("aliyun_ecs_roles") is not None:
        creds["aliyun_ecs_roles"] = [str(r) for r in extra["aliyun_ecs_roles"]]
    for arn, v in (extra.get("aliyun_roles") or {}).items():
        v = dict(v or {})
        creds["aliyun_roles"][arn] = {"external_id": v.get("external_id"),
                                      "max_duration": int(v.get("max_duration", 3600))}
    for a in extra.get("huawei_agencies") or []:
        creds["huawei_agencies"] = [
            x for x in creds["huawei_agencies"]
            if (x.get("domain_name"), x.get("domain_id"), x["agency_name"]) !=
            (a.get("domain_name"), a.get("domain_id"), a["agency_name"])]
        creds["huawei_agencies"].append(dict(a))
    return creds


# ---------------------------------------------------------------------------
# Application: state + provider logic (no socket I/O here)
# ---------------------------------------------------------------------------

class Req:
    __slots__ = ("method", "path", "query", "headers", "body", "t", "provider", "action",
                 "instance_id", "spec", "token", "auth", "qpairs", "params", "hw", "ak")

    def __init__(self, method, path, query, headers, body, t):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.t = t
        self.provider = "unknown"
        self.action = None
        self.instance_id = None
        self.spec = None
        self.token = None
        self.auth = "none"
        self.qpairs = None
        self.params = None
        self.hw = None
        self.ak = None


class Resp:
    """kind: 'send' (status/headers/obj or raw), 'drop', 'hang' (hold_ms),
    'wire' (a framing-breaking hostile answer described by `plan`, written
    by Handler._hostile; `status` is what gets logged)."""
    __slots__ = ("kind", "status", "headers", "obj", "raw", "code", "hold_ms", "plan")

    def __init__(self, status=200, headers=None, obj=None, raw=None, code=None,
                 kind="send", hold_ms=0, plan=None):
        self.kind = kind
        self.status = status
        self.headers = headers if headers is not None else []
        self.obj = obj
        self.raw = raw
        self.code = code
        self.hold_ms = hold_ms
        self.plan = plan

    def body_bytes(self):
        return self.raw if self.raw is not None else json.dumps(self.obj).encode("utf-8")


def _ali_rid():
    return str(uuid.uuid4()).upper()


def _hw_rid():
    return uuid.uuid4().hex


def _str_or_none(v):
    return v if isinstance(v, str) else None


_AUTH_FIELD_RES = {"Credential": re.compile(r"Credential=([^,\s]+)"),
                   "Access": re.compile(r"Access=([^,\s]+)")}


def _auth_field(authz, name):
    m = _AUTH_FIELD_RES[name].search(authz)
    return m.group(1) if m else None


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _rand(n, alphabet=_ALNUM):
    return "".join(alphabet[b % len(alphabet)] for b in secrets.token_bytes(n))


def _b64_tail():
    """8 base64 characters ending in "==" (4 random bytes): issued secrets end
    with it, so that they contain "/", "+" and "=" (echo tests need all three)."""
    return base64.b64encode(secrets.token_bytes(4)).decode("ascii")


def _iso_s(ts):
    """Whole seconds, as Alibaba writes Expiration: 2015-04-09T11:52:19Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def _iso_from_us(us):
    """Huawei expires_at from integer microseconds: 2020-01-08T03:50:07.574000Z."""
    d = _dt.datetime.fromtimestamp(us // 1_000_000, _dt.timezone.utc)
    return d.replace(microsecond=us % 1_000_000).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeyView:
    """What the verifiers look keys up in (.get only): the configured keys
    first, then the temporary credentials the mock issued (family "aliyun"
    or "huawei")."""
    __slots__ = ("app", "perm", "family")

    def __init__(self, app, perm, family):
        self.app = app
        self.perm = perm
        self.family = family

    def get(self, ak, default=None):
        k = self.perm.get(ak)
        if k is not None:
            return k
        k = self.app.temp_get(self.family, ak)
        return default if k is None else k


class App:
    def __init__(self, creds, verbose=False):
        self.creds = creds
        self.verbose = verbose
        self.ali_keys = KeyView(self, creds["aliyun_keys"], "aliyun")
        self.hw_aksk = KeyView(self, creds["huawei_aksk"], "huawei")
        self.lock = threading.Lock()
        self.streams_open = 0           # hostile wire answers being written (not reset)
        self.reset()

    # ---- state ----------------------------------------------------------
    def reset(self):
        with self.lock:
            self.log = collections.deque(maxlen=LOG_CAP)
            self.seq = 0
            self.by_action = {}
            self.by_provider = {}
            self.by_status = {}
            self.faults = []
            self.fault_seq = 0
            self.instances = {}             # (provider, id) -> dict
            self.inst_seq = 0
            self.tokens = {}                # token -> dict
            self.nonces = {}                # (ak, nonce) -> expiry
            self.nonce_q = collections.deque()
            self.idem = {}                  # Alibaba Token -> (fingerprint, RequestId)
            self.default_resize_delay_ms = self.creds["default_resize_delay_ms"]
            self.token_ttl_s = self.creds["token_ttl_s"]
            self.temp_ttl_s = self.creds["temp_ttl_s"]
            self.huawei_ecs_agency = self.creds["huawei_ecs_agency"]
            self.iam_token_bytes = self.creds["iam_token_bytes"]
            self.temp = {"aliyun": {}, "huawei": {}}    # family -> AK -> credential
            self.issued = {"aliyun_metadata": 0, "huawei_metadata": 0, "sts": 0, "iam": 0}
            self.meta_tokens = {"aliyun": {}, "huawei": {}}  # metadata session token -> expiry

    # ---- temporary credentials ------------------------------------------
    def temp_get(self, family, ak):
        with self.lock:
            c = self.temp[family].get(ak)
            return dict(c) if c is not None else None

    def issue_temp(self, family, source, life_s, now):
        """Issues a temporary credential valid for min(life_s, temp_ttl_s).
        Alibaba expiries are whole seconds (rounded down), Huawei ones whole
        microseconds, so validity ends exactly at the stated time.  Returns
        (ak, secret, security_token, expiry text)."""
        with self.lock:
            life = min(float(life_s), self.temp_ttl_s)
        if family == "aliyun":
            ak = "STS." + _rand(28)
            secret = _rand(17) + "/" + _rand(17) + "+" + _b64_tail()
            token = ""
            while "+" not in token or "/" not in token:     # almost always at once
                token = "CAIS" + base64.b64encode(secrets.token_bytes(240)).decode("ascii")
            expires = float(math.floor(now + life))
            text = _iso_s(expires)
            entry = {"secret": secret, "security_token": token, "expires": expires,
                     "source": source}
        else:
            ak = _rand(20, _UPPER_NUM)
            secret = _rand(15) + "/" + _rand(15) + "+" + _b64_tail()
            token = "gQ" + base64.urlsafe_b64encode(secrets.token_bytes(240)).decode("ascii")
            us = math.floor((now + life) * 1_000_000)
            expires = us / 1_000_000
            text = _iso_from_us(us)
            entry = {"sk": secret, "security_token": token, "expires": expires,
                     "source": source}
        with self.lock:
            d = self.temp[family]
            d[ak] = entry
            if len(d) > TEMP_CAP:
                del d[next(iter(d))]
            self.issued[source] += 1
        return ak, secret, token, text

    def new_meta_token(self, service, ttl, now):
        tok = base64.urlsafe_b64encode(secrets.token_bytes(36)).decode("ascii")
        with self.lock:
            d = self.meta_tokens[service]
            d[tok] = now + ttl
            if len(d) > META_TOKEN_CAP:
                del d[next(iter(d))]
        return tok

    def meta_token_ok(self, service, tok, now):
        with self.lock:
            exp = self.meta_tokens[service].get(tok)
        return exp is not None and now < exp

    def record(self, rec):
        with self.lock:
            self.seq += 1
            rec["seq"] = self.seq
            self.log.append(rec)
            a = rec["action"] or "(none)"
            self.by_action[a] = self.by_action.get(a, 0) + 1
            self.by_provider[rec["provider"]] = self.by_provider.get(rec["provider"], 0) + 1
            s = str(rec["status"])
            self.by_status[s] = self.by_status.get(s, 0) + 1

    def stream_delta(self, d):
        with self.lock:
            self.streams_open += d

    def use_nonce(self, ak, nonce, now):
        key = (ak, nonce)
        with self.lock:
            q = self.nonce_q
            while q and (q[0][0] <= now or len(q) > NONCE_CAP):
                exp, k = q.popleft()
                if self.nonces.get(k) == exp:
                    del self.nonces[k]
            exp = self.nonces.get(key)
            if exp is not None and exp > now:
                raise ApiError(400, "SignatureNonceUsed",
                               "Specified signature nonce was used already.")
            exp = now + NONCE_TTL_S
            self.nonces[key] = exp
            q.append((exp, key))

    def take_fault(self, provider, action, instance_id):
        if not self.faults:          # racy fast path: fine
            return None
        with self.lock:
            for r in self.faults:
                if r["count"] == 0:
                    continue
                if r["provider"] not in ("any", provider):
                    continue
                if r.get("action") and r["action"] != action:
                    continue
                if r.get("instance_id") and r["instance_id"] != instance_id:
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                r["hits"] += 1
                return dict(r)
        return None

    def _new_instance(self, provider, iid, now, project_id=None):
        self.inst_seq += 1
        inst = {
            "provider": provider, "instance_id": iid, "created": now, "n": self.inst_seq,
            "resize_delay_ms": None, "resize_outcome": "succeed", "pending": None,
            "resizes": 0, "resizes_succeeded": 0, "resizes_failed": 0,
        }
        if provider == "aliyun":
            inst.update(spec="api.s1.small", status="RUNNING", charge_type="PayAsYouGo",
                        name="mock-" + iid)
        else:
            inst.update(spec="BASIC", status="Running", instance_status=6, charging_mode=0,
                        name="mock-" + iid, project_id=project_id)
        self.instances[(provider, iid)] = inst
        return inst

    def _get_inst(self, provider, iid, now, project_id=None):
        """Caller holds the lock.  Auto-creates on first reference."""
        inst = self.instances.get((provider, iid))
        if inst is None:
            inst = self._new_instance(provider, iid, now, project_id)
        elif provider == "huawei" and project_id and not inst.get("project_id"):
            inst["project_id"] = project_id
        self._advance(inst, now)
        return inst

    @staticmethod
    def _advance(inst, now):
        p = inst["pending"]
        if p is None or now < p["until"]:
            return
        inst["pending"] = None
        ok = p["outcome"] != "fail"
        if ok:
            inst["spec"] = p["target"]
            inst["resizes_succeeded"] += 1
        else:
            inst["resizes_failed"] += 1
        if inst["provider"] == "aliyun":
            inst["status"] = "RUNNING"
        elif ok:
            inst["status"], inst["instance_status"] = "Running", 6
        else:
            inst["status"], inst["instance_status"] = "ResizeFailed", 43

    def _start_resize(self, inst, target, now):
        delay = inst["resize_delay_ms"]
        if delay is None:
            delay = self.default_resize_delay_ms
        inst["pending"] = {"target": target, "old": inst["spec"],
                           "until": now + delay / 1000.0, "outcome": inst["resize_outcome"]}
        inst["resizes"] += 1
        if inst["provider"] == "aliyun":
            inst["status"] = "MODIFYING"
        else:
            inst["status"], inst["instance_status"] = "Resizing", 42

    # ---- request classification (cheap, before faults) -------------------
    def classify(self, req):
        path = req.path
        h = req.headers
        if path == "/":
            req.provider = "aliyun"
            req.qpairs, p = aliyun_parse_params(req.query, h, req.body)
            req.params = p
            authz = h.get("authorization", "")
            if authz.startswith("ACS3-HMAC-SHA256"):
                req.auth = "acs3"
                req.action = h.get("x-acs-action") or p.get("Action")
                req.ak = _auth_field(authz, "Credential")
            elif "Signature" in p:
                req.auth = "rpc"
                req.action = p.get("Action")
                req.ak = p.get("AccessKeyId") or None
            else:
                req.action = p.get("Action") or h.get("x-acs-action")
            if req.action == "AssumeRole":
                req.provider = "sts"
                return
            req.instance_id = p.get("InstanceId")
            req.spec = p.get("InstanceSpec")
            req.token = p.get("Token")
        elif path in ("/v3/auth/tokens", "/v3/auth/tokens/"):
            req.provider, req.action, req.auth = "iam", "token", "iam"
        elif path.startswith("/latest/"):
            if path == "/latest/api/token":
                req.provider, req.action = "aliyun_metadata", "api_token"
            elif path == ALI_META_CRED_PATH or path.startswith(ALI_META_CRED_PATH + "/"):
                req.provider, req.action = "aliyun_metadata", "ram_credentials"
        elif path in ("/openstack/latest/securitykey", "/openstack/latest/securitykey/"):
            req.provider, req.action = "huawei_metadata", "securitykey"
        elif path in ("/meta-data/latest/api/token", "/meta-data/latest/api/token/"):
            req.provider, req.action = "huawei_metadata", "api_token"
        elif path in ("/v3.0/OS-CREDENTIAL/securitytokens", "/v3.0/OS-CREDENTIAL/securitytokens/"):
            req.provider, req.action = "iam", "assume_role"
            authz = h.get("authorization", "")
            if authz.startswith("SDK-HMAC-SHA256"):
                req.auth = "aksk"
                req.ak = _auth_field(authz, "Access")
            elif h.get("x-auth-token"):
                req.auth = "token"
        else:
            m = HW_PATH_RE.match(path)
            if not m:
                return
            req.provider = "huawei"
            pid, iid = unquote(m.group(1)), unquote(m.group(2))
            req.hw = (pid, iid)
            req.instance_id = iid
            req.action = "resize" if m.group(3) else "show"
            if h.get("authorization", "").startswith("SDK-HMAC-SHA256"):
                req.auth = "aksk"
                req.ak = _auth_field(h["authorization"], "Access")
            elif h.get("x-auth-token"):
                req.auth = "token"
            if req.action == "resize" and req.body:
                try:
                    j = json.loads(req.body)
                    if isinstance(j, dict):
                        req.spec = _str_or_none(j.get("spec_id"))
                except ValueError:
                    pass

    # ---- main entry --------------------------------------------------------
    def handle(self, req):
        """Returns (Resp, fault_kind)."""
        self.classify(req)
        fault = None
        if req.provider != "unknown":
            fault = self.take_fault(req.provider, req.action, req.instance_id)
        kind = fault["kind"] if fault else None
        if kind == "latency":
            time.sleep(min(max(int(fault.get("ms", DEFAULT_LATENCY_MS)), 0), MAX_HOLD_MS) / 1000.0)
        elif kind == "hang":
            ms = min(max(int(fault.get("ms", DEFAULT_HANG_MS)), 0), MAX_HOLD_MS)
            return Resp(kind="hang", hold_ms=ms, status=None), kind
        elif kind == "drop":
            return Resp(kind="drop", status=None), kind
        elif kind in ("status", "throttle", "expire_token", "malformed"):
            return self.fault_response(req, fault), kind
        elif kind in HOSTILE_SEND_KINDS:
            return self.hostile_response(req, fault), kind
        elif kind == "echo":
            # "ms": the echo comes that late (an answer still on its way)
            time.sleep(min(max(int(fault.get("ms", 0)), 0), MAX_HOLD_MS) / 1000.0)
            return self.echo_response(req, fault), kind
        elif kind in ("lying_length", "endless"):
            return self.hostile_wire(req, fault), kind
        elif kind == "info_storm" and int(fault.get("n", DEFAULT_STORM_N)) < 0:
            plan = self._storm_plan(fault, None)       # never a final answer: not applied
            return Resp(kind="wire", status=plan["interim"], plan=plan), kind
        resp = self.route(req)
        if kind == "oversized":
            self.pad(resp, int(fault.get("bytes", DEFAULT_OVERSIZE)))
        elif kind == "http10":
            resp = Resp(kind="wire", status=resp.status, code=resp.code,
                        plan={"how": "http10", "final": resp})
        elif kind == "info_storm":
            resp = Resp(kind="wire", status=resp.status, code=resp.code,
                        plan=self._storm_plan(fault, resp))
        return resp, kind

    def route(self, req):
        try:
            if req.provider == "aliyun":
                return self.ali_handle(req)
            if req.provider == "huawei":
                return self.hw_handle(req)
            if req.provider == "iam":
                if req.action == "assume_role":
                    return self.iam_assume_role(req)
                return self.iam_handle(req)
            if req.provider == "sts":
                return self.sts_handle(req)
            if req.provider == "aliyun_metadata":
                return self.alimeta_handle(req)
            if req.provider == "huawei_metadata":
                return self.hwmeta_handle(req)
            raise ApiError(404, "APIGW.0101",
                           "The API does not exist or has not been published in the environment")
        except ApiError as e:
            return self.error_resp(req.provider, req, e)

    # ---- error formatting -------------------------------------------------
    def error_resp(self, provider, req, e, rid=None):
        fam = _fam(provider)
        if fam == "meta":       # metadata services answer errors in plain text
            return Resp(e.status, [("Content-Type", "text/plain")] + e.headers,
                        raw=e.message.encode("utf-8"), code=e.code)
        if fam == "aliyun":
            rid = rid or _ali_rid()
            host = req.headers.get("host", "").split(":")[0] or "apigateway.mock.aliyuncs.com"
            product = "Sts" if req.provider == "sts" else "CloudAPI"
            obj = {"RequestId": rid, "HostId": host, "Code": e.code, "Message": e.message,
                   "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=%s"
                                "&requestId=%s" % (e.code, product, rid)}
            hdrs = [("Content-Type", "application/json;charset=utf-8"),
                    ("x-acs-request-id", rid)] + e.headers
            return Resp(e.status, hdrs, obj, code=e.code)
        rid = rid or _hw_rid()
        if getattr(e, "iam_title", None):
            obj = {"error": {"code": getattr(e, "iam_code", None) or e.status,
                             "message": e.message, "title": e.iam_title}}
        else:
            obj = {"error_code": e.code, "error_msg": e.message}
            if e.code.startswith("APIGW."):
                obj["request_id"] = rid
        hdrs = [("Content-Type", "application/json"), ("X-Request-Id", rid)] + e.headers
        return Resp(e.status, hdrs, obj, code=e.code)

    def fault_response(self, req, f):
        kind = f["kind"]
        prov = _fam(req.provider)
        if kind == "malformed":
            if prov == "meta":
                return Resp(200, [("Content-Type", "text/plain")], raw=MALFORMED_BODY)
            hdrs = [("Content-Type", "application/json")]
            if prov == "aliyun":
                hdrs.append(("x-acs-request-id", _ali_rid()))
            else:
                hdrs.append(("X-Request-Id", _hw_rid()))
            return Resp(200, hdrs, raw=MALFORMED_BODY)
        extra = []
        ra = f.get("retry_after")
        if kind == "status":
            status = int(f.get("status", 500))
            code, msg = f.get("code"), f.get("message")
            if prov == "aliyun":
                dcode, dmsg = {
                    503: ("ServiceUnavailable",
                          "The request has failed due to a temporary failure of the server."),
                    429: ("Throttling", "Request was denied due to request throttling."),
                }.get(status, ("InternalError", "The request processing has failed due to some "
                                                "unknown error, exception or failure."))
            elif prov == "meta":
                dcode = {429: "Throttling", 503: "ServiceUnavailable"}.get(status, "InternalError")
                dmsg = _reason(status)
            else:
                dcode, dmsg = {
                    429: ("APIGW.0308", "The throttling threshold has been reached"),
                    503: ("APIG.9999", "System error. Try again later."),
                }.get(status, ("APIC.9000", "Failed to request internal service"))
            e = ApiError(status, code or dcode, msg or dmsg)
        elif kind == "throttle":
            if prov == "aliyun":
                e = ApiError(400, "Throttling.User", "Request was denied due to user flow control.")
            elif prov == "meta":
                e = ApiError(429, "Throttling", "Too Many Requests")
            else:
                e = ApiError(429, "APIGW.0308", "The throttling threshold has been reached")
        else:  # expire_token
            if prov == "aliyun":
                e = ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
            elif prov == "meta":
                e = ApiError(401, "Unauthorized", "Unauthorized")
            else:
                e = ApiError(401, "APIGW.0307", "The token must be updated.")
        if ra is not None:
            if prov == "aliyun":
                extra.append(("x-acs-retry-after", str(int(float(ra) * 1000))))
            else:
                fra = float(ra)
                extra.append(("Retry-After", str(int(fra)) if fra == int(fra) else str(fra)))
        e.headers = extra
        return self.error_resp(prov, req, e)

    # ---- hostile kinds ------------------------------------------------------
    @staticmethod
    def _clamp(f, name, default, lo, hi):
        return min(max(int(f.get(name, default)), lo), hi)

    @staticmethod
    def _rid_header(prov):
        """(header name, fresh normal request id) for the provider."""
        if _fam(prov) == "aliyun":
            return "x-acs-request-id", _ali_rid()
        return "X-Request-Id", _hw_rid()

    @staticmethod
    def _err_bytes(prov, code, msg, rid):
        """Provider-shaped error body with raw bytes put in verbatim (no escaping)."""
        if _fam(prov) == "aliyun":
            return b'{"RequestId":"' + rid + b'","Code":"' + code + b'","Message":"' + msg + b'"}'
        return (b'{"error_code":"' + code + b'","error_msg":"' + msg + b'","request_id":"' +
                rid + b'"}')

    def hostile_response(self, req, f):
        """The hostile kinds that keep HTTP framing: a normal Resp with raw bytes."""
        kind = f["kind"]
        prov = _fam(req.provider)
        ridh, rid = self._rid_header(prov)
        ctype = "application/json;charset=utf-8" if prov == "aliyun" else "application/json"
        status = f.get("status")
        if kind == "nested":
            d = self._clamp(f, "depth", DEFAULT_NEST_DEPTH, 0, MAX_NEST_DEPTH)
            return Resp(status or 200, [("Content-Type", "application/json"), (ridh, rid)],
                        raw=b'{"a":' * d + b"1" + b"}" * d)
        if kind == "huge_fields":
            n = self._clamp(f, "bytes", DEFAULT_HUGE_FIELD, 0, MAX_HUGE_FIELD)
            return Resp(status or 400,
                        [("Content-Type", ctype), (ridh, "R" * min(n, HUGE_HEADER_CAP))],
                        raw=self._err_bytes(prov, b"E" * n, b"M" * n, b"R" * n))
        if kind == "nul":
            z = b"\\u0000" if f.get("escaped") else b"\x00"
            return Resp(status or 400, [("Content-Type", ctype), (ridh, rid)],
                        raw=self._err_bytes(prov, b"Nul" + z + b"Code", b"before" + z + b"after",
                                            rid.encode("ascii")))
        if kind == "bad_utf8":
            status = status or 400
            if 200 <= status < 300:
                raw = (b'{"RequestId":"RID-' + BAD_UTF8 + b'"}' if prov == "aliyun"
                       else b'{"job_id":"JOB-' + BAD_UTF8 + b'"}')
            else:
                raw = self._err_bytes(prov, b"Bad" + BAD_UTF8 + b"Code",
                                      b"message " + BAD_UTF8 + b" end", b"RID-" + BAD_UTF8)
            return Resp(status, [("Content-Type", ctype),
                                 (ridh, b"rid-\xff\xfe-" + rid.encode("ascii"))], raw=raw)
        if kind == "retry_hint":
            if prov == "aliyun":
                e = ApiError(400, "Throttling.User", "Request was denied due to user flow control.",
                             [("x-acs-retry-after", f["value"])])
            else:
                e = ApiError(429, "APIGW.0308", "The throttling threshold has been reached",
                             [("Retry-After", f["value"])])
            return self.error_resp(prov, req, e)
        if kind == "redirect":
            return Resp(status or 302, [("Content-Type", "text/html"),
                                        ("Location", f.get("location", REDIRECT_LOCATION)),
                                        (ridh, rid)], raw=REDIRECT_BODY)
        # html
        return Resp(status or 200, [("Content-Type", "text/html"), (ridh, rid)], raw=HTML_BODY)

    # ---- echo: an error quoting the request's secrets ----------------------
    def echo_secrets(self, req):
        """[(name, secret)]: every distinct secret the request carried or that the
        mock associates with it, in a fixed order: the signing secret of the AK
        that signed it, SecurityToken, x-acs-security-token, X-Security-Token,
        X-Auth-Token, the metadata session tokens, the IAM password, ExternalId."""
        out, seen = [], set()

        def add(name, v):
            if isinstance(v, str) and v and v not in seen:
                seen.add(v)
                out.append((name, v[:ECHO_MAX_SECRET]))
        h, p = req.headers, req.params or {}
        if req.ak:
            if _fam(req.provider) == "aliyun":
                k = self.ali_keys.get(req.ak)
                add("AccessKeySecret", k.get("secret") if k else None)
            else:
                k = self.hw_aksk.get(req.ak)
                add("SK", k.get("sk") if k else None)
        add("SecurityToken", p.get("SecurityToken"))
        for name in ("x-acs-security-token", "X-Security-Token", "X-Auth-Token",
                     "X-aliyun-ecs-metadata-token", "X-Metadata-Token"):
            add(name, h.get(name.lower()))
        if req.provider == "iam" and req.action == "token":
            try:
                add("password", json.loads(req.body)["auth"]["identity"]["password"]["user"][
                    "password"])
            except (ValueError, KeyError, TypeError, IndexError):
                pass
        add("ExternalId", p.get("ExternalId"))
        return out

    def echo_response(self, req, f):
        """The echo fault: a provider-shaped error (not applied) whose `where`
        field quotes every secret of the request in the rule's `forms`."""
        fam = _fam(req.provider)
        iam = req.provider == "iam"
        where = f.get("where", "message")
        status = f.get("status", 400)
        items = self.echo_secrets(req)

        def field(in_json):
            return echo_field(items, f.get("forms") or ECHO_FORMS, f.get("pad", 0),
                              f.get("labels", True), in_json)
        code = f.get("code") or (_reason(status) if iam else ECHO_CODES[fam])
        ridh, rid = self._rid_header(fam)
        if where == "header":
            hval = field(False).encode("utf-8")
            for b in (b"\r", b"\n", b"\x00"):
                hval = hval.replace(b, b" ")
        if where == "text" or (where == "header" and fam == "meta"):
            body = field(False) if where == "text" else _reason(status)
            hdrs = [("Content-Type", "text/plain")]
            if where == "header":
                hdrs.append((ridh, hval))
            elif fam != "meta":
                hdrs.append((ridh, rid))
            return Resp(status, hdrs, raw=body.encode("utf-8"), code=code)
        if fam == "aliyun":
            host = req.headers.get("host", "").split(":")[0] or "apigateway.mock.aliyuncs.com"
            product = "Sts" if req.provider == "sts" else "CloudAPI"
            obj = {"RequestId": rid, "HostId": host, "Code": code,
                   "Message": ECHO_MESSAGES["aliyun"],
                   "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=%s"
                                "&requestId=%s" % (code, product, rid)}
            key = {"message": "Message", "code": "Code", "request_id": "RequestId"}.get(where)
            target = obj
            ctype = "application/json;charset=utf-8"
        elif iam:
            obj = {"error": {"code": f.get("code") or status, "message": ECHO_MESSAGES["iam"],
                             "title": _reason(status)}}
            key = {"message": "message", "code": "code", "request_id": "request_id"}.get(where)
            target = obj if where == "request_id" else obj["error"]
            ctype = "application/json"
        else:
            obj = {"error_code": code, "error_msg": ECHO_MESSAGES["huawei"], "request_id": rid}
            key = {"message": "error_msg", "code": "error_code",
                   "request_id": "request_id"}.get(where)
            target = obj
            ctype = "application/json"
        if key is None:             # where: header
            text = json.dumps(obj)
        else:                       # the field's JSON text goes in verbatim
            target[key] = ECHO_PLACEHOLDER
            text = json.dumps(obj).replace(json.dumps(ECHO_PLACEHOLDER),
                                           '"' + field(True) + '"', 1)
        return Resp(status, [("Content-Type", ctype), (ridh, hval if where == "header" else rid)],
                    raw=text.encode("utf-8"), code=code)

    def hostile_wire(self, req, f):
        """lying_length / endless: framing-breaking answers, the call is not applied."""
        prov = _fam(req.provider)
        ridh, rid = self._rid_header(prov)
        hdrs = [("Content-Type", "application/json;charset=utf-8" if prov == "aliyun"
                 else "application/json"), (ridh, rid)]
        status = f.get("status") or 200
        if f["kind"] == "lying_length":
            key = b"RequestId" if prov == "aliyun" else b"request_id"
            body = b'{"' + key + b'":"' + rid.encode("ascii") + b'","Padding":"'
            body = (body + b"x" * LYING_SENT)[:LYING_SENT]
            return Resp(kind="wire", status=status, headers=hdrs,
                        plan={"how": "lying", "body": body})
        return Resp(kind="wire", status=status, headers=hdrs, plan={
            "how": "endless",
            "max_bytes": self._clamp(f, "max_bytes", DEFAULT_STREAM_BYTES, 0, MAX_STREAM_BYTES),
            "max_ms": self._clamp(f, "max_ms", DEFAULT_STREAM_MS, 0, MAX_HOLD_MS),
            "chunk": self._clamp(f, "chunk", DEFAULT_STREAM_CHUNK, 1, MAX_STREAM_CHUNK),
            "interval_ms": self._clamp(f, "interval_ms", 0, 0, MAX_INTERVAL_MS)})

    def _storm_plan(self, f, final):
        """info_storm: `final` is the normal answer (already applied) or None for n = -1."""
        return {"how": "storm", "n": int(f.get("n", DEFAULT_STORM_N)),
                "interim": int(f.get("interim", 102)),
                "max_bytes": self._clamp(f, "max_bytes", DEFAULT_STREAM_BYTES, 0, MAX_STREAM_BYTES),
                "max_ms": self._clamp(f, "max_ms", DEFAULT_STREAM_MS, 0, MAX_HOLD_MS),
                "interval_ms": self._clamp(f, "interval_ms", 0, 0, MAX_INTERVAL_MS),
                "strip": bool(f.get("strip_final_request_id")), "final": final}

    @staticmethod
    def pad(resp, nbytes):
        if resp.kind != "send":
            return
        obj = resp.obj if isinstance(resp.obj, dict) else {}
        obj = dict(obj)
        obj["Padding"] = "x" * max(nbytes, 0)
        resp.obj = obj

    # ---- Alibaba ------------------------------------------------------------
    def ali_handle(self, req):
        now = time.time()
        a = verify_aliyun(req.method, req.qpairs, req.params, req.headers, req.body,
                          self.ali_keys, now)
        self.use_nonce(a["access_key"], a["nonce"], now)
        p = req.params
        if a["scheme"] == "rpc":
            fmt = p.get("Format") or "XML"
            if fmt.upper() != "JSON":
                raise ApiError(400, "InvalidParameter.Format",
                               "Specified parameter Format is not valid: only JSON is served.")
        version = a["version"] or p.get("Version")
        if not version:
            raise ApiError(400, "MissingVersion", "Version is mandatory for this action.")
        if version != ALI_VERSION:
            raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        action = a["action"]
        if not action:
            raise ApiError(400, "MissingAction", "Action is mandatory for this action.")
        if action == "ModifyInstanceSpec":
            return self.ali_modify(req, p, now)
        if action == "DescribeInstances":
            return self.ali_describe(req, p, now)
        raise ApiError(400, "InvalidAction.NotFound",
                       "Specified api is not found, please check your url and method.")

    @staticmethod
    def _ali_ok(obj, rid):
        return Resp(200, [("Content-Type", "application/json;charset=utf-8"),
                          ("x-acs-request-id", rid)], obj)

    @staticmethod
    def _ali_bool(p, name):
        v = p.get(name)
        if v is None or v == "":
            return False
        lv = v.strip().lower()
        if lv not in ("true", "false"):
            raise ApiError(400, "InvalidParameter.%s" % name,
                           "Specified parameter %s is not valid (true|false)." % name)
        return lv == "true"

    def ali_modify(self, req, p, now):
        iid = (p.get("InstanceId") or "").strip()
        spec = (p.get("InstanceSpec") or "").strip()
        token = (p.get("Token") or "").strip()
        for name, val in (("InstanceId", iid), ("InstanceSpec", spec), ("Token", token)):
            if not val:
                raise ApiError(400, "Missing" + name, "%s is mandatory for this action." % name)
        if not ALI_SPEC_RE.match(spec):
            raise ApiError(400, "InvalidInstanceSpec",
                           "The specified parameter InstanceSpec is not valid.")
        maction = (p.get("ModifyAction") or "UPGRADE").strip()
        if maction not in ("UPGRADE", "DOWNGRADE"):
            raise ApiError(400, "InvalidModifyAction",
                           "The specified parameter ModifyAction is not valid (UPGRADE|DOWNGRADE).")
        fp = (iid, spec, maction, self._ali_bool(p, "AutoPay"),
              self._ali_bool(p, "SkipWaitSwitch"))
        with self.lock:
            prev = self.idem.get(token)
            if prev is not None:
                if prev[0] == fp:
                    return self._ali_ok({"RequestId": prev[1]}, prev[1])
                raise ApiError(400, "RepeatedCommit", "Resubmit request.")
            if iid.startswith("nf-"):
                raise ApiError(404, "NotFoundInstance", "The specified instance is not found.")
            inst = self._get_inst("aliyun", iid, now)
            if inst["status"] != "RUNNING":
                raise ApiError(400, "InstanceStatusNotSupport",
                               "The operation is not supported in the current instance status.")
            if inst["spec"] == spec:
                raise ApiError(400, "InstanceSpecNotChanged",
                               "The specified instance specification is the same as the current one.")
            self._start_resize(inst, spec, now)
            rid = _ali_rid()
            self.idem[token] = (fp, rid)
            if len(self.idem) > IDEM_CAP:
                del self.idem[next(iter(self.idem))]
        return self._ali_ok({"RequestId": rid}, rid)

    def ali_describe(self, req, p, now):
        iid = (p.get("InstanceId") or "").strip()
        with self.lock:
            if iid:
                insts = [] if iid.startswith("nf-") else [self._get_inst("aliyun", iid, now)]
            else:
                insts = sorted((i for (prov, _), i in self.instances.items() if prov == "aliyun"),
                               key=lambda i: i["n"])
                for i in insts:
                    self._advance(i, now)
            attrs = [{"InstanceId": i["instance_id"], "InstanceSpec": i["spec"],
                      "Status": i["status"], "InstanceChargeType": i["charge_type"],
                      "InstanceName": i["name"]} for i in insts]

        def _int(name, d):
            try:
                return int(p.get(name, d))
            except ValueError:
                return d
        rid = _ali_rid()
        return self._ali_ok({"RequestId": rid, "TotalCount": len(attrs),
                             "PageNumber": _int("PageNumber", 1), "PageSize": _int("PageSize", 10),
                             "Instances": {"InstanceAttribute": attrs}}, rid)

    # ---- Alibaba STS AssumeRole (2015-04-01) ----------------------------------
    def sts_handle(self, req):
        now = time.time()
        a = verify_aliyun(req.method, req.qpairs, req.params, req.headers, req.body,
                          self.ali_keys, now)
        self.use_nonce(a["access_key"], a["nonce"], now)
        p = req.params
        if a["scheme"] == "rpc" and (p.get("Format") or "XML").upper() != "JSON":
            raise ApiError(400, "InvalidParameter.Format",
                           "Specified parameter Format is not valid: only JSON is served.")
        version = a["version"] or p.get("Version")
        if not version:
            raise ApiError(400, "MissingVersion", "Version is mandatory for this action.")
        if version != STS_VERSION:
            raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        arn = (p.get("RoleArn") or "").strip()
        m = STS_ROLE_ARN_RE.match(arn)
        if not m:
            raise ApiError(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
        session = p.get("RoleSessionName") or ""
        if not STS_SESSION_RE.match(session):
            raise ApiError(400, "InvalidParameter.RoleSessionName",
                           "The parameter RoleSessionName is wrongly formed.")
        ds = p.get("DurationSeconds")
        duration = STS_DEFAULT_DURATION_S
        if ds not in (None, ""):
            if not ds.strip().isdigit() or int(ds) < STS_MIN_DURATION_S:
                raise self._sts_duration_err(3600)
            duration = int(ds)
        policy = p.get("Policy")
        if policy not in (None, ""):
            if len(policy.encode("utf-8")) > STS_POLICY_MAX:
                raise ApiError(400, "InvalidParameter.PolicySize",
                               "The size of Policy must be smaller than 1024 bytes.")
            try:
                pj = json.loads(policy)
            except ValueError:
                pj = None
            if not isinstance(pj, dict) or "Statement" not in pj:
                raise ApiError(400, "InvalidParameter.PolicyGrammar",
                               "The parameter Policy has not passed grammar check.")
        role = self.creds["aliyun_roles"].get(arn)
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", "The specified Role not exists.")
        want_ext = role.get("external_id")
        if want_ext is not None and p.get("ExternalId") != want_ext:
            raise ApiError(403, "NoPermission",
                           "You are not authorized to do this action. You should be authorized "
                           "by RAM.")
        max_d = int(role.get("max_duration", 3600))
        if duration > max_d:
            raise self._sts_duration_err(max_d)
        ak, secret, token, exp = self.issue_temp("aliyun", "sts", duration, now)
        rid = _ali_rid()
        role_id = str(int(hashlib.md5(arn.encode()).hexdigest(), 16))[:17]
        return self._ali_ok({
            "RequestId": rid,
            "AssumedRoleUser": {"Arn": arn + "/" + session,
                                "AssumedRoleId": role_id + ":" + session},
            "Credentials": {"AccessKeyId": ak, "AccessKeySecret": secret,
                            "SecurityToken": token, "Expiration": exp}}, rid)

    @staticmethod
    def _sts_duration_err(max_d):
        if max_d == 3600:
            msg = "The Min/Max value of DurationSeconds is 15min/1hr."
        else:
            msg = "The Min/Max value of DurationSeconds is 15min/%ds." % max_d
        return ApiError(400, "InvalidParameter.DurationSeconds", msg)

    # ---- Alibaba ECS metadata (hardened mode) ---------------------------------
    @staticmethod
    def _meta_ttl(req, header):
        v = req.headers.get(header, "").strip()
        if not v.isdigit() or not 1 <= int(v) <= META_TOKEN_MAX_TTL_S:
            raise ApiError(400, "BadRequest", "%s must be an integer from 1 to %d"
                           % (header, META_TOKEN_MAX_TTL_S))
        return int(v)

    @staticmethod
    def _meta_ok(body, ctype="text/plain"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
        return Resp(200, [("Content-Type", ctype)], raw=body)

    def _meta_token(self, req, service, ttl_header, now):
        """PUT .../api/token: a session token for ttl_header seconds."""
        if req.method != "PUT":
            raise ApiError(405, "MethodNotAllowed", "Method Not Allowed")
        ttl = self._meta_ttl(req, ttl_header)
        return self._meta_ok(self.new_meta_token(service, ttl, now).encode("ascii"))

    def alimeta_handle(self, req):
        now = time.time()
        if req.action == "api_token":
            return self._meta_token(req, "aliyun", "x-aliyun-ecs-metadata-token-ttl-seconds", now)
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "Method Not Allowed")
        if not self.meta_token_ok("aliyun", req.headers.get("x-aliyun-ecs-metadata-token", ""),
                                  now):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        role = unquote(req.path[len(ALI_META_CRED_PATH):].strip("/"))
        roles = self.creds["aliyun_ecs_roles"]
        if not role:
            return self._meta_ok("".join(r + "\n" for r in roles).encode("utf-8"))
        if role not in roles:
            raise ApiError(404, "NotFound", "404 - Not Found")
        ak, secret, token, exp = self.issue_temp("aliyun", "aliyun_metadata", ALI_META_LIFE_S, now)
        return self._meta_ok({"AccessKeyId": ak, "AccessKeySecret": secret, "Expiration": exp,
                              "SecurityToken": token, "LastUpdated": _iso_s(now),
                              "Code": "Success"}, "application/json")

    # ---- Huawei ECS metadata ------------------------------------------------
    def hwmeta_handle(self, req):
        now = time.time()
        if req.action == "api_token":
            return self._meta_token(req, "huawei", "x-metadata-token-ttl-seconds", now)
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", "Method Not Allowed")
        tok = req.headers.get("x-metadata-token")
        if tok is not None and not self.meta_token_ok("huawei", tok.strip(), now):
            raise ApiError(401, "Unauthorized", "Unauthorized: the metadata token is invalid "
                                                "or expired")
        with self.lock:
            agency = self.huawei_ecs_agency
        if not agency:
            raise ApiError(401, "AgencyNotConfigured", HW_AGENCY_ERROR)
        ak, secret, token, exp = self.issue_temp("huawei", "huawei_metadata", HW_META_LIFE_S, now)
        return self._meta_ok({"credential": {"access": ak, "secret": secret,
                                             "securitytoken": token, "expires_at": exp}},
                             "application/json")

    # ---- Huawei APIG --------------------------------------------------------
    def hw_auth(self, req, pid, now):
        if req.auth == "aksk":
            verify_huawei_aksk(req.method, req.path, req.query, req.headers, req.body,
                               self.hw_aksk, now)
            return
        tok = req.headers.get("x-auth-token", "").strip()
        if not tok:
            raise ApiError(401, "APIC.7102", "Incorrect token or token resolution failed")
        static = self.creds["huawei_static_tokens"]
        if tok in static:
            proj = static[tok]
            if proj and proj != pid:
                raise ApiError(403, "APIC.7130", "The project ID in the token does not match "
                                                 "the project ID in the request URI")
            return
        with self.lock:
            t = self.tokens.get(tok)
            t = dict(t) if t else None
        if t is None:
            raise ApiError(401, "APIC.7102", "Incorrect token or token resolution failed")
        if t["revoked"] or now >= t["expires"]:
            raise ApiError(401, "APIGW.0307", "The token must be updated.")
        if not t["project_id"]:
            raise ApiError(401, "APIC.7103", "The token does not contain project information")
        if t["project_id"] != pid:
            raise ApiError(403, "APIC.7130", "The project ID in the token does not match "
                                             "the project ID in the request URI")

    @staticmethod
    def _hw_view(i):
        return {"id": i["instance_id"], "instance_name": i["name"], "status": i["status"],
                "instance_status": i["instance_status"], "spec": i["spec"],
                "charging_mode": i["charging_mode"], "project_id": i.get("project_id"),
                "type": "apig", "enterprise_project_id": "0",
                "create_time": int(i["created"] * 1000)}

    def hw_handle(self, req):
        pid, iid = req.hw
        want = "POST" if req.action == "resize" else "GET"
        if req.method != want:
            raise ApiError(404, "APIGW.0101",
                           "The API does not exist or has not been published in the environment")
        now = time.time()
        self.hw_auth(req, pid, now)
        if iid.startswith("denied-"):
            raise ApiError(403, "APIC.7106", "No permissions to request for the method")
        if iid.startswith("nf-"):
            raise ApiError(404, "APIC.7302", "Instance not found")
        rid = _hw_rid()
        hdrs = [("Content-Type", "application/json"), ("X-Request-Id", rid)]
        if req.action == "show":
            with self.lock:
                view = self._hw_view(self._get_inst("huawei", iid, now, pid))
            return Resp(200, hdrs, view)
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            body = None
        spec = body.get("spec_id") if isinstance(body, dict) else None
        if not isinstance(spec, str) or spec not in HW_RANK:
            raise ApiError(400, "APIC.7211", "Parameter value does not match the rules. "
                                             "Parameter name: spec_id")
        with self.lock:
            inst = self._get_inst("huawei", iid, now, pid)
            if inst["status"] not in ("Running", "ResizeFailed"):
                raise ApiError(409, "APIC.7701", "The instance is being operated on. "
                                                 "Try again later.")
            cur = HW_RANK.get(inst["spec"], -1)
            new = HW_RANK[spec]
            if new == cur:
                raise ApiError(409, "APIC.7707", "The gateway already uses this specification.")
            if new < cur:
                raise ApiError(400, "APIC.7243", "The specification of this gateway cannot be "
                                                 "scaled down.")
            self._start_resize(inst, spec, now)
        job = "JOB-" + uuid.uuid4().hex
        return Resp(202, hdrs, {"instance_id": iid,
                                "message": "JOB_ASSIGNED_FOR_RESIZE_0086I:The job %s is assigned "
                                           "to resize instance." % job,
                                "job_id": job})

    # ---- Huawei IAM ---------------------------------------------------------
    @staticmethod
    def _iam_err(status, title, message):
        e = ApiError(status, title, message)
        e.iam_title = title
        return e

    def iam_handle(self, req):
        if req.method != "POST":
            raise self._iam_err(405, "Method Not Allowed", "The method is not allowed.")
        try:
            j = json.loads(req.body)
            ident = j["auth"]["identity"]
            methods = ident["methods"]
            user = ident["password"]["user"]
            uname, pw = user["name"], user["password"]
            dom = user.get("domain") or {}
            dname = dom.get("name")
            scope = j["auth"].get("scope") or {}
            if not isinstance(scope, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._iam_err(400, "Bad Request", "The request body is malformed.") from None
        if not isinstance(methods, list) or "password" not in methods:
            raise self._iam_err(400, "Bad Request", "Only the password method is supported.")
        ok = any(u["domain"] == dname and u["name"] == uname and
                 hmac.compare_digest(str(u["password"]).encode(), str(pw).encode())
                 for u in self.creds["huawei_users"])
        if not ok:
            raise self._iam_err(401, "Unauthorized", "The username or password is wrong.")
        projects = self.creds["huawei_projects"]
        proj = scope.get("project") if isinstance(scope.get("project"), dict) else None
        pid = pname = None
        if proj is not None:
            if proj.get("id"):
                pid = str(proj["id"])
                pname = next((n for n, i in projects.items() if i == pid), "cn-north-4")
            elif proj.get("name"):
                pname = str(proj["name"])
                pid = projects.get(pname) or hashlib.md5(pname.encode()).hexdigest()
            else:
                raise self._iam_err(400, "Bad Request", "The project scope needs an id or a name.")
        now = time.time()
        with self.lock:
            size = self.iam_token_bytes
        token = self.new_iam_token(size)
        with self.lock:
            ttl = self.token_ttl_s
            self.tokens[token] = {"project_id": pid, "project_name": pname, "issued": now,
                                  "expires": now + ttl, "revoked": False, "user": uname,
                                  "domain": dname}
            if len(self.tokens) > TOKEN_CAP:
                del self.tokens[next(iter(self.tokens))]
        domain_obj = {"id": hashlib.md5(dname.encode()).hexdigest(), "name": dname}
        tok = {"expires_at": _iso_us(now + ttl), "issued_at": _iso_us(now),
               "methods": ["password"], "catalog": [],
               "roles": [{"id": "0", "name": "op_fine_grained"}],
               "user": {"id": hashlib.md5((dname + "/" + uname).encode()).hexdigest(),
                        "name": uname, "domain": domain_obj, "password_expires_at": ""}}
        if pid:
            tok["project"] = {"id": pid, "name": pname, "domain": domain_obj}
        else:
            tok["domain"] = domain_obj
        return Resp(201, [("Content-Type", "application/json;charset=UTF-8"),
                          ("X-Subject-Token", token), ("X-Request-Id", _hw_rid())],
                    {"token": tok})

    @staticmethod
    def new_iam_token(size):
        """An X-Subject-Token of exactly `size` characters: "MII" + base64."""
        n = size - 3
        b64 = base64.b64encode(secrets.token_bytes((n * 3 + 3) // 4)).decode("ascii")
        return "MII" + b64[:n]

    # ---- Huawei IAM: temporary AK/SK through an agency ---------------------
    def _iam_assume_auth(self, req, now):
        unauth = self._iam_err(401, "Unauthorized",
                               "The request you have made requires authentication.")
        if req.auth == "aksk":      # permanent AKs only (the configured huawei_aksk)
            verify_huawei_aksk(req.method, req.path, req.query, req.headers, req.body,
                               self.creds["huawei_aksk"], now)
            return
        tok = req.headers.get("x-auth-token", "").strip()
        if not tok:
            raise unauth
        if tok in self.creds["huawei_static_tokens"]:
            return
        with self.lock:
            t = self.tokens.get(tok)
            ok = t is not None and not t["revoked"] and now < t["expires"]
        if not ok:
            raise unauth

    def iam_assume_role(self, req):
        if req.method != "POST":
            raise self._iam_err(405, "Method Not Allowed", "The method is not allowed.")
        now = time.time()
        self._iam_assume_auth(req, now)
        bad = self._iam_err(400, "Bad Request", "The request body is malformed.")
        try:
            ident = json.loads(req.body)["auth"]["identity"]
            methods = ident["methods"]
            ar = ident["assume_role"]
            agency = ar["agency_name"]
            dname, did = ar.get("domain_name"), ar.get("domain_id")
            dur = ar.get("duration_seconds", IAM_AR_DEFAULT_S)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise bad from None
        if (not isinstance(methods, list) or "assume_role" not in methods or
                not isinstance(agency, str) or not agency or
                not isinstance(dname or did, str) or not (dname or did)):
            raise bad
        if isinstance(dur, bool) or not isinstance(dur, int) or \
                not IAM_AR_MIN_S <= dur <= IAM_AR_MAX_S:
            raise self._iam_err(400, "Bad Request", "duration_seconds must be an integer from "
                                "%d to %d." % (IAM_AR_MIN_S, IAM_AR_MAX_S))
        found = False
        for a in self.creds["huawei_agencies"]:
            if a.get("agency_name") != agency:
                continue
            a_did = a.get("domain_id") or (hashlib.md5(a["domain_name"].encode()).hexdigest()
                                           if a.get("domain_name") else None)
            if (dname and dname == a.get("domain_name")) or (did and did == a_did):
                found = True
                break
        if not found:
            e = ApiError(403, "IAM.0003", "Policy doesn't allow iam:agencies:assume to be "
                                          "performed.")
            e.iam_title, e.iam_code = "Forbidden", "IAM.0003"
            raise e
        ak, secret, token, exp = self.issue_temp("huawei", "iam", dur, now)
        return Resp(201, [("Content-Type", "application/json;charset=UTF-8"),
                          ("X-Request-Id", _hw_rid())],
                    {"credential": {"access": ak, "secret": secret, "securitytoken": token,
                                    "expires_at": exp}})

    # ---- control API --------------------------------------------------------
    def control(self, method, path, query, body):
        """Returns (status, obj)."""
        name = path[len("/_mock/"):].strip("/")
        try:
            j = json.loads(body) if body.strip() else {}
        except ValueError:
            return 400, {"error": "body is not valid JSON"}
        q = dict(parse_qsl(query, keep_blank_values=True))
        try:
            if name == "ping" and method == "GET":
                return 200, {"ok": True}
            if name == "reset" and method == "POST":
                self.reset()
                return 200, {"ok": True}
            if name == "faults":
                if method == "POST":
                    return self._ctl_add_faults(j)
                if method == "GET":
                    with self.lock:
                        return 200, [dict(r) for r in self.faults]
                if method == "DELETE":
                    with self.lock:
                        self.faults = []
                    return 200, {"ok": True}
            if name == "requests" and method == "GET":
                return 200, self._ctl_requests(q)
            if name == "stats" and method == "GET":
                with self.lock:
                    return 200, {"count": self.seq, "by_action": dict(self.by_action),
                                 "by_provider": dict(self.by_provider),
                                 "by_status": dict(self.by_status),
                                 "streams_open": self.streams_open}
            if name == "instances":
                if method == "POST":
                    return self._ctl_set_instance(j)
                if method == "GET":
                    return 200, self._ctl_instances(q)
            if name == "config":
                if method == "POST":
                    if "iam_token_bytes" in j:      # checked first: no half-applied update
                        check_iam_token_bytes(j["iam_token_bytes"])
                    with self.lock:
                        if "default_resize_delay_ms" in j:
                            self.default_resize_delay_ms = max(0, int(j["default_resize_delay_ms"]))
                        if "token_ttl_s" in j:
                            self.token_ttl_s = float(j["token_ttl_s"])
                        if "temp_ttl_s" in j:
                            self.temp_ttl_s = float(j["temp_ttl_s"])
                        if "huawei_ecs_agency" in j:
                            self.huawei_ecs_agency = bool(j["huawei_ecs_agency"])
                        if "iam_token_bytes" in j:
                            self.iam_token_bytes = check_iam_token_bytes(j["iam_token_bytes"])
                if method in ("POST", "GET"):
                    with self.lock:
                        return 200, {"default_resize_delay_ms": self.default_resize_delay_ms,
                                     "token_ttl_s": self.token_ttl_s,
                                     "temp_ttl_s": self.temp_ttl_s,
                                     "huawei_ecs_agency": self.huawei_ecs_agency,
                                     "iam_token_bytes": self.iam_token_bytes}
            if name == "credentials" and method == "GET":
                now = time.time()
                with self.lock:
                    valid = sum(1 for d in self.temp.values() for c in d.values()
                                if now < c["expires"])
                    out = {"issued": dict(self.issued), "valid": valid}
                    if q.get("reveal") in ("1", "true"):
                        # for leak tests: every secret the mock handed out
                        out["secrets"] = sorted(
                            [c.get("secret") or c.get("sk") for d in self.temp.values()
                             for c in d.values()] +
                            [c["security_token"] for d in self.temp.values()
                             for c in d.values()] +
                            [t for d in self.meta_tokens.values() for t in d])
                    return 200, out
            if name == "expire_credentials" and method == "POST":
                now = time.time()
                with self.lock:
                    n = 0
                    for d in self.temp.values():
                        for c in d.values():
                            if now < c["expires"]:
                                c["expires"] = now
                                n += 1
                return 200, {"expired": n}
            if name == "revoke_tokens" and method == "POST":
                with self.lock:
                    n = 0
                    for t in self.tokens.values():
                        if not t["revoked"]:
                            t["revoked"] = True
                            n += 1
                return 200, {"revoked": n}
        except (ValueError, TypeError, KeyError) as e:
            return 400, {"error": "bad control request: %r" % (e,)}
        return 404, {"error": "unknown control endpoint %s %s" % (method, path)}

    def _ctl_add_faults(self, j):
        rules = j.get("faults")
        if rules is None and "kind" in j:
            rules = [j]
        if not isinstance(rules, list):
            return 400, {"error": "expected {\"faults\": [...]}"}
        clean = []
        for r in rules:
            if not isinstance(r, dict):
                return 400, {"error": "fault rule must be an object"}
            kind = r.get("kind")
            prov = r.get("provider", "any")
            if kind not in FAULT_KINDS:
                return 400, {"error": "unknown fault kind %r" % (kind,)}
            if prov not in FAULT_PROVIDERS:
                return 400, {"error": "unknown provider %r" % (prov,)}
            c = dict(r)
            c["provider"] = prov
            c["count"] = int(r.get("count", 1))
            c["hits"] = 0
            for k in FAULT_INT_FIELDS:
                if k in c:
                    c[k] = int(c[k])
            if "retry_after" in c:
                c["retry_after"] = float(c["retry_after"])
            err = self._check_hostile_rule(c) or self._check_echo_rule(c)
            if err:
                return 400, {"error": err}
            clean.append(c)
        with self.lock:
            for c in clean:
                self.fault_seq += 1
                c["id"] = self.fault_seq
                self.faults.append(c)
            n = len(self.faults)
        return 200, {"ok": True, "added": len(clean), "total": n}

    @staticmethod
    def _check_hostile_rule(c):
        """Validates the fields of the hostile kinds; returns an error text or None."""
        kind = c["kind"]
        if kind not in HOSTILE_SEND_KINDS and kind not in HOSTILE_WIRE_KINDS:
            return None
        if "status" in c and not 100 <= c["status"] <= 999:
            return "status must be 100..999"
        if kind == "info_storm" and "interim" in c and not (
                100 <= c["interim"] <= 199 and c["interim"] != 101):
            return "interim must be a 1xx status other than 101"
        for k in ("value", "location"):
            if k not in c:
                continue
            v = c[k]
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                return "%s must be a string or a number" % k
            v = str(v)
            try:
                v.encode("latin-1")
            except UnicodeEncodeError:
                return "%s must be ISO-8859-1" % k
            if any(ch in v for ch in "\r\n\x00"):
                return "%s must not contain CR, LF or NUL" % k
            c[k] = v
        if kind == "retry_hint" and "value" not in c:
            return "retry_hint needs a value"
        return None

    @staticmethod
    def _check_echo_rule(c):
        """Validates (and normalises) the fields of an echo rule; returns an error text or None."""
        if c["kind"] != "echo":
            return None
        forms = c.get("forms", list(ECHO_FORMS))
        if isinstance(forms, str):
            forms = [forms]
        if not isinstance(forms, list) or not forms or \
                any(not isinstance(x, str) or x not in ECHO_FORMS for x in forms):
            return "forms must be a non-empty list of " + ", ".join(ECHO_FORMS)
        c["forms"] = forms
        if c.setdefault("where", "message") not in ECHO_WHERE:
            return "where must be one of " + ", ".join(ECHO_WHERE)
        if not 0 <= c.setdefault("pad", 0) <= ECHO_MAX_PAD:
            return "pad must be 0..%d" % ECHO_MAX_PAD
        if not 200 <= c.setdefault("status", 400) <= 599:
            return "status must be 200..599"
        if not isinstance(c.setdefault("labels", True), bool):
            return "labels must be true or false"
        if "code" in c and (not isinstance(c["code"], str) or not c["code"]):
            return "code must be a non-empty string"
        if not isinstance(c.setdefault("ms", 0), int) or not 0 <= c["ms"] <= MAX_HOLD_MS:
            return "ms must be 0..%d" % MAX_HOLD_MS
        return None

    def _ctl_requests(self, q):
        since = int(q.pop("since", 0) or 0)
        filt = [(k, v) for k, v in q.items() if k in LOG_FIELDS]
        with self.lock:
            recs = list(self.log)
        out = []
        for r in recs:
            if r["seq"] <= since:
                continue
            if all(("null" if r.get(k) is None else str(r.get(k))) == v for k, v in filt):
                out.append(r)
        return out

    def _ctl_view(self, i):
        v = {"provider": i["provider"], "instance_id": i["instance_id"], "spec": i["spec"],
             "status": i["status"], "resize_delay_ms": i["resize_delay_ms"],
             "resize_outcome": i["resize_outcome"], "resizes": i["resizes"],
             "resizes_succeeded": i["resizes_succeeded"], "resizes_failed": i["resizes_failed"],
             "pending_spec": i["pending"]["target"] if i["pending"] else None,
             "name": i["name"]}
        if i["provider"] == "huawei":
            v.update(instance_status=i["instance_status"], charging_mode=i["charging_mode"],
                     project_id=i.get("project_id"))
        else:
            v["charge_type"] = i["charge_type"]
        return v

    def _ctl_instances(self, q):
        now = time.time()
        with self.lock:
            out = []
            for i in sorted(self.instances.values(), key=lambda i: i["n"]):
                self._advance(i, now)
                if q.get("provider") and i["provider"] != q["provider"]:
                    continue
                if q.get("instance_id") and i["instance_id"] != q["instance_id"]:
                    continue
                out.append(self._ctl_view(i))
        return out

    def _ctl_set_instance(self, j):
        prov = j.get("provider")
        iid = j.get("instance_id")
        if prov not in ("aliyun", "huawei") or not isinstance(iid, str) or not iid:
            return 400, {"error": "provider (aliyun|huawei) and instance_id are required"}
        out = j.get("resize_outcome")
        if out is not None and out not in ("succeed", "fail"):
            return 400, {"error": "resize_outcome must be succeed or fail"}
        now = time.time()
        with self.lock:
            inst = self._get_inst(prov, iid, now, j.get("project_id"))
            if "spec" in j:
                inst["spec"] = str(j["spec"])
            if "status" in j:
                inst["status"] = str(j["status"])
                inst["pending"] = None
                if prov == "huawei":
                    inst["instance_status"] = HW_STATUS_CODES.get(inst["status"], 0)
            if prov == "huawei" and "instance_status" in j:
                inst["instance_status"] = int(j["instance_status"])
            if "resize_delay_ms" in j:
                d = j["resize_delay_ms"]
                inst["resize_delay_ms"] = None if d is None else max(0, int(d))
            if out is not None:
                inst["resize_outcome"] = out
            if "name" in j:
                inst["name"] = str(j["name"])
            if "charge_type" in j and prov == "aliyun":
                inst["charge_type"] = str(j["charge_type"])
            if "charging_mode" in j and prov == "huawei":
                inst["charging_mode"] = int(j["charging_mode"])
            if prov == "huawei" and j.get("project_id"):
                inst["project_id"] = str(j["project_id"])
            return 200, self._ctl_view(inst)


# ---------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------

MAX_LINE = 65536
MAX_HEADERS = 200
_DATE_CACHE = [0, ""]


def _http_date():
    now = int(time.time())
    if _DATE_CACHE[0] != now:
        _DATE_CACHE[1] = email.utils.formatdate(now, usegmt=True)
        _DATE_CACHE[0] = now
    return _DATE_CACHE[1]


def _dec(b):
    """Header bytes -> str: UTF-8 when valid (so signed non-ASCII values
    survive), else ISO-8859-1 like the stdlib."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _hline(k, v):
    """One header line as bytes.  A bytes value goes out verbatim (hostile
    kinds put invalid UTF-8 there), a str value as ISO-8859-1."""
    if not isinstance(v, bytes):
        v = str(v).encode("latin-1")
    return k.encode("latin-1") + b": " + v + b"\r\n"


def _status_line(status, version="HTTP/1.1"):
    return ("%s %d %s\r\n" % (version, status, _reason(status))).encode("latin-1")


_RID_HEADERS = ("x-acs-request-id", "x-request-id")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mockcloud/1.0"
    sys_version = ""
    timeout = HANDLER_IDLE_TIMEOUT_S
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("mockcloud: %s %s\n" % (self.address_string(), fmt % args))

    # A lean replacement for BaseHTTPRequestHandler.handle_one_request: the
    # stdlib parses headers with the email package, which costs about a third
    # of the time of a small request.  Any method is dispatched.
    def handle_one_request(self):
        try:
            line = self.rfile.readline(MAX_LINE + 1)
            while line in (b"\r\n", b"\n"):          # tolerate stray CRLFs between requests
                line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                self.close_connection = True
                return
            self.raw_requestline = line
            self.requestline = _dec(line).rstrip("\r\n")
            self.request_version = "HTTP/1.1"
            self.command = None
            if len(line) > MAX_LINE:
                return self._bad(414, "request line too long")
            parts = self.requestline.split()
            if len(parts) != 3:
                return self._bad(400, "bad request line")
            method, target, version = parts
            if version not in ("HTTP/1.1", "HTTP/1.0"):
                return self._bad(505, "HTTP version not supported")
            self.command, self.path, self.request_version = method, target, version
            items, hdrs = [], {}
            while True:
                h = self.rfile.readline(MAX_LINE + 1)
                if h in (b"\r\n", b"\n"):
                    break
                if not h:
                    self.close_connection = True
                    return
                if len(h) > MAX_LINE or len(items) >= MAX_HEADERS:
                    return self._bad(431, "request header fields too large")
                k, sep, v = _dec(h).partition(":")
                k = k.strip()
                if not sep or not k:
                    return self._bad(400, "bad header line")
                v = v.strip()
                items.append((k, v))
                lk = k.lower()
                hdrs[lk] = hdrs[lk] + "," + v if lk in hdrs else v
            self.headers = hdrs
            self.header_items = items
            conn = hdrs.get("connection", "").lower()
            if version == "HTTP/1.0":
                self.close_connection = "keep-alive" not in conn
            else:
                self.close_connection = "close" in conn
            if self._proxied_target():
                self._proxy_trap()
            else:
                if version == "HTTP/1.1" and hdrs.get("expect", "").lower() == "100-continue":
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self._dispatch()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
        except (ConnectionError, ssl.SSLError):
            self.close_connection = True

    def _bad(self, status, msg):
        self.close_connection = True
        self._send_json(status, {"error": msg})

    # -- I/O helpers --
    def _head(self, status, headers, version="HTTP/1.1"):
        """Status line, Server, Date and `headers`; no framing headers, no blank line."""
        return b"".join([_status_line(status, version), b"Server: mockcloud/1.0\r\n",
                         ("Date: %s\r\n" % _http_date()).encode("latin-1")] +
                        [_hline(k, v) for k, v in headers])

    def _send(self, status, headers, body):
        data = b"".join([self._head(status, headers),
                         b"Content-Length: %d\r\n" % len(body),
                         b"Connection: close\r\n\r\n" if self.close_connection
                         else b"Connection: keep-alive\r\n\r\n", body])
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    # -- low-level writer for the framing-breaking hostile kinds --
    def _wire(self, data, deadline):
        """Writes raw bytes, giving up at `deadline` (monotonic).  False when the
        write failed: the client went away, or stalled past the deadline."""
        rem = deadline - time.monotonic()
        if rem <= 0:
            return False
        try:
            self.connection.settimeout(rem)
            self.wfile.write(data)
            return True
        except (OSError, ValueError):
            self.close_connection = True
            return False

    def _gone_within(self, seconds):
        """Waits up to `seconds`; True as soon as the client closes its side."""
        sock = self.connection
        deadline = time.monotonic() + seconds
        try:
            sock.settimeout(0.05)
            while True:
                rem = deadline - time.monotonic()
                if rem <= 0:
                    return False
                r, _, _ = select.select([sock], [], [], min(rem, 0.2))
                if not r:
                    continue
                try:
                    if not sock.recv(65536):
                        return True
                except (ssl.SSLWantReadError, TimeoutError):
                    continue
        except (OSError, ValueError):
            return True

    def _close_hostile(self):
        """Ends the connection after a hostile answer.  Over TLS a close_notify
        is sent first, so the end is clean at the TLS layer and only the HTTP
        framing is wrong (or, for http10, right)."""
        self.close_connection = True
        sock = self.connection
        if isinstance(sock, ssl.SSLSocket):
            try:
                sock.settimeout(TLS_CLOSE_TIMEOUT_S)
                sock.unwrap()
            except (OSError, ValueError):
                pass
        else:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _hostile(self, resp):
        app = self.server.app
        app.stream_delta(1)
        try:
            plan = resp.plan
            how = plan["how"]
            if how == "lying":
                head = self._head(resp.status, resp.headers) + b"Content-Length: %d\r\n\r\n" % (
                    LYING_LENGTH)
                self._wire(head + plan["body"], time.monotonic() + HOSTILE_WRITE_TIMEOUT_S)
            elif how == "http10":
                fin = plan["final"]
                self._wire(self._head(fin.status, fin.headers, "HTTP/1.0") + b"\r\n" +
                           fin.body_bytes(), time.monotonic() + HOSTILE_WRITE_TIMEOUT_S)
            elif how == "endless":
                self._endless(resp, plan)
            else:
                self._storm(plan)
        finally:
            self._close_hostile()
            app.stream_delta(-1)

    def _endless(self, resp, plan):
        t0 = time.monotonic()
        deadline = t0 + plan["max_ms"] / 1000.0
        # the head always gets a chance (>= 1 s), so the logged status line went out
        if not self._wire(self._head(resp.status, resp.headers) +
                          b"Transfer-Encoding: chunked\r\n\r\n", max(deadline, t0 + 1.0)):
            return
        left, chunk, pause = plan["max_bytes"], plan["chunk"], plan["interval_ms"] / 1000.0
        fill = b"x" * chunk
        prefix = b'{"Padding":"'                      # the first chunk opens the JSON
        data = prefix + fill[:max(chunk - len(prefix), 0)]
        while left > 0:
            data = data[:left]
            if not self._wire(b"%x\r\n" % len(data) + data + b"\r\n", deadline):
                return
            left -= len(data)
            data = fill
            if pause and left > 0:
                rem = deadline - time.monotonic()
                if rem <= 0 or self._gone_within(min(pause, rem)):
                    return
        # bound reached: no last chunk, the answer never ends properly

    def _storm(self, plan):
        deadline = time.monotonic() + plan["max_ms"] / 1000.0
        n, left = plan["n"], plan["max_bytes"]
        pause = plan["interval_ms"] / 1000.0
        line = _status_line(plan["interim"])
        buf, buffered, i = [], 0, 0
        complete = False
        first = time.monotonic() + 1.0              # the first write always gets >= 1 s
        while True:
            if n >= 0 and i >= n:
                complete = True
                break
            i += 1
            blk = b"".join([line, b"x-acs-request-id: interim-%d\r\n" % i,
                            b"X-Request-Id: interim-%d\r\n" % i,
                            b"Retry-After: 999999\r\n\r\n"])
            if len(blk) > left:
                break                   # byte bound
            left -= len(blk)
            buf.append(blk)
            buffered += len(blk)
            if pause or buffered >= DEFAULT_STREAM_CHUNK:
                if not self._wire(b"".join(buf), max(deadline, first)):
                    return
                first = 0
                buf, buffered = [], 0
                if pause:
                    rem = deadline - time.monotonic()
                    if rem <= 0 or self._gone_within(min(pause, rem)):
                        return
        if buf and not self._wire(b"".join(buf), max(deadline, first)):
            return
        fin = plan["final"]
        if not complete or fin is None or time.monotonic() >= deadline:
            return                      # a bound ended the storm: no final answer
        hdrs = fin.headers
        if plan["strip"]:
            hdrs = [(k, v) for k, v in hdrs if k.lower() not in _RID_HEADERS]
        body = fin.body_bytes()
        self.close_connection = True
        self._wire(b"".join([self._head(fin.status, hdrs), b"Content-Length: %d\r\n" % len(body),
                             b"Connection: close\r\n\r\n", body]),
                   max(deadline, time.monotonic() + 1.0))

    def _send_json(self, status, obj, headers=()):
        self._send(status, [("Content-Type", "application/json")] + list(headers),
                   json.dumps(obj).encode("utf-8"))

    def _read_body(self):
        te = self.headers.get("transfer-encoding", "")
        if te:
            if te.strip().lower() != "chunked":
                self.close_connection = True
                self._send_json(501, {"error": "unsupported Transfer-Encoding"})
                return None
            chunks, total = [], 0
            try:
                while True:
                    line = self.rfile.readline(1024)
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                    if size == 0:
                        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    total += size
                    if total > MAX_BODY:
                        raise ValueError("too large")
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(8)
            except (ValueError, OSError):
                self.close_connection = True
                self._send_json(400, {"error": "bad chunked body"})
                return None
            return b"".join(chunks)
        cl = self.headers.get("content-length")
        if not cl:
            return b""
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send_json(400, {"error": "bad Content-Length"})
            return None
        if n > MAX_BODY:
            self.close_connection = True
            self._send_json(413, {"error": "body too large"})
            return None
        body = self.rfile.read(n) if n else b""
        if len(body) != n:
            self.close_connection = True
            return None
        return body

    def _hold(self, ms):
        """Keep the connection open without answering, for at most ms, or until
        the client goes away."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + ms / 1000.0
        try:
            sock.settimeout(0.05)
            while True:
                rem = deadline - time.monotonic()
                if rem <= 0:
                    return
                r, _, _ = select.select([sock], [], [], min(rem, 0.2))
                if not r:
                    continue
                try:
                    data = sock.recv(65536)
                except (ssl.SSLWantReadError, TimeoutError):
                    continue
                except (OSError, ValueError):
                    return
                if not data:
                    return
        except (OSError, ValueError):
            return

    def _record(self, req, path, resp, fault, duration_ms):
        rec = {"seq": None, "t": req.t, "provider": req.provider, "action": req.action,
               "method": req.method, "path": path, "instance_id": req.instance_id,
               "spec": req.spec, "token": req.token, "auth": req.auth,
               "status": resp.status if resp.kind in ("send", "wire") else None,
               "code": resp.code, "fault": fault, "ak": req.ak,
               "duration_ms": duration_ms}
        self.server.app.record(rec)
        return rec

    def _proxied_target(self):
        """True for what a client sends to a forward proxy: CONNECT, or a
        request target in absolute form (http://host/path)."""
        return self.command.upper() == "CONNECT" or bool(ABS_TARGET_RE.match(self.path))

    def _proxy_trap(self):
        """Forward-proxy trap: the request is recorded as provider "proxied"
        (action: the method, path: the target as sent) and answered 502, never
        forwarded.  CONNECT, or a request with Expect: 100-continue (no 100 is
        sent, so its body never comes): the connection is closed after the
        answer.  Other requests: the body is read and keep-alive goes on."""
        t, t0 = time.time(), time.monotonic()
        resp = Resp(502, [("Content-Type", "text/plain")], raw=PROXY_BODY)
        if self.command.upper() == "CONNECT" or \
                self.headers.get("expect", "").lower() == "100-continue":
            self.close_connection = True
        elif self._read_body() is None:
            resp = Resp(kind="drop", status=None)     # framing error: answered already, or gone
        req = Req(self.command, self.path, "", self.headers, b"", t)
        req.provider, req.action = "proxied", self.command
        app = self.server.app
        self._record(req, self.path, resp, None, round((time.monotonic() - t0) * 1000.0, 3))
        if resp.kind == "send":
            self._send(502, resp.headers, resp.raw)
        if app.verbose:
            sys.stderr.write("mockcloud: proxied %s %s -> %s\n" % (self.command, self.path,
                                                                  resp.status))

    def _dispatch(self):
        t = time.time()
        t0 = time.monotonic()
        raw = self.path
        if not raw.startswith("/"):
            sp = urlsplit(raw)
            raw = (sp.path or "/") + ("?" + sp.query if sp.query else "")
        qpos = raw.find("?")
        if qpos >= 0:
            path, query = raw[:qpos], raw[qpos + 1:]
        else:
            path, query = raw, ""
        body = self._read_body()
        if body is None:
            return
        app = self.server.app
        if path.startswith("/_mock/"):
            status, obj = app.control(self.command, path, query, body)
            self._send_json(status, obj)
            return
        req = Req(self.command, path, query, self.headers, body, t)
        try:
            resp, fault = app.handle(req)
        except Exception as e:  # never let a bug kill the connection silently
            resp, fault = Resp(500, [("Content-Type", "application/json")],
                               {"error": "mockcloud internal error: %r" % (e,)},
                               code="MockInternalError"), None
        body_out = None
        if resp.kind == "hang":
            # recorded as it arrives, so a test sees the request is held;
            # duration_ms stays null until the hold ends
            rec = self._record(req, path, resp, fault, None)
            self._hold(resp.hold_ms)
            with app.lock:
                rec["duration_ms"] = round((time.monotonic() - t0) * 1000.0, 3)
            return
        if resp.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif resp.kind == "send":
            body_out = resp.body_bytes()
        # logged before the answer goes out, so a client that got its answer
        # always finds its request in /_mock/requests
        rec = self._record(req, path, resp, fault,
                           round((time.monotonic() - t0) * 1000.0, 3))
        if body_out is not None:
            self._send(resp.status, resp.headers, body_out)
        elif resp.kind == "wire":
            self._hostile(resp)
        if app.verbose:
            sys.stderr.write("mockcloud: %s %s %s %s -> %s %s%s\n" % (
                req.provider, req.action, req.method, path, rec["status"], rec["code"] or "",
                " fault=" + fault if fault else ""))


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port, app, ssl_ctx=None):
        self.app = app
        self.ssl_ctx = ssl_ctx
        super().__init__(("127.0.0.1", port), Handler)

    def server_bind(self):
        # skip HTTPServer.server_bind's getfqdn() (a reverse DNS lookup)
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def finish_request(self, request, client_address):
        if self.ssl_ctx is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        # TLS handshake in the connection's own thread, bounded
        request.settimeout(10)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


def write_port_file(path, ports):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ports, f)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock Alibaba/Huawei cloud endpoints for gwresize.")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--https-port", type=int, default=None)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--port-file")
    ap.add_argument("--config")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    if (a.cert is None) != (a.key is None):
        ap.error("--cert and --key go together")
    if a.https_port is not None and a.cert is None:
        ap.error("--https-port needs --cert and --key")

    app = App(load_creds(a.config), verbose=a.verbose)
    servers = [MockServer(a.http_port, app)]
    https_port = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["http/1.1"])
        srv = MockServer(a.https_port or 0, app, ctx)
        servers.append(srv)
        https_port = srv.server_address[1]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = []
    for s in servers:
        th = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.25},
                              daemon=True)
        th.start()
        threads.append(th)
    ports = {"http": servers[0].server_address[1], "https": https_port, "pid": os.getpid()}
    if a.port_file:
        write_port_file(a.port_file, ports)
    if a.verbose:
        sys.stderr.write("mockcloud: listening %s\n" % json.dumps(ports))
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
