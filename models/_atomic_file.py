"""Replacing a file atomically: what a killed run or a crashed machine must not corrupt.

Shared by model files (``models._model_file``) and the reproduction scripts' result files
(``scripts/_reproduction.py``).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path):
    """A binary file object whose content becomes ``path`` only once the ``with`` block ends
    normally: written to a file of its own beside ``path`` (``<name>.partial-*``, same file
    system), flushed to the disk and renamed over ``path`` (atomic on POSIX).  An exception in
    the block removes the partial file; a process killed in it leaves ``path`` as it was (and
    its partial file, which nothing reads).  A new file gets the mode a plain ``open`` would
    give it, a replaced one keeps its mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".partial-")
    try:
        # mkstemp's 0600 would make every file private to its writer
        os.fchmod(fd, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            # on the disk before the rename: a crash of the machine must not leave an empty file
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (setting and
    restoring it would race with other threads creating files, e.g. sweep workers)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover - not Linux
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover
