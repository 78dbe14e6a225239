"""An open file's bytes: in memory up to a threshold, then in a temporary file.

Memory per open file stays bounded however large the file grows (a field partitioner
may hold hundreds open at once). The temporary file is anonymous, so a killed worker
leaves nothing behind. In memory the pieces are kept as written, not copied into one
buffer: the upload copies them once, into the request body.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = ["SpillBuffer"]

READ_SIZE = 1024 * 1024


class SpillBuffer:
    def __init__(self, threshold: int, directory: str | None = None) -> None:
        self.threshold = threshold
        self.directory = directory
        self.size = 0
        self._memory: list[bytes] = []
        self._file: IO[bytes] | None = None

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._memory.append(data)
        if self.size > self.threshold:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
                prefix="offramp-s3-", dir=self.directory, buffering=READ_SIZE
            )
            self._file.writelines(self._memory)
            self._memory = []

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

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = []
