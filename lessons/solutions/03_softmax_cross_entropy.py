"""Solutions to the exercises of lesson 03 (softmax cross-entropy)."""
import numpy as np

import minispectral as ms
from minispectral.functional import one_hot, softmax_cross_entropy
from minispectral.gradient_check import numerical_gradient, rel_error

rng = np.random.default_rng(3)
N, C = 5, 7
z = rng.standard_normal((N, C))
labels = rng.integers(0, C, size=N)

# --- Exercise 1: shift invariance ---------------------------------------------------------------
# L(z + c·1) depends on c through every logit, so dL/dc = Σ_{n,k} ∂L/∂z_nk · 1, and each row
# Σ_k (p_nk − [k = y_n]) / N = (1 − 1) / N = 0. The loss itself is constant in c.
shift = np.zeros(1)
loss_of_shift = lambda: float(softmax_cross_entropy(z + shift[0], labels)[0])  # noqa: E731
dL_dc_numerical = numerical_gradient(loss_of_shift, shift)[0]
_, dz = softmax_cross_entropy(z, labels)
assert abs(dL_dc_numerical) < 1e-9
assert np.allclose(dz.sum(axis=1), 0.0, atol=1e-15)
print(f"exercise 1: dL/dc = {dL_dc_numerical:.1e}; row sums of dL/dz are zero")

# --- Exercise 2: label smoothing ----------------------------------------------------------------
# L = −(1/N) Σ_n Σ_c q_nc log p_nc. Step 1 gives ∂L/∂p_nc = −q_nc / (N p_nc); through the
# softmax Jacobian, Σ_c −q_nc/(N p_nc) · p_nc (δ_ck − p_nk) = −(q_nk − p_nk Σ_c q_nc) / N,
# and Σ_c q_nc = 1, so ∂L/∂z = (p − q) / N.
def smoothed_ce_forward(logits, eps=0.1):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = (1 - eps) * one_hot(labels, C, logits.dtype) + eps / C
    loss = -np.sum(q * log_p) / len(logits)
    return np.asarray(loss), (np.exp(log_p) - q) / len(logits)


def smoothed_ce_backward(dloss, dlogits):
    return dloss * dlogits


report = ms.gradcheck(smoothed_ce_forward, smoothed_ce_backward, {"logits": z})
print("exercise 2: label smoothing\n", report, sep="")
assert report.passed
# with eps = 0 it is the library's loss and gradient
loss0, dz0 = smoothed_ce_forward(z, eps=0.0)
loss_lib, dz_lib = softmax_cross_entropy(z, labels)
assert np.isclose(float(loss0), float(loss_lib), rtol=1e-13) and np.allclose(dz0, dz_lib, atol=1e-15)

# --- Exercise 3: temperature ------------------------------------------------------------------------
# L_T(z) = L(z / T): the chain rule multiplies the gradient at z / T by d(z/T)/dz = 1/T, and the
# library's gradient at z / T is (p_T − onehot) / N.
T = 2.5
z_var = z.copy()
dz_T_lib = softmax_cross_entropy(z / T, labels)[1] / T
p_T = np.exp(z / T) / np.exp(z / T).sum(axis=1, keepdims=True)
dz_T_hand = (p_T - one_hot(labels, C, z.dtype)) / (N * T)
dz_T_num = numerical_gradient(lambda: float(softmax_cross_entropy(z_var / T, labels)[0]), z_var)
assert np.allclose(dz_T_lib, dz_T_hand, rtol=1e-12, atol=1e-15)
err = rel_error(dz_T_lib, dz_T_num)
print(f"exercise 3: temperature gradient, rel error {err:.1e}")
assert err < 1e-8
