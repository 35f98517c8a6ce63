"""Decompositions of the eigenvector block phi that close the gap to dense training.

S-SVD:  phi = U diag(s) V   (U, V frozen; the m = min(n_in, n_out) values s are trained)
QR:     phi = R Q           (Q frozen with orthonormal rows; R trained)

Each is a forward/backward pair that maps the factors to phi and ∂L/∂phi back to the
trained factor; the spectral layer chains them after ``spectral_weight_backward``.
See paper.md §3, §5 and lesson 09.
"""
from __future__ import annotations

from ..backend import namespace
from ._checks import check_matrix, check_same_dtype, check_vector


def ssvd_forward(U, s, V):
    """phi from its S-SVD factors.

    Parameters
    ----------
    U : (n_out, m) array
    s : (m,) array
    V : (m, n_in) array

    Returns
    -------
    phi : (n_out, n_in) array, ``phi = U diag(s) V``
    cache : (U, V)

    Notes
    -----
    .. math:: \\phi_{ij} = \\sum_r U_{ir}\\, s_r\\, V_{rj}
    """
    check_matrix(U, "U")
    check_vector(s, "s", U.shape[1])
    check_matrix(V, "V", (U.shape[1], None))
    check_same_dtype("U", U, s=s, V=V)
    namespace(U, s, V)
    phi = (U * s[None, :]) @ V
    return phi, (U, V)


def ssvd_backward(dphi, cache):
    """∂L/∂s from ∂L/∂phi.

    Returns
    -------
    ds : (m,) array, ``ds_r = Σ_ij dphi_ij U_ir V_rj = (Uᵀ dphi Vᵀ)_rr``

    The diagonal is computed as row sums of (Uᵀ dphi) ⊙ V, without forming the m×m product.

    Notes
    -----
    .. math:: \\frac{\\partial L}{\\partial s_r} = \\sum_{ij} d\\phi_{ij}\\, U_{ir} V_{rj}
        = (U^\\top d\\phi\\, V^\\top)_{rr}
    """
    U, V = cache
    check_matrix(dphi, "dphi", (U.shape[0], V.shape[1]))
    check_same_dtype("U", U, dphi=dphi)
    xp = namespace(dphi, U)
    return xp.sum((U.T @ dphi) * V, axis=1)


def qr_forward(R, Q):
    """phi from its QR factors.

    Parameters
    ----------
    R : (n_out, m) array, trained (lower-triangular at initialisation)
    Q : (m, n_in) array, frozen, orthonormal rows

    Returns
    -------
    phi : (n_out, n_in) array, ``phi = R Q``
    cache : (Q, n_out)

    Notes
    -----
    .. math:: \\phi_{ij} = \\sum_r R_{ir}\\, Q_{rj}
    """
    check_matrix(R, "R")
    check_matrix(Q, "Q", (R.shape[1], None))
    check_same_dtype("R", R, Q=Q)
    namespace(R, Q)
    return R @ Q, (Q, R.shape[0])


def qr_backward(dphi, cache, R_mask=None):
    """∂L/∂R from ∂L/∂phi.

    Parameters
    ----------
    dphi : (n_out, n_in) array
    cache : from ``qr_forward``
    R_mask : (n_out, m) 0/1 array or None; the lower-triangular mask keeps R triangular

    Returns
    -------
    dR : (n_out, m) array, ``dR = dphi Qᵀ`` (⊙ R_mask)

    Notes
    -----
    .. math:: \\frac{\\partial L}{\\partial R_{ir}} = \\sum_j d\\phi_{ij}\\, Q_{rj} = (d\\phi\\, Q^\\top)_{ir}
    """
    Q, n_out = cache
    check_matrix(dphi, "dphi", (n_out, Q.shape[1]))
    if R_mask is not None:  # a (1, m) or (m,) mask would broadcast over every row
        check_matrix(R_mask, "R_mask", (n_out, Q.shape[0]))
    check_same_dtype("Q", Q, dphi=dphi, R_mask=R_mask)
    dR = dphi @ Q.T
    if R_mask is not None:
        dR *= R_mask  # dR is a fresh array
    return dR
