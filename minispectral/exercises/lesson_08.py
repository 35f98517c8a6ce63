"""Checks for lesson 08, why two eigenvalue sets."""
import numpy as np

from ..functional import spectral_weight_forward
from ..gradient_check import numerical_gradient
from . import as_tuple, compare, exercise


@exercise("08", "my_rank2_form")
def check_rank2_form(my_rank2_form):
    """``my_rank2_form(phi, lam_in, lam_out) -> (D, W)`` with D = 1 lam_inᵀ − lam_out 1ᵀ and W = phi ⊙ D:
    D against the plain float64 formula, W against ``spectral_weight_forward``.
    Shapes: phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,); D and W (n_out, n_in)."""
    rng = np.random.default_rng(8)
    n_out, n_in = 4, 6
    phi, lam_in, lam_out = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_in), rng.standard_normal(n_out)
    D, W = as_tuple(my_rank2_form(phi.copy(), lam_in.copy(), lam_out.copy()), 2, "my_rank2_form")
    D_ref = lam_in[None, :] - lam_out[:, None]
    W_ref, _ = spectral_weight_forward(phi, lam_in, lam_out)
    return compare("my_rank2_form: D against lam_in_j - lam_out_i, W against spectral_weight_forward",
                   {"D": (D, D_ref), "W": (W, W_ref)})


@exercise("08", "my_weight_jacobian")
def check_weight_jacobian(my_weight_jacobian):
    """``my_weight_jacobian(phi) -> J``, the (n_out·n_in, n_in + n_out) Jacobian of W.reshape(-1) (row-major)
    with respect to the eigenvalues stacked as (lam_in, lam_out), against float64 central differences of
    ``spectral_weight_forward``: whole, and (when J has the right shape) its lam_in and lam_out columns apart."""
    rng = np.random.default_rng(9)
    n_out, n_in = 3, 5
    phi = rng.standard_normal((n_out, n_in))
    lam = rng.standard_normal(n_in + n_out)  # (lam_in, lam_out): W is linear in them, any point will do
    J = my_weight_jacobian(phi.copy())
    J_ref = np.empty((n_out * n_in, n_in + n_out))
    for k in range(n_out * n_in):  # row k of J: the gradient of the entry W.flat[k]
        J_ref[k] = numerical_gradient(
            lambda: spectral_weight_forward(phi, lam[:n_in], lam[n_in:])[0].reshape(-1)[k], lam)
    quantities = {"J": (J, J_ref)}
    if np.shape(J) == J_ref.shape:  # then say which columns are wrong: the lam_in ones or the lam_out ones
        J = np.asarray(J)
        quantities["J[:, :n_in]"] = (J[:, :n_in], J_ref[:, :n_in])
        quantities["J[:, n_in:]"] = (J[:, n_in:], J_ref[:, n_in:])
    return compare("my_weight_jacobian against central differences of spectral_weight_forward; J[:, :n_in] is "
                   "dW/dlam_in, J[:, n_in:] is dW/dlam_out", quantities)


@exercise("08", "silence")
def check_silence(silence):
    """``silence(x, score, k) -> x_silenced``: a copy of x (N, n_in) with the k columns (pixels) of smallest
    score (n_in,) set to zero, against the plain formula; x itself must not change (``x_after``: x once
    the function has returned)."""
    rng = np.random.default_rng(10)
    N, n_in, k = 5, 8, 3
    x, score = rng.uniform(0.1, 1.0, (N, n_in)), rng.standard_normal(n_in)
    score[2] = np.inf  # a pixel excluded from the ranking (a dead pixel): never silenced
    x_given = x.copy()
    x_silenced = silence(x_given, score.copy(), k)
    expected = x.copy()
    expected[:, np.argsort(score)[:k]] = 0.0
    return compare("silence against zeroing the k pixels of smallest score",
                   {"x_silenced": (x_silenced, expected), "x_after": (x_given, x)})
