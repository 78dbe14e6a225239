"""The slack sink's settings, message payloads, truncation, pacing and Slack's error codes."""

from __future__ import annotations

import logging
import time

import orjson
import pytest
from pydantic import ValidationError

from offramp import RawMessage, SinkRecord, TaskContext
from offramp.connectors.slack.answers import fatal_reason
from offramp.connectors.slack.config import SlackSinkConfig
from offramp.connectors.slack.pacing import Pacer
from offramp.connectors.slack.writer import SlackWriter, truncate

URL = "https://hooks.slack.test/services/T1/B1/secret"


def config(**keys: str) -> SlackSinkConfig:
    return SlackSinkConfig.model_validate(
        {"slack.webhook.url": URL, "slack.text": "Call {data.call_id} failed", **keys}
    )


def test_the_webhook_url_is_a_secret_and_templates_are_checked() -> None:
    """The URL is masked in the model's text; bad templates and blocks are refused by key."""
    c = config()
    assert "secret" not in repr(c) and c.slack_text_max_chars == 4000
    for key, value, message in (
        ("slack.text", "Call {data", "unbalanced"),
        ("slack.blocks", "{}", "JSON array"),
        ("slack.blocks", "[{", "not JSON"),
        ("slack.webhook.url", "hooks", "http(s) URL"),
    ):
        with pytest.raises(ValidationError) as caught:
            config(**{key: value})
        assert ".".join(map(str, caught.value.errors()[0]["loc"])) == key
        assert message in caught.value.errors()[0]["msg"]


def test_payload_renders_text_and_blocks_and_truncates_visibly() -> None:
    """text and every string in blocks are templates; long text ends with the marker."""
    c = config(
        **{
            "slack.blocks": orjson.dumps(
                [{"type": "section", "text": {"type": "mrkdwn", "text": "*{data.call_id}*"}}]
            ).decode(),
            "slack.text.max.chars": "30",
        }
    )
    context = TaskContext("alerts", 0, {}, logging.getLogger("t"))
    writer = SlackWriter(c, context, "test")
    try:
        value = {"data": {"call_id": "c" * 40}}
        raw = RawMessage("calls", 0, 0, value=orjson.dumps(value))
        message = orjson.loads(writer.payload(SinkRecord(raw, None, value)))
    finally:
        writer.stop()
    assert message["text"].endswith("… (truncated)") and len(message["text"]) == 30
    assert message["blocks"][0]["text"]["text"] == "*" + "c" * 40 + "*"
    assert truncate("short", 30, "…") == "short"


def test_slack_codes_that_stop_the_task() -> None:
    """no_service, action_prohibited, channel_is_archived stop; invalid_payload doesn't."""
    assert fatal_reason(404, "no_service") and fatal_reason(403, "action_prohibited")
    assert fatal_reason(410, "channel_is_archived")
    assert fatal_reason(400, "invalid_payload") is None


def test_a_hold_defers_the_next_post() -> None:
    """After a 429's Retry-After, the pacer's next slot is past the hold."""
    pacer = Pacer(1000.0)
    before = time.monotonic()
    pacer.hold(60.0)
    assert pacer._next >= before + 60.0
