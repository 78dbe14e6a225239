"""Reading Kafka Connect ``.properties`` connector files in the tests, as Java does for
the simple files Kafka Connect's quickstarts use (``key=value`` or ``key: value`` lines,
``#``/``!`` comments, no line continuations)."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "kafka-connect"


def read_properties(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of ``path``, in order."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=len(line))
        out[line[:cut].strip()] = line[cut + 1 :].strip()
    return out
