# Schemathesis hooks that let generated requests through Stella's DPoP-bound token checks.
#
# Loaded by .ci/schemathesis.sh with SCHEMATHESIS_HOOKS=dpop_hooks (PYTHONPATH=tests/schemathesis).
# Every scan route (/api/...) needs `Authorization: DPoP <access token>` plus a `DPoP` proof
# (RFC 9449) made for that very request: a fresh `jti` (each is accepted once), `htm` and `htu`
# matching the request, `iat`, the server's `nonce`, and `ath`, the hash of the token. So:
#
# - the auth provider (`schemathesis.auth()`, get/set) fetches a token from /token with client
#   credentials and a proof signed by this process's P-256 key (ES256), retrying once with the
#   server's nonce on `use_dpop_nonce`, and puts `Authorization: DPoP <token>` on the case;
# - the `before_call` hook attaches a requests auth object that signs the proof at the last
#   moment, from the prepared request's final method and URL, so a case sent twice (shrinking,
#   replays by checks) still carries a fresh `jti`;
# - the `after_call` hook keeps the last `DPoP-Nonce` the server sent (every /token answer and
#   every `use_dpop_nonce` refusal carries one), so the next proof uses a nonce the server accepts.
#
# Environment (set by the script): STELLA_URL (the server's public URL, the origin proofs name in
# `htu`), STELLA_CLIENT_ID and STELLA_CLIENT_SECRET (from `stella auth client create`).

import base64
import hashlib
import json
import os
import threading
import time
import uuid

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


# Python 3.11.7 (this machine's) can raise "SystemError: AST constructor recursion depth
# mismatch" from ast.parse (CPython gh-106905, fixed in later 3.11 releases). Hypothesis parses
# source files with ast.parse only to describe lambdas in strategy reprs, and schemathesis' coverage
# phase once stopped on it. A description is cosmetic, so on that error hypothesis gets the
# placeholder it uses for any lambda whose source it cannot read; nothing that decides a test
# outcome changes.
def _tolerate_ast_depth_bug():
    try:
        from hypothesis.internal import lambda_sources
    except ImportError:
        return
    describe = getattr(lambda_sources, "_lambda_description", None)
    if describe is None or getattr(describe, "_stella_wrapped", False):
        return

    def described(f, *args, **kwargs):
        try:
            return describe(f, *args, **kwargs)
        except SystemError:
            return "lambda: <unknown>"

    described._stella_wrapped = True
    lambda_sources._lambda_description = described


_tolerate_ast_depth_bug()

BASE_URL = os.environ["STELLA_URL"].rstrip("/")
CLIENT_ID = os.environ["STELLA_CLIENT_ID"]
CLIENT_SECRET = os.environ["STELLA_CLIENT_SECRET"]

_KEY = ec.generate_private_key(ec.SECP256R1())
_LOCK = threading.Lock()
_STATE = {"nonce": None, "tokens": set()}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk() -> dict:
    numbers = _KEY.public_key().public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


_JWK = _public_jwk()


def _proof(method: str, url: str, token: str | None) -> str:
    """An ES256 DPoP proof for `method url` (query and fragment dropped from `htu`)."""
    htu = url.split("#", 1)[0].split("?", 1)[0]
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": _JWK}
    claims = {"jti": uuid.uuid4().hex, "htm": method.upper(), "htu": htu, "iat": int(time.time())}
    with _LOCK:
        nonce = _STATE["nonce"]
    if nonce:
        claims["nonce"] = nonce
    if token is not None:
        claims["ath"] = _b64(hashlib.sha256(token.encode("ascii")).digest())
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    der = _KEY.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # JWS ES256 signatures are r || s, 32 bytes each (RFC 7518 §3.4), not DER.
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _remember_nonce(headers) -> None:
    # requests' headers are case-insensitive; schemathesis' Response has lowercase keys and lists.
    value = headers.get("DPoP-Nonce") or headers.get("dpop-nonce")
    if isinstance(value, list):
        value = value[-1] if value else None
    if value:
        with _LOCK:
            _STATE["nonce"] = value


def fetch_token() -> str:
    """Client credentials + DPoP at /token; one retry with the server's nonce."""
    url = BASE_URL + "/token"
    last = None
    for _ in range(3):
        response = requests.post(
            url,
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
            headers={"DPoP": _proof("POST", url, None)},
            timeout=10,
        )
        _remember_nonce(response.headers)
        last = response
        if response.status_code == 200:
            token = response.json()["access_token"]
            with _LOCK:
                _STATE["tokens"].add(token)
            return token
        if response.status_code == 400 and response.json().get("error") == "use_dpop_nonce":
            continue
        break
    raise RuntimeError(
        f"token request to {url} failed: {last.status_code} {last.text}" if last is not None else "no answer"
    )


class _ProofAuth(requests.auth.AuthBase):
    """Signs the DPoP proof on the prepared request, from its final method and URL."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"DPoP {self.token}"
        request.headers["DPoP"] = _proof(request.method, request.url, self.token)
        return request


# Tokens live five minutes and nonces two: refetching every minute keeps both fresh even on a
# long run (each /token answer brings a new nonce too).
@schemathesis.auth(refresh_interval=60).apply_to(path_regex="^/api/")
class DpopAuth:
    def get(self, case, context):
        return fetch_token()

    def set(self, case, data, context):
        # The proof itself is signed in before_call's requests auth, per request.
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"DPoP {data}"


@schemathesis.hook
def before_call(context, case, kwargs):
    authorization = (case.headers or {}).get("Authorization", "")
    token = authorization[len("DPoP ") :] if authorization.startswith("DPoP ") else None
    with _LOCK:
        ours = token in _STATE["tokens"]
    # Only where the auth provider put one of our tokens: cases that test a missing or broken
    # Authorization (negative testing) are left as generated.
    if ours:
        kwargs["auth"] = _ProofAuth(token)
    _shorten_long_polls(case)


# `GET /api/v1/scans/{id}?wait=N` holds the request up to N seconds (at most 20) while the job
# is unfinished, and the stateful phase polls jobs it just created, which may stay queued behind
# others or fail slowly (registry images that do not exist). Valid waits above 1 s become 1 s,
# so a case never outlives the 10 s request timeout and the run stays bounded; invalid values
# (negative, over 20, not a number) are sent as generated and must still get 400. The server's
# handling of the whole range is tested in crates/stella-cli/tests (serve, scan_server).
def _shorten_long_polls(case):
    query = case.query if isinstance(case.query, dict) else None
    if not query or "wait" not in query:
        return
    value = query["wait"]
    try:
        seconds = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return
    if seconds is not None and str(seconds) == str(value) and 1 < seconds <= 20:
        query["wait"] = 1


@schemathesis.hook
def after_call(context, case, response):
    _remember_nonce(response.headers)
