"""The webhook sink's settings: one pydantic model keyed by dotted names.

``webhook.header.<name>`` is a family of keys, one per HTTP header, the way the
built-in HubSpot sink reads ``hubspot.property.<name>``: a ``mode="before"`` validator
gathers the keys of the family into one dict field before pydantic sees them, so
unknown keys outside the family are still refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from offramp import ConfigModel

__all__ = ["HEADER_PREFIX", "WebhookSinkConfig"]

HEADER_PREFIX = "webhook.header."


class WebhookSinkConfig(ConfigModel):
    """POST each batch of records to a URL as one JSON array."""

    webhook_url: str = Field(description="The http(s) URL each batch is POSTed to")
    webhook_token: SecretStr | None = Field(
        None, description="Sent as 'Authorization: Bearer <token>' (use ${env:…} or ${file:…})"
    )
    webhook_header: dict[str, str] = Field(
        default_factory=dict,
        alias="webhook.header",
        description="webhook.header.<name> = value: an HTTP header sent with every request",
    )
    webhook_timeout_ms: int = Field(
        10_000, ge=1, description="Connect and read timeout per request"
    )
    webhook_max_items: int = Field(
        500, ge=1, description="Records per request at most; a bigger batch takes several"
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
            plain["webhook.header"] = {**plain.get("webhook.header", {}), **headers}
        return plain

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("webhook_header")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if name.lower() in ("content-type", "content-length"):
                raise ValueError(f"{name} is set by the sink")
        return value
