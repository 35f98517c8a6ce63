"""Solutions to the exercises of lesson 13 (the capstone: a two-set spectral network in NumPy)."""
import os

import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.experiment import RunConfig
from minispectral.train import fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
NAMES = {"0.phi": "phi1", "0.lam_in": "lam_in1", "0.lam_out": "lam_out1", "0.b": "b1",
         "2.phi": "phi2", "2.lam_in": "lam_in2", "2.lam_out": "lam_out2", "2.b": "b2"}


def net_forward(params, x):
    """The lesson's forward pass: logits (N, C) and its cache."""
    W1 = params["phi1"] * (params["lam_in1"][None, :] - params["lam_out1"][:, None])
    z1 = x @ W1.T + params["b1"]
    h = np.maximum(z1, 0)
    W2 = params["phi2"] * (params["lam_in2"][None, :] - params["lam_out2"][:, None])
    return h @ W2.T + params["b2"], {"x": x, "W1": W1, "z1": z1, "h": h, "W2": W2}


# --- Exercise 1: train the eigenvectors too ------------------------------------------------------------
# W_ij = phi_ij (lam_in_j − lam_out_i), so dphi_ij = dW_ij (lam_in_j − lam_out_i): dW times the same matrix of
# eigenvalue differences that built W.  The backward pass gains one line per layer.
def net_backward_full(dlogits, params, cache):
    dW2 = dlogits.T @ cache["h"]
    dz1 = (dlogits @ cache["W2"]) * (cache["z1"] > 0)
    dW1 = dz1.T @ cache["x"]
    grads = {}
    for k, dW, dy in ((1, dW1, dz1), (2, dW2, dlogits)):
        phi, lam_in, lam_out = params[f"phi{k}"], params[f"lam_in{k}"], params[f"lam_out{k}"]
        grads[f"phi{k}"] = dW * (lam_in[None, :] - lam_out[:, None])
        grads[f"lam_in{k}"] = (dW * phi).sum(axis=0)
        grads[f"lam_out{k}"] = -(dW * phi).sum(axis=1)
        grads[f"b{k}"] = dy.sum(axis=0)
    return grads


full = ms.mlp((7, 5, 3), "full", seed=3, dtype="float64", phi_init=(-1, 1), lam_in_init=(-1, 1),
              lam_out_init=(-1, 1), b_init=(-0.5, 0.5))
params = {NAMES[name]: p.value.copy() for name, p in full.named_parameters()}
rng = np.random.default_rng(3)
x, dlogits = rng.standard_normal((6, 7)), rng.standard_normal((6, 3))
logits, cache = net_forward(params, x)
assert np.allclose(logits, full.forward(x), rtol=1e-13, atol=1e-13)
full.backward(dlogits)
grads = net_backward_full(dlogits, params, cache)
for name, p in full.named_parameters():
    assert p.trainable and np.allclose(grads[NAMES[name]], p.grad, rtol=1e-12, atol=1e-13), name
print("exercise 1: dphi1, dphi2 (and the rest) agree with ms.mlp(..., 'full')")

# --- Exercise 2: the transfer operator of the second layer -------------------------------------------------
recipe = RunConfig(model="spectral", dataset="mnist", hidden=(100,)).resolved()
data = load_dataset("mnist", val_split=recipe.val_split, seed=recipe.seed, dtype=recipe.dtype)
model = ms.mlp((784, 100, 10), recipe.model, activation=recipe.activation, seed=recipe.seed, dtype=recipe.dtype)
initial = {NAMES[name]: p.value.copy() for name, p in model.named_parameters()}
fit(model, data.x_train, data.y_train, epochs=1, batch_size=recipe.batch_size, optimizer=recipe.optimizer,
    lr=recipe.lr, seed=recipe.seed, progress=False)
trained = {NAMES[name]: p.value.astype(np.float64) for name, p in model.named_parameters()}

phi2, lam_in2, lam_out2 = trained["phi2"], trained["lam_in2"], trained["lam_out2"]
n_in, n_out = 100, 10
Phi = np.block([[np.eye(n_in), np.zeros((n_in, n_out))], [phi2, np.eye(n_out)]])
Lam = np.diag(np.concatenate([lam_in2, lam_out2]))
A = Phi @ Lam @ (2 * np.eye(n_in + n_out) - Phi)
_, cache = net_forward(trained, data.x_test[:2])
assert np.allclose(A[n_in:, :n_in], cache["W2"], rtol=1e-12, atol=1e-14)  # the lower-left block is W2
assert np.allclose(A @ Phi, Phi @ Lam, atol=1e-12)  # Φ's columns are eigenvectors, Λ their eigenvalues
assert np.allclose(A[:n_in, n_in:], 0)  # the upper-right block is zero: the map goes one way only
print("exercise 2: A₂ = Φ₂Λ₂Φ₂⁻¹ has W₂ as its lower-left block, and A₂Φ₂ = Φ₂Λ₂")

# --- Exercise 3: pixels that never learn -------------------------------------------------------------------
# dlam_in1_j = Σ_n x_nj (dz1_n φ1)_j: a pixel that is 0 in every training image gets a gradient of exactly 0 at
# every step.  Adamax then keeps m = 0 (a decaying average of zeros), and u >= eps > 0, so its step m/u is exactly
# 0: the eigenvalue never moves.  Every other pixel is lit in some batch, and moves.
never_on = ~np.any(data.x_train > 0, axis=0)
unchanged = model.layers[0].params["lam_in"].value == initial["lam_in1"]
print(f"exercise 3: {never_on.sum()} pixels are 0 in every training image; {unchanged.sum()} entries of lam_in1 "
      "did not move in one epoch")
assert never_on.sum() > 0 and np.array_equal(unchanged, never_on)
