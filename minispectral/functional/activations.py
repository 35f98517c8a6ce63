"""Element-wise activations, each a forward/backward pair.

Every ``*_forward(x) -> (out, cache)`` and ``*_backward(dout, cache) -> dx``;
shapes are arbitrary and ``dx`` has the shape of ``x``.  See lesson 01.

Each result is built in as few fresh arrays as the formula allows, finished in place (``e *= 4``):
a fresh batch-sized array is fresh memory, which the allocator may hand back to the system and
fault in again at the next step (allocator.py), and on a 200 × 300 batch that costs more than
the arithmetic.  In-place updates touch only arrays the kernel itself has just made.
"""
from __future__ import annotations

import math

from array_api_compat import device, is_cupy_array

from ..backend import namespace
from ._checks import _check_float, check_like
from .fast import write_into


def _zero_row(x):
    """Zeros of shape ``x.shape[-1:]``, x's dtype and device: the 0 that ReLU and ELU compare against.

    A row, not the scalar 0: NumPy's maximum and minimum take their vectorised loop only when the
    other operand also runs along the last axis; against a scalar they are twice as slow
    (0.26 against 0.51 ms on a 1000 x 1000 float32 batch).  On CuPy, where that loop does not exist,
    the row would only cost a launch: there the 0 is a number.
    """
    if is_cupy_array(x):
        return 0.0
    return namespace(x).zeros(x.shape[-1:], dtype=x.dtype, device=device(x))


def relu_forward(x):
    """out = max(x, 0).  Backward: dx = dout ⊙ [x > 0] (the kink at 0 gets slope 0).

    .. math:: \\mathrm{relu}(x) = \\max(x, 0), \\qquad \\mathrm{relu}'(x) = [x > 0]
    """
    _check_float(x, "x")
    out = namespace(x).maximum(x, _zero_row(x))
    return out, x


def relu_backward(dout, cache):
    """dx = dout ⊙ [x > 0].

    .. math:: \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial\\,\\mathrm{out}} \\odot [x > 0]
    """
    check_like(dout, "dout", cache, "x")
    xp = namespace(dout, cache)
    # A product with the 0/1 mask, not xp.where(x > 0, dout, 0): where branches on every entry, and on
    # a mask of random signs that is ~10x slower (4.6 ms against 0.4 ms on a 1000 x 1000 float32 batch).
    dx = xp.astype(cache > 0, dout.dtype)  # the mask [x > 0] as 0/1, in the array that becomes dx
    dx *= dout
    return dx


def tanh_forward(x):
    """out = tanh(x).  Backward: dx = dout ⊙ (1 − tanh²(x)) = dout ⊙ 4e^(−2|x|) / (1 + e^(−2|x|))².

    .. math:: \\tanh'(x) = 1 - \\tanh^2 x = \\frac{4 e^{-2|x|}}{(1 + e^{-2|x|})^2}
    """
    _check_float(x, "x")
    out = namespace(x).tanh(x)
    return out, x


def tanh_backward(dout, cache):
    """dx = dout ⊙ (1 − tanh²(x)), computed as dout ⊙ 4e / (1 + e)² with e = e^(−2|x|).

    The two are equal (1 − tanh² = sech²), but 1 − out² rounds to 0 once tanh(x) rounds to ±1,
    from |x| = 10 in float32 and 19 in float64, and loses its relative precision well before.

    .. math:: \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial\\,\\mathrm{out}} \\odot (1 - \\tanh^2 x)
    """
    x = cache
    check_like(dout, "dout", x, "x")
    xp = namespace(dout, x)
    e = xp.abs(x)
    e *= -2.0
    e = write_into(xp.exp, e, out=e)  # e = e^(−2|x|)
    denom = 1.0 + e
    denom *= denom
    e *= 4.0
    e /= denom  # 4e / (1 + e)²
    e *= dout
    return e


