"""Atomic file writes: a file this library writes is either the old one or the complete new one.

The content goes to a temporary file in the target's folder (so the final rename never crosses
file systems), is flushed to disk, and is renamed over the target only when complete. An
interrupted write, even by Ctrl-C, leaves the previous file intact and no temporary behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = "w"):
    """Open a temporary file for writing (``mode`` "w" or "wb"); on a clean exit it replaces ``path``.

    The new file gets the permissions of any newly created file (0666 less the umask), not the
    private 0600 of a temporary file: models, results and figures are meant to be shared.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> Path:
    """``Path(path).write_text(text)``, atomically."""
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: set it straight back
    os.umask(mask)
    return mask
