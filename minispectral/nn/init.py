"""Initialisers. They draw on the host from a seeded NumPy Generator, so the same seed
gives the same initial weights on every backend; the layer then moves them to its device.

An initialiser spec is one of:
  * None      -> the layer's default (for phi: ``DEFAULT_PHI_INIT``, per variant; the others: the papers' recipe,
                 paper.md §4–§7);
  * a name    -> for phi only: one of ``PHI_INITS`` ("papers", "glorot"; see below);
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


# ------------------------------------------------------------------- phi's initialisation
#
# phi, the eigenvector block, is frozen in most variants, so where it starts is where it stays.
# Two named recipes, for every variant (``Spectral(phi_init=...)``, ``--phi-init``):
#
# * "papers": each variant's recipe from the authors' code (paper.md §4, §5, §7):
#     nc             phi ~ U(-0.2, 0.2)                              (NC code, paper.md §7)
#     spectral, full phi = U diag(s) V, U, V ~ N(0, 0.04²), s ~ U(0, 3)  (PRE code, paper.md §4)
#     ssvd           U, V ~ N(0, 0.04²), s ~ U(0, 3)                 (PRE code, paper.md §5)
#     qr             B ~ N(0, 0.036²), B = R Q                       (PRE code, paper.md §5)
# * "glorot": Glorot-uniform, U(±sqrt(6 / (fan_in + fan_out))), the authors' later two-set layer
#   (Buffoni/spectral_learning master), their spectraltools package and the Julia port (paper.md §10):
#     nc, spectral, full  phi ~ Glorot (n_out, n_in)
#     ssvd                U ~ Glorot (n_out, m), V ~ Glorot (m, n_in), s ~ U(0, 3) as in "papers"
#     qr                  B ~ Glorot (n_out, n_in), B = R Q
PHI_INITS = ("papers", "glorot")
# The recipe a layer of each variant gets when it names none: the better of the two in the init study
# (``minispectral reproduce init``, results/init/table.md), test accuracy on MNIST and Fashion-MNIST.
# The studies that reproduce the papers name "papers" themselves, whatever this says.
DEFAULT_PHI_INIT = {"nc": "papers", "spectral": "glorot", "full": "glorot", "ssvd": "glorot", "qr": "glorot"}


def default_phi_init(variant: str) -> str:
    """The recipe phi starts from when a ``variant`` layer names none (``DEFAULT_PHI_INIT``)."""
    return DEFAULT_PHI_INIT[variant]


def check_phi_init(name) -> str:
    """``name`` if it is one of ``PHI_INITS``; a clear error otherwise."""
    if not isinstance(name, str) or name not in PHI_INITS:
        raise ValueError(f"phi_init must name one of {PHI_INITS}, got {name!r}")
    return name


def ssvd_factors(rng, n_out: int, n_in: int, std: float = 0.04, s_range=(0.0, 3.0), recipe: str = "papers"):
    """U (n_out, m), s (m,), V (m, n_in): plain Gaussians(std) as in the PRE code ("papers"), not
    orthogonal, or Glorot-uniform for their own shapes ("glorot"); s ~ U(s_range) either way."""
    m = min(n_in, n_out)
    factor = glorot_uniform if check_phi_init(recipe) == "glorot" else normal(std)
    U = factor(rng, (n_out, m))
    V = factor(rng, (m, n_in))
    s = rng.uniform(*s_range, size=m)
    return U, s, V


def qr_factors(rng, n_out: int, n_in: int, std: float = 0.036, recipe: str = "papers"):
    """R (n_out, m), Q (m, n_in) with phi = R Q equal to a block B: N(0, std²) ("papers") or
    Glorot-uniform ("glorot").

    Q has orthonormal rows and R is lower-triangular: from the reduced QR of Bᵀ = Q_r R_r,
    R = R_rᵀ and Q = Q_rᵀ (paper.md §5).
    """
    factor = glorot_uniform if check_phi_init(recipe) == "glorot" else normal(std)
    B = factor(rng, (n_out, n_in))
    Q_r, R_r = np.linalg.qr(B.T)  # (n_in, m), (m, n_out)
    return R_r.T, Q_r.T
