"""Checks for lesson 05, the spectral domain: Phi and its inverse, the transfer operator A, and W."""
import numpy as np

from ..functional import spectral_weight_forward
from ..nn import Spectral
from . import as_tuple, compare, exercise


def _layer_values(seed):
    """A 5 -> 3 layer's phi (3, 5), lam_in (5,), lam_out (3,): unit-scale float64 draws."""
    rng = np.random.default_rng(seed)
    n_in, n_out = 5, 3
    return rng.uniform(-1, 1, (n_out, n_in)), rng.uniform(-2, 2, n_in), rng.uniform(-2, 2, n_out)


@exercise("05", "my_eigenvectors")
def check_eigenvectors(my_eigenvectors):
    """``my_eigenvectors(phi) -> (Phi, Phi_inv)``, against the definition Φ = [[I, 0], [phi, I]] and
    ``np.linalg.inv(Φ)``.  Shapes: phi (n_out, n_in); Phi and Phi_inv (n_in + n_out, n_in + n_out)."""
    phi, _, _ = _layer_values(50)
    n_out, n_in = phi.shape
    Phi_ref = np.block([[np.eye(n_in), np.zeros((n_in, n_out))], [phi, np.eye(n_out)]])
    Phi_inv_ref = np.linalg.inv(Phi_ref)
    Phi, Phi_inv = as_tuple(my_eigenvectors(phi.copy()), 2, "my_eigenvectors")
    return compare("my_eigenvectors against the definition of Phi and np.linalg.inv(Phi) (float64)",
                   {"Phi": (Phi, Phi_ref), "Phi_inv": (Phi_inv, Phi_inv_ref)})


@exercise("05", "my_transfer_operator")
def check_transfer_operator(my_transfer_operator):
    """``my_transfer_operator(phi, lam_in, lam_out) -> A``, against ``Spectral.transfer_operator()``, whole and,
    when A has the right shape, block by block, so that a wrong answer shows which block is off.

    Shapes: phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,); A (n_in + n_out, n_in + n_out).
    """
    phi, lam_in, lam_out = _layer_values(51)
    n_out, n_in = phi.shape
    layer = Spectral(n_in, n_out, variant="full", phi_init=phi.copy(), lam_in_init=lam_in.copy(),
                     lam_out_init=lam_out.copy(), dtype="float64")
    A_ref = layer.transfer_operator()
    A = my_transfer_operator(phi.copy(), lam_in.copy(), lam_out.copy())
    quantities = {"A": (A, A_ref)}
    if np.shape(A) == A_ref.shape:  # then say which block is wrong: "in" = the first n_in rows or columns
        A = np.asarray(A)
        for rows, i in (("in", slice(None, n_in)), ("out", slice(n_in, None))):
            for cols, j in (("in", slice(None, n_in)), ("out", slice(n_in, None))):
                quantities[f"A[{rows},{cols}]"] = (A[i, j], A_ref[i, j])
    return compare("my_transfer_operator against minispectral.Spectral.transfer_operator (float64), whole and by "
                   "block (A[out,in] is W)", quantities)


@exercise("05", "my_spectral_weight")
def check_spectral_weight(my_spectral_weight):
    """``my_spectral_weight(phi, lam_in, lam_out) -> W``, against ``spectral_weight_forward``.

    Shapes: phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,); W (n_out, n_in).
    """
    phi, lam_in, lam_out = _layer_values(52)
    W_ref, _ = spectral_weight_forward(phi, lam_in, lam_out)
    W = my_spectral_weight(phi.copy(), lam_in.copy(), lam_out.copy())
    return compare("my_spectral_weight against minispectral.functional.spectral_weight_forward (float64)",
                   {"W": (W, W_ref)})
