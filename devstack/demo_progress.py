"""What the demo shows while it runs and when it ends: each connector's count of
records written rising, then a summary table and where to look.

The counts come from the workers themselves (``GET /metrics`` and ``/connectors``), the
way an operator would read them, so the demo needs nothing from the sections for this.
Each worker's ``/metrics`` counts its own tasks only: on a cluster the counts are summed
over the workers' URLs.
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict

import httpx

__all__ = ["Progress", "summary_table"]

_SAMPLE = re.compile(r'^(offramp_sink_record_\w+_total)\{connector="([^"]+)"[^}]*\} (\S+)$', re.M)


def counts(*urls: str) -> dict[str, dict[str, int]]:
    """``{connector: {"written": n, "dead_lettered": n, "read": n}}`` from ``/metrics``,
    summed over the workers at ``urls`` (one that doesn't answer counts nothing)."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    text = ""
    for url in urls:
        try:
            text += httpx.get(f"{url}/metrics", timeout=5).text + "\n"
        except httpx.HTTPError:
            continue
    names = {
        "offramp_sink_record_send_total": "written",
        "offramp_sink_record_dead_lettered_total": "dead_lettered",
        "offramp_sink_record_read_total": "read",
    }
    for metric, connector, value in _SAMPLE.findall(text):
        if metric in names:
            found[connector][names[metric]] += int(float(value))
    return {name: dict(values) for name, values in found.items()}


class Progress:
    """One line per tick with every connector's records written so far; on a terminal
    the line is redrawn in place, elsewhere (CI logs) one is printed every few seconds."""

    def __init__(self, *urls: str, every: float = 2.0) -> None:
        self.urls = urls
        self.every = every if sys.stdout.isatty() else 5.0
        self._last = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        found = counts(*self.urls)
        if not found:
            return
        line = "  written: " + " · ".join(
            f"{name} {found[name].get('written', 0)}" for name in sorted(found)
        )
        if sys.stdout.isatty():
            print("\r" + line[:200].ljust(120), end="", flush=True)
        else:
            print(line, flush=True)

    def done(self) -> None:
        if sys.stdout.isatty():
            print(flush=True)


def summary_table(*urls: str) -> str:
    """Connector, state, records read, written and dead-lettered, as the workers say
    (the state from the first: any worker answers for the whole cluster)."""
    found = counts(*urls)
    try:
        status = httpx.get(f"{urls[0]}/connectors", params={"expand": "status"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        status = {}
    rows = [["CONNECTOR", "STATE", "READ", "WRITTEN", "DEAD-LETTERED"]]
    for name in sorted(set(found) | set(status)):
        state = status.get(name, {}).get("status", {}).get("connector", {}).get("state", "?")
        values = found.get(name, {})
        rows.append(
            [
                name,
                state,
                str(values.get("read", 0)),
                str(values.get("written", 0)),
                str(values.get("dead_lettered", 0)),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 or i == 1 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )
