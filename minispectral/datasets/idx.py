"""The IDX file format of MNIST and Fashion-MNIST: gzipped unsigned bytes behind a small header."""
from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .dataset import DatasetError

# IDX magic = 0x0000 + type byte (0x08: unsigned byte) + number of dimensions.
_IDX_NDIM = {2049: 1, 2051: 3}  # labels (N,), images (N, rows, cols)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (the MNIST format), gzipped (``.gz``) or unpacked.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ndarray of uint8
        Shape ``(N,)`` for labels (magic 2049) or ``(N, rows, cols)`` for
        images (magic 2051). Read-only: it is a view of the decompressed bytes.

    Raises
    ------
    DatasetError
        Not gzip (a ``.gz`` file), truncated, wrong magic number, or wrong length for its header.
    """
    try:
        with (gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")) as f:
            raw = f.read()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:  # not the file's content
        raise DatasetError(f"{path}: cannot read it ({exc.strerror})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot decompress ({exc})") from exc
    if not raw:
        raise DatasetError(f"{path}: empty after decompression, expected an IDX header and data")
    magic = struct.unpack_from(">I", raw)[0] if len(raw) >= 4 else None
    if magic not in _IDX_NDIM:
        raise DatasetError(f"{path}: IDX magic number is {magic}, expected 2049 (labels) "
                           "or 2051 (images)")
    ndim = _IDX_NDIM[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    shape = struct.unpack_from(f">{ndim}I", raw, 4)
    expected = header + math.prod(shape)
    if len(raw) != expected:
        raise DatasetError(f"{path}: {len(raw)} bytes after decompression, expected {expected} "
                           f"for shape {shape} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


@functools.lru_cache(maxsize=8)  # the 4 files of both MNIST datasets
def _read_idx_cached(resolved_path: Path) -> np.ndarray:
    return read_idx(resolved_path)


