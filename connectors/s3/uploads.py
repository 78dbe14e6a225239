"""Storing sealed segments: each of their files becomes one object.

Uploads run on background threads so the task keeps consuming and encoding while the
previous files travel (boto3 waits on the socket without the GIL). More than one thread
pays even for a single Kafka partition: while the store takes in one object, the next
one's request is being signed and checksummed here. The writer decides
when to wait for them; this module only knows how to store a segment, in the
background or right here, and what a finished upload's outcome was.

With conditional writes a key that is taken is never written again (``ObjectExists``).
What the object there holds is read from its end offset: the same end as ours means the
same records (a redelivered range some writer — another task, an earlier run, a zombie —
stored already), so ours counts as stored. Any other end means its segment was cut
elsewhere: the task fails, restarts from its committed offset, and rebuilds its segments
around the objects it finds (``existing_end``, and the limits in ``files``), so nothing
is overwritten and no record is left out or stored twice. An object without the metadata
(an older offramp) counts as ours only when it has the same size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from offramp import FatalError, RetriableError, SinkError
from offramp.connectors.s3.compression import Compression
from offramp.connectors.s3.files import OpenFile, Segment
from offramp.connectors.s3.formats import RecordFormat
from offramp.connectors.s3.naming import object_key
from offramp.connectors.s3.uploader import END_OFFSET, ObjectExists, ObjectStore

__all__ = ["SegmentUploader"]


class SegmentUploader:
    def __init__(
        self,
        store: ObjectStore,
        record_format: RecordFormat,
        compression: Compression,
        topics_dir: str,
        logger: logging.Logger,
        concurrency: int = 1,
        on_refused: Callable[[int], None] | None = None,
    ) -> None:
        """``on_refused`` hears of each conditional write refused (the task's
        ``TaskContext.write_refused``, so the worker's metrics count it)."""
        self.store = store
        self.format = record_format
        self.compression = compression
        self.topics_dir = topics_dir
        self.extension = record_format.extension + compression.extension
        self.log = logger
        self.concurrency = concurrency
        self.objects_written = 0
        self.writes_refused = 0  # conditional writes the store refused: the key was taken
        self._on_refused = on_refused
        self._counting = threading.Lock()  # uploads finish on several threads
        self._pool: ThreadPoolExecutor | None = None

    def key(self, kafka_partition: int, file: OpenFile) -> str:
        return object_key(
            self.topics_dir,
            file.topic,
            file.encoded_partition,
            kafka_partition,
            file.start_offset,
            self.extension,
        )

    def store_now(self, kafka_partition: int, segment: Segment) -> None:
        """Upload every file of ``segment`` not yet stored; raise a ``SinkError`` if one
        fails (the files already stored stay stored and are skipped next time)."""
        segment.attempts += 1
        for file in segment.files.values():
            if file.uploaded:
                continue
            key = self.key(kafka_partition, file)
            body = self.compression.compress(self.format.render(file.buffer.chunks(), file.schema))
            metadata = {END_OFFSET: str(segment.end_offset)}
            try:
                self.store.put(key, body, self.format.content_type, metadata)
            except ObjectExists as exists:
                with self._counting:
                    self.writes_refused += 1
                if self._on_refused is not None:
                    self._on_refused(1)
                self._taken(exists, segment)
            except SinkError:
                raise
            except OSError as exc:
                raise FatalError(f"cannot read back the buffered file for {key}: {exc}") from exc
            file.uploaded = True
            file.buffer.close()
            with self._counting:
                self.objects_written += 1
            self.log.debug("stored %s (%d records)", key, file.records)
        segment.stored = True

    def _taken(self, exists: ObjectExists, segment: Segment) -> None:
        """The store kept another object at our key: return if it holds what ours does,
        else raise (never overwrite it)."""
        key, ours = exists.key, segment.end_offset
        found = self.store.head(key)
        if found is None:  # deleted since the refusal: the next attempt may write it
            raise RetriableError(f"{key} was refused as existing, then not found; retrying")
        if found.end_offset == ours:
            self.log.info(
                "%s was stored already with offsets %d..%d (by another task or an earlier "
                "run): kept, not written again",
                key,
                segment.start_offset,
                ours - 1,
            )
            return
        if found.end_offset is None:
            if found.size == exists.size:
                self.log.warning(
                    "%s was stored already without %s metadata (an older offramp); it has "
                    "the size of ours, offsets %d..%d: kept as ours",
                    key,
                    END_OFFSET,
                    segment.start_offset,
                    ours - 1,
                )
                return
            raise FatalError(
                f"{key} is stored already, without {END_OFFSET} metadata (an older "
                f"offramp) and with {found.size} bytes, not the {exists.size} of offsets "
                f"{segment.start_offset}..{ours - 1}: it is not overwritten. Check what it "
                "holds and delete it, or set s3.conditional.writes=false to overwrite it"
            )
        raise FatalError(
            f"{key} is stored already with offsets {segment.start_offset}.."
            f"{found.end_offset - 1}, by another task or an earlier run (ours: "
            f"{segment.start_offset}..{ours - 1}); it is not overwritten: the task restarts "
            "from its committed offsets and rebuilds its files around it"
        )

    def existing_end(self, kafka_partition: int, file: OpenFile) -> int | None:
        """End offset of the object already stored at ``file``'s key, if any; None when
        there is none, it has no end offset, or the store can't tell right now (the
        conditional upload still refuses to overwrite it)."""
        key = self.key(kafka_partition, file)
        try:
            found = self.store.head(key)
        except SinkError as exc:
            self.log.warning("could not look for an object at %s: %s", key, exc)
            return None
        if found is None:
            return None
        self.log.info("%s is stored already, up to offset %s", key, found.end_offset)
        return found.end_offset

    def submit(self, kafka_partition: int, segment: Segment) -> None:
        """Store ``segment`` on the background thread; see ``outcome``."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix="s3-upload"
            )
        segment.upload = self._pool.submit(self.store_now, kafka_partition, segment)

    @staticmethod
    def outcome(segment: Segment, wait: bool) -> SinkError | None:
        """Look at a submitted upload (waiting for it if ``wait``): None while running or
        once stored; the error if it failed, after which it can be submitted again."""
        upload = segment.upload
        if upload is None or not (wait or upload.done()):
            return None
        error = upload.exception()
        segment.upload = None
        if error is None:
            return None
        if isinstance(error, SinkError):
            return error
        return FatalError(f"uploading failed unexpectedly: {error!r}")

    @staticmethod
    def settle(segment: Segment) -> None:
        """Let an upload in flight finish before its buffers are closed; its result no
        longer matters (the partition is gone or the task is stopping)."""
        upload: Future[None] | None = segment.upload
        if upload is not None:
            upload.exception()
            segment.upload = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.store.close()
