"""One Git working clone per worker process: the first free ``<base>``, ``<base>-2``, ... held by a lock.

Two workers on one host (or one container volume) must not share a clone: each commits and pushes from its
own. The lock is an ``flock`` on ``<dir>.lock``, so a killed worker's clone is free again at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

MAX_CLONES = 64


class WorkDirBusy(RuntimeError):
    """Every candidate clone directory is held by another process."""


class ExclusiveWorkDir:
    """Holds the lock of one clone directory for the life of the process (or until ``release``)."""

    def __init__(self, base: Path | str) -> None:
        self.base = Path(base)
        self.path: Path | None = None
        self._lock_file: IO[bytes] | None = None

    def acquire(self) -> Path:
        """Lock the first free candidate and return its path (created if missing)."""
        self.base.parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, MAX_CLONES + 1):
            path = self.base if n == 1 else self.base.with_name(f"{self.base.name}-{n}")
            handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held until release()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            os.ftruncate(handle.fileno(), 0)
            handle.write(str(os.getpid()).encode())
            handle.flush()
            self._lock_file, self.path = handle, path
            return path
        raise WorkDirBusy(f"all {MAX_CLONES} Git work directories under {self.base.parent} are in use")

    def release(self) -> None:
        """Unlock (closing the lock file releases the flock)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
