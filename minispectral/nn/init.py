"""Initialisers. They draw on the host from a seeded NumPy Generator, so the same seed
gives the same initial weights on every backend; the layer then moves them to its device.

An initialiser spec is one of:
  * None      -> the layer's default (the papers' recipe, paper.md §4–§7);
  * a number  -> a constant;
  * (lo, hi)  -> uniform on [lo, hi);
  * an array  -> used as given (shape checked);
  * a callable ``f(rng, shape) -> ndarray``.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np

from ..backend import to_numpy


def as_rng(seed_or_rng) -> np.random.Generator:
    """A NumPy Generator from a seed, a Generator, or None (seed 0, so runs are reproducible).

    For the shuffling order of ``fit``; a layer's or ``mlp``'s seed of None means ``layer_rng``'s
    shared generator instead, so that two models built without a seed differ.
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None:
        seed_or_rng = 0
    if isinstance(seed_or_rng, (bool, np.bool_, float)) or not isinstance(seed_or_rng, (int, np.integer)):
        raise TypeError(f"seed must be an int or a numpy Generator, got {type(seed_or_rng).__name__}")
    if seed_or_rng < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed_or_rng}")
    return np.random.default_rng(int(seed_or_rng))


_LAYER_RNG = [np.random.default_rng(0)]  # layers built without a seed draw from it, in turn


def layer_rng(seed_or_rng) -> np.random.Generator:
    """The Generator a layer draws its initial values from: ``as_rng`` of its seed, or, for None,
    one generator shared by every layer built without a seed.

    The shared generator advances with each layer, so two such layers differ (with seed 0 each
    they started identical, and stacked, perfectly correlated), and a program that builds its
    layers in the same order gets the same values at every run.  ``manual_seed`` restarts it.
    """
    return _LAYER_RNG[0] if seed_or_rng is None else as_rng(seed_or_rng)


def manual_seed(seed: int) -> None:
    """Restart the generator of layers built without a seed (``layer_rng``) from ``seed``."""
    _LAYER_RNG[0] = as_rng(seed)


def uniform(lo: float, hi: float) -> Callable:
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def normal(std: float) -> Callable:
    return lambda rng, shape: rng.normal(0.0, std, size=shape)


def glorot_uniform(rng, shape):
    """Keras' default kernel init: U(±sqrt(6 / (fan_in + fan_out)))."""
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def draw(spec, default, rng, shape, name: str) -> np.ndarray:
    """Resolve an initialiser spec (see module docstring) to a float64 host array of ``shape``."""
    spec = default if spec is None else spec
    if callable(spec):
        value = spec(rng, shape)
    elif isinstance(spec, tuple) and len(spec) == 2:
        value = rng.uniform(spec[0], spec[1], size=shape)
    elif isinstance(spec, numbers.Real) and not isinstance(spec, (bool, np.bool_)):  # NumPy scalars too
        value = np.full(shape, float(spec))
    else:
        if hasattr(spec, "shape") and type(spec).__module__.partition(".")[0] in ("cupy", "array_api_strict"):
            spec = to_numpy(spec)  # a device array, brought to the host once, explicitly (CuPy refuses np.asarray)
        value = np.asarray(spec, dtype=np.float64)
    value = np.array(value, dtype=np.float64)  # a copy: training updates in place, never the caller's array
    if value.shape != tuple(shape):
        raise ValueError(f"initial value of {name} must have shape {tuple(shape)}, got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"initial value of {name} must be finite, got {int(np.sum(~np.isfinite(value)))} NaN or "
                         f"infinite entries of {value.size}")
    return value


def ssvd_factors(rng, n_out: int, n_in: int, std: float = 0.04, s_range=(0.0, 3.0)):
    """U (n_out, m), s (m,), V (m, n_in) as in the PRE code: plain Gaussians, not orthogonal."""
    m = min(n_in, n_out)
    U = rng.normal(0.0, std, size=(n_out, m))
    V = rng.normal(0.0, std, size=(m, n_in))
    s = rng.uniform(*s_range, size=m)
    return U, s, V


def qr_factors(rng, n_out: int, n_in: int, std: float = 0.036):
    """R (n_out, m), Q (m, n_in) with phi = R Q equal to a N(0, std²) block B.

    Q has orthonormal rows and R is lower-triangular: from the reduced QR of Bᵀ = Q_r R_r,
    R = R_rᵀ and Q = Q_rᵀ (paper.md §5).
    """
    B = rng.normal(0.0, std, size=(n_out, n_in))
    Q_r, R_r = np.linalg.qr(B.T)  # (n_in, m), (m, n_out)
    return R_r.T, Q_r.T
