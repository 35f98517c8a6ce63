"""Checks for lesson 10, sparse networks: the magnitude mask and the masked spectral backward pass."""
import numpy as np

from ..functional import magnitude_mask, masked_spectral_backward, masked_spectral_forward
from . import as_tuple, compare, exercise


@exercise("10", "my_magnitude_mask")
def check_magnitude_mask(my_magnitude_mask):
    """``my_magnitude_mask(W, p) -> M``, against ``magnitude_mask`` at p = 0, 0.5, 0.9, 0.98 and 0.999.

    The two edge cases: p = 0 prunes nothing (k = 0), and p = 0.999 rounds to every one of the 240 entries
    (k = round(239.76) = 240), which must be capped at 239 so that one weight survives.

    Shapes: W (n_out, n_in); M (n_out, n_in), 0.0 or 1.0.
    """
    rng = np.random.default_rng(100)
    W = rng.standard_normal((12, 20))
    quantities = {}
    for p in (0.0, 0.5, 0.9, 0.98, 0.999):
        expected = magnitude_mask(W, p)
        quantities[f"M (p={p:g})"] = (my_magnitude_mask(W.copy(), p), expected)
    return compare("my_magnitude_mask against minispectral.functional.magnitude_mask (float64)", quantities)


@exercise("10", "my_masked_spectral_backward")
def check_masked_spectral_backward(my_masked_spectral_backward):
    """``my_masked_spectral_backward(dy, (x, phi, lam_in, lam_out, M)) -> (dx, dphi, dlam_in, dlam_out, db)``,
    against ``masked_spectral_backward`` with the same mask M.

    Shapes: dy (N, n_out), x (N, n_in), phi and M (n_out, n_in), lam_in (n_in,), lam_out (n_out,);
    dx like x, dphi like phi, dlam_in like lam_in, dlam_out and db (n_out,).
    """
    rng = np.random.default_rng(101)
    N, n_in, n_out, p = 6, 9, 5, 0.6
    x, phi = rng.standard_normal((N, n_in)), rng.standard_normal((n_out, n_in))
    lam_in, lam_out, b = rng.standard_normal(n_in), rng.standard_normal(n_out), rng.standard_normal(n_out)
    dy = rng.standard_normal((N, n_out))
    M = magnitude_mask(phi * (lam_in[None, :] - lam_out[:, None]), p)
    _, cache = masked_spectral_forward(x, phi, lam_in, lam_out, b, p, mask=M)
    expected = masked_spectral_backward(dy, cache)
    got = as_tuple(my_masked_spectral_backward(dy.copy(), (x.copy(), phi.copy(), lam_in.copy(), lam_out.copy(),
                                                             M.copy())), 5, "my_masked_spectral_backward")
    names = ("dx", "dphi", "dlam_in", "dlam_out", "db")
    return compare("my_masked_spectral_backward against minispectral.functional.masked_spectral_backward (float64)",
                   {name: (g, e) for name, g, e in zip(names, got, expected)})
