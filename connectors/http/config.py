"""The ``http`` connector's settings, one pydantic model keyed by dotted names.

``http.header.<name>`` is a key family, one key per header, each value a template
(``http.header.X-Tenant``: ``{data.tenant}``). Templates and field paths are parsed
here, so a typo fails validation naming its key.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from offramp import ConfigModel
from offramp.connectors.http.answers import parse_path
from offramp.connectors.http.template import Template

__all__ = ["HEADER_PREFIX", "HttpSinkConfig"]

HEADER_PREFIX = "http.header."
_RESERVED = {"content-length", "host", "transfer-encoding", "connection"}


class HttpSinkConfig(ConfigModel):
    """Sends records to an HTTP endpoint, one request per record or in batches."""

    http_url: str = Field(
        description="The http(s) URL records are sent to; may use record fields "
        "({data.tenant}), percent-encoded"
    )
    http_method: Literal["POST", "PUT"] = Field("POST", description="POST or PUT")
    http_batch_format: Literal["none", "json", "ndjson"] = Field(
        "none",
        description="none: one request per record; json: a JSON array per request; "
        "ndjson: one JSON document per line",
    )
    http_batch_max_records: int = Field(500, ge=1, description="Records per batched request")
    http_batch_max_bytes: int = Field(
        1_048_576,
        ge=1,
        description="Body bytes per batched request (a single bigger item goes alone)",
    )
    http_body_field: str | None = Field(
        None, description="Send this field of the value (dotted path) instead of the value"
    )
    http_body_template: str | None = Field(
        None, description="Send this template over the record's fields as the body"
    )
    http_content_type: str | None = Field(
        None,
        description="Content-Type (default application/json; application/x-ndjson for "
        "ndjson; text/plain for a template)",
    )
    http_header: dict[str, str] = Field(
        default_factory=dict,
        alias="http.header",
        description="http.header.<name> = template: a header sent with each request",
    )
    http_auth_type: Literal["none", "bearer", "basic", "header"] = Field(
        "none",
        description="none, bearer (http.auth.token), basic (http.auth.username/"
        "password) or header (http.auth.header.name/value)",
    )
    http_auth_token: SecretStr | None = Field(
        None, description="Bearer token (use ${env:…} or ${file:…}); masked"
    )
    http_auth_username: str | None = Field(None, description="Basic auth user name")
    http_auth_password: SecretStr | None = Field(None, description="Basic auth password; masked")
    http_auth_header_name: str = Field(
        "Authorization", description="The header http.auth.type=header sets"
    )
    http_auth_header_value: SecretStr | None = Field(
        None, description="That header's value (an API key); masked"
    )
    http_tls_ca_file: str | None = Field(
        None, description="PEM CA bundle to verify the server with (default: system CAs)"
    )
    http_tls_cert_file: str | None = Field(
        None, description="PEM client certificate for mutual TLS"
    )
    http_tls_key_file: str | None = Field(
        None, description="PEM private key of the client certificate (if not in the cert file)"
    )
    http_tls_verify: bool = Field(True, description="Verify the server's certificate")
    http_http2: bool = Field(
        False,
        description="Use HTTP/2: negotiated by ALPN on https:// (HTTP/1.1 if the server "
        "declines), prior knowledge (h2c) on http://",
    )
    http_connect_timeout_ms: int = Field(5_000, ge=1, description="Connect timeout")
    http_read_timeout_ms: int = Field(30_000, ge=1, description="Read (and write) timeout")
    http_max_in_flight: int = Field(1, ge=1, le=256, description="Requests in flight per task")
    http_ordered_by_key: bool = Field(
        False,
        description="Keep records with the same key in order with several requests in "
        "flight (each key's requests go one after another)",
    )
    http_idempotency_header: str = Field(
        "Idempotency-Key",
        description="Header carrying topic-partition-offset (per record) or a hash of the "
        "items' ids (batches); empty: none",
    )
    http_item_id_field: str | None = Field(
        None,
        description="Batches: set this field of each JSON object item to its stable id "
        "(topic-partition-offset), so a receiver can drop repeats across batches",
    )
    http_rejected_path: str | None = Field(
        None,
        description="Batches: JSON path in the answer naming refused items by index or id "
        "(errors[*].index); only those are dead-lettered",
    )
    http_error_body_max_bytes: int = Field(
        1024, ge=0, le=65_536, description="Answer body bytes kept in dead letters' headers"
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_headers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        plain: dict[str, Any] = {}
        headers: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith(HEADER_PREFIX):
                headers[key[len(HEADER_PREFIX) :]] = value
            else:
                plain[key] = value
        if headers:
            plain["http.header"] = {**plain.get("http.header", {}), **headers}
        return plain

    @field_validator("http_url")
    @classmethod
    def _url(cls, value: str) -> str:
        Template.parse(value)
        # a placeholder may stand for a host (a tenant's endpoint): check the shape only
        parts = urlsplit(re.sub(r"\{[^{}]*\}", "x", value))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("http_body_template")
    @classmethod
    def _body_template(cls, value: str | None) -> str | None:
        if value is not None:
            Template.parse(value)
        return value

    @field_validator("http_header")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(f"{HEADER_PREFIX}{name}: {name!r} is not an HTTP header name")
            if name.lower() in _RESERVED:
                raise ValueError(f"{HEADER_PREFIX}{name}: {name} is set by the HTTP client")
            try:
                Template.parse(text)
            except ValueError as exc:
                raise ValueError(f"{HEADER_PREFIX}{name}: {exc}") from None
        return value

    @field_validator("http_rejected_path")
    @classmethod
    def _rejected_path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @field_validator("http_tls_ca_file", "http_tls_cert_file", "http_tls_key_file")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None and not os.access(value, os.R_OK):
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpSinkConfig:
        if self.http_body_field and self.http_body_template:
            raise ValueError("set http.body.field or http.body.template, not both")
        needs: dict[str, list[tuple[str, object]]] = {
            "bearer": [("http.auth.token", self.http_auth_token)],
            "basic": [
                ("http.auth.username", self.http_auth_username),
                ("http.auth.password", self.http_auth_password),
            ],
            "header": [("http.auth.header.value", self.http_auth_header_value)],
        }
        for key, given in needs.get(self.http_auth_type, []):
            if given is None:
                raise ValueError(f"http.auth.type={self.http_auth_type} needs {key}")
        if self.http_tls_key_file and not self.http_tls_cert_file:
            raise ValueError("http.tls.key.file needs http.tls.cert.file")
        batched = self.http_batch_format != "none"
        if not batched and (self.http_rejected_path or self.http_item_id_field):
            raise ValueError(
                "http.rejected.path and http.item.id.field apply to batches: set "
                "http.batch.format to json or ndjson"
            )
        return self

    @property
    def batched(self) -> bool:
        return self.http_batch_format != "none"

    @property
    def content_type(self) -> str:
        if self.http_content_type:
            return self.http_content_type
        if self.http_batch_format == "ndjson":
            return "application/x-ndjson"
        if self.http_body_template and not self.batched:
            return "text/plain; charset=utf-8"
        return "application/json"
