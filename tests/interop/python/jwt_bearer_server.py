"""An RFC 7523 JWT bearer grant server on loopback for `cargo xtask interop`.

Usage: python jwt_bearer_server.py RUN_DIR PORT PUBLIC_KEY_PEM

Authlib's `JWTBearerGrant` (section 2.1) behind a token endpoint (`/token`):
it verifies the assertion's signature with the issuer's registered public key
(PUBLIC_KEY_PEM, the public half of connectkit's test key), `iss`, `sub`,
`aud` (this endpoint's own URL, nothing else), `exp`, and issues bearer
tokens. `/api/rows` is a protected JSON resource (Authlib's
`ResourceProtector` with a `BearerTokenValidator`) serving RUN_DIR/rows.json
to those tokens only. Loopback-only helpers: `/_interop/ready`,
`/_interop/log` (every token and API request: what was received, the verified
claims, the answer; never a token or an assertion).

Registered issuers:
- `reader@connectkit-interop.iam.gserviceaccount.com`: a Google-style service
  account whose key ID (`kid`) must be `interop-key-1` (a key set of one key).
- `connectkit-jwt-issuer`: the ClaimsIssuer form, any `kid`; its `sub` must be
  a known user (`analyst@connectkit.example`) when given.
"""

import json
import os
import secrets
import sys
import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# Plain http is the loopback test server's transport; Authlib refuses it otherwise.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.oauth2 import AuthorizationServer, OAuth2Request, ResourceProtector  # noqa: E402
from authlib.oauth2.rfc6749 import OAuth2Error  # noqa: E402
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # noqa: E402
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator  # noqa: E402
from authlib.oauth2.rfc7523 import JWTBearerGrant  # noqa: E402
from joserfc.jwk import KeySet, RSAKey  # noqa: E402

RUN_DIR, PORT, PUBLIC_KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
TOKEN_ENDPOINT = f"{BASE}/token"
SCOPE = "rows.read"
SERVICE_ACCOUNT = "reader@connectkit-interop.iam.gserviceaccount.com"
SERVICE_ACCOUNT_KID = "interop-key-1"
ISSUER = "connectkit-jwt-issuer"
USERS = {"analyst@connectkit.example"}

with open(PUBLIC_KEY, "rb") as f:
    PEM = f.read()

LOG_LOCK = threading.Lock()
LOG = []


def record(entry):
    with LOG_LOCK:
        entry["seq"] = len(LOG)
        LOG.append(entry)


class Client:
    """A registered issuer (Authlib's ClientMixin, what JWTBearerGrant needs)."""

    def __init__(self, issuer, key):
        self.issuer = issuer
        self.key = key

    def get_client_id(self):
        return self.issuer

    def check_grant_type(self, grant_type):
        return grant_type == JWTBearerGrant.GRANT_TYPE

    def get_allowed_scope(self, scope):
        if not scope:
            return SCOPE
        return " ".join(s for s in scope.split() if s == SCOPE)


CLIENTS = {
    SERVICE_ACCOUNT: Client(
        SERVICE_ACCOUNT,
        KeySet([RSAKey.import_key(PEM, {"kid": SERVICE_ACCOUNT_KID, "use": "sig"})]),
    ),
    ISSUER: Client(ISSUER, RSAKey.import_key(PEM)),
}


class Token:
    """An issued access token (Authlib's TokenMixin)."""

    def __init__(self, client, scope, expires_in, subject):
        self.client = client
        self.scope = scope
        self.expires_at = time.time() + expires_in
        self.subject = subject

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return time.time() >= self.expires_at

    def is_revoked(self):
        return False


TOKENS = {}
TOKENS_LOCK = threading.Lock()


