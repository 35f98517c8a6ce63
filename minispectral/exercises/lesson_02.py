"""Checks for lesson 02, a dense layer."""
import numpy as np

from ..functional import dense_backward, dense_forward
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
