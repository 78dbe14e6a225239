"""``check()`` runs on request (validate over REST and the CLI) and, for connectors that
say it is cheap, when a task starts; a failure is reported under the key it names."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from offramp import (
    BatchWriter,
    ConfigModel,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkConnector,
    SinkRecord,
    TaskContext,
)
from offramp.cli import main
from offramp.config import load_worker_config, validate_connector
from offramp.connectors.file import FileSinkConnector
from offramp.connectors.hubspot import HubSpotSinkConnector
from offramp.connectors.qdrant import QdrantSinkConnector
from offramp.connectors.s3 import S3SinkConnector
from offramp.connectors.sql import SqlSinkConnector
from offramp.connectors.stdout import StdoutSinkConnector
from offramp.plugin import check_errors
from offramp.registry import PluginRegistry
from offramp.rest.definitions import validation_result
from offramp.task import TaskRunner
from offramp.testing import ScriptedConsumer, ScriptedProducer
from offramp.worker import Worker


class ProbeConfig(ConfigModel):
    probe_url: str = Field(description="Where the probe goes")
    probe_mode: str = Field("ok", description="What check() does: ok, keyed, named, …")


class ProbeWriter(BatchWriter):
    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        return None


class ProbeConnector(SinkConnector[ProbeConfig]):
    config_model = ProbeConfig
    checked: ClassVar[list[str]] = []
    writers: ClassVar[int] = 0

    def check(self, config: ProbeConfig) -> str:
        type(self).checked.append(config.probe_mode)
        mode = config.probe_mode
        if mode == "keyed":
            raise FatalError("refused (401)", key="probe.url")
        if mode == "named":
            raise FatalError(f"nothing listens at probe.url ({config.probe_url})")
        if mode == "anonymous":
            raise FatalError("the service is down for maintenance")
        if mode == "retriable":
            raise RetriableError("timed out")
        if mode == "crash":
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return f"reached {config.probe_url}"

    def create_writer(self, config: ProbeConfig, context: TaskContext) -> BatchWriter:
        type(self).writers += 1
        return ProbeWriter()


class CheckedAtStart(ProbeConnector):
    check_at_start = True


def probe_config(mode: str) -> ProbeConfig:
    return ProbeConfig.model_validate({"probe.url": "http://probe", "probe.mode": mode})


# ----- check_errors: what a check says, under which key ---------------------------------


def test_a_passing_check_reports_what_it_found() -> None:
    """A check that returns gives its text and no errors."""
    assert check_errors(ProbeConnector(), probe_config("ok")) == ("reached http://probe", [])


@pytest.mark.parametrize(
    ("mode", "key", "reason"),
    [
        ("keyed", "probe.url", "check failed: refused (401)"),
        ("named", "probe.url", "check failed: nothing listens at probe.url (http://probe)"),
        ("anonymous", "connector.class", "check failed: the service is down for maintenance"),
        ("retriable", "connector.class", "check failed: timed out"),
        (
            "crash",
            "connector.class",
            "check failed: ConnectionRefusedError: [Errno 111] Connection refused",
        ),
    ],
)
def test_a_failing_check_is_an_error_under_the_key_it_names(
    mode: str, key: str, reason: str
) -> None:
    """FatalError's key wins, else the config key its message names, else connector.class;
    an unclassified exception is reported with its type, never raised."""
    assert check_errors(ProbeConnector(), probe_config(mode)) == ("", [(key, reason)])


def test_a_given_family_key_named_in_the_message_is_found() -> None:
    """Keys of a prefix family are not model fields: the given keys are searched too, and
    the longest key at that place wins over a shorter one it starts with."""

    class Named(ProbeConnector):
        def check(self, config: ProbeConfig) -> str:
            raise FatalError("probe.header.auth.token was refused")

    given = ["probe.header.auth", "probe.header.auth.token", "probe.url"]
    _, errors = check_errors(Named(), probe_config("ok"), given)
    assert errors == [
        ("probe.header.auth.token", "check failed: probe.header.auth.token was refused")
    ]


def test_cheap_checks_run_at_start_and_the_others_do_not() -> None:
    """file and stdout check at task start (local, cheap); the connectors whose check
    calls the target don't (an outage would fail the task instead of being retried)."""
    assert FileSinkConnector.check_at_start and StdoutSinkConnector.check_at_start
    for connector in (SqlSinkConnector, S3SinkConnector, QdrantSinkConnector):
        assert not connector.check_at_start
    assert not HubSpotSinkConnector.check_at_start
    assert not SinkConnector.check_at_start


# ----- config/validate?check=true -------------------------------------------------------


def registry() -> PluginRegistry:
    reg = PluginRegistry(load_entry_points=False)
    reg.register("probe", ProbeConnector)
    reg.register("probe-at-start", CheckedAtStart)
    return reg


def validate(check: bool, **config: str) -> dict[str, Any]:
    reg = registry()
    worker = Worker(load_worker_config({"rest.port": 0}, environ={}), reg)
    raw = {"name": "c", "connector.class": "probe", "topics": "t", "probe.url": "http://probe"}
    raw.update(config)
    return validation_result(worker, reg.get("probe"), raw, check)


