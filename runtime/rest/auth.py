"""Who may call the REST API: bearer tokens and/or HTTP basic users from the worker config.

``rest.auth`` picks the rule:

=============  ===============================================================
(unset)        whatever credentials are configured are required (bearer if
               ``rest.auth.tokens``, basic if ``rest.auth.users``); with none
               configured, the API is open, which is allowed on loopback only
``bearer``     ``Authorization: Bearer <token>``, one of ``rest.auth.tokens``
``basic``      HTTP basic, a user and password from ``rest.auth.users``
``any``        either of the above (whichever is configured; at least one)
``none``       no authentication, even on a non-loopback address (explicit)
=============  ===============================================================

A listener on anything but loopback without credentials and without ``rest.auth:
none`` is refused at start-up. ``GET /health`` and ``/health/live`` need no
credentials, so load balancers and orchestrators can probe them; the status page
under ``/ui`` has its own login and session cookie (``offramp.rest.ui``) and answers
401 itself. A refused request gets 401 with ``WWW-Authenticate`` and reaches no
handler, so it changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from offramp.config import WorkerConfig
from offramp.errors import ConfigError
from offramp.rest.responses import error_response

__all__ = [
    "AuthMiddleware",
    "AuthPolicy",
    "basic_header",
    "bearer_header",
    "check_listener",
    "is_loopback",
]

REALM = 'realm="offramp"'


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def bearer_header(token: str) -> str:
    return f"Bearer {token}"


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@dataclass(frozen=True)
class AuthPolicy:
    """Which schemes are accepted and with which credentials; empty means open."""

    tokens: tuple[bytes, ...] = ()
    users: dict[str, bytes] = field(default_factory=dict)
    schemes: tuple[str, ...] = ()
    exempt: frozenset[str] = frozenset({"/health", "/health/live"})
    # The status page checks its own session cookie (offramp.rest.ui.sessions) and
    # answers 401 itself; the cookie is never taken anywhere else.
    self_guarded_prefix: str = "/ui"

    @property
    def enabled(self) -> bool:
        return bool(self.schemes)

    @classmethod
    def from_config(cls, config: WorkerConfig) -> AuthPolicy:
        """The policy, or ``ConfigError`` for a config that would be unsafe or can't work."""
        # A token read from a file (``${directory:/run/secrets:token}``) usually ends in a
        # newline no client sends; surrounding whitespace is never part of a token.
        tokens = tuple(t.get_secret_value().strip().encode() for t in config.rest_auth_tokens)
        users = {u: p.get_secret_value().encode() for u, p in config.rest_auth_users.items()}
        if any(not token for token in tokens):
            raise ConfigError([("rest.auth.tokens", "a token is empty (or only whitespace)")])
        mode = config.rest_auth
        if mode == "none":
            if tokens or users:
                raise ConfigError(
                    [("rest.auth", "is 'none' but rest.auth.tokens/rest.auth.users are set")]
                )
            return cls()
        if mode == "bearer" and not tokens:
            raise ConfigError([("rest.auth.tokens", "required when rest.auth is 'bearer'")])
        if mode == "basic" and not users:
            raise ConfigError([("rest.auth.users", "required when rest.auth is 'basic'")])
        if mode == "any" and not (tokens or users):
            raise ConfigError(
                [("rest.auth", "'any' needs rest.auth.tokens and/or rest.auth.users")]
            )
        schemes: list[str] = []
        if tokens and mode in (None, "bearer", "any"):
            schemes.append("Bearer")
        if users and mode in (None, "basic", "any"):
            schemes.append("Basic")
        if not schemes and not is_loopback(config.rest_host):
            raise ConfigError(
                [
                    (
                        "rest.auth",
                        f"rest.host {config.rest_host!r} is not a loopback address, so the REST "
                        "API needs authentication: set rest.auth.tokens (bearer) and/or "
                        "rest.auth.users (basic), or set rest.auth to 'none' to serve it "
                        "without authentication on purpose",
                    )
                ]
            )
        return cls(tokens, users, tuple(schemes))

    def allows(self, authorization: str | None) -> bool:
        if not self.enabled:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme == "bearer" and "Bearer" in self.schemes:
            given = credentials.encode()
            # Compare with every token, so timing doesn't tell which one came close.
            return any([hmac.compare_digest(given, token) for token in self.tokens])
        if scheme == "basic" and "Basic" in self.schemes:
            try:
                user, sep, password = base64.b64decode(credentials, validate=True).partition(b":")
                name = user.decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return False
            expected = self.users.get(name)
            if not sep or expected is None:
                return False
            return hmac.compare_digest(password, expected)
        return False

    def challenges(self) -> list[str]:
        return [f"{scheme} {REALM}" for scheme in self.schemes]


class AuthMiddleware:
    """Refuses unauthenticated requests before any handler runs (pure ASGI)."""

    def __init__(self, app: ASGIApp, policy: AuthPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        prefix = self.policy.self_guarded_prefix
        open_path = (
            scope["type"] != "http"
            or path in self.policy.exempt
            or path == prefix
            or path.startswith(prefix + "/")
        )
        if open_path or not self.policy.enabled:
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        if self.policy.allows(authorization):
            await self.app(scope, receive, send)
            return
        message = (
            "Invalid credentials"
            if authorization
            else "Authentication required: send "
            + " or ".join(
                "'Authorization: Bearer <token>'" if s == "Bearer" else "HTTP basic credentials"
                for s in self.policy.schemes
            )
        )
        response = error_response(401, message)
        for challenge in self.policy.challenges():
            response.headers.append("WWW-Authenticate", challenge)
        await response(scope, receive, send)


def check_listener(config: WorkerConfig) -> AuthPolicy:
    """Everything about the listener that must hold before it starts: the auth rule
    (see the module docstring) and the TLS files. ``ConfigError`` naming the key."""
    policy = AuthPolicy.from_config(config)
    cert, key = config.rest_tls_cert_file, config.rest_tls_key_file
    if bool(cert) != bool(key):
        raise ConfigError(
            [("rest.tls.cert.file", "rest.tls.cert.file and rest.tls.key.file go together")]
        )
    for name, path in (("rest.tls.cert.file", cert), ("rest.tls.key.file", key)):
        if path and not os.access(path, os.R_OK):
            raise ConfigError([(name, f"cannot read {path}")])
    return policy
