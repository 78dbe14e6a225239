"""Secrets are masked in configs, response bodies and log records."""

from __future__ import annotations

import logging

import orjson
import pytest
from pydantic import Field, SecretStr

from offramp.masking import (
    HIDDEN,
    SECRETS,
    SecretValues,
    install_log_redaction,
    mask_config,
    register_config_secrets,
    restore_hidden,
    secret_fields,
)
from offramp.plugin import ConfigModel


class Model(ConfigModel):
    api_secret_value: SecretStr
    maybe_key: SecretStr | None = None
    endpoint: str = Field("")


def test_secret_fields_are_found_by_type_including_optional() -> None:
    """Fields typed SecretStr (also inside Optional) are secret keys, by their config key."""
    assert secret_fields(Model) == {"api.secret.value", "maybe.key"}


def test_mask_config_hides_literals_keeps_references_and_url_passwords() -> None:
    """Literal secrets become [hidden]; ${env:…} stays; a URL keeps all but its password;
    keys named like secrets are hidden even when the model doesn't say so."""
    shown = mask_config(
        {
            "api.secret.value": "s3cret",
            "maybe.key": "${env:KEY}",
            "endpoint": "postgresql://app:pa55@db:5432/x",
            "consumer.override.sasl.jaas.config": "user=a password=b",
            "topics": "calls",
        },
        Model,
    )
    assert shown == {
        "api.secret.value": HIDDEN,
        "maybe.key": "${env:KEY}",
        "endpoint": f"postgresql://app:{HIDDEN}@db:5432/x",
        "consumer.override.sasl.jaas.config": HIDDEN,
        "topics": "calls",
    }


def test_a_masked_value_sent_back_means_unchanged() -> None:
    """restore_hidden puts the stored secret back where a client returned [hidden]."""
    old = {"api.secret.value": "s3cret", "endpoint": "http://u:pw11@h", "topics": "a"}
    new = {"api.secret.value": HIDDEN, "endpoint": f"http://u:{HIDDEN}@h", "topics": "b"}
    assert restore_hidden(new, old, Model) == {**old, "topics": "b"}
    assert restore_hidden({"api.secret.value": "new1"}, old, Model) == {"api.secret.value": "new1"}


def test_redaction_covers_raw_and_json_escaped_forms() -> None:
    """A secret with quotes is replaced in text and in JSON bytes; short values are not
    registered (they would mangle every log line)."""
    values = SecretValues()
    values.add(['pa"ss\\word', "abc"])
    assert values.redact('x pa"ss\\word y abc') == f"x {HIDDEN} y abc"
    body = orjson.dumps({"m": 'pa"ss\\word'})
    assert values.redact_json(body) == orjson.dumps({"m": HIDDEN})


def test_log_records_are_redacted_for_every_handler(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A registered secret (resolved from ${env:…}) never reaches a handler: not in the
    message, its arguments, nor an exception's traceback."""
    install_log_redaction()
    secret = "tok-for-log-test-9f3"
    monkeypatch.setenv("MASKING_TEST_SECRET", secret)
    register_config_secrets({"api.secret.value": "${env:MASKING_TEST_SECRET}"}, Model)
    assert secret in SECRETS._values
    log = logging.getLogger("offramp.test.masking")
    with caplog.at_level(logging.INFO):
        log.info("using %s", secret)
        try:
            raise RuntimeError(f"refused {secret}")
        except RuntimeError:
            log.exception("failed")
    assert secret not in caplog.text
    assert caplog.text.count(HIDDEN) >= 2
