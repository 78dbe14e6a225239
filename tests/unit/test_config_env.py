"""Worker keys come from OFFRAMP_WORKER_* and CONNECT_* variables; the tools' own
OFFRAMP_* variables never become keys."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from offramp.cli import main
from offramp.config import load_worker_config, worker_env_keys
from offramp.errors import ConfigError

# What the devstack, scripts/ and the CLI read today, and one they might add tomorrow.
TOOL_VARIABLES = {
    "OFFRAMP_MARIADB_BIN": "/opt/mariadb/bin",
    "OFFRAMP_PG_BIN": "/usr/lib/postgresql/16/bin",
    "OFFRAMP_DEVSTACK_DIR": "/tmp/devstack",
    "OFFRAMP_CACHE": "/tmp/cache",
    "OFFRAMP_LOG_LEVEL": "DEBUG",
    "OFFRAMP_SOME_FUTURE_TOOL_SETTING": "x",
}


def test_tool_variables_are_never_worker_keys() -> None:
    """The devstack's OFFRAMP_* variables (and any new one) leave the worker config alone."""
    config = load_worker_config({"rest.port": 9000}, environ=TOOL_VARIABLES)
    assert config.rest_port == 9000
    assert config == load_worker_config({"rest.port": 9000}, environ={})


def test_offramp_worker_and_connect_variables_set_keys_and_families_over_the_file() -> None:
    """OFFRAMP_WORKER_REST_PORT and CONNECT_BOOTSTRAP_SERVERS set their keys over the
    file's; a family key such as consumer.session.timeout.ms is set the same way."""
    config = load_worker_config(
        {"rest.port": 1, "bootstrap.servers": "file:9092"},
        environ={
            "OFFRAMP_WORKER_REST_PORT": "9001",
            "CONNECT_BOOTSTRAP_SERVERS": "env:9092",
            "OFFRAMP_WORKER_CONSUMER_SESSION_TIMEOUT_MS": "6000",
            "CONNECT_VALUE_CONVERTER_SCHEMAS_ENABLE": "false",
            **TOOL_VARIABLES,
        },
    )
    assert config.rest_port == 9001 and config.bootstrap_servers == "env:9092"
    assert config.family("consumer.") == {"session.timeout.ms": "6000"}
    assert config.family("value.converter.") == {"schemas.enable": "false"}


def test_an_unknown_or_invalid_worker_variable_is_an_error_naming_it() -> None:
    """A misspelt key or a bad value set by a variable is reported under the variable's
    name, with the key it stands for."""
    with pytest.raises(ConfigError) as err:
        load_worker_config(
            {},
            environ={"OFFRAMP_WORKER_REST_PROT": "9000", "CONNECT_REST_PORT": "ninety"},
        )
    errors = dict(err.value.errors)
    assert errors["OFFRAMP_WORKER_REST_PROT"] == "rest.prot: unknown configuration key"
    assert errors["CONNECT_REST_PORT"].startswith("rest.port: ")


def test_two_variables_setting_one_key_differently_are_an_error_naming_both() -> None:
    """CONNECT_REST_PORT and OFFRAMP_WORKER_REST_PORT may agree, but not disagree."""
    assert worker_env_keys({"CONNECT_REST_PORT": "1", "OFFRAMP_WORKER_REST_PORT": "1"}) == {
        "rest.port": ("CONNECT_REST_PORT", "1")
    }
    with pytest.raises(ConfigError) as err:
        worker_env_keys({"CONNECT_REST_PORT": "1", "OFFRAMP_WORKER_REST_PORT": "2"})
    assert err.value.errors == [
        ("OFFRAMP_WORKER_REST_PORT", "sets rest.port to another value than CONNECT_REST_PORT does")
    ]


def test_kubernetes_service_link_variables_are_not_worker_keys() -> None:
    """A Service named "connect" or "offramp-worker" (CONNECT_PORT=tcp://…,
    OFFRAMP_WORKER_SERVICE_HOST…) doesn't stop the worker."""
    links = {
        "CONNECT_PORT": "tcp://10.0.0.7:8083",
        "CONNECT_PORT_8083_TCP": "tcp://10.0.0.7:8083",
        "CONNECT_PORT_8083_TCP_ADDR": "10.0.0.7",
        "CONNECT_SERVICE_HOST": "10.0.0.7",
        "CONNECT_SERVICE_PORT_REST": "8083",
        "OFFRAMP_WORKER_SERVICE_PORT": "8083",
    }
    assert worker_env_keys(links) == {}
    assert load_worker_config({}, environ=links).rest_port == 8083


def test_an_old_style_offramp_key_variable_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """OFFRAMP_REST_PORT (the old spelling) is not read, and a warning names the new one."""
    caplog.set_level(logging.WARNING, logger="offramp.config")
    config = load_worker_config({}, environ={"OFFRAMP_REST_PORT": "9002", **TOOL_VARIABLES})
    assert config.rest_port == 8083
    assert [r.getMessage() for r in caplog.records] == [
        "OFFRAMP_REST_PORT is not read: worker keys come from OFFRAMP_WORKER_REST_PORT "
        "(or CONNECT_REST_PORT)"
    ]


def test_offramp_cli_starts_with_the_devstack_variables_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`offramp validate` and `offramp standalone` read past the worker config with the
    devstack's variables in the environment (standalone then stops at the bad connector)."""
    for name, value in TOOL_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OFFRAMP_LOG_LEVEL", "WARNING")
    worker, good, bad = tmp_path / "w.json", tmp_path / "good.json", tmp_path / "bad.json"
    worker.write_text('{"bootstrap.servers": "127.0.0.1:1"}')
    config = {"connector.class": "file", "topics": "t", "file": str(tmp_path / "out.jsonl")}
    good.write_text(json.dumps({"name": "good", "config": config}))
    bad.write_text(json.dumps({"name": "bad", "config": {**config, "connector.class": "fiel"}}))
    assert main(["validate", str(good), "--worker", str(worker)]) == 0
    assert main(["standalone", str(worker), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'file'" in err
    assert "OFFRAMP_" not in err and f"{worker}: invalid" not in err


def test_offramp_cli_names_a_misspelt_worker_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`offramp standalone` refuses to start and prints the variable that is wrong."""
    monkeypatch.setenv("OFFRAMP_WORKER_BOOTSTRAP_SERVER", "127.0.0.1:1")
    worker = tmp_path / "w.json"
    worker.write_text("{}")
    assert main(["standalone", str(worker)]) == 1
    err = capsys.readouterr().err
    assert "OFFRAMP_WORKER_BOOTSTRAP_SERVER: bootstrap.server: unknown configuration key" in err
