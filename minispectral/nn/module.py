"""Parameters and the Module base class: thin stateful wrappers around the pure kernels."""
from __future__ import annotations

import copy as _copy
from typing import Iterator

import numpy as np

from ..backend import get_backend, namespace, resolve_dtype, to_backend, to_numpy


class Parameter:
    """A value, its gradient, and whether the optimizer trains it.

    ``mask`` (optional, 0/1, same shape) marks the entries that are free parameters; the
    others stay fixed (the upper triangle of a triangular R).  A frozen parameter gets no
    gradient from a backward pass and no optimizer state; one frozen after a backward pass keeps
    the gradient it had (until ``zero_grad``), which the optimizer ignores.
    """

    __slots__ = ("value", "grad", "trainable", "mask")

    def __init__(self, value, trainable: bool = True, mask=None):
        self.value = value
        self.grad = None
        self.trainable = trainable
        self.mask = mask

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def count(self) -> int:
        """Number of free entries."""
        if self.mask is not None:
            return int(to_numpy(self.mask).sum())
        return int(np.prod(self.shape))

    def __repr__(self) -> str:
        state = "trainable" if self.trainable else "frozen"
        return f"Parameter(shape={self.shape}, dtype={self.value.dtype}, {state})"


class Module:
    """Base class: ``forward(x)`` caches what ``backward(dy)`` needs; parameters live in ``self.params``."""

    def __init__(self):
        self.params: dict[str, Parameter] = {}
        self.input_grad = True  # whether backward returns dx (inside a Sequential, set for each pass by it)
        self._cache = None

    # --- computation -------------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    # --- parameters ----------------------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self.params.items():
            yield prefix + name, p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def trainable_parameters(self) -> list[tuple[str, Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if p.trainable]

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Free parameters (only the trained ones by default), as the papers count them."""
        return sum(p.count for _, p in self.named_parameters() if p.trainable or not trainable_only)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def _forward_cache(self):
        """What the last forward pass cached, for backward; a clear error when there is nothing."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}.backward needs a forward pass first (to() and copy() drop its cache)")
        return self._cache

    def _set_grad(self, name: str, grad) -> None:
        p = self.params[name]
        if p.trainable:
            p.grad = grad

    # --- placement -----------------------------------------------------------------------
    @property
    def dtype(self):
        p = next(iter(self.parameters()), None)
        return None if p is None else resolve_dtype(p.value.dtype)

    @property
    def backend(self):
        p = next(iter(self.parameters()), None)
        return get_backend() if p is None else get_backend(_backend_name(p.value))

    def to(self, backend=None, dtype=None) -> "Module":
        """Move every parameter (in place) to ``backend`` and/or cast it to ``dtype``; returns self."""
        for _, p in self.named_parameters():
            p.value = _convert(p.value, backend, dtype)
            p.mask = _convert(p.mask, backend, dtype)
            p.grad = None
        for m in [self, *self.children()]:
            m._cache = None
            if getattr(m, "held_mask", None) is not None:  # a gradient check's fixed mask, W's dtype
                m.held_mask = _convert(m.held_mask, backend, dtype)
            if hasattr(m, "_buffers"):
                m._buffers.clear()  # work arrays of the old backend or dtype: not kept alive on a GPU
        return self

    def copy(self) -> "Module":
        """A deep copy (parameters included)."""
        self_cache, self._cache = self._cache, None
        try:
            return _copy.deepcopy(self)
        finally:
            self._cache = self_cache

    def children(self) -> list["Module"]:
        return []

    # --- description ---------------------------------------------------------------------
    def config(self) -> dict:
        """Constructor arguments that rebuild this module's architecture (for save/load)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _backend_name(x) -> str:
    from ..backend import backend_of

    return backend_of(x).name


def _convert(x, backend, dtype):
    if x is None:
        return None
    if backend is not None:
        x = to_backend(x, backend)
    if dtype is not None:
        xp = namespace(x)
        x = xp.astype(x, getattr(xp, resolve_dtype(dtype).name))
    return x
