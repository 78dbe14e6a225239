"""A property-based fuzz run (schemathesis) against the live API finds no 5xx."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from devstack.kafka import KafkaBroker
from tests.integration.rest.standalone_process import StandaloneWorker


def _fuzz(
    url: str, cwd: Path, examples: int, extra: tuple[str, ...] = (), config: Path | None = None
) -> int:
    """One schemathesis run that fails on any 5xx; how many cases it generated."""
    command = [sys.executable, "-m", "schemathesis.cli"]
    if config is not None:
        command += ["--config-file", str(config)]
    command += [
        "run",
        f"{url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(examples),
        "--workers",
        "1",  # hypothesis' own caches are not thread-safe (spurious internal errors)
        "--seed",
        "20240501",
        "--no-shrink",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        *extra,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    cases = re.search(r"(\d+) generated", output)
    assert cases is not None, output
    return int(cases.group(1))


def test_schemathesis_finds_no_server_errors(
    kafka: KafkaBroker, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    """Every operation in /openapi.json, fed generated valid and invalid inputs (several
    hundred requests), never answers 5xx; the worker stays healthy."""
    connector = tmp_path / "fuzzed.json"
    connector.write_text(
        json.dumps(
            {
                "name": "fuzzed",
                "config": {
                    "connector.class": "file",
                    "topics": make_topic("fuzz"),
                    "file": str(tmp_path / "out.jsonl"),
                },
            }
        )
    )
    worker = StandaloneWorker(
        tmp_path, {"bootstrap.servers": kafka.bootstrap, "rest.port": 0}, [connector]
    )
    try:
        worker.start().wait_healthy()
        generated = _fuzz(worker.url, tmp_path, examples=12)
        # Again with every {name} the real connector, so lifecycle, config and offsets
        # requests reach the Worker and Kafka instead of stopping at 404 (deleting it
        # is left out: the rest would be 404 again).
        config = tmp_path / "schemathesis.toml"
        config.write_text('[parameters]\n"path.name" = "fuzzed"\n')
        generated += _fuzz(
            worker.url,
            tmp_path,
            examples=6,
            extra=("--exclude-path", "/connectors/{name}"),
            config=config,
        )
        print(f"schemathesis generated {generated} cases")
        assert generated >= 300
        with httpx.Client(base_url=worker.url) as client:
            assert client.get("/health").status_code == 200
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
