"""The Kafka Connect ``.properties`` files under configs/kafka-connect/, read by offramp's
own reader (the one ``offramp standalone`` uses)."""

from __future__ import annotations

from pathlib import Path

from offramp.properties import read_properties

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "kafka-connect"

__all__ = ["CONFIGS", "read_properties"]
