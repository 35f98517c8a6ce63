"""The activations' backward passes as one CuPy kernel each, beside their plain forms.

On a GPU each library call is a kernel launch of ~5-10 µs, and a small network's step is bound
by launches, not arithmetic.  ``activations.py`` writes each backward pass as a few array
operations (2 to 6 launches on CuPy); here each is one ``cupy.ElementwiseKernel`` doing the same
operations in the same order, entry by entry.  ``tests/test_kernels.py`` checks that both give the
same numbers (on the CuPy stand-in, which runs this C source, when no GPU is there).

``backward(name)`` gives the function a layer calls: the fused kernel for CuPy arrays, the plain
one for every other backend.
"""
from __future__ import annotations

import functools

from array_api_compat import is_cupy_array

from ._checks import check_like
from .activations import ACTIVATIONS

# Each: (input parameters, operation), output "T dx".  The caches are those of activations.py.
KERNELS = {
    "relu": ("T dout, T x", "dx = dout * (x > 0);"),
    "tanh": ("T dout, T x", """
        T e = exp(-2 * fabs(x));
        T d = (1 + e) * (1 + e);
        dx = 4 * e / d * dout;"""),
    "sigmoid": ("T dout, T e", """
        T d = (1 + e) * (1 + e);
        dx = e / d * dout;"""),
    "elu": ("T dout, T x, T alpha", """
        T s = exp(min(x, (T)0));
        dx = (alpha * s + (1 - alpha) * (x > 0)) * dout;"""),
}


@functools.lru_cache(maxsize=None)
def _kernel(name: str):
    import cupy

    params, operation = KERNELS[name]
    return cupy.ElementwiseKernel(params, "T dx", operation, f"minispectral_{name}_backward")


def _fused(name: str, plain):
    def backward(dout, cache):
        if not is_cupy_array(dout):
            return plain(dout, cache)
        if name == "elu":
            x, alpha = cache
            check_like(dout, "dout", x, "x")
            # with α = 1 the plain form skips the α terms; 1·s + 0·[x > 0] gives its very numbers
            return _kernel(name)(dout, x, x.dtype.type(alpha))
        check_like(dout, "dout", cache, "x")
        return _kernel(name)(dout, cache)
    backward.__name__ = f"{name}_backward_fused"
    return backward


BACKWARD = {name: _fused(name, pair[1]) for name, pair in ACTIVATIONS.items()}


def backward(name: str):
    """The backward pass of activation ``name``: one fused kernel on CuPy, the plain kernel elsewhere."""
    return BACKWARD[name]
