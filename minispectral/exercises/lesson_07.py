"""Checks for lesson 07, training eigenvalues only."""
import numpy as np

from ..functional import spectral_weight_forward
from ..nn import mlp
from . import as_tuple, compare, exercise


@exercise("07", "my_parameter_counts")
def check_parameter_counts(my_parameter_counts):
    """``my_parameter_counts(n1, n2) -> (dense, nc, spectral)`` for the network n1 → n2 → 10, biases
    everywhere, against ``mlp(...).num_parameters()`` of the library's three models, at two sizes."""
    rows = {}
    for size, (n1, n2) in (("a", (784, 100)), ("b", (30, 7))):
        got = as_tuple(my_parameter_counts(n1, n2), 3, "my_parameter_counts")
        for kind, value in zip(("dense", "nc", "spectral"), got):
            expected = mlp((n1, n2, 10), model=kind, seed=0).num_parameters()
            label = {"dense": "dense", "nc": "NC", "spectral": "PRE"}[kind]
            rows[f"{label} ({size})"] = (value, expected)  # short names keep the table's columns aligned
    return compare("my_parameter_counts (dense, NC = one set, PRE = two sets) against mlp(...).num_parameters(), "
                   "at (a) 784-100-10 and (b) 30-7-10", rows)


@exercise("07", "my_one_set_weight")
def check_one_set_weight(my_one_set_weight):
    """``my_one_set_weight(phi, lam_out) -> W`` (the NC layer, lam_in = 0) against
    ``spectral_weight_forward(phi, 0, lam_out)``. Shapes: phi (n_out, n_in), lam_out (n_out,), W like phi."""
    rng = np.random.default_rng(7)
    n_out, n_in = 4, 6
    phi, lam_out = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    W = my_one_set_weight(phi.copy(), lam_out.copy())
    W_ref, _ = spectral_weight_forward(phi, np.zeros(n_in), lam_out)
    return compare("my_one_set_weight against minispectral.functional.spectral_weight_forward with lam_in = 0",
                   {"W": (W, W_ref)})
