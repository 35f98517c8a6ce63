"""Checks for lesson 06, the gradients of the eigenvalues: dphi, dlam_in, dlam_out, and the eigenvalue
gradients computed without forming dW."""
import numpy as np

from ..functional import spectral_backward, spectral_forward, spectral_weight_backward, spectral_weight_forward
from ..gradient_check import numerical_gradient
from . import as_tuple, compare, exercise

N, N_IN, N_OUT = 5, 6, 4


def _values(seed):
    """x (N, n_in), phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,), b (n_out,), dy (N, n_out): float64."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, N_IN)), rng.uniform(-1, 1, (N_OUT, N_IN)), rng.uniform(-2, 2, N_IN),
            rng.uniform(-2, 2, N_OUT), rng.standard_normal(N_OUT), rng.standard_normal((N, N_OUT)))


def _weight_step(seed):
    """phi, lam_in, lam_out, an upstream dW (n_out, n_in), and the library's (dphi, dlam_in, dlam_out)."""
    x, phi, lam_in, lam_out, _, dy = _values(seed)
    dW = dy.T @ x
    _, cache = spectral_weight_forward(phi, lam_in, lam_out)
    return phi, lam_in, lam_out, dW, spectral_weight_backward(dW, cache)


@exercise("06", "my_dphi")
def check_dphi(my_dphi):
    """``my_dphi(dW, lam_in, lam_out) -> dphi``, against ``spectral_weight_backward``.

    Shapes: dW (n_out, n_in), lam_in (n_in,), lam_out (n_out,); dphi (n_out, n_in).
    """
    phi, lam_in, lam_out, dW, (dphi_ref, _, _) = _weight_step(60)
    dphi = my_dphi(dW.copy(), lam_in.copy(), lam_out.copy())
    return compare("my_dphi against minispectral.functional.spectral_weight_backward (float64)",
                   {"dphi": (dphi, dphi_ref)})


@exercise("06", "my_dlam_in")
def check_dlam_in(my_dlam_in):
    """``my_dlam_in(dW, phi) -> dlam_in``, against ``spectral_weight_backward``.

    Shapes: dW (n_out, n_in), phi (n_out, n_in); dlam_in (n_in,).
    """
    phi, _, _, dW, (_, dlam_in_ref, _) = _weight_step(61)
    dlam_in = my_dlam_in(dW.copy(), phi.copy())
    return compare("my_dlam_in against minispectral.functional.spectral_weight_backward (float64)",
                   {"dlam_in": (dlam_in, dlam_in_ref)})


@exercise("06", "my_dlam_out")
def check_dlam_out(my_dlam_out):
    """``my_dlam_out(dW, phi) -> dlam_out``, against ``spectral_weight_backward``.

    Shapes: dW (n_out, n_in), phi (n_out, n_in); dlam_out (n_out,).
    """
    phi, _, _, dW, (_, _, dlam_out_ref) = _weight_step(62)
    dlam_out = my_dlam_out(dW.copy(), phi.copy())
    return compare("my_dlam_out against minispectral.functional.spectral_weight_backward (float64)",
                   {"dlam_out": (dlam_out, dlam_out_ref)})


@exercise("06", "my_eigenvalue_grads")
def check_eigenvalue_grads(my_eigenvalue_grads):
    """``my_eigenvalue_grads(x, dy, phi) -> (dlam_in, dlam_out)``, against ``spectral_backward`` and against
    float64 central differences of L = Σ y ⊙ dy.

    Shapes: x (N, n_in), dy (N, n_out), phi (n_out, n_in); dlam_in (n_in,), dlam_out (n_out,).
    """
    x, phi, lam_in, lam_out, b, dy = _values(63)
    _, cache = spectral_forward(x, phi, lam_in, lam_out, b)
    _, _, dlam_in_ref, dlam_out_ref, _ = spectral_backward(dy, cache)

    def loss():
        return np.sum(spectral_forward(x, phi, lam_in, lam_out, b)[0] * dy)

    dlam_in_num, dlam_out_num = numerical_gradient(loss, lam_in), numerical_gradient(loss, lam_out)
    dlam_in, dlam_out = as_tuple(my_eigenvalue_grads(x.copy(), dy.copy(), phi.copy()), 2, "my_eigenvalue_grads")
    return compare("my_eigenvalue_grads against minispectral.functional.spectral_backward, and (~cd) against "
                   "float64 central differences",
                   {"dlam_in": (dlam_in, dlam_in_ref), "dlam_out": (dlam_out, dlam_out_ref),
                    "dlam_in~cd": (dlam_in, dlam_in_num), "dlam_out~cd": (dlam_out, dlam_out_num)})
