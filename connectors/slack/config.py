"""The ``slack`` connector's settings: an incoming webhook and the message templates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import Field, SecretStr, field_validator

from offramp import ConfigModel
from offramp.connectors.http.template import Template

__all__ = ["SlackSinkConfig"]

# Slack truncates a message's text past 40,000 characters and advises keeping it under
# 4,000; a section block's text is capped at 3,000.
MAX_TEXT = 40_000


def _templates_in(node: Any) -> None:
    if isinstance(node, str):
        Template.parse(node)
    elif isinstance(node, list):
        for item in node:
            _templates_in(item)
    elif isinstance(node, dict):
        for item in node.values():
            _templates_in(item)


class SlackSinkConfig(ConfigModel):
    """Posts a message per record to a Slack incoming webhook."""

    slack_webhook_url: SecretStr = Field(
        description="The incoming webhook's URL (https://hooks.slack.com/services/…; it is "
        "a secret: use ${env:…} or ${file:…}); masked"
    )
    slack_text: str = Field(
        description="The message text, a template over the record's fields: "
        "'Call {data.call_id} for {data.tenant} failed'"
    )
    slack_blocks: str | None = Field(
        None,
        description="Block Kit blocks as a JSON array; every string in it is a template",
    )
    slack_text_max_chars: int = Field(
        4_000,
        ge=20,
        le=MAX_TEXT,
        description="Text longer than this is cut, ending with slack.truncation.marker "
        "(Slack advises ≤ 4000; it truncates past 40000)",
    )
    slack_truncation_marker: str = Field(
        "… (truncated)", description="What ends a cut text, so readers see it was cut"
    )
    slack_messages_per_second: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Messages per second per webhook from this worker (Slack allows about "
        "one, with short bursts, and answers 429 beyond)",
    )
    slack_timeout_ms: int = Field(10_000, ge=1, description="Connect and read timeout")

    @field_validator("slack_webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("is not an http(s) URL")
        return value

    @field_validator("slack_text")
    @classmethod
    def _text(cls, value: str) -> str:
        Template.parse(value)
        return value

    @field_validator("slack_blocks")
    @classmethod
    def _blocks(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            blocks = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"is not JSON: {exc}") from None
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ValueError("must be a JSON array of block objects")
        if len(blocks) > 50:
            raise ValueError("Slack takes at most 50 blocks per message")
        _templates_in(blocks)
        return value
