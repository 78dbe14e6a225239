"""One httpx client per task: keep-alive, a pool sized to the requests in flight, the
auth and TLS settings applied once, HTTP/2 when asked.

httpx speaks HTTP/2 over TLS only when ALPN picks it, and on plain TCP only with prior
knowledge (no ``Upgrade: h2c``). ``http.http2`` therefore mounts two transports: https://
offers h2 and http/1.1 by ALPN (a server without HTTP/2 still works), http:// speaks h2c
from the first byte (a user who asks for HTTP/2 on an http:// URL gets it, not a silent
HTTP/1.1)."""

from __future__ import annotations

import ssl

import httpx

from offramp.connectors.http.config import HttpSinkConfig

__all__ = ["build_client", "ssl_context"]


def ssl_context(config: HttpSinkConfig) -> ssl.SSLContext | bool:
    """The TLS settings as httpx takes them (False: no verification)."""
    if not config.http_tls_verify and not config.http_tls_cert_file:
        return False
    context = ssl.create_default_context(cafile=config.http_tls_ca_file)
    if not config.http_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.http_tls_cert_file:
        context.load_cert_chain(config.http_tls_cert_file, config.http_tls_key_file)
    return context


def build_client(
    config: HttpSinkConfig, user_agent: str, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    headers = {"User-Agent": user_agent}
    auth: httpx.Auth | None = None
    if config.http_auth_type == "bearer" and config.http_auth_token is not None:
        headers["Authorization"] = f"Bearer {config.http_auth_token.get_secret_value()}"
    elif config.http_auth_type == "header" and config.http_auth_header_value is not None:
        headers[config.http_auth_header_name] = config.http_auth_header_value.get_secret_value()
    elif config.http_auth_type == "basic" and config.http_auth_password is not None:
        auth = httpx.BasicAuth(
            config.http_auth_username or "", config.http_auth_password.get_secret_value()
        )
    slots = config.http_max_in_flight
    verify = ssl_context(config)
    limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
    mounts: dict[str, httpx.BaseTransport | None] | None = None
    if config.http_http2 and transport is None:
        # Mounted transports take no settings from the client: verify and limits again.
        mounts = {
            "https://": httpx.HTTPTransport(verify=verify, limits=limits, http2=True),
            "http://": httpx.HTTPTransport(verify=verify, limits=limits, http1=False, http2=True),
        }
    return httpx.Client(
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=httpx.Timeout(
            config.http_read_timeout_ms / 1000.0,
            connect=config.http_connect_timeout_ms / 1000.0,
        ),
        limits=limits,
        transport=transport,
        mounts=mounts,
    )
