"""An open file's bytes: in memory up to a threshold, then in a temporary file.

Memory per open file stays bounded however large the file grows, and so does the
memory of all a task's open files together (a ``MemoryBudget``): a task holds one open
file per partition and directory, and 24 partitions' hourly files of 8 MiB each held
~190 MB in memory before any of them was due. The temporary file is anonymous, so a
killed worker leaves nothing behind. In memory the pieces are kept as written, not
copied into one buffer: the upload copies them once, into the request body.

A write is whole or not at all. The temporary file is written with ``pwrite`` and no
buffer of Python's in between, so no bytes wait anywhere to fail later (at the upload,
when they are flushed); when the disk is full (``ENOSPC``, or ``EDQUOT`` past a quota)
the part that fit is cut off again and ``SpillFull`` is raised, leaving the buffer as
it was before the write. The caller keeps the bytes and writes them again once space
returns: a full disk is waited out, not a reason to lose or tear a file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

__all__ = ["NO_SPACE", "MemoryBudget", "SpillBuffer", "SpillFull"]

READ_SIZE = 1024 * 1024

# Out of space rather than broken: it ends when someone frees space.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class SpillFull(Exception):
    """The spill directory has no room for a write; the buffer is as it was before it.
    Not an ``OSError`` on purpose: every other ``OSError`` of the directory (missing,
    not writable) is a setting to fix, this one is a wait."""

    def __init__(self, directory: str, size: int, error: OSError) -> None:
        reason = error.strerror or os.strerror(error.errno or errno.ENOSPC)
        super().__init__(
            f"{reason} in the spill directory {directory} (s3.spill.dir), {size} bytes to add"
        )
        self.directory = directory


class MemoryBudget:
    """The bytes a task's open files hold in memory together (``used``), and the most
    they may (``limit``): past it, the file being written moves to its temporary file."""

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class SpillBuffer:
    def __init__(
        self, threshold: int, directory: str | None = None, budget: MemoryBudget | None = None
    ) -> None:
        self.threshold = threshold
        self.directory = directory
        self.size = 0
        self._memory: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._budget = budget if budget is not None else MemoryBudget(threshold)

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def write(self, data: bytes) -> None:
        """Append ``data``, or raise ``SpillFull`` and leave the buffer unchanged."""
        budget = self._budget
        if self._file is not None:
            self._append(self._file, self.size, (data,), len(data))
        elif self.size + len(data) > self.threshold or budget.used + len(data) > budget.limit:
            self._spill(data)
        else:
            self._memory.append(data)
            budget.used += len(data)
        self.size += len(data)

    def _spill(self, data: bytes) -> None:
        """Move the pieces in memory and ``data`` to a new temporary file; on failure
        the file is dropped and memory keeps what it had."""
        try:
            file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
                prefix="offramp-s3-", dir=self.directory, buffering=0
            )
        except OSError as exc:
            if exc.errno in NO_SPACE:
                raise SpillFull(self._where(), len(data), exc) from exc
            raise
        try:
            self._append(file, 0, (*self._memory, data), len(data))
        except BaseException:
            file.close()
            raise
        self._file = file
        self._release()

    def _append(self, file: IO[bytes], start: int, pieces: Iterable[bytes], adding: int) -> None:
        """Write ``pieces`` at ``start``; on a full disk cut the file back to ``start``
        (the space the part that fit took is given back) and raise ``SpillFull``."""
        fd = file.fileno()
        at = start
        try:
            for piece in pieces:
                view = memoryview(piece)
                while view:  # a nearly full disk may take part of it
                    done = os.pwrite(fd, view, at)
                    at += done
                    view = view[done:]
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            os.ftruncate(fd, start)
            raise SpillFull(self._where(), adding, exc) from exc

    def _where(self) -> str:
        return self.directory or tempfile.gettempdir()

    def chunks(self, size: int = READ_SIZE) -> Iterator[bytes | memoryview]:
        """The whole content in order: the pieces as written while in memory, reads of
        ``size`` bytes once spilled."""
        if self._file is None:
            yield from self._memory
            return
        fd, at, end = self._file.fileno(), 0, self.size
        while at < end:
            piece = os.pread(fd, min(size, end - at), at)
            if not piece:
                raise OSError(errno.EIO, f"the spilled file ends at {at} of {end} bytes")
            at += len(piece)
            yield piece

    def _release(self) -> None:
        """Give the in-memory pieces' bytes back to the budget."""
        self._budget.used -= sum(map(len, self._memory))
        self._memory = []

    def close(self) -> None:
        self._release()
        if self._file is not None:
            self._file.close()
            self._file = None
