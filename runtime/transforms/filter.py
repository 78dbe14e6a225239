"""``Filter``: drops every record it is applied to.

On its own it drops everything; guarded by a predicate it drops the records that match
(or, with ``negate=true``, those that don't), e.g. keep only one CloudEvent type.
"""

from __future__ import annotations

from offramp.records import SinkRecord
from offramp.transforms.base import Transformation

__all__ = ["Filter"]


class Filter(Transformation):
    """Drops the record."""

    def apply(self, record: SinkRecord) -> SinkRecord | None:
        return None
