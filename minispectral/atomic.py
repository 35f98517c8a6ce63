"""Atomic file writes: a file this library writes is either the old one or the complete new one.

The content goes to a temporary file in the target's folder (so the final rename never crosses
file systems), is flushed to disk, and is renamed over the target only when complete. An
interrupted write, even by Ctrl-C, leaves the previous file intact and no temporary behind.
"""
from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = "w"):
    """Open a temporary file for writing (``mode`` "w" or "wb"); on a clean exit it replaces ``path``.

    The result has the permissions the file had, or, for a new file, those of any newly created
    file (0666 less the umask), not the private 0600 of a temporary file: models, results and
    figures are meant to be shared. A symbolic link is written through: its target is replaced,
    and the link stays. Text is written as UTF-8, and ``~`` in ``path`` is the home folder.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path).expanduser()
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        permissions = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        permissions = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # its message would name the temporary file, which the caller never asked for
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc  # names path once
    try:
        # UTF-8 whatever the locale: the studies' tables hold →, ± and ρ
        with os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> Path:
    """``Path(path).write_text(text)``, atomically."""
    with atomic_write(path) as f:
        f.write(text)
    return Path(path).expanduser()


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``).

    Elsewhere the only way to read it is to set it and set it back, which another thread creating a
    file at that instant would see; so that is done once, at the first write, and remembered.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _umask_by_setting_it()


@functools.cache
def _umask_by_setting_it() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
