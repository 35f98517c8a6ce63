"""A layer-level input check, so a wrong width names the layer instead of a matmul."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import backend_of


def check_layer_args(n_in, n_out, sparsity) -> tuple[int, int, float]:
    """The widths (positive integers) and the sparsity (a fraction in [0, 1)) of a new layer, checked."""
    widths = []
    for name, value in (("n_in", n_in), ("n_out", n_out)):
        try:
            ok = not isinstance(value, (bool, np.bool_)) and int(value) == value and value >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        widths.append(int(value))
    if isinstance(sparsity, (bool, np.bool_)) or not isinstance(sparsity, numbers.Real):  # float("0.5") works
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    sparsity = float(sparsity)
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return widths[0], widths[1], sparsity


def check_flag(name: str, value) -> bool:
    """A layer's on/off switch (bias, triangular): True, False, or 1 and 0; a string such as "False"
    would be true."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def check_input(layer, x) -> None:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{layer!r} expects an array of shape (N, {layer.n_in}), got {type(x).__name__}")
    if len(x.shape) != 2 or x.shape[1] != layer.n_in:
        raise ValueError(f"{layer!r} expects input of shape (N, {layer.n_in}), got x of shape {tuple(x.shape)}")
    param = layer.params[next(iter(layer.params))].value
    if backend_of(x) is not backend_of(param):  # before the dtype test, which cannot compare across libraries
        raise TypeError(f"{layer!r} holds {backend_of(param).name} arrays but x is a {backend_of(x).name} array; "
                        "move x with minispectral.to_backend(x, ...), or the model with model.to(backend=...)")
    want = param.dtype
    if x.dtype != want:
        raise TypeError(f"{layer!r} holds {want} parameters but x has dtype {x.dtype}; "
                        "cast x, or move the model with model.to(dtype=...)")
