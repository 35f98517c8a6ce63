"""The named datasets: the 8x8 digits that ship with the package, MNIST, Fashion-MNIST and CIFAR-10."""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.resources
import io

import numpy as np

from .dataset import (Dataset, DatasetError, _build, _check_labels, _check_val_split, _float_dtype,
                      _stratified_test_mask, _to_float)
from .download import FileSpec, fetch, missing_files, missing_files_message
from .cifar import read_cifar_cached
from .idx import _read_idx_cached

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

_DIGITS_FILE = FileSpec("09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22", 57_523)
_DIGITS_TEST_FRACTION = 0.2
# Fixed, not the caller's seed: the digits test set must be the same for everyone.
_DIGITS_SPLIT_SEED = 1998


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    raw = (importlib.resources.files("minispectral") / "data" / "digits.csv.gz").read_bytes()
    if hashlib.sha256(raw).hexdigest() != _DIGITS_FILE.sha256:
        raise DatasetError("minispectral/data/digits.csv.gz is corrupt: reinstall minispectral "
                           f"(expected SHA-256 {_DIGITS_FILE.sha256}).")
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode("ascii")), delimiter=",",
                       dtype=np.int64)
    pixels, labels = table[:, :64], table[:, 64]
    _check_labels(labels, 10, "digits.csv.gz")
    for a in (pixels, labels):
        a.flags.writeable = False  # cached: callers get copies
    return pixels, labels


def load_digits(*, val_split: float = 0.0, seed: int = 0, dtype="float32") -> Dataset:
    """The 8x8 handwritten digits that ship with the package (UCI, CC BY 4.0).

    1,797 images with pixels 0..16, scaled to [0, 1]. The test set is a fixed
    stratified 20% (the same for every ``seed``); the validation split is
    taken from the remaining 80% with ``seed``.

    Parameters
    ----------
    val_split : float in [0, 1)
        Fraction of the training set held out for validation.
    seed : int
        Seed of the validation split.
    dtype : {"float32", "float64"}

    Returns
    -------
    Dataset
        x arrays of shape (N, 64).
    """
    dtype = _float_dtype(dtype)
    _check_val_split(val_split, seed)
    pixels, labels = _digits_arrays()
    test = _stratified_test_mask(labels, _DIGITS_TEST_FRACTION, _DIGITS_SPLIT_SEED)
    return _build("digits", _to_float(pixels[~test], 16, dtype), labels[~test],
                  _to_float(pixels[test], 16, dtype), labels[test],
                  val_split=val_split, seed=seed)


def _read_pair(name: str, prefix: str, data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one split, from the read-only cache."""
    images_path, labels_path = (
        fetch(name, f"{prefix}-{kind}", data_dir=data_dir, download=download)
        for kind in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"))
    images = _read_idx_cached(images_path.resolve())
    labels = _read_idx_cached(labels_path.resolve())
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise DatasetError(f"{images_path} and {labels_path}: expected images (N, 28, 28) and "
                           f"labels (N,), got {images.shape} and {labels.shape}")
    _check_labels(labels, 10, labels_path)
    return images, labels


def _load_idx_dataset(name, *, data_dir, val_split, seed, download, dtype) -> Dataset:
    dtype = _float_dtype(dtype)
    _check_val_split(val_split, seed)
    missing = missing_files(name, data_dir=data_dir)
    if missing and not download:
        raise DatasetError(missing_files_message(name, missing, data_dir=data_dir) + " (download=False)")
    try:
        (x, y), (x_test, y_test) = [_read_pair(name, prefix, data_dir, download) for prefix in ("train", "t10k")]
    except DatasetError as exc:
        if len(missing) < 2:
            raise
        # a failed download names its own file; the reader needs all of them
        raise DatasetError(f"{exc}\n\n" + missing_files_message(name, missing, data_dir=data_dir)) from exc
    return _build(name, _to_float(x, 255, dtype), y.astype(np.int64),
                  _to_float(x_test, 255, dtype), y_test.astype(np.int64),
                  val_split=val_split, seed=seed)


def load_mnist(*, data_dir=None, val_split: float = 0.0, seed: int = 0, download: bool = True,
               dtype="float32") -> Dataset:
    """MNIST handwritten digits: 60,000 train and 10,000 test images of 28x28.

    Parameters
    ----------
    data_dir : path-like, optional
        Directory holding (or receiving) ``mnist/<file>``; see :func:`fetch`.
    val_split : float in [0, 1)
        Fraction of the training set held out for validation, chosen with ``seed``.
    seed : int
    download : bool
        If False, raise :class:`DatasetError` instead of downloading missing files.
    dtype : {"float32", "float64"}

    Returns
    -------
    Dataset
        x arrays of shape (N, 784) in [0, 1].
    """
    return _load_idx_dataset("mnist", data_dir=data_dir, val_split=val_split, seed=seed,
                             download=download, dtype=dtype)


def load_fashion_mnist(*, data_dir=None, val_split: float = 0.0, seed: int = 0,
                       download: bool = True, dtype="float32") -> Dataset:
    """Fashion-MNIST (Zalando, MIT): 60,000 train and 10,000 test images of 28x28.

    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
    6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot. Parameters as :func:`load_mnist`.

    Returns
    -------
    Dataset
        x arrays of shape (N, 784) in [0, 1].
    """
    return _load_idx_dataset("fashion-mnist", data_dir=data_dir, val_split=val_split, seed=seed,
                             download=download, dtype=dtype)


def load_cifar10(*, data_dir=None, val_split: float = 0.0, seed: int = 0, download: bool = True,
                 dtype="float32") -> Dataset:
    """CIFAR-10 (Krizhevsky 2009): 50,000 train and 10,000 test colour images of 32x32, 10 classes.

    Read from the official binary archive ``cifar10/cifar-10-binary.tar.gz`` (170 MB, found,
    verified and downloaded like MNIST's files; see :func:`fetch`), never from the pickled
    python version.  Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog,
    7 horse, 8 ship, 9 truck.  Parameters as :func:`load_mnist`.

    Returns
    -------
    Dataset
        x arrays of shape (N, 3072) in [0, 1]: the red, green and blue planes of each image, one
        after the other (``datasets/cifar.py``).
    """
    dtype = _float_dtype(dtype)
    _check_val_split(val_split, seed)
    path = fetch("cifar10", "cifar-10-binary.tar.gz", data_dir=data_dir, download=download)
    x, y, x_test, y_test = read_cifar_cached(path)
    return _build("cifar10", _to_float(x, 255, dtype), y.copy(), _to_float(x_test, 255, dtype), y_test.copy(),
                  val_split=val_split, seed=seed)


def load_dataset(name: str, *, data_dir=None, val_split: float = 0.0, seed: int = 0,
                 download: bool = True, dtype="float32") -> Dataset:
    """Load one of :data:`DATASETS` by name (``data_dir``/``download`` are ignored for digits).

    Returns
    -------
    Dataset
    """
    key = str(name).lower().replace("_", "-")
    if key == "digits":
        return load_digits(val_split=val_split, seed=seed, dtype=dtype)
    if key in ("cifar10", "cifar-10"):
        return load_cifar10(data_dir=data_dir, val_split=val_split, seed=seed, download=download, dtype=dtype)
    if key in DATASETS:
        return _load_idx_dataset(key, data_dir=data_dir, val_split=val_split, seed=seed,
                                 download=download, dtype=dtype)
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


