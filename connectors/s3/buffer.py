"""An open file's bytes: in memory up to a threshold, then in a temporary file.

Memory per open file stays bounded however large the file grows, and so does the
memory of all a task's open files together (a ``MemoryBudget``): a task holds one open
file per partition and directory, and 24 partitions' hourly files of 8 MiB each held
~190 MB in memory before any of them was due. The temporary file is anonymous, so a
killed worker leaves nothing behind. In memory the pieces are kept as written, not
copied into one buffer: the upload copies them once, into the request body.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = ["MemoryBudget", "SpillBuffer"]

READ_SIZE = 1024 * 1024


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
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._memory.append(data)
        budget = self._budget
        budget.used += len(data)
        if self.size > self.threshold or budget.used > budget.limit:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
                prefix="offramp-s3-", dir=self.directory, buffering=READ_SIZE
            )
            self._file.writelines(self._memory)
            self._release()

    def chunks(self, size: int = READ_SIZE) -> Iterator[bytes | memoryview]:
        """The whole content in order: the pieces as written while in memory, reads of
        ``size`` bytes once spilled."""
        if self._file is None:
            yield from self._memory
            return
        self._file.flush()
        self._file.seek(0)
        while piece := self._file.read(size):
            yield piece
        self._file.seek(0, 2)  # later writes append again

    def _release(self) -> None:
        """Give the in-memory pieces' bytes back to the budget."""
        self._budget.used -= sum(map(len, self._memory))
        self._memory = []

    def close(self) -> None:
        self._release()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = []
