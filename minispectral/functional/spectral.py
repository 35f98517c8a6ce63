"""The spectral layer: a dense layer whose weights come from eigenvalues and eigenvectors.

The map n_in -> n_out is the off-diagonal block of the transfer operator

    A = Φ Λ Φ⁻¹,   Φ = [[I, 0], [phi, I]],   Λ = diag(lam_in, lam_out),

whose lower-left block is the direct-space weight matrix

    W_ij = phi_ij (lam_in_j − lam_out_i)        i.e.  W = phi·diag(lam_in) − diag(lam_out)·phi.

The forward pass is two steps with a named intermediate, and so is the backward pass:

    forward:  W = spectral_weight(phi, lam_in, lam_out);  y = x Wᵀ + b
    backward: (dx, dW, db) from the dense layer;  (dphi, dlam_in, dlam_out) from dW

See paper.md §2–§3 and lessons 05–06 for the derivation.
"""
from __future__ import annotations

from ..backend import namespace
from ._checks import check_matrix, check_same_dtype, check_vector
from .dense import dense_backward, dense_forward


def spectral_weight_forward(phi, lam_in, lam_out):
    """Direct-space weights from the spectral parameters.

    Parameters
    ----------
    phi : (n_out, n_in) array, the non-trivial block of the eigenvector matrix Φ
    lam_in : (n_in,) array, eigenvalues of the sending nodes
    lam_out : (n_out,) array, eigenvalues of the receiving nodes

    Returns
    -------
    W : (n_out, n_in) array, ``W_ij = phi_ij (lam_in_j − lam_out_i)``
    cache : (phi, lam_in, lam_out)

    Notes
    -----
    .. math:: W_{ij} = \\phi_{ij}\\,(\\lambda^{in}_j - \\lambda^{out}_i), \\qquad
        W = \\phi\\,\\mathrm{diag}(\\lambda^{in}) - \\mathrm{diag}(\\lambda^{out})\\,\\phi
    """
    check_matrix(phi, "phi")
    n_out, n_in = phi.shape
    check_vector(lam_in, "lam_in", n_in)
    check_vector(lam_out, "lam_out", n_out)
    check_same_dtype("phi", phi, lam_in=lam_in, lam_out=lam_out)
    namespace(phi, lam_in, lam_out)
    lam_diff = lam_in[None, :] - lam_out[:, None]  # (n_out, n_in): lam_in_j − lam_out_i
    W = phi * lam_diff
    return W, (phi, lam_in, lam_out)


def spectral_weight_backward(dW, cache, *, need_dphi=True, need_dlam=True):
    """Chain ∂L/∂W back to the spectral parameters.

    Parameters
    ----------
    dW : (n_out, n_in) array, ∂L/∂W
    cache : from ``spectral_weight_forward``
    need_dphi, need_dlam : skip gradients of frozen parameters (returned as None)

    Returns
    -------
    dphi : (n_out, n_in) array, ``dphi_ij = dW_ij (lam_in_j − lam_out_i)``
    dlam_in : (n_in,) array, ``dlam_in_j = Σ_i dW_ij phi_ij`` (column sums of dW ⊙ phi)
    dlam_out : (n_out,) array, ``dlam_out_i = −Σ_j dW_ij phi_ij`` (minus row sums of dW ⊙ phi)

    Notes
    -----
    .. math::
        \\frac{\\partial L}{\\partial \\phi_{ij}} = dW_{ij}(\\lambda^{in}_j - \\lambda^{out}_i), \\quad
        \\frac{\\partial L}{\\partial \\lambda^{in}_j} = \\sum_i dW_{ij}\\phi_{ij}, \\quad
        \\frac{\\partial L}{\\partial \\lambda^{out}_i} = -\\sum_j dW_{ij}\\phi_{ij}
    """
    phi, lam_in, lam_out = cache
    check_matrix(dW, "dW", tuple(phi.shape))
    check_same_dtype("phi", phi, dW=dW)
    xp = namespace(dW, phi)
    dphi = dW * (lam_in[None, :] - lam_out[:, None]) if need_dphi else None
    dlam_in = dlam_out = None
    if need_dlam:
        dW_phi = dW * phi  # shared by both eigenvalue gradients
        dlam_in = xp.sum(dW_phi, axis=0)
        dlam_out = -xp.sum(dW_phi, axis=1)
    return dphi, dlam_in, dlam_out


def spectral_forward(x, phi, lam_in, lam_out, b=None):
    """Forward pass of a spectral layer.

    Parameters
    ----------
    x : (N, n_in) array
    phi : (n_out, n_in) array
    lam_in : (n_in,) array
    lam_out : (n_out,) array
    b : (n_out,) array or None

    Returns
    -------
    y : (N, n_out) array, ``y = x @ W.T + b`` with ``W_ij = phi_ij (lam_in_j − lam_out_i)``
    cache : what ``spectral_backward`` needs

    Notes
    -----
    .. math:: y_{ni} = \\sum_j x_{nj}\\,\\phi_{ij}\\,(\\lambda^{in}_j - \\lambda^{out}_i) + b_i
    """
    W, weight_cache = spectral_weight_forward(phi, lam_in, lam_out)
    y, dense_cache = dense_forward(x, W, b)
    return y, (dense_cache, weight_cache)


def spectral_backward(dy, cache, *, need_dx=True, need_dphi=True, need_dlam=True):
    """Backward pass of a spectral layer.

    Parameters
    ----------
    dy : (N, n_out) array, ∂L/∂y
    cache : from ``spectral_forward``
    need_dx, need_dphi, need_dlam : skip work for gradients nobody uses (returned as None)

    Returns
    -------
    dx : (N, n_in) array, ``dy @ W``
    dphi : (n_out, n_in) array, ``dW ⊙ (lam_in_j − lam_out_i)``
    dlam_in : (n_in,) array, ``Σ_i dW_ij phi_ij``
    dlam_out : (n_out,) array, ``−Σ_j dW_ij phi_ij``
    db : (n_out,) array or None, ``Σ_n dy_n``

    Notes
    -----
    With ``dW = dyᵀ x`` (the dense layer's weight gradient, never a parameter here):

    .. math::
        \\frac{\\partial L}{\\partial \\phi_{ij}} = dW_{ij}(\\lambda^{in}_j - \\lambda^{out}_i), \\quad
        \\frac{\\partial L}{\\partial \\lambda^{in}_j} = \\sum_i dW_{ij}\\phi_{ij}, \\quad
        \\frac{\\partial L}{\\partial \\lambda^{out}_i} = -\\sum_j dW_{ij}\\phi_{ij}
    """
    dense_cache, weight_cache = cache
    dx, dW, db = dense_backward(dy, dense_cache, need_dx=need_dx)
    dphi, dlam_in, dlam_out = spectral_weight_backward(dW, weight_cache, need_dphi=need_dphi,
                                                       need_dlam=need_dlam)
    return dx, dphi, dlam_in, dlam_out, db
