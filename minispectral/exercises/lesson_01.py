"""Checks for lesson 01, derivatives and gradient checking."""
import numpy as np

from ..functional import dense_backward, dense_forward, tanh_backward, tanh_forward
from ..gradient_check import rel_error
from . import as_tuple, compare, exercise


@exercise("01", "my_numerical_gradient")
def check_numerical_gradient(my_numerical_gradient):
    """``my_numerical_gradient(f, x, h) -> grad`` (x's shape), against the exact gradient of a smooth f.

    f(x) = Σ w ⊙ exp(x / 2) + (Σ x)² / 20, so ∂f/∂x = w ⊙ exp(x / 2) / 2 + Σ x / 10: every entry depends on
    all of x, and none is near zero.  At h = 1e-5 a central difference is within ~1e-9 of it; a forward
    difference is off by ~h|f''| / 2 ≈ 1e-6, which fails.
    """
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 1.0, (3, 4))
    w = rng.uniform(0.5, 1.5, (3, 4))

    def f(v):
        return float(np.sum(w * np.exp(v / 2)) + np.sum(v) ** 2 / 20)

    grad = my_numerical_gradient(f, x.copy(), 1e-5)
    exact = w * np.exp(x / 2) / 2 + np.sum(x) / 10
    return compare("my_numerical_gradient (h = 1e-5) against the exact gradient (float64)",
                   {"grad": (grad, exact)})


@exercise("01", "my_tanh_loss_backward")
def check_tanh_loss_backward(my_tanh_loss_backward):
    """``my_tanh_loss_backward(x, W, b) -> (dx, dW, db)`` of L = Σ tanh(x Wᵀ + b)², against the library's
    kernels chained by hand: ``tanh_backward`` then ``dense_backward``.

    Shapes: x (N, D_in), W (D_out, D_in), b (D_out,); each gradient has its variable's shape.
    """
    rng = np.random.default_rng(11)
    N, D_in, D_out = 5, 3, 2
    x, W, b = rng.standard_normal((N, D_in)), 0.7 * rng.standard_normal((D_out, D_in)), rng.standard_normal(D_out)
    dx, dW, db = as_tuple(my_tanh_loss_backward(x.copy(), W.copy(), b.copy()), 3, "my_tanh_loss_backward")
    z, dense_cache = dense_forward(x, W, b)
    a, tanh_cache = tanh_forward(z)
    dx_ref, dW_ref, db_ref = dense_backward(tanh_backward(2 * a, tanh_cache), dense_cache)
    return compare("my_tanh_loss_backward against tanh_backward and dense_backward (float64)",
                   {"dx": (dx, dx_ref), "dW": (dW, dW_ref), "db": (db, db_ref)})


@exercise("01", "my_rel_error")
def check_rel_error(my_rel_error):
    """``my_rel_error(a, n) -> float``, against ``minispectral.gradient_check.rel_error`` on four pairs:
    a near miss, the same pair scaled by 1000, opposite arrays (1) and two zero arrays (0)."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal((3, 4))
    n = a + 1e-3 * rng.standard_normal((3, 4))
    # names of at most 11 characters, so that the table's columns stay aligned
    pairs = {"rel(a, n)": (a, n), "scaled 1000": (1000 * a, 1000 * n), "rel(a, -a)": (a, -a),
             "rel(0, 0)": (np.zeros(5), np.zeros(5))}
    got = {name: my_rel_error(p.copy(), q.copy()) for name, (p, q) in pairs.items()}
    return compare("my_rel_error against minispectral.gradient_check.rel_error",
                   {name: (got[name], rel_error(p, q)) for name, (p, q) in pairs.items()})
