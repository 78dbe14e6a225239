"""What every demo section shares: the ``DemoContext`` it is handed and the
``DemoSection`` protocol it follows. ``devstack.demo`` runs the sections; each
``devstack.demo_*`` module defines one and needs only this module, so none of them
imports the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devstack.generator import CALL_COMPLETED, Event

__all__ = ["DemoContext", "DemoSection"]


@dataclass
class DemoContext:
    bootstrap: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def completed(self) -> list[Event]:
        return [e for e in self.events if e.ce_type == CALL_COMPLETED]


class DemoSection(Protocol):
    title: str

    def setup(self, ctx: DemoContext) -> None: ...
    def ready(self, ctx: DemoContext) -> bool: ...
    def report(self, ctx: DemoContext) -> str: ...
    def teardown(self) -> None: ...
