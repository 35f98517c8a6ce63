"""The Dataset container, its error type, and the splits every loader shares."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np


class DatasetError(RuntimeError):
    """A data file is missing, corrupt, or could not be downloaded."""

    def _render_traceback_(self) -> list[str]:
        """How IPython and Jupyter show it: the message alone, which says what to do, without a
        screen of coloured frames from inside the loader above it."""
        return [f"DatasetError: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field by field is ambiguous
class Dataset:
    """A classification dataset split into train, optional validation, and test.

    Attributes
    ----------
    name : str
    x_train, x_val, x_test : ndarray, shape (N, D)
        Float features, C-contiguous; images are scaled to [0, 1].
    y_train, y_val, y_test : ndarray, shape (N,)
        int64 labels in ``0..n_classes-1``. ``x_val``/``y_val`` are None
        when no validation split was asked for.
    n_classes : int
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    n_classes: int = 10

    def __post_init__(self):
        if (self.x_val is None) != (self.y_val is None):
            raise ValueError("x_val and y_val must both be arrays or both be None")
        if not isinstance(self.n_classes, numbers.Integral) or isinstance(self.n_classes, bool) or self.n_classes < 1:
            raise ValueError(f"n_classes must be a positive integer, got {self.n_classes!r}")
        splits = (("train", self.x_train, self.y_train), ("val", self.x_val, self.y_val),
                  ("test", self.x_test, self.y_test))
        for split, x, y in splits:
            if x is None:
                continue
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
                raise TypeError(f"{split} split: expected NumPy arrays, got {type(x).__name__} and {type(y).__name__}")
            if x.dtype.kind != "f" or y.dtype.kind not in "iu":
                raise TypeError(f"{split} split: expected float features and integer labels, "
                                f"got dtypes {x.dtype} and {y.dtype}")
            n_features = self.x_train.shape[1] if self.x_train.ndim == 2 else "D"
            if x.ndim != 2 or x.shape[1:] != self.x_train.shape[1:] or y.shape != x.shape[:1]:
                raise ValueError(f"{split} split: expected x of shape (N, {n_features}) and y of "
                                 f"shape (N,), got {x.shape} and {y.shape}")
            _check_labels(y, self.n_classes, f"{split} split", error=ValueError)
            if x.dtype not in (np.float32, np.float64) or x.dtype != self.x_train.dtype:
                raise TypeError(f"{split} split: expected float32 or float64 features, the same in every split, "
                                f"got {x.dtype} (the train split's are {self.x_train.dtype})")
            # the contract above, kept for hand-built datasets too: C order and int64 labels (copies only
            # where the given arrays differ)
            object.__setattr__(self, f"x_{split}", np.ascontiguousarray(x))
            object.__setattr__(self, f"y_{split}", y.astype(np.int64, copy=False))

    @property
    def n_features(self) -> int:
        """Number of features D per sample."""
        return self.x_train.shape[1]

    def summary(self) -> str:
        """One line, e.g. ``digits: 1438 train, 359 test, 64 features, 10 classes``."""
        val = "" if self.y_val is None else f"{len(self.y_val)} val, "
        return (f"{self.name}: {len(self.y_train)} train, {val}{len(self.y_test)} test, "
                f"{self.n_features} features, {self.n_classes} classes")

    def __repr__(self) -> str:
        return f"<Dataset {self.summary()}>"


def _float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as float32 or float64, or raise ValueError."""
    try:
        result = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would mean float64
    except TypeError:
        result = None
    if result not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return result


def _check_fraction(name: str, value, *, zero_allowed: bool) -> None:
    """A split fraction: a number in [0, 1) (or (0, 1) when ``zero_allowed`` is False)."""
    low = "[0" if zero_allowed else "(0"
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value)
            or not (0.0 <= value < 1.0) or (value == 0 and not zero_allowed)):
        raise ValueError(f"{name} must be a number in {low}, 1), got {value!r}")


def _check_val_split(val_split: float, seed=0) -> None:
    """The validation fraction, and the seed that chooses it: an int >= 0 (None would give a new split
    at every call, and NumPy would take a bool or a list of ints as a seed as well)."""
    _check_fraction("val_split", val_split, zero_allowed=True)
    _check_seed(seed)


def _check_seed(seed) -> None:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


def _check_labels(y: np.ndarray, n_classes: int, source, error=DatasetError) -> None:
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise error(f"{source}: labels span {y.min()}..{y.max()}, "
                    f"expected 0..{n_classes - 1}")


def _to_float(pixels: np.ndarray, max_value: float, dtype: np.dtype) -> np.ndarray:
    """Fresh, writable (N, D) array ``pixels / max_value``."""
    x = pixels.reshape(len(pixels), -1).astype(dtype, order="C")
    x /= max_value
    return x


def _stratified_test_mask(y: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask choosing ``test_fraction`` of each class at random."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        mask[members[: round(test_fraction * len(members))]] = True
    return mask


def _build(name, x, y, x_test, y_test, *, val_split, seed, n_classes=10) -> Dataset:
    """Dataset whose validation split is a random ``val_split`` of (x, y)."""
    if val_split == 0:
        return Dataset(name, x, y, x_test, y_test, n_classes=n_classes)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_val = round(val_split * len(y))
    if not 0 < n_val < len(y):
        part = "validation" if n_val == 0 else "training"
        raise ValueError(f"val_split={val_split} leaves no sample of {len(y)} for {part}")
    # Sorted so that both parts keep the original sample order.
    train, val = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return Dataset(name, x[train], y[train], x_test, y_test, x[val], y[val], n_classes=n_classes)


