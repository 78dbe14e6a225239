"""Field paths (KIP-821): ``field.syntax.version=V2`` makes ``a.b`` mean "b inside a".

With ``V1`` (the default, Kafka Connect's historical behaviour) a path is one field name,
dots included. With ``V2`` dots separate steps, and a step containing dots is wrapped
in backticks: ``a.`b.c`.d``; inside backticks, ``\\``` is a literal backtick when it
would otherwise close the step.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SYNTAX_VERSIONS", "parse_field_path", "schema_at", "value_at"]

SYNTAX_VERSIONS = ("V1", "V2")


def parse_field_path(path: str, version: str) -> list[str]:
    """The steps of ``path``; raises ``ValueError`` for an unclosed backtick."""
    if version == "V1":
        return [path]
    steps: list[str] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] != "`":
            dot = path.find(".", i)
            steps.append(path[i:] if dot < 0 else path[i:dot])
            i = n if dot < 0 else dot + 1
            continue
        step, i = _quoted_step(path, i)
        steps.append(step)
    if path.endswith("."):
        steps.append("")
    return steps


def _quoted_step(path: str, opening: int) -> tuple[str, int]:
    """The backtick-quoted step starting at ``opening``, and where the next one starts.

    A backtick closes the step only at the end of the path or before a dot; an escaped
    one (``\\```) before a dot is kept as a literal backtick.
    """
    parts: list[str] = []
    start = search = opening + 1
    while True:
        close = path.find("`", search)
        if close < 0:
            raise ValueError(
                f"incomplete backtick pair in path {path!r}: escape the backtick at "
                f"position {opening} with a backslash"
            )
        escaped = path[close - 1] == "\\"
        if close == len(path) - 1:
            if escaped:
                raise ValueError(f"incomplete backtick pair in path {path!r}")
            parts.append(path[start:close])
            return "".join(parts), close + 1
        if path[close + 1] != ".":
            search = close + 1
            continue
        if escaped:
            parts.append(path[start : close - 1] + "`")
            start = search = close + 1
            continue
        parts.append(path[start:close])
        return "".join(parts), close + 2


def value_at(data: dict[str, Any], steps: list[str]) -> Any:
    """The value at ``steps`` inside nested dicts, or None if any step is missing."""
    current: Any = data
    for step in steps:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def schema_at(fields: list[dict[str, Any]], steps: list[str]) -> dict[str, Any] | None:
    """The field entry at ``steps`` inside nested struct schemas, or None."""
    entry: dict[str, Any] | None = None
    current: Any = fields
    for step in steps:
        if not isinstance(current, list):
            return None
        entry = next((f for f in current if isinstance(f, dict) and f.get("field") == step), None)
        if entry is None:
            return None
        current = entry.get("fields") if entry.get("type") == "struct" else None
    return entry
