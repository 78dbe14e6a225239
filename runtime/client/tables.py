"""Plain-text tables for a terminal: left-aligned columns, two spaces apart, the last
column free to run long (a status message or an error's first line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["first_line", "render_table", "status_rows"]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(header), *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def first_line(text: str | None, limit: int = 100) -> str:
    """A trace's or message's first non-empty line, cut to ``limit`` characters: a Python
    traceback's useful line is its last, so that one is taken for a traceback."""
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def status_rows(status: dict[str, Any]) -> list[list[str]]:
    """One row for the connector, one per task: NAME, TASK, STATE, WORKER, DETAIL."""
    name = str(status.get("name", ""))
    connector = status.get("connector") or {}
    rows = [
        [
            name,
            "-",
            str(connector.get("state", "")),
            str(connector.get("worker_id", "")),
            first_line(connector.get("trace")),
        ]
    ]
    for task in sorted(status.get("tasks") or [], key=lambda t: int(t.get("id", 0))):
        detail = first_line(task.get("trace") or task.get("message"))
        rows.append(
            [
                "",
                str(task.get("id", "")),
                str(task.get("state", "")),
                str(task.get("worker_id", "")),
                detail,
            ]
        )
    return rows