def errors_of(result: dict[str, Any]) -> dict[str, list[str]]:
    return {
        c["value"]["name"]: c["value"]["errors"] for c in result["configs"] if c["value"]["errors"]
    }


def test_validate_runs_check_only_when_asked() -> None:
    """Without check=true the check never runs and the answer has no check field."""
    ProbeConnector.checked.clear()
    result = validate(False, **{"probe.mode": "keyed"})
    assert result["error_count"] == 0 and "check" not in result
    assert ProbeConnector.checked == []


def test_validate_with_check_reports_what_it_found() -> None:
    """check=true on a good config: no errors, and what the check found."""
    result = validate(True)
    assert (result["error_count"], result["check"]) == (0, "reached http://probe")


def test_validate_with_check_puts_its_failure_under_its_key() -> None:
    """A check's FatalError is one validate error, on the key it names."""
    result = validate(True, **{"probe.mode": "keyed"})
    assert result["error_count"] == 1 and result["check"] is None
    assert errors_of(result) == {"probe.url": ["check failed: refused (401)"]}


def test_validate_with_check_skips_the_check_of_an_invalid_config() -> None:
    """A config with errors is not checked: the check would get no config model."""
    ProbeConnector.checked.clear()
    result = validate(True, **{"probe.mode": "keyed", "tasks.max": "0"})
    assert list(errors_of(result)) == ["tasks.max"] and result["check"] is None
    assert ProbeConnector.checked == []


# ----- offramp validate --check -----------------------------------------------------------


def test_cli_check_failure_is_a_validate_error_on_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`offramp validate --check` where the file's directory is missing (not writable):
    exit 1, the error under `file`."""
    missing = tmp_path / "missing"
    path = tmp_path / "c.json"
    config = {"connector.class": "file", "topics": "t", "file": str(missing / "out.jsonl")}
    path.write_text(json.dumps({"name": "c", "config": config}))
    assert main(["validate", str(path), "--check"]) == 1
    captured = capsys.readouterr()
    assert "invalid configuration" in captured.err
    assert f"  file: check failed: directory {missing} is not writable" in captured.err
    assert "is valid" not in captured.out


def test_cli_check_success_prints_what_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A passing check prints its finding after "is valid"."""
    path = tmp_path / "c.json"
    config = {"connector.class": "file", "topics": "t", "file": str(tmp_path / "out.jsonl")}
    path.write_text(json.dumps({"name": "c", "config": config}))
    assert main(["validate", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and f"check: {tmp_path / 'out.jsonl'} is writable" in out


# ----- the task checks at start -----------------------------------------------------------


def run_task(alias: str, mode: str) -> tuple[TaskRunner, list[tuple[str, str | None]]]:
    worker = load_worker_config({}, environ={})
    raw = {
        "task.restart.enable": "false",
        "connector.class": alias,
        "topics": "t",
        "probe.url": "http://probe",
        "probe.mode": mode,
        "key.converter": "string",
        "value.converter": "string",
    }
    config = validate_connector(alias, raw, worker, registry())
    seen: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def on_state(task: TaskRunner) -> None:
        with lock:
            seen.append((str(task.status.state), task.status.trace))

    consumer = ScriptedConsumer()
    task = TaskRunner(
        config,
        0,
        worker,
        on_state=on_state,
        consumer_factory=consumer.factory,
        producer_factory=ScriptedProducer().factory,
    )
    task.start()
    return task, seen


def wait_for(seen: list[tuple[str, str | None]], state: str) -> tuple[str, str | None] | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = next((s for s in list(seen) if s[0] == state), None)
        if found:
            return found
        time.sleep(0.02)
    return None


def test_a_task_fails_at_start_when_its_cheap_check_fails() -> None:
    """check_at_start: a FatalError from check fails the task with its message, and no
    writer is built."""
    CheckedAtStart.writers = 0
    task, seen = run_task("probe-at-start", "keyed")
    try:
        failed = wait_for(seen, "FAILED")
        assert failed is not None and failed[1] is not None
        assert "FatalError: refused (401)" in failed[1]
        assert CheckedAtStart.writers == 0
    finally:
        task.stop()
        task.join(10)


def test_a_task_runs_when_its_cheap_check_passes() -> None:
    """check_at_start with a passing check: the task runs with its writer."""
    CheckedAtStart.checked.clear()
    CheckedAtStart.writers = 0
    task, seen = run_task("probe-at-start", "ok")
    try:
        assert wait_for(seen, "RUNNING") is not None
        deadline = time.monotonic() + 10
        while CheckedAtStart.writers == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert CheckedAtStart.writers == 1 and CheckedAtStart.checked == ["ok"]
        assert not any(state == "FAILED" for state, _ in seen)
    finally:
        task.stop()
        task.join(10)


def test_a_task_does_not_check_by_default() -> None:
    """Without check_at_start a failing check never runs at start."""
    ProbeConnector.checked.clear()
    ProbeConnector.writers = 0
    task, seen = run_task("probe", "keyed")
    try:
        deadline = time.monotonic() + 10
        while ProbeConnector.writers == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ProbeConnector.writers >= 1 and ProbeConnector.checked == []
        assert not any(state == "FAILED" for state, _ in seen)
    finally:
        task.stop()
        task.join(10)
