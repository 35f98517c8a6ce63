"""Dynamic magnitude pruning in direct space (paper.md §6).

At every forward pass the layer's full weight matrix W_full is computed, the fraction
``sparsity`` of its entries with the smallest |W_full| is set to zero, and the masked
W is used.  The mask is a constant of the forward pass, so in the backward pass

    dW_full = dW ⊙ mask

masked entries pass no gradient into W; for the spectral layer the surviving entries'
gradients still reach every eigenvalue and phi, so a pruned weight can come back.
"""
from __future__ import annotations

from ..backend import kth_smallest, namespace
from ._checks import check_matrix, check_same_dtype
from .dense import dense_backward, dense_forward
from .spectral import spectral_weight_backward, spectral_weight_forward


def magnitude_mask(W, sparsity: float):
    """0/1 mask (dtype of W) that zeroes the ``k = min(round(sparsity·size), size − 1)`` smallest |W| entries.

    Parameters
    ----------
    W : (n_out, n_in) float array
    sparsity : fraction in [0, 1)

    Returns
    -------
    mask : (n_out, n_in) array of 0s and 1s, W's dtype

    The threshold τ is the k-th smallest |W|; entries with |W| > τ survive.  This is the papers'
    rule (paper.md §6), and it zeroes exactly k entries unless several |W| tie at τ: then all of
    them go, and more than k are zeroed (a constant W loses every entry).  Lesson 10, exercise 1.
    On a tiny layer the rounding could reach every entry (0.95 of 10 rounds to 10); k stops one
    short of that, so a sparsity below 1 always leaves the layer a weight to train.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    check_matrix(W, "W")
    xp = namespace(W)
    magnitude = xp.abs(W)
    size = magnitude.shape[0] * magnitude.shape[1]
    k = min(int(round(sparsity * size)), size - 1)
    if k == 0:
        return xp.ones_like(W)
    tau = kth_smallest(xp.reshape(magnitude, (-1,)), k)
    return xp.astype(magnitude > tau, W.dtype)


def masked_dense_forward(x, W, b, sparsity, *, mask=None):
    """Dense layer with dynamic magnitude pruning.

    x (N, D_in), W (D_out, D_in), b (D_out,) or None, sparsity in [0, 1); mask (D_out, D_in) 0/1
    or None: a mask to use instead of ``magnitude_mask(W, sparsity)`` (a gradient check holds it
    fixed, so that a nudge across the magnitude threshold does not move it).
    Returns y (N, D_out) = x (W ⊙ mask)ᵀ + b, and the cache.

    .. math:: y = x\\,(W \\odot m)^\\top + b, \\qquad m_{ij} = [\\,|W_{ij}| > \\tau\\,]
    """
    mask = _given_or_magnitude_mask(mask, W, sparsity)
    y, dense_cache = dense_forward(x, W * mask, b)
    return y, (dense_cache, mask)


def masked_dense_backward(dy, cache, *, need_dx=True):
    """dy (N, D_out) -> (dx (N, D_in) or None, dW (D_out, D_in), db (D_out,) or None), ``dW = (dyᵀ x) ⊙ mask``.

    .. math:: dx = dy\\,(W \\odot m), \\qquad dW = (dy^\\top x) \\odot m, \\qquad db = \\textstyle\\sum_n dy_n
    """
    dense_cache, mask = cache
    dx, dW_masked, db = dense_backward(dy, dense_cache, need_dx=need_dx)
    return dx, dW_masked * mask, db


def masked_spectral_forward(x, phi, lam_in, lam_out, b, sparsity, *, mask=None):
    """Spectral layer with dynamic magnitude pruning of W = phi ⊙ (lam_in_j − lam_out_i).

    x (N, n_in), phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,), b (n_out,) or None;
    mask (n_out, n_in) 0/1 or None, as in ``masked_dense_forward``.
    Returns y (N, n_out) = x (W ⊙ mask)ᵀ + b, and the cache.

    .. math:: y_{ni} = \\sum_j x_{nj}\\, m_{ij}\\, \\phi_{ij}(\\lambda^{in}_j - \\lambda^{out}_i) + b_i,
        \\qquad m_{ij} = [\\,|W_{ij}| > \\tau\\,]
    """
    W_full, weight_cache = spectral_weight_forward(phi, lam_in, lam_out)
    mask = _given_or_magnitude_mask(mask, W_full, sparsity)
    y, dense_cache = dense_forward(x, W_full * mask, b)
    return y, (dense_cache, weight_cache, mask)


def masked_spectral_backward(dy, cache, *, need_dx=True, need_dphi=True, need_dlam=True):
    """dy (N, n_out) -> (dx (N, n_in), dphi (n_out, n_in), dlam_in (n_in,), dlam_out (n_out,), db (n_out,)),
    the spectral gradients of ``dW_full = dW ⊙ mask``; a gradient not needed (or no bias) is None.

    .. math:: dW^{full}_{ij} = m_{ij}\\, (dy^\\top x)_{ij}, \\qquad
        \\frac{\\partial L}{\\partial \\lambda^{in}_j} = \\sum_i dW^{full}_{ij}\\phi_{ij}, \\qquad
        \\frac{\\partial L}{\\partial \\lambda^{out}_i} = -\\sum_j dW^{full}_{ij}\\phi_{ij}
    """
    dense_cache, weight_cache, mask = cache
    dx, dW, db = dense_backward(dy, dense_cache, need_dx=need_dx)
    dW_full = dW * mask
    dphi, dlam_in, dlam_out = spectral_weight_backward(dW_full, weight_cache, need_dphi=need_dphi,
                                                       need_dlam=need_dlam)
    return dx, dphi, dlam_in, dlam_out, db


def _given_or_magnitude_mask(mask, W, sparsity: float):
    """``mask``, checked against W, or, when it is None, ``magnitude_mask(W, sparsity)``."""
    if mask is None:
        return magnitude_mask(W, sparsity)
    check_matrix(mask, "mask", tuple(W.shape))
    check_same_dtype("W", W, mask=mask)
    return mask
