"""Open files, grouped per Kafka partition into segments that rotate together.

A *segment* is everything one Kafka partition has read since its last rotation: one open
file per (topic, encoded partition) it touched. The segment rotates as a whole — after
``flush.size`` records, or when ``rotate.interval.ms`` of record time has passed — so a
rotation point is always an offset at which *no* file of that partition is open. That is
what makes redelivery deterministic: restarting from the oldest segment not yet stored
rebuilds exactly the files the crashed run had open, with the same names and the same
contents, while everything before it is already in S3.

A segment may also be given a *limit* when it starts: the end offset of an object some
other writer already stored under the key its first file will have (see ``intake``).
Such a segment ignores ``flush.size`` and ``rotate.interval.ms`` and ends exactly before
the limit, so it rebuilds that writer's segment — the same keys over the same records —
rather than one that overlaps it.

Records reach a file's buffer in two steps: placed in ``pending`` (memory, one append
per record), then written to the buffer once per write (``flush``). Only the second
touches the disk, and a full disk (``SpillFull``) leaves the bytes in ``pending`` for
the next try; sealing a segment never writes, so a rotation can't be lost half-way
through a batch. A sealed segment is flushed right before it is uploaded.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from offramp.connectors.s3.buffer import SpillBuffer, SpillFull

__all__ = ["OpenFile", "PartitionFiles", "Segment"]


@dataclass(eq=False)
class OpenFile:
    topic: str
    encoded_partition: str
    start_offset: int
    buffer: SpillBuffer
    records: int = 0
    uploaded: bool = False
    # The records' schema in formats whose files hold one (Avro, Parquet); see
    # RecordFormat.schema_of.
    schema: Any = None
    # Records of the current write, joined into the buffer once per write: one append
    # per record is all the hot path pays.
    pending: list[bytes] = field(default_factory=list)

    def flush(self) -> None:
        """Move ``pending`` into the buffer; on ``SpillFull`` it stays, joined, to be
        written again (a whole write or none: see ``SpillBuffer``)."""
        if self.pending:
            data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
            self.pending[:] = [data]
            self.buffer.write(data)
            self.pending.clear()


@dataclass(eq=False)
class Segment:
    start_offset: int
    base_timestamp: int
    records: int = 0
    end_offset: int = 0  # one past the offset of its last record
    limit: int | None = None  # ends before this offset, whatever the rotation rules say
    last_encoded: str = ""
    last_file: OpenFile | None = None
    files: dict[tuple[str, str], OpenFile] = field(default_factory=dict)
    upload: Future[None] | None = None  # in flight (or finished, not yet looked at)
    attempts: int = 0
    stored: bool = False

    def flush(self) -> None:
        """Every file's ``pending`` into its buffer; raises the first ``SpillFull`` after
        trying them all (each that fit is written)."""
        full: SpillFull | None = None
        for file in self.files.values():
            try:
                file.flush()
            except SpillFull as exc:
                full = full or exc
        if full is not None:
            raise full

    def close(self) -> None:
        for file in self.files.values():
            file.buffer.close()
            file.pending.clear()


@dataclass(eq=False)
class PartitionFiles:
    """One Kafka partition's state in the writer."""

    default_directory: str
    # Offsets below this were taken in already (buffered, stored or failed): a write
    # retried after a transient error must not add them twice.
    next_offset: int = -1
    # Ask the store for an object at the key of each new segment's first file, until
    # one isn't there: set when the partition is opened, as what another writer left
    # behind is found from where reading resumes.
    probing: bool = False
    current: Segment | None = None
    sealed: deque[Segment] = field(default_factory=deque)  # rotated, not yet stored

    def seal(self) -> Segment | None:
        """Close the current segment for writing; it waits in ``sealed`` for upload (and
        is flushed then: sealing never touches the disk, so it can't fail)."""
        segment, self.current = self.current, None
        if segment is None or not segment.records:
            return None
        self.sealed.append(segment)
        return segment

    def drop_stored(self) -> None:
        while self.sealed and self.sealed[0].stored:
            self.sealed.popleft().close()

    def oldest_unstored(self) -> int | None:
        """Start offset of the oldest segment not yet fully in S3, if any."""
        for segment in self.sealed:
            if not segment.stored:
                return segment.start_offset
        return self.current.start_offset if self.current is not None else None

    def close(self) -> None:
        for segment in self.sealed:
            segment.close()
        self.sealed.clear()
        if self.current is not None:
            self.current.close()
            self.current = None
