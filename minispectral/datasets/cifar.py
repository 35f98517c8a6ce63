"""The CIFAR-10 binary format: one gzipped tar of fixed-size records, read without unpickling.

``cifar-10-binary.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html) holds
``cifar-10-batches-bin/data_batch_1.bin`` … ``data_batch_5.bin`` (the 50,000 training images) and
``test_batch.bin`` (10,000).  Each record is 3,073 bytes: the label (0–9), then the 32×32 red
plane, the green plane and the blue plane, each row by row.  The "python version" of the same
data is a set of pickles, which can run code when loaded: it is never read here.

A row of ``x`` keeps the file's order, the three planes one after the other.  The authors' code
flattens each pixel's three channels next to each other instead (paper.md §7): a fixed permutation
of the 3,072 inputs, which changes nothing for a fully connected network.
"""
from __future__ import annotations

import functools
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import DatasetError

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
RECORD_BYTES = 1 + 3 * 32 * 32


def read_cifar_records(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3072) and labels (N,) from the bytes of one ``*.bin`` batch file."""
    if not raw or len(raw) % RECORD_BYTES:
        raise DatasetError(f"{name}: {len(raw)} bytes, expected a positive multiple of {RECORD_BYTES} "
                           "(one label byte and 3,072 pixel bytes per image)")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() > 9:
        raise DatasetError(f"{name}: label {int(labels.max())} found, expected labels 0..9")
    return records[:, 1:], labels


def read_cifar_archive(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) as uint8 arrays, images (N, 3072), from ``cifar-10-binary.tar.gz``.

    Raises
    ------
    DatasetError
        Not a gzipped tar, a batch file missing (the pickled "python version" among them), or a
        batch file of the wrong length or with a label outside 0..9.
    """
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {m.name: m for m in archive.getmembers() if m.isfile()}
            parts = {}
            for split, files in (("train", TRAIN_FILES), ("test", TEST_FILES)):
                images, labels = [], []
                for file in files:
                    member = members.get(f"{FOLDER}/{file}")
                    if member is None:
                        raise DatasetError(f"{path}: {FOLDER}/{file} is missing; expected the binary version of "
                                           "CIFAR-10, cifar-10-binary.tar.gz (the python version, pickles, is "
                                           "not read)")
                    x, y = read_cifar_records(archive.extractfile(member).read(), f"{path}: {FOLDER}/{file}")
                    images.append(x)
                    labels.append(y)
                parts[split] = (np.concatenate(images), np.concatenate(labels).astype(np.int64))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:  # not the file's content
        raise DatasetError(f"{path}: cannot read it ({exc.strerror})") from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read it as a gzipped tar ({exc})") from exc
    arrays = (*parts["train"], *parts["test"])
    for a in arrays:
        a.flags.writeable = False  # cached: the loader returns copies
    return arrays


@functools.lru_cache(maxsize=1)  # 180 MB of pixels: one archive at a time
def _read_cifar_cached(resolved_path: Path, identity: tuple):
    return read_cifar_archive(resolved_path)


def read_cifar_cached(path: Path):
    """``read_cifar_archive``, kept in memory until the file changes."""
    st = path.stat()
    return _read_cifar_cached(path.resolve(), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
