"""Solutions to the exercises of lesson 06 (the gradients of the eigenvalues)."""
import numpy as np

import minispectral as ms
from minispectral.functional import spectral_backward, spectral_forward
from minispectral.gradient_check import numerical_gradient, rel_error

rng = np.random.default_rng(5)
N, n_in, n_out = 5, 6, 4
x = rng.standard_normal((N, n_in))
dy = rng.standard_normal((N, n_out))

# --- Exercise 1: the one-set model --------------------------------------------------------------
# With λ_in ≡ 0, W_ij = −λ_out_i φ_ij, so with dW = dyᵀ x:
#   dλ_out_i = Σ_j dW_ij ∂W_ij/∂λ_out_i = −Σ_j dW_ij φ_ij,    dφ_ij = −λ_out_i dW_ij.
layer = ms.Spectral(n_in, n_out, variant="nc", trainable={"phi": True}, phi_init=(-1, 1),
                    lam_out_init=(-2, 2), seed=0, dtype="float64")
phi, lam_out = layer.params["phi"].value, layer.params["lam_out"].value
layer.forward(x)
layer.backward(dy)
dW = dy.T @ x
assert np.allclose(layer.params["lam_out"].grad, -np.sum(dW * phi, axis=1), rtol=1e-13)
assert np.allclose(layer.params["phi"].grad, -lam_out[:, None] * dW, rtol=1e-13)
assert layer.params["lam_in"].grad is None  # frozen at zero
report = ms.gradcheck(layer, x)
print("exercise 1: nc layer with trainable phi\n", report, sep="")
assert report.passed and {r.name for r in report.rows} == {"x", "phi", "lam_out", "b"}

# --- Exercise 2: the flat direction ---------------------------------------------------------------
# L(λ) = 1/(2n) Σ (Y − T)² is quadratic in λ (W is linear in λ), so central differences of the
# gradient give the Hessian up to round-off. Shifting all eigenvalues together changes nothing,
# so (1, ..., 1) is a null vector; the other directions change W and hence the loss.
t_in, t_out, n_samples = 8, 5, 200
phi_t = rng.uniform(-1, 1, size=(t_out, t_in))
X = rng.standard_normal((n_samples, t_in))
T, _ = spectral_forward(X, phi_t, rng.uniform(-2, 2, t_in), rng.uniform(-2, 2, t_out))


def gradient(lam):
    Y, cache = spectral_forward(X, phi_t, lam[:t_in], lam[t_in:])
    _, _, g_in, g_out, _ = spectral_backward((Y - T) / n_samples, cache, need_dx=False, need_dphi=False)
    return np.concatenate([g_in, g_out])


lam0 = rng.uniform(-2, 2, t_in + t_out)
h = 1e-4
H = np.stack([(gradient(lam0 + h * e) - gradient(lam0 - h * e)) / (2 * h) for e in np.eye(t_in + t_out)],
             axis=1)
assert np.allclose(H, H.T, atol=1e-8)
eigenvalues, eigenvectors = np.linalg.eigh((H + H.T) / 2)
null = eigenvectors[:, 0]
print(f"exercise 2: Hessian eigenvalues from {eigenvalues[0]:.1e} to {eigenvalues[-1]:.2f}")
assert abs(eigenvalues[0]) < 1e-8  # one zero eigenvalue ...
assert eigenvalues[1] > 1e-3       # ... and every other one positive: positive semi-definite
assert np.allclose(np.abs(null), 1 / np.sqrt(t_in + t_out), atol=1e-6)  # ∝ (1, ..., 1)
assert np.allclose(H @ np.ones(t_in + t_out), 0, atol=1e-8)

# --- Exercise 3: dphi from A -------------------------------------------------------------------------
# Φ = I + E, Φ⁻¹ = I − E, and δΦ = δE, δ(Φ⁻¹) = −δE. Then
#   δA = δE Λ (I − E) − (I + E) Λ δE = δE Λ − Λ δE − δE Λ E − E Λ δE,
# and the last two vanish (a lower-left block times a lower-left block is zero). The lower-left
# block of δE Λ − Λ δE is δφ Λ_in − Λ_out δφ, so δL = Σ_ij dW_ij δφ_ij (λ_in_j − λ_out_i).
phi = rng.uniform(-1, 1, size=(n_out, n_in))
lam_in, lam_out = rng.uniform(-2, 2, n_in), rng.uniform(-2, 2, n_out)
n_nodes = n_in + n_out
Lam = np.diag(np.concatenate([lam_in, lam_out]))


def transfer_operator(phi):
    E = np.zeros((n_nodes, n_nodes))
    E[n_in:, :n_in] = phi
    return (np.eye(n_nodes) + E) @ Lam @ (np.eye(n_nodes) - E)


delta = rng.standard_normal((n_out, n_in))
dA_block = (transfer_operator(phi + 1e-3 * delta) - transfer_operator(phi))[n_in:, :n_in] / 1e-3
assert np.allclose(dA_block, delta @ np.diag(lam_in) - np.diag(lam_out) @ delta, rtol=1e-8, atol=1e-10)

dW = rng.standard_normal((n_out, n_in))
dA = np.zeros((n_nodes, n_nodes))
dA[n_in:, :n_in] = dW
dphi_numerical = numerical_gradient(lambda: np.sum(dA * transfer_operator(phi)), phi)
dphi_formula = dW * (lam_in[None, :] - lam_out[:, None])
err = rel_error(dphi_formula, dphi_numerical)
print(f"exercise 3: dphi from the transfer operator, rel error {err:.1e}")
assert err < 1e-8
