"""django-oauth-toolkit on loopback for `cargo xtask interop`.

Usage: python dot_server.py RUN_DIR PORT [TLS_PORT:CERT_CHAIN:KEY ...]

One Django process holds the toolkit's token endpoint (`/o/token/`, refresh
token rotation on), a protected paged JSON API that validates bearer tokens
through the toolkit (`/api/items/<mode>/`), and loopback-only helpers under
`/_interop/` that seed refresh tokens through the toolkit's models and expose a
request log. The database is a SQLite file in RUN_DIR, created on every start.
Each TLS_PORT:CERT_CHAIN:KEY serves the same application over https on that
port with that certificate (the `tls/*` scenarios' private CA).
"""

import base64
import json
import os
import secrets
import ssl
import sys
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs

RUN_DIR, PORT = sys.argv[1], int(sys.argv[2])

# Short-lived tokens are per client, so only the expiry scenarios pay for them.
SHORT_LIVED = {"shortlived": 4}


def access_token_lifetime(request):
    client = getattr(request, "client", None)
    return SHORT_LIVED.get(getattr(client, "client_id", None), 3600)


import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="interop-only-not-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    # Sessions, CSRF, auth and messages for the admin login and the
    # toolkit's consent page, which `connectkit authorize` scenarios fill in.
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "django.contrib.messages",
        "oauth2_provider",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    STATIC_URL="/static/",
    LOGIN_URL="/admin/login/",
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(RUN_DIR, "dot.sqlite3"),
            "OPTIONS": {"timeout": 30},
        }
    },
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    LOGGING_CONFIG=None,
    OAUTH2_PROVIDER={
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
        "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_lifetime,
        "SCOPES": {"read": "Read the items", "write": "Write the items"},
        "DEFAULT_SCOPES": ["read"],
        "PKCE_REQUIRED": False,
    },
)
django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from oauth2_provider.models import (  # noqa: E402
    AccessToken,
    Application,
    RefreshToken,
    revoke_access_token,
)
from oauth2_provider.oauth2_backends import get_oauthlib_core  # noqa: E402
from oauth2_provider.views import AuthorizationView, TokenView  # noqa: E402

# Clients: (client_id, secret). The first secret needs form-urlencoding in a
# Basic header (RFC 6749 section 2.3.1): space, plus, slash, equals, percent,
# ampersand and colon.
CLIENTS = {
    "basic-client": "p+a/s=s&w%o:r d",
    "plain-client": "plain-secret",
    "shortlived": "short-secret",
    # `connectkit authorize`: the user logs in and consents.
    "auth-client": "auth-secret",
}
# The client credentials grant.
CC_CLIENTS = {"cc-client": "cc-secret"}
# The user the authorize scenarios log in as (admin login needs staff).
LOGIN_USER = ("alice", "wonderland-interop")
ITEMS = [
    {"id": i, "name": f"item-{i:04d}", "price": round(i * 1.25, 2), "active": i % 3 != 0}
    for i in range(1, 251)
]

LOG_LOCK = threading.Lock()
LOG = []


def record(entry):
    with LOG_LOCK:
        entry["seq"] = len(LOG)
        LOG.append(entry)


