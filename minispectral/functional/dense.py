"""The dense (fully connected) layer: y = x Wᵀ + b.

See lesson 02 for the derivation.
"""
from __future__ import annotations

from ..backend import namespace
from ._checks import check_matrix, check_same_dtype, check_vector


def dense_forward(x, W, b=None):
    """Affine map of a batch.

    Parameters
    ----------
    x : (N, D_in) array
    W : (D_out, D_in) array
    b : (D_out,) array or None

    Returns
    -------
    y : (N, D_out) array, ``y = x @ W.T + b``
    cache : what ``dense_backward`` needs: (x, W, has_bias)

    Notes
    -----
    .. math:: y_{nk} = \\sum_j x_{nj} W_{kj} + b_k
    """
    check_matrix(W, "W")
    check_matrix(x, "x", (None, W.shape[1]))
    check_vector(b, "b", W.shape[0])
    check_same_dtype("x", x, W=W, b=b)
    namespace(x, W, b)  # raises on mixed backends
    y = x @ W.T
    if b is not None:
        y += b  # y is our own fresh array, so adding in place mutates no input
    return y, (x, W, b is not None)


def dense_backward(dy, cache, *, need_dx=True):
    """Gradients of the dense layer.

    Parameters
    ----------
    dy : (N, D_out) array, ∂L/∂y
    cache : from ``dense_forward``
    need_dx : skip ``dx`` (return None) for a first layer, whose input needs no gradient

    Returns
    -------
    dx : (N, D_in) array, ``dy @ W``
    dW : (D_out, D_in) array, ``dy.T @ x``
    db : (D_out,) array, ``sum_n dy``, or None if the layer has no bias

    Notes
    -----
    .. math::
        \\frac{\\partial L}{\\partial x} = dy\\,W, \\qquad
        \\frac{\\partial L}{\\partial W} = dy^\\top x, \\qquad
        \\frac{\\partial L}{\\partial b} = \\sum_n dy_n
    """
    x, W, has_bias = cache
    check_matrix(dy, "dy", (x.shape[0], W.shape[0]))
    check_same_dtype("x", x, dy=dy)
    xp = namespace(dy, x)
    dx = dy @ W if need_dx else None
    dW = dy.T @ x
    db = xp.sum(dy, axis=0) if has_bias else None
    return dx, dW, db
