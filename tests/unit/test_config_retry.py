"""errors.retry.timeout rides out a destination outage unless the user bounds it."""

from __future__ import annotations

from offramp.config import ConnectorSettings


def _settings(**extra: str) -> ConnectorSettings:
    return ConnectorSettings.model_validate(
        {"name": "c", "connector.class": "recording", "topics": "calls", **extra}
    )


def test_errors_retry_timeout_defaults_to_retrying_until_the_destination_is_back() -> None:
    """errors.retry.timeout is -1 unless set; 0 and a bound can still be given."""
    assert _settings().errors_retry_timeout == -1
    assert _settings(**{"errors.retry.timeout": "0"}).errors_retry_timeout == 0
    assert _settings(**{"errors.retry.timeout": "60000"}).errors_retry_timeout == 60000
