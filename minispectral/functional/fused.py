"""The activations' backward passes and the loss's gradient as one CuPy kernel each, beside their plain forms.

On a GPU each library call is a kernel launch of ~5-10 µs, and a small network's step is bound
by launches, not arithmetic.  ``activations.py`` writes each backward pass as a few array
operations (2 to 6 launches on CuPy); here each is one ``cupy.ElementwiseKernel`` doing the same
operations in the same order, entry by entry.  ``tests/test_kernels.py`` checks that both give the
same numbers (on the CuPy stand-in, which runs this C source, when no GPU is there).

``backward(name)`` gives the function a layer calls: the fused kernel for CuPy arrays, the plain
one for every other backend.  ``softmax_cross_entropy`` is ``losses.softmax_cross_entropy`` in four
kernels and three scalar operations on CuPy (about 17 launches in its plain form): the row maxima, the
exponentials, their row sums, then one kernel that forms the log-probabilities, the gradient and the
picked entries together, in the plain form's order of operations.
"""
from __future__ import annotations

import functools

from array_api_compat import is_cupy_array

from ._checks import check_like, check_matrix
from .activations import ACTIVATIONS
from .losses import check_labels
from .losses import softmax_cross_entropy as plain_softmax_cross_entropy

# Each: (input parameters, operation), output "T dx".  The caches are those of activations.py.
# min(x, 0) is written as a choice: CUDA's min of floats drops a NaN, NumPy's minimum keeps it.
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
        T x_neg = x > 0 ? (T)0 : x;
        T s = exp(x_neg);
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


LOSS_KERNEL = ("T z, T m, T s, int64 y, int64 c, T n", "T dz, T picked", """
    T lp = z - m - log(s);
    T hit = (y == c);
    dz = (exp(lp) - hit) / n;
    picked = (y == c) ? lp : (T)0;""")


@functools.lru_cache(maxsize=None)
def _loss_kernels():
    import cupy

    exp_shift = cupy.ElementwiseKernel("T z, T m", "T e", "e = exp(z - m);", "minispectral_exp_shift")
    return exp_shift, cupy.ElementwiseKernel(*LOSS_KERNEL, "minispectral_softmax_cross_entropy")


@functools.lru_cache(maxsize=64)
def _classes(n_classes: int, device_id: int):
    import cupy

    return cupy.arange(n_classes, dtype=cupy.int64)[None, :]  # made once per width: no launch per step


def softmax_cross_entropy(logits, labels, *, check_labels_range=True):
    """``losses.softmax_cross_entropy``, fused on CuPy: (loss as a 0-d array, dlogits (N, C))."""
    if not is_cupy_array(logits):
        return plain_softmax_cross_entropy(logits, labels, check_labels_range=check_labels_range)
    check_matrix(logits, "logits")
    n, n_classes = logits.shape
    if n == 0:
        raise ValueError("logits must hold at least one sample, got shape (0, C)")
    check_labels(labels, n, n_classes, check_range=check_labels_range)
    import cupy

    exp_shift, kernel = _loss_kernels()
    m = cupy.max(logits, axis=1, keepdims=True)
    s = cupy.sum(exp_shift(logits, m), axis=1, keepdims=True)
    y = labels if labels.dtype == cupy.int64 else labels.astype(cupy.int64)
    dlogits, picked = kernel(logits, m, s, y[:, None], _classes(n_classes, logits.device.id),
                             logits.dtype.type(n))
    loss = -cupy.sum(picked) / n
    return loss, dlogits


def backward(name: str):
    """The backward pass of activation ``name``: one fused kernel on CuPy, the plain kernel elsewhere."""
    return BACKWARD[name]
