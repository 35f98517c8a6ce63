"""Small generated 2-D problems (spirals, blobs) for the first lessons."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .dataset import (Dataset, _build, _check_fraction, _check_seed, _check_val_split, _float_dtype,
                      _stratified_test_mask)


def _check_counts(**counts: int) -> None:
    for arg, value in counts.items():
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")


def _check_scale(name: str, value: float) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def make_spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0,
                 dtype="float32") -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Parameters
    ----------
    n_per_class, n_classes : int
    noise : float
        Standard deviation of the angle jitter, in radians.
    seed : int
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray, shape (n_per_class * n_classes, 2)
        Points in [-1, 1]^2, ordered by class.
    y : ndarray of int64, shape (n_per_class * n_classes,)
    """
    dtype = _float_dtype(dtype)
    _check_counts(n_per_class=n_per_class, n_classes=n_classes)
    _check_scale("noise", noise)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    # Each arm turns 4 radians from the centre outwards; arms are evenly rotated.
    angle = 4.0 * radius + 2.0 * np.pi * y / n_classes + noise * rng.standard_normal(len(y))
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return X.astype(dtype), y


def make_blobs(n_per_class: int = 100, n_classes: int = 3, n_features: int = 2,
               spread: float = 1.0, seed: int = 0,
               dtype="float32") -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, with centres drawn uniformly in [-5, 5]^D.

    Parameters
    ----------
    n_per_class, n_classes, n_features : int
    spread : float
        Standard deviation of each cluster.
    seed : int
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray, shape (n_per_class * n_classes, n_features)
        Ordered by class.
    y : ndarray of int64, shape (n_per_class * n_classes,)
    """
    dtype = _float_dtype(dtype)
    _check_counts(n_per_class=n_per_class, n_classes=n_classes, n_features=n_features)
    _check_scale("spread", spread)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-5.0, 5.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    X = centres[y] + spread * rng.standard_normal((len(y), n_features))
    return X.astype(dtype), y


_GENERATORS = {"spirals": make_spirals, "blobs": make_blobs}


def synthetic_dataset(kind: str = "spirals", *, val_split: float = 0.0, seed: int = 0,
                      test_fraction: float = 0.25, **kw) -> Dataset:
    """A generated dataset split into train, optional validation, and test.

    Parameters
    ----------
    kind : {"spirals", "blobs"}
    val_split : float in [0, 1)
        Fraction of the training part held out for validation.
    seed : int
        Seeds the generator and both splits.
    test_fraction : float in (0, 1)
        Fraction of each class put in the test set.
    **kw
        Passed to :func:`make_spirals` or :func:`make_blobs` (e.g. ``n_per_class``, ``dtype``).

    Returns
    -------
    Dataset
    """
    if not isinstance(kind, str) or kind not in _GENERATORS:
        raise ValueError(f"unknown synthetic dataset {kind!r}; "
                         f"expected one of {', '.join(_GENERATORS)}")
    _check_fraction("test_fraction", test_fraction, zero_allowed=False)
    _check_val_split(val_split, seed)
    X, y = _GENERATORS[kind](seed=seed, **kw)
    test = _stratified_test_mask(y, test_fraction, seed)
    if test.all() or not test.any():
        raise ValueError(f"test_fraction={test_fraction} of {len(y) // (int(y.max()) + 1)} samples per class "
                         f"leaves {'no training' if test.all() else 'no test'} sample")
    return _build(kind, X[~test], y[~test], X[test], y[test], val_split=val_split, seed=seed,
                  n_classes=int(y.max()) + 1)