def sigmoid_forward(x):
    """out = σ(x) = 1 / (1 + e^(−x)).  Backward: dx = dout ⊙ σ(x)σ(−x) = dout ⊙ e^(−|x|) / (1 + e^(−|x|))².

    Computed as ``e^min(x, 0) / (1 + e^(−|x|))``, which is σ(x) on both sides of 0 and never
    overflows (every exponent is ≤ 0).  It keeps its relative precision in both tails.  In float32,
    e^(−x) overflows below x ≈ −88.7, and (1 + tanh(x/2)) / 2 is off by 6 % at x = −16 and rounds to
    0 from x = −20, where σ(−20) ≈ 2.1e-9 and even σ(−80) ≈ 1.8e-35 are float32 numbers.

    .. math:: \\sigma(x) = \\frac{1}{1 + e^{-x}}, \\qquad
        \\sigma'(x) = \\sigma(x)\\,\\sigma(-x) = \\frac{e^{-|x|}}{(1 + e^{-|x|})^2}
    """
    _check_float(x, "x")
    xp = namespace(x)
    e = xp.abs(x)
    e *= -1.0
    e = write_into(xp.exp, e, out=e)  # e^(−|x|), in (0, 1]
    denom = 1.0 + e
    out = xp.minimum(x, _zero_row(x))
    out = write_into(xp.exp, out, out=out)  # e^min(x, 0)
    out /= denom
    return out, e  # the backward pass needs only e: 1 + e is one addition


def sigmoid_backward(dout, cache):
    """dx = dout ⊙ σ(x)(1 − σ(x)), as dout ⊙ e^(−|x|) / (1 + e^(−|x|))².

    σ(x)(1 − σ(x)) = σ(x)σ(−x), and σ(x)σ(−x) = e^(−|x|) / (1 + e^(−|x|))² for either sign of x;
    the form 1 − σ(x) rounds to 0 from x = 17.5 in float32 and loses the slope there.

    .. math:: \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial\\,\\mathrm{out}} \\odot \\sigma(x)\\,\\sigma(-x)
    """
    e = cache
    check_like(dout, "dout", e, "x")
    xp = namespace(dout, e)
    dx = 1.0 + e
    dx *= dx
    dx = write_into(xp.divide, e, dx, out=dx)  # e / (1 + e)²
    dx *= dout
    return dx


def elu_forward(x, alpha=1.0):
    """out = x if x > 0 else α(eˣ − 1).  Backward: dx = dout ⊙ (1 if x > 0 else αeˣ).

    .. math:: \\mathrm{elu}(x) = \\begin{cases} x & x > 0 \\\\ \\alpha(e^x - 1) & x \\le 0 \\end{cases}, \\qquad
        \\mathrm{elu}'(x) = \\begin{cases} 1 & x > 0 \\\\ \\alpha e^x & x \\le 0 \\end{cases}
    """
    _check_float(x, "x")
    alpha = float(alpha)  # a NumPy float64 scalar would promote a float32 x
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    xp = namespace(x)
    # max(x, 0) + α(e^min(x, 0) − 1) is x for x > 0 and α(eˣ − 1) otherwise, without a branch per entry
    # (see relu_backward); the min also keeps expm1 from overflowing.
    zero = _zero_row(x)
    out = xp.minimum(x, zero)
    out = write_into(xp.expm1, out, out=out)
    if alpha != 1.0:
        out *= alpha
    out += xp.maximum(x, zero)
    return out, (x, alpha)


def elu_backward(dout, cache):
    """dx = dout where x > 0, else dout ⊙ αeˣ (the derivative of α(eˣ − 1)).

    αeˣ is computed as such, not as out + α: that sum cancels for x ≪ 0 (out ≈ −α), and loses the
    slope's relative precision (4e-4 at x = −10 in float32) and rounds to 0 from x = −17.5.

    .. math:: \\frac{\\partial L}{\\partial x} = \\frac{\\partial L}{\\partial\\,\\mathrm{out}} \\odot
        \\begin{cases} 1 & x > 0 \\\\ \\alpha e^x & x \\le 0 \\end{cases}
    """
    x, alpha = cache
    check_like(dout, "dout", x, "x")
    xp = namespace(dout, x)
    # e^min(x, 0) is eˣ where x <= 0 and 1 elsewhere (a huge positive x cannot make inf * 0 = nan), so
    # α e^min(x, 0) is the slope everywhere when α = 1; otherwise (1 − α)[x > 0] lifts x > 0 to 1
    dx = xp.minimum(x, _zero_row(x))
    dx = write_into(xp.exp, dx, out=dx)
    if alpha != 1.0:
        dx *= alpha
        dx += (1.0 - alpha) * xp.astype(x > 0, dout.dtype)
    dx *= dout
    return dx


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "elu": (elu_forward, elu_backward),
}
