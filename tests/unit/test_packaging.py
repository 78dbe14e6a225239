"""The worker image and the project metadata stay true to the repo."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_copies_paths_that_exist_and_runs_offramp() -> None:
    """Every COPY source exists, the entrypoint is the console script, the user isn't root."""
    text = (ROOT / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            sources = line.split()[1:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing path {source}"
    assert 'ENTRYPOINT ["offramp"]' in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "EXPOSE 8083" in text


def test_console_script_points_at_the_cli() -> None:
    """``offramp`` resolves to a real function in the runtime."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, func = meta["project"]["scripts"]["offramp"].split(":")
    mod = __import__(module, fromlist=[func])
    assert callable(getattr(mod, func))
