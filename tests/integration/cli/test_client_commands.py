"""The command line's client commands against a real worker: its REST API on a socket,
the real broker behind it, a file sink writing what it reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.kafka import KafkaBroker
from offramp.cli import main
from offramp.rest.server import RestServer
from offramp.worker import Worker
from tests.conftest import produce, wait_for
from tests.integration.runtime_support import make_worker

TOKEN = "cli-test-token"


@pytest.fixture
def rest(kafka: KafkaBroker, monkeypatch: pytest.MonkeyPatch) -> Iterator[RestServer]:
    """A worker whose REST API wants a bearer token; the CLI gets it from OFFRAMP_TOKEN."""
    worker: Worker = make_worker(kafka.bootstrap, **{"rest.auth.tokens": TOKEN})
    server = RestServer(worker).start()
    monkeypatch.setenv("OFFRAMP_TOKEN", TOKEN)
    monkeypatch.setenv("OFFRAMP_URL", server.url)
    yield server
    server.stop()
    worker.shutdown()


@pytest.fixture
def api(rest: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=rest.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as c:
        yield c


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("status")``: the exit status, stdout and stderr of one CLI call."""

    def call(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def _file_connector(directory: Path, name: str, topic: str, **extra: str) -> Path:
    path = directory / f"{name}.json"
    config = {
        "connector.class": "file",
        "topics": topic,
        "file": str(directory / f"{name}.jsonl"),
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "batch.max.age.ms": "50",
        **extra,
    }
    path.write_text(json.dumps({"name": name, "config": config}))
    return path


def _state(api: httpx.Client, name: str) -> str:
    state: str = api.get(f"/connectors/{name}/status").json()["connector"]["state"]
    return state


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_apply_is_idempotent_and_status_is_a_table(
    run: Run, api: httpx.Client, tmp_path: Path, make_topic: Callable[..., str], unique: str
) -> None:
    """apply -f DIR creates each connector, says `unchanged` the second time and
    `configured` after a file changed; status, list and describe show what runs."""
    topic = make_topic("cli", partitions=2)
    configs = tmp_path / "connectors"
    configs.mkdir()
    a, b = f"cli-a-{unique}", f"cli-b-{unique}"
    _file_connector(configs, a, topic)
    _file_connector(configs, b, topic)

    code, out, err = run("apply", "-f", str(configs))
    assert code == 0, err
    assert out.splitlines() == [f"connector/{a} created", f"connector/{b} created"]
    code, out, _ = run("apply", "-f", str(configs))
    assert out.splitlines() == [f"connector/{a} unchanged", f"connector/{b} unchanged"]
    _file_connector(configs, b, topic, **{"batch.max.age.ms": "75"})
    code, out, _ = run("apply", "-f", str(configs))
    assert out.splitlines() == [f"connector/{a} unchanged", f"connector/{b} configured"]
    assert api.get(f"/connectors/{b}/config").json()["batch.max.age.ms"] == "75"

    wait_for(lambda: _state(api, a) == "RUNNING" and _state(api, b) == "RUNNING")
    code, out, _ = run("status")
    assert code == 0
    print(out)  # the table, for the record
    lines = out.splitlines()
    assert lines[0].split() == ["CONNECTOR", "TASK", "STATE", "WORKER", "DETAIL"]
    assert any(line.split()[:3] == [a, "-", "RUNNING"] for line in lines)
    assert any(line.split()[:2] == ["0", "RUNNING"] for line in lines)
    code, out, _ = run("list")
    assert [line.split()[:4] for line in out.splitlines()[1:]] == [
        [a, "sink", "RUNNING", "1/1"],
        [b, "sink", "RUNNING", "1/1"],
    ]
    code, out, _ = run("describe", a)
    assert "Class:   file" in out and "State:   RUNNING" in out
    assert [line.split() for line in out.splitlines() if line.strip().startswith("topics ")] == [
        ["topics", topic]
    ]
    code, out, _ = run("status", a, "--output", "json")
    assert json.loads(out)["name"] == a


def test_lifecycle_commands_change_the_state(
    run: Run, api: httpx.Client, tmp_path: Path, make_topic: Callable[..., str], unique: str
) -> None:
    """pause, resume, stop, restart and delete do what they say on a real connector."""
    topic = make_topic("cli")
    name = f"cli-life-{unique}"
    assert run("apply", "-f", str(_file_connector(tmp_path, name, topic)))[0] == 0
    wait_for(lambda: _state(api, name) == "RUNNING")
    assert run("pause", name) == (0, f"connector/{name} paused\n", "")
    wait_for(lambda: _state(api, name) == "PAUSED")
    assert run("resume", name)[0] == 0
    wait_for(lambda: _state(api, name) == "RUNNING")
    assert run("stop", name)[0] == 0
    wait_for(lambda: _state(api, name) == "STOPPED")
    assert run("resume", name)[0] == 0
    wait_for(lambda: _state(api, name) == "RUNNING")
    code, out, _ = run("restart", name, "--tasks", "--output", "json")
    assert code == 0 and json.loads(out)["name"] == name
    assert run("restart", name, "--task", "0")[0] == 0
    assert run("delete", name) == (0, f"connector/{name} deleted\n", "")
    assert api.get(f"/connectors/{name}").status_code == 404


def test_offsets_replay_from_a_time_rewrites_what_followed(
    run: Run,
    api: httpx.Client,
    tmp_path: Path,
    make_topic: Callable[..., str],
    unique: str,
    kafka: KafkaBroker,
) -> None:
    """offsets replay --to-timestamp stops the connector, moves every partition to that
    time, resumes it, and the sink receives those records again; offsets get lists the
    positions; offsets reset starts it from the beginning."""
    topic = make_topic("cli")
    name = f"cli-offsets-{unique}"
    out_file = tmp_path / f"{name}.jsonl"
    produce(kafka.bootstrap, topic, [json.dumps({"n": n}).encode() for n in range(5)])
    assert run("apply", "-f", str(_file_connector(tmp_path, name, topic)))[0] == 0
    wait_for(lambda: len(_lines(out_file)) == 5)
    wait_for(lambda: run("offsets", "get", name)[1].splitlines()[1:] == [f"{topic}  0          5"])

    code, out, err = run("offsets", "replay", name, "--to-timestamp", "2000-01-01T00:00:00Z")
    assert code == 0, err
    assert f"connector/{name} stopped" in out and f"connector/{name} resumed" in out
    wait_for(lambda: len(_lines(out_file)) == 10)
    assert [r["n"] for r in _lines(out_file)] == [0, 1, 2, 3, 4] * 2

    code, out, err = run("offsets", "reset", name, "--no-resume")
    assert code == 0, err
    assert _state(api, name) == "STOPPED"
    assert json.loads(run("offsets", "get", name, "-o", "json")[1]) == {"offsets": []}


def test_errors_are_the_workers_message_and_exit_1(
    run: Run, rest: RestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    """A refused call prints the worker's own message (or what credentials to set) on
    stderr and exits 1; an invalid file is refused before anything is sent."""
    code, _, err = run("describe", f"missing-{unique}")
    assert code == 1 and "not found" in err.lower() and "HTTP 404" in err
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"name": f"bad-{unique}", "config": {"connector.class": "fiel", "topics": "x"}})
    )
    code, _, err = run("apply", "-f", str(bad))
    assert code == 1 and "connector.class" in err and "HTTP 400" in err
    monkeypatch.delenv("OFFRAMP_TOKEN")
    code, _, err = run("list")
    assert code == 1 and "OFFRAMP_TOKEN" in err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert run("list", "--token-file", str(token_file))[0] == 0
    monkeypatch.setenv("OFFRAMP_URL", "http://127.0.0.1:9")
    code, _, err = run("list")
    assert code == 1 and "cannot reach the worker at http://127.0.0.1:9" in err


def test_plugins_and_validate_ask_the_worker_when_one_is_named(
    run: Run, rest: RestServer, tmp_path: Path, unique: str
) -> None:
    """With OFFRAMP_URL set, plugins lists the worker's plug-ins and validate uses its
    config/validate endpoint, naming the key in error."""
    code, out, _ = run("plugins")
    assert code == 0 and out.splitlines()[0].split() == ["CLASS", "TYPE", "VERSION"]
    assert any("FileSink" in line or line.startswith("file") for line in out.splitlines())
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {
                "name": f"v-{unique}",
                "config": {
                    "connector.class": "file",
                    "topics": "t",
                    "file": str(tmp_path / "o"),
                    "tasks.max": "0",
                },
            }
        )
    )
    code, _, err = run("validate", str(config))
    assert code == 1 and "tasks.max" in err
    config.write_text(
        json.dumps(
            {
                "name": f"v-{unique}",
                "config": {"connector.class": "file", "topics": "t", "file": str(tmp_path / "o")},
            }
        )
    )
    code, out, err = run("validate", str(config))
    assert code == 0, err
    assert "is valid on" in out
