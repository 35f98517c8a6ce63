"""Checks for lesson 02, a dense layer."""
import numpy as np

from ..functional import dense_backward, dense_forward, relu_backward, relu_forward, tanh_backward, tanh_forward
from ..gradient_check import numerical_gradient
from . import as_tuple, compare, exercise


@exercise("02", "my_dense_backward")
def check_dense_backward(my_dense_backward):
    """``my_dense_backward(dy, cache) -> (dx, dW, db)`` with ``cache = (x, W)``, against ``dense_backward``.

    Shapes: x (N, D_in), W (D_out, D_in), dy (N, D_out); dx like x, dW like W, db (D_out,).
    """
    rng = np.random.default_rng(2)
    N, D_in, D_out = 4, 5, 3
    x, W, b = rng.standard_normal((N, D_in)), rng.standard_normal((D_out, D_in)), rng.standard_normal(D_out)
    dy = rng.standard_normal((N, D_out))
    dx, dW, db = as_tuple(my_dense_backward(dy, (x.copy(), W.copy())), 3, "my_dense_backward")
    dx_ref, dW_ref, db_ref = dense_backward(dy, dense_forward(x, W, b)[1])
    return compare("my_dense_backward against minispectral.functional.dense_backward (float64)",
                   {"dx": (dx, dx_ref), "dW": (dW, dW_ref), "db": (db, db_ref)})


def _elementwise_differences(forward, x, dout, h=1e-5):
    """Central differences of L = Σ forward(x) ⊙ dout, entry by entry: the gradient dout ⊙ σ'(x) of an
    element-wise activation σ.  Entry i of the output depends on x_i alone, so the nudge of x_i changes
    one term, and the difference of two sums is computed from that term (no round-off of the others)."""
    return dout * (forward(x + h)[0] - forward(x - h)[0]) / (2 * h)


@exercise("02", "my_relu_backward")
def check_relu_backward(my_relu_backward):
    """``my_relu_backward(dout, cache) -> dx`` with ``cache = x``, against ``relu_backward`` and against
    central differences.  Shapes: dout, x and dx (N, D).  The inputs stay clear of the kink at 0; a second
    call, ``dx at 0``, feeds exact zeros and checks the convention the lesson states (slope 0 at the kink)
    against ``relu_backward`` alone, since a central difference there gives 1/2."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, 6))
    x = np.where(np.abs(x) < 0.05, 0.5, x)  # a step of 1e-6 never straddles the kink
    dout = rng.standard_normal((5, 6))
    dx = my_relu_backward(dout.copy(), x.copy())
    x_kink = np.where(rng.random((5, 6)) < 0.5, 0.0, x)  # half the entries exactly at the kink
    dx_kink = my_relu_backward(dout.copy(), x_kink.copy())
    return compare("my_relu_backward against minispectral.functional.relu_backward, and central differences",
                   {"dx": (dx, relu_backward(dout, relu_forward(x)[1])),
                    "dx (num.)": (dx, _elementwise_differences(relu_forward, x, dout)),
                    "dx at 0": (dx_kink, relu_backward(dout, relu_forward(x_kink)[1]))})


@exercise("02", "my_tanh_backward")
def check_tanh_backward(my_tanh_backward):
    """``my_tanh_backward(dout, cache) -> dx`` with ``cache = x``, against ``tanh_backward`` and against
    central differences.  Shapes: dout, x and dx (N, D); x in [-4, 4], where 1 − tanh² keeps its digits."""
    rng = np.random.default_rng(22)
    x = rng.uniform(-4.0, 4.0, (5, 6))
    dout = rng.uniform(0.5, 1.5, (5, 6)) * rng.choice([-1.0, 1.0], (5, 6))
    dx = my_tanh_backward(dout.copy(), x.copy())
    return compare("my_tanh_backward against minispectral.functional.tanh_backward, and central differences",
                   {"dx": (dx, tanh_backward(dout, tanh_forward(x)[1])),
                    "dx (num.)": (dx, _elementwise_differences(tanh_forward, x, dout))})


@exercise("02", "my_mse")
def check_mse(my_mse):
    """``my_mse(y, t) -> (loss, dy)`` for L = Σ (y − t)² / (2N), against the formula and, for dy, against
    central differences.  Shapes: y and t (N, D), loss a number, dy (N, D)."""
    rng = np.random.default_rng(23)
    y, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss, dy = as_tuple(my_mse(y.copy(), t.copy()), 2, "my_mse")
    N = len(y)
    y_var = y.copy()
    dy_num = numerical_gradient(lambda: np.sum((y_var - t) ** 2) / (2 * N), y_var)
    return compare("my_mse against its formula, and dy against central differences",
                   {"loss": (loss, np.sum((y - t) ** 2) / (2 * N)), "dy": (dy, (y - t) / N),
                    "dy (num.)": (dy, dy_num)})
