"""Secrets appear in no response, no log line and no status trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import httpx
import pytest
from pydantic import Field, SecretStr

from offramp import (
    BatchWriter,
    ConfigModel,
    FatalError,
    RecordFailure,
    SinkConnector,
    SinkRecord,
    TaskContext,
)
from offramp.worker import Worker
from tests.conftest import wait_for
from tests.integration.runtime_support import sink_config


class LeakyConfig(ConfigModel):
    leaky_token: SecretStr = Field(description="Typed as a secret")
    leaky_url: str = Field("", description="May hold user:password@")
    leaky_password: str = Field("", description="Not typed as a secret, but named like one")


class _LeakyWriter(BatchWriter):
    """Does everything a careless plug-in could: logs its secrets and fails with them."""

    def __init__(self, config: LeakyConfig, context: TaskContext) -> None:
        token = config.leaky_token.get_secret_value()
        context.logger.warning("connecting to %s with token %s", config.leaky_url, token)
        raise FatalError(f"token {token} was refused by {config.leaky_url}")

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        return None


class LeakySinkConnector(SinkConnector[LeakyConfig]):
    config_model = LeakyConfig

    def create_writer(self, config: LeakyConfig, context: TaskContext) -> BatchWriter:
        return _LeakyWriter(config, context)


def test_secrets_from_env_appear_in_no_response_log_line_or_trace(
    client: httpx.Client,
    worker: Worker,
    make_topic: Callable[..., str],
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A SecretStr given as ${env:…} and a URL password from ${env:…}: GET /config shows
    the references, the failed task's trace and every log line show [hidden]."""
    caplog.set_level(logging.DEBUG)
    worker.registry.register("leaky", LeakySinkConnector)
    token, url_password = f"tok-{unique}-s3cr3t", f"urlpw-{unique}"
    monkeypatch.setenv(f"LEAKY_TOKEN_{unique}", token)
    monkeypatch.setenv(f"LEAKY_URL_{unique}", f"https://svc:{url_password}@example.invalid/x")
    name = f"leaky-{unique}"
    config = {
        **sink_config(make_topic("leak"), "leaky"),
        "leaky.token": f"${{env:LEAKY_TOKEN_{unique}}}",
        "leaky.url": f"${{env:LEAKY_URL_{unique}}}",
        "task.restart.enable": "false",
    }
    responses = [client.post("/connectors", json={"name": name, "config": config})]
    assert responses[0].status_code == 201, responses[0].text

    def failed() -> bool:
        tasks = client.get(f"/connectors/{name}/status").json()["tasks"]
        return bool(tasks) and tasks[0]["state"] == "FAILED"

    wait_for(failed)
    for path in (
        f"/connectors/{name}",
        f"/connectors/{name}/config",
        f"/connectors/{name}/status",
        f"/connectors/{name}/tasks",
        f"/connectors/{name}/tasks/0/status",
        "/connectors?expand=status&expand=info",
        "/metrics",
    ):
        responses.append(client.get(path))
    literal = {**config, "leaky.token": token}
    responses.append(client.put("/connector-plugins/leaky/config/validate", json=literal))
    responses.append(client.put(f"/connectors/{name}/config", json={**literal, "tasks.max": "x"}))

    shown = client.get(f"/connectors/{name}/config").json()
    assert shown["leaky.token"] == f"${{env:LEAKY_TOKEN_{unique}}}"
    assert shown["leaky.url"] == f"${{env:LEAKY_URL_{unique}}}"
    trace = client.get(f"/connectors/{name}/status").json()["tasks"][0]["trace"]
    assert "token [hidden] was refused by https://svc:[hidden]@example.invalid/x" in trace
    for response in responses:
        assert token not in response.text and url_password not in response.text, response.url
    assert "[hidden]" in caplog.text
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        assert token not in line and url_password not in line, line
    assert token not in caplog.text and url_password not in caplog.text


def test_literal_secrets_are_masked_and_a_masked_value_sent_back_keeps_the_secret(
    client: httpx.Client, worker: Worker, make_topic: Callable[..., str], unique: str
) -> None:
    """Values given literally for secret-looking keys show as [hidden]; PUTting the
    config read back (with [hidden]) keeps the real value."""
    worker.registry.register("leaky", LeakySinkConnector)
    name, password = f"lit-{unique}", f"hunter2-{unique}"
    config = {
        **sink_config(make_topic("lit"), "leaky"),
        "leaky.token": f"tok-{unique}",
        "leaky.password": password,
        "leaky.url": f"https://svc:{password}@example.invalid",
        "task.restart.enable": "false",
    }
    created = client.post("/connectors", json={"name": name, "config": config})
    assert created.status_code == 201
    shown = client.get(f"/connectors/{name}/config").json()
    assert shown["leaky.token"] == "[hidden]" and shown["leaky.password"] == "[hidden]"
    assert shown["leaky.url"] == "https://svc:[hidden]@example.invalid"
    assert password not in created.text
    again = client.put(f"/connectors/{name}/config", json={**shown, "batch.max.records": "7"})
    assert again.status_code == 200, again.text
    stored = worker.get(name).config.raw
    assert stored["leaky.password"] == password and stored["leaky.token"] == f"tok-{unique}"
    assert stored["leaky.url"] == f"https://svc:{password}@example.invalid"
    assert stored["batch.max.records"] == "7"
