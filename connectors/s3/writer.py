"""The ``s3`` writer: records into open files, rotated files into objects, exactly once.

``write`` places each record in its segment's open file and seals segments at the
deterministic rotation points (see ``intake`` and ``files``). Sealed segments are
uploaded in the background, ``s3.upload.concurrency`` at once, while the next batches are
read and encoded; a ``write`` waits only when more than that many are still uploading
(the oldest first), and raises
the first upload failure it finds (as the ``SinkError`` it is: transient ones are
retried with backoff, and the retry uploads the failed segment right in the ``write``).
Open files are not durable, so ``pre_commit`` waits for the uploads in flight and lets
the runtime commit a partition only up to the start offset of its oldest segment not yet
in S3; after a crash, a rebalance or a clean stop, consumption resumes there and
rebuilds the same files. A full spill directory is a wait, not a loss: the bytes that
found no room stay in memory (one batch at most: the runtime retries the same records),
the write raises ``RetriableError`` naming the directory, and its retries write them
out once space returns (see ``buffer``). With conditional writes, a partition just
opened first looks for objects other writers stored from where it resumes (see
``uploads``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from offramp import (
    BatchWriter,
    FatalError,
    RecordFailure,
    RetriableError,
    SinkError,
    SinkRecord,
    TopicPartition,
)
from offramp.connectors.s3.buffer import SpillFull
from offramp.connectors.s3.compression import create_compression
from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.files import PartitionFiles, Segment
from offramp.connectors.s3.formats import create_format
from offramp.connectors.s3.intake import RecordIntake
from offramp.connectors.s3.uploader import ObjectStore
from offramp.connectors.s3.uploads import SegmentUploader

__all__ = ["S3Writer"]


class S3Writer(BatchWriter):
    # JSON lines store a value's JSON text as consumed (see formats.JsonFormat).
    stores_json_text = True
    # An object's latency is set by its rotation (flush.size, rotate.interval.ms), not by
    # how soon records reach the buffer: fuller batches cost less and change nothing.
    fills_batches = True

    def __init__(
        self,
        config: S3SinkConfig,
        store: ObjectStore,
        logger: logging.Logger | None = None,
        topics_may_change: bool = True,
        uploads_in_flight: int | None = None,
        on_write_refused: Callable[[int], None] | None = None,
    ) -> None:
        """``topics_may_change``: False when no transform can rename a record's topic,
        so the Kafka topic is used without asking each record. ``uploads_in_flight``:
        sealed segments a write leaves uploading behind it (0: wait for all; default
        ``s3.upload.concurrency``). Each holds its files' buffers until stored.
        ``on_write_refused``: told of each upload refused because the key was taken
        (``TaskContext.write_refused``)."""
        self.config = config
        self.log = logger or logging.getLogger("offramp.connector.s3")
        self.format = create_format(config)
        compression = create_compression(
            config.s3_compression_type, config.s3_compression_level, self.format.compressible
        )
        self.uploader = SegmentUploader(
            store,
            self.format,
            compression,
            config.topics_dir,
            self.log,
            concurrency=config.s3_upload_concurrency,
            on_refused=on_write_refused,
        )
        self.uploads_in_flight = (
            config.s3_upload_concurrency if uploads_in_flight is None else uploads_in_flight
        )
        self._partitions: dict[TopicPartition, PartitionFiles] = {}
        self._intake = RecordIntake(
            config,
            self.format,
            self._partitions,
            topics_may_change,
            probe=self.uploader.existing_end,
        )
        # Failures found but not yet returned (a write that then failed to upload
        # returns them on its retry, so none is lost).
        self._failures: list[RecordFailure] = []
        self._in_flight: deque[tuple[TopicPartition, Segment]] = deque()  # submission order

    @property
    def objects_written(self) -> int:
        return self.uploader.objects_written

    @property
    def writes_refused(self) -> int:
        return self.uploader.writes_refused

    # ----- the BatchWriter contract ---------------------------------------------------

    def open(self, partitions: Sequence[TopicPartition]) -> Mapping[TopicPartition, int] | None:
        for tp in partitions:
            self._discard(tp)
            self._partitions[tp] = PartitionFiles(
                f"partition={tp.partition}", probing=self.config.s3_conditional_writes
            )
        return None  # resume from the group's committed offsets: pre_commit kept them safe

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        try:
            full: SpillFull | None = None
            try:
                self._intake.take(records, self._failures)
            except SpillFull as exc:
                full = exc
            # Even when the disk is full: each upload that finishes frees its files' space.
            unflushed = self._start_uploads()
            self._raise_upload_failure()
            full = full or unflushed
            if full is not None:
                raise RetriableError(
                    f"cannot buffer records: {full}; retrying until space returns (the "
                    "records wait in memory, uncommitted)"
                ) from full
        except SinkError:
            raise
        except OSError as exc:
            where = self.config.s3_spill_dir or "the temporary directory"
            raise FatalError(f"cannot buffer records in {where}: {exc}") from exc
        except Exception as exc:
            # Not a per-batch refusal: a bisected retry would skip records already taken
            # in, so fail the task and let it resume from the committed offsets instead.
            raise FatalError(f"s3 writer failed unexpectedly: {exc!r}") from exc
        failures, self._failures = self._failures, []
        return failures

    def pre_commit(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, int]:
        failure = self._check_background_uploads()
        if failure is not None:
            raise failure  # tried again behind; the task says why until it is stored
        safe: dict[TopicPartition, int] = {}
        for tp, offset in offsets.items():
            files = self._partitions.get(tp)
            oldest = files.oldest_unstored() if files is not None else None
            safe[tp] = offset if oldest is None else min(offset, oldest)
        return safe

    def close(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._discard(tp)

    def stop(self) -> None:
        for tp in list(self._partitions):
            self._discard(tp)
        self.uploader.close()

    # ----- storing sealed segments ----------------------------------------------------

    def _start_uploads(self) -> SpillFull | None:
        """Upload what was sealed: in the background, except segments that failed before,
        which are retried right here so the runtime's backoff paces an outage. A segment
        is written out to its buffers first; one the spill directory has no room for
        waits (the first such ``SpillFull`` is returned) while the others go."""
        full: SpillFull | None = None
        for tp, files in self._partitions.items():
            for segment in files.sealed:
                if segment.stored or segment.upload is not None:
                    continue
                try:
                    segment.flush()
                except SpillFull as exc:
                    full = full or exc
                    continue
                if segment.attempts:
                    self.uploader.store_now(tp.partition, segment)
                    continue
                self.uploader.submit(tp.partition, segment)
                self._in_flight.append((tp, segment))
            files.drop_stored()
        return full

    def _finish_uploads(self, keep: int) -> list[tuple[TopicPartition, Segment, SinkError]]:
        """Collect finished uploads, waiting for the oldest while more than ``keep`` are
        in flight; return the failed ones (they will be tried again)."""
        failed: list[tuple[TopicPartition, Segment, SinkError]] = []
        in_flight = self._in_flight
        while in_flight:
            tp, segment = in_flight[0]
            upload = segment.upload
            if upload is not None and not upload.done() and len(in_flight) <= keep:
                # Later ones may be done already (several threads upload): they are
                # collected once the oldest is, which is all a commit can use anyway.
                break
            in_flight.popleft()
            error = self.uploader.outcome(segment, wait=True)
            if error is not None:
                failed.append((tp, segment, error))
        for files in self._partitions.values():
            files.drop_stored()
        return failed

    def _raise_upload_failure(self) -> None:
        """End of a write: leave a few uploads going behind the next batches; the first
        failure found is raised, so the runtime retries this write (which retries it)."""
        failed = self._finish_uploads(keep=self.uploads_in_flight)
        if failed:
            raise failed[0][2]

    def _check_background_uploads(self) -> RetriableError | None:
        """Before a commit: wait for every upload in flight so the commit covers them; a
        failed one is tried again behind (an idle task retries at the commit cadence)
        unless it is fatal."""
        first: RetriableError | None = None
        for tp, segment, error in self._finish_uploads(keep=0):
            if not isinstance(error, RetriableError):
                raise error
            self.log.warning("upload failed, trying again: %s", error)
            self.uploader.submit(tp.partition, segment)
            self._in_flight.append((tp, segment))
            first = first or error
        return first

    def _discard(self, tp: TopicPartition) -> None:
        files = self._partitions.pop(tp, None)
        if files is not None:
            for segment in files.sealed:
                self.uploader.settle(segment)  # never close buffers under a running upload
            self._in_flight = deque(item for item in self._in_flight if item[0] != tp)
            files.close()
        self._failures = [f for f in self._failures if f.record.topic_partition != tp]
