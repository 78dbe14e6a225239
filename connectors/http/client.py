"""One httpx client per task: keep-alive, a pool sized to the requests in flight, the
auth and TLS settings applied once."""

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
    return httpx.Client(
        headers=headers,
        auth=auth,
        verify=ssl_context(config),
        timeout=httpx.Timeout(
            config.http_read_timeout_ms / 1000.0,
            connect=config.http_connect_timeout_ms / 1000.0,
        ),
        limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
        transport=transport,
    )
