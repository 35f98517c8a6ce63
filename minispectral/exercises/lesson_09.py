"""Checks for lesson 09, closing the gap with S-SVD and QR."""
import numpy as np

from ..functional import qr_backward, qr_forward, ssvd_backward, ssvd_forward
from ..gradient_check import numerical_gradient
from . import compare, exercise


@exercise("09", "my_ssvd_backward")
def check_ssvd_backward(my_ssvd_backward):
    """``my_ssvd_backward(dphi, cache) -> ds`` with ``cache = (U, V)``, phi = U diag(s) V, against
    ``ssvd_backward`` and against float64 central differences of L = Σ dphi ⊙ phi(s).
    Shapes: U (n_out, m), s (m,), V (m, n_in), dphi (n_out, n_in); ds (m,)."""
    rng = np.random.default_rng(11)
    n_out, n_in = 4, 7
    m = min(n_out, n_in)
    U, s, V = rng.standard_normal((n_out, m)), rng.uniform(0, 3, m), rng.standard_normal((m, n_in))
    dphi = rng.standard_normal((n_out, n_in))
    ds = my_ssvd_backward(dphi.copy(), (U.copy(), V.copy()))
    ds_lib = ssvd_backward(dphi, ssvd_forward(U, s, V)[1])
    ds_num = numerical_gradient(lambda: np.sum(dphi * ssvd_forward(U, s, V)[0]), s)
    return compare("my_ssvd_backward against ssvd_backward and (~cd) float64 central differences",
                   {"ds": (ds, ds_lib), "ds~cd": (ds, ds_num)})


@exercise("09", "my_qr_backward")
def check_qr_backward(my_qr_backward):
    """``my_qr_backward(dphi, Q, R_mask) -> dR`` with phi = R Q and dR masked by R_mask (1 where R may move),
    against ``qr_backward`` and against float64 central differences of L = Σ dphi ⊙ phi(R), masked.
    Shapes: R (n_out, m), Q (m, n_in), dphi (n_out, n_in), R_mask like R; dR like R."""
    rng = np.random.default_rng(12)
    n_out, n_in = 4, 7
    m = min(n_out, n_in)
    R = np.tril(rng.standard_normal((n_out, m)))
    Q = np.linalg.qr(rng.standard_normal((n_in, m)))[0].T  # orthonormal rows
    mask = np.tril(np.ones((n_out, m)))
    dphi = rng.standard_normal((n_out, n_in))
    dR = my_qr_backward(dphi.copy(), Q.copy(), mask.copy())
    dR_lib = qr_backward(dphi, qr_forward(R, Q)[1], R_mask=mask)
    dR_num = numerical_gradient(lambda: np.sum(dphi * qr_forward(R, Q)[0]), R) * mask
    return compare("my_qr_backward against qr_backward and (~cd) float64 central differences, masked",
                   {"dR": (dR, dR_lib), "dR~cd": (dR, dR_num)})
