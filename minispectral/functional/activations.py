"""Element-wise activations, each a forward/backward pair.

Every ``*_forward(x) -> (out, cache)`` and ``*_backward(dout, cache) -> dx``;
shapes are arbitrary and ``dx`` has the shape of ``x``.  See lesson 02.
"""
from __future__ import annotations

from ..backend import namespace
from ._checks import _check_float


def relu_forward(x):
    """out = max(x, 0).  Backward: dx = dout ⊙ [x > 0] (the kink at 0 gets slope 0)."""
    _check_float(x, "x")
    xp = namespace(x)
    out = xp.maximum(x, 0.0)
    return out, x


def relu_backward(dout, cache):
    """dx = dout ⊙ [x > 0]."""
    xp = namespace(dout, cache)
    return xp.where(cache > 0, dout, 0.0)


def tanh_forward(x):
    """out = tanh(x).  Backward: dx = dout ⊙ (1 − out²)."""
    _check_float(x, "x")
    out = namespace(x).tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout ⊙ (1 − tanh(x)²), reusing the forward output."""
    out = cache
    return dout * (1.0 - out * out)


def sigmoid_forward(x):
    """out = σ(x) = 1 / (1 + e^(−x)), computed as (1 + tanh(x/2)) / 2, which never overflows."""
    _check_float(x, "x")
    out = 0.5 * (1.0 + namespace(x).tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout ⊙ σ(x)(1 − σ(x))."""
    out = cache
    return dout * out * (1.0 - out)


def elu_forward(x, alpha=1.0):
    """out = x if x > 0 else α(eˣ − 1).  Backward: dx = dout ⊙ (1 if x > 0 else out + α)."""
    _check_float(x, "x")
    xp = namespace(x)
    out = xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))  # the min keeps expm1 from overflowing
    return out, (x, out, alpha)


def elu_backward(dout, cache):
    """dx = dout where x > 0, else dout ⊙ (out + α), since d/dx α(eˣ − 1) = αeˣ = out + α."""
    x, out, alpha = cache
    xp = namespace(dout, x)
    return xp.where(x > 0, dout, dout * (out + alpha))


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "elu": (elu_forward, elu_backward),
}
