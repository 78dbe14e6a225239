"""The CLI validates configs before anything starts and lists plug-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offramp.cli import main


def test_validate_accepts_a_good_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file connector config passes `offramp validate --check`."""
    path = tmp_path / "c.json"
    out = tmp_path / "out.jsonl"
    path.write_text(
        json.dumps(
            {"name": "c", "config": {"connector.class": "file", "topics": "t", "file": str(out)}}
        )
    )
    assert main(["validate", str(path), "--check"]) == 0
    assert "is valid" in capsys.readouterr().out


def test_standalone_refuses_bad_configs_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid connector stops `offramp standalone` with exit 1 and every error named."""
    worker, conn = tmp_path / "w.json", tmp_path / "c.json"
    worker.write_text('{"bootstrap.servers": "127.0.0.1:1"}')
    conn.write_text(
        json.dumps(
            {"name": "c", "config": {"connector.class": "fiel", "topics": "t", "tasks.max": "-1"}}
        )
    )
    assert main(["standalone", str(worker), str(conn)]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'file'" in err and "tasks.max" in err


def test_plugins_lists_the_built_in_sinks(capsys: pytest.CaptureFixture[str]) -> None:
    """`offramp plugins` names the file and stdout sinks."""
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "file" in out and "stdout" in out