class Grant(JWTBearerGrant):
    def resolve_issuer_client(self, issuer):
        return CLIENTS.get(issuer)

    def resolve_client_public_key(self, client):
        return client.key

    def authenticate_user(self, subject):
        return subject if subject in USERS else None

    def has_granted_permission(self, client, user):
        return client.issuer == ISSUER

    def get_audiences(self):
        return [TOKEN_ENDPOINT]

    def process_assertion_claims(self, assertion):
        headers, _ = self.extract_assertion(assertion)
        # What the grant verified, for the log (the assertion itself is a secret).
        self.request.assertion_header = {k: headers.get(k) for k in ("alg", "kid", "typ")}
        claims = super().process_assertion_claims(assertion)
        self.request.verified = {k: claims.get(k) for k in ("iss", "sub", "aud", "scope")}
        return claims


class Server(AuthorizationServer):
    def query_client(self, client_id):
        return CLIENTS.get(client_id)

    def save_token(self, token, request):
        with TOKENS_LOCK:
            TOKENS[token["access_token"]] = Token(
                request.client, token.get("scope"), token["expires_in"], request.user
            )

    def create_oauth2_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers

    def send_signal(self, name, *args, **kwargs):
        pass


class FormRequest(OAuth2Request):
    def __init__(self, method, uri, headers, form):
        super().__init__(method, uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.assertion_header = None
        self.verified = None

    @property
    def args(self):
        return {}

    @property
    def form(self):
        return self._form


server = Server(scopes_supported=[SCOPE])
server.register_grant(Grant)
server.register_token_generator(
    "default",
    BearerTokenGenerator(lambda **_: secrets.token_urlsafe(24), expires_generator=3600),
)


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        with TOKENS_LOCK:
            return TOKENS.get(token_string)


protector = ResourceProtector()
protector.register_token_validator(Validator())


class HeaderRequest:
    def __init__(self, headers):
        self.headers = headers


def headers_of(environ):
    h = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        h["Content-Type"] = environ["CONTENT_TYPE"]
    return h


def token(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length).decode(errors="replace") if length else ""
    form = {k: v[0] for k, v in parse_qs(raw).items()}
    headers = headers_of(environ)
    request = FormRequest(environ["REQUEST_METHOD"], TOKEN_ENDPOINT, headers, form)
    status, body, extra = server.create_token_response(request)
    answer = body if isinstance(body, dict) else {}
    record(
        {
            "kind": "token",
            "method": environ["REQUEST_METHOD"],
            "query_keys": sorted(parse_qs(environ.get("QUERY_STRING", "")).keys()),
            "body_keys": sorted(form.keys()),
            "grant_type": form.get("grant_type"),
            "basic": headers.get("Authorization", "").startswith("Basic "),
            "header": request.assertion_header,
            "claims": request.verified,
            "status": status,
            "error": answer.get("error"),
            "error_description": answer.get("error_description"),
        }
    )
    return status, body, extra


def rows(environ):
    headers = headers_of(environ)
    entry = {"kind": "api", "bearer": headers.get("Authorization", "").startswith("Bearer ")}
    try:
        tok = protector.validate_request([SCOPE], HeaderRequest(headers))
    except OAuth2Error as error:
        status, body, extra = error()
        entry.update(status=status, error=error.error)
        record(entry)
        return status, body, extra
    with open(os.path.join(RUN_DIR, "rows.json"), "rb") as f:
        data = json.load(f)
    entry.update(status=200, issuer=tok.client.issuer, subject=tok.subject, rows=len(data))
    record(entry)
    return 200, data, [("Content-Type", "application/json")]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/_interop/ready":
        status, body, extra = 200, {"ready": True}, []
    elif path == "/_interop/log":
        since = int(parse_qs(environ.get("QUERY_STRING", "")).get("since", ["0"])[0])
        with LOG_LOCK:
            status, body, extra = 200, {"next": len(LOG), "entries": LOG[since:]}, []
    elif path == "/token":
        status, body, extra = token(environ)
    elif path == "/api/rows":
        status, body, extra = rows(environ)
    else:
        status, body, extra = 404, {"error": "not found"}, []
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = [(k, v) for k, v in extra if k.lower() not in ("content-type", "content-length")]
    headers += [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [data]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


make_server("127.0.0.1", PORT, app, server_class=ThreadingServer, handler_class=QuietHandler).serve_forever()