def seed():
    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user("interop", password=None)
    for client_id, secret in CLIENTS.items():
        Application.objects.create(
            client_id=client_id,
            client_secret=secret,
            name=client_id,
            user=user,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris="http://127.0.0.1/callback",
        )
    for client_id, secret in CC_CLIENTS.items():
        Application.objects.create(
            client_id=client_id,
            client_secret=secret,
            name=client_id,
            user=user,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    User.objects.create_user(LOGIN_USER[0], password=LOGIN_USER[1], is_staff=True)


@csrf_exempt
def grant(request):
    """Seeds a refresh token the way an authorization code exchange would."""
    form = request.POST
    app = Application.objects.get(client_id=form["client_id"])
    user = User.objects.get(username="interop")
    scope = form.get("scope", "read write")
    at = AccessToken.objects.create(
        user=user,
        application=app,
        token=secrets.token_urlsafe(24),
        expires=timezone.now() - timedelta(seconds=1),
        scope=scope,
    )
    rt = RefreshToken.objects.create(
        user=user, application=app, token=secrets.token_urlsafe(24), access_token=at
    )
    return JsonResponse({"refresh_token": rt.token, "scope": scope})


def log(request):
    since = int(request.GET.get("since", "0"))
    with LOG_LOCK:
        return JsonResponse({"next": len(LOG), "entries": LOG[since:]})


def ready(request):
    return JsonResponse({"ready": True})


@csrf_exempt
def token(request):
    """The toolkit's TokenView, with what it received written to the log."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    basic_user = None
    if auth.startswith("Basic "):
        try:
            basic_user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except Exception:  # noqa: BLE001 - a malformed header is logged as such
            basic_user = "<malformed>"
    body = parse_qs(request.body.decode(errors="replace")) if request.method == "POST" else {}
    response = TokenView.as_view()(request)
    error = None
    if response.status_code != 200:
        try:
            error = json.loads(response.content).get("error")
        except Exception:  # noqa: BLE001
            error = None
    record(
        {
            "kind": "token",
            "method": request.method,
            "query_keys": sorted(request.GET.keys()),
            "body_keys": sorted(body.keys()),
            "basic_client": basic_user,
            "client_id": (body.get("client_id") or request.GET.getlist("client_id") or [None])[0],
            "scheme": request.scheme,
            "status": response.status_code,
            "error": error,
        }
    )
    return response


def items(request, mode):
    """A paged list: `{"count", "next", "results"}`, bearer tokens checked by the toolkit.

    Modes: plain; revoke (the token that read page 2 is revoked after the page
    is served, through the toolkit's own revocation path, which revokes the
    bound refresh token too, as its /revoke/ endpoint does); expire (its
    expiry is moved into the past, the grant stays alive); slow (each page
    takes 0.75 s, for the short-lived client); foreign (next links name
    another origin).
    """
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=["read"])
    page = int(request.GET.get("page", "1"))
    size = int(request.GET.get("page_size", "50"))
    bearer = request.META.get("HTTP_AUTHORIZATION", "")[7:]
    entry = {
        "kind": "api",
        "mode": mode,
        "page": page,
        "host": request.get_host(),
        "scheme": request.scheme,
        "token_tail": bearer[-6:],
    }
    if not valid:
        entry["status"] = 401
        record(entry)
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if mode == "slow":
        time.sleep(0.75)
    start = (page - 1) * size
    rows = ITEMS[start : start + size]
    more = start + size < len(ITEMS)
    # foreign: the next link names another origin (localhost, not 127.0.0.1),
    # which a client must refuse rather than send its token to.
    host = "localhost" if mode == "foreign" else "127.0.0.1"
    base = f"{request.scheme}://{host}:{request.get_port()}/api/items/{mode}/"
    body = {
        "count": len(ITEMS),
        "next": f"{base}?page={page + 1}&page_size={size}" if more else None,
        "results": rows,
    }
    if page == 2 and mode in ("revoke", "expire"):
        at = AccessToken.objects.get(token=bearer)
        if mode == "revoke":
            revoke_access_token(at)
        else:
            at.expires = timezone.now() - timedelta(seconds=1)
            at.save()
    entry["status"] = 200
    record(entry)
    return JsonResponse(body)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("o/authorize/", AuthorizationView.as_view()),
    path("o/token/", token),
    path("api/items/<str:mode>/", items),
    path("_interop/grant", grant),
    path("_interop/log", log),
    path("_interop/ready", ready),
]


if __name__ == "__main__":
    seed()
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

    class TlsHandler(QuietHandler):
        def get_environ(self):
            env = super().get_environ()
            env["HTTPS"] = "on"  # request.scheme and next links say https
            return env

        def handle(self):
            # Django's own handle() ends with shutdown(SHUT_WR), which drops
            # TLS without close_notify; its responses carry no Content-Length
            # here, so a body ends with the connection, and a TLS client
            # refuses a body whose end close_notify does not confirm.
            self.close_connection = True
            self.handle_one_request()
            while not self.close_connection:
                self.handle_one_request()
            try:
                self.connection.unwrap()
            except (OSError, ValueError):
                pass

    def with_length(inner):
        """The app with every body buffered and sent with Content-Length.

        Recorded fact (mitmproxy 11.0.2): relaying a body that ends with the
        connection, mitmproxy closes the client's TLS connection without
        close_notify, which a TLS client must take for a cut; real APIs send
        Content-Length or chunked bodies, and so do the https listeners.
        """

        def app(environ, start_response):
            seen = []
            result = inner(environ, lambda *args: seen.append(args))
            try:
                body = b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()
            status, headers = seen[0][0], seen[0][1]
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            start_response(status, headers + [("Content-Length", str(len(body)))])
            return [body]

        return app

    app = get_wsgi_application()
    for spec in sys.argv[3:]:
        tls_port, chain, key = spec.split(":")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        tls = ThreadedWSGIServer(("127.0.0.1", int(tls_port)), TlsHandler)
        # The handshake happens in the request's thread: a client that
        # refuses the certificate does not hold up the others.
        tls.socket = context.wrap_socket(
            tls.socket, server_side=True, do_handshake_on_connect=False
        )
        tls.set_app(with_length(app))
        threading.Thread(target=tls.serve_forever, daemon=True).start()
    httpd = ThreadedWSGIServer(("127.0.0.1", PORT), QuietHandler)
    httpd.set_app(app)
    httpd.serve_forever()
