"""Solutions to the exercises of lesson 05 (the spectral domain)."""
import numpy as np

import minispectral as ms

rng = np.random.default_rng(4)
n_in, n_out = 5, 3
n_nodes = n_in + n_out
phi = rng.uniform(-1, 1, size=(n_out, n_in))
I = np.eye(n_nodes)
E = np.zeros((n_nodes, n_nodes))
E[n_in:, :n_in] = phi
Phi = I + E

# --- Exercise 1: powers of Phi ------------------------------------------------------------------
# E² = 0, so the binomial expansion of (I + E)^k stops after two terms: Φ^k = I + kE for k ≥ 0.
# (I + E)(I − E) = I gives Φ⁻¹ = I − E, and then Φ^{-k} = (I − E)^k = I − kE.
Phi_inv = 2 * I - Phi
assert np.allclose(np.linalg.matrix_power(Phi, 3), I + 3 * E, rtol=0, atol=1e-14)
assert np.allclose(np.linalg.matrix_power(Phi_inv, 2), I - 2 * E, rtol=0, atol=1e-14)
assert np.allclose(np.linalg.inv(Phi) @ np.linalg.inv(Phi), I - 2 * E, rtol=0, atol=1e-13)
assert np.allclose(Phi_inv, I + (-1) * E)
print("exercise 1: Phi^k = I + kE for k = 3, -1, -2")

# --- Exercise 2: the one-set model (variant "nc") ---------------------------------------------------
# With λ_in ≡ 0, W_ij = φ_ij (0 − λ_out_i) = −λ_out_i φ_ij: row i is φ's row scaled by −λ_out_i,
# so λ_out_i = 0 silences output node i (its whole row of incoming weights vanishes).
nc = ms.Spectral(n_in, n_out, variant="nc", seed=0, dtype="float64")
p = nc.params
assert np.all(p["lam_in"].value == 0) and not p["lam_in"].trainable and not p["phi"].trainable
assert p["lam_out"].trainable
assert np.allclose(nc.weight(), -p["lam_out"].value[:, None] * p["phi"].value, rtol=1e-15)
p["lam_out"].value[1] = 0.0
assert np.all(nc.weight()[1] == 0)
print("exercise 2: nc weights are -diag(lam_out) phi; lam_out_i = 0 zeroes row i")

# --- Exercise 3: every dense layer is spectral ---------------------------------------------------
# W_ij = φ_ij (λ_in_j − λ_out_i)  ⇔  φ_ij = W_ij / (λ_in_j − λ_out_i) when no difference is zero.
# Keeping the two sets in disjoint intervals guarantees that.
W_target = rng.standard_normal((n_out, n_in))
lam_in = rng.uniform(1, 2, size=n_in)
lam_out = rng.uniform(-2, -1, size=n_out)
phi_fit = W_target / (lam_in[None, :] - lam_out[:, None])
layer = ms.Spectral(n_in, n_out, variant="full", phi_init=phi_fit, lam_in_init=lam_in, lam_out_init=lam_out,
                    dtype="float64")
assert np.allclose(layer.weight(), W_target, rtol=1e-14, atol=1e-15)
eigenvalues = np.linalg.eigvals(layer.transfer_operator())
assert np.allclose(np.sort(eigenvalues.real), np.sort(np.concatenate([lam_in, lam_out])), atol=1e-12)
assert np.allclose(eigenvalues.imag, 0, atol=1e-12)
print("exercise 3: the spectral layer reproduces W exactly, with the chosen eigenvalues")
