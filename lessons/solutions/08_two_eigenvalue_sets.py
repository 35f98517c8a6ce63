"""Solutions to the exercises of lesson 08 (why two eigenvalue sets)."""
import os

import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.reproduce.params import LEARNING_RATES
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(8)

# --- Exercise 1: an exact silencer ------------------------------------------------------------------
# With lam_out ≡ 0, W = phi diag(lam_in): column j is phi[:, j] lam_in_j, so lam_in_j = 0 removes
# column j exactly, which is what zeroing pixel j of every input does.
data = load_dataset("mnist", val_split=0.2, seed=0)
n_train, epochs = (10_000, 3) if FAST else (48_000, 10)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
only_in = ms.mlp((784, 100, 10), model="spectral", lam_out_init=0.0, trainable={"lam_out": False}, seed=0)
two_sets = ms.mlp((784, 100, 10), model="spectral", seed=0)
for model in (only_in, two_sets):
    fit(model, x_train, y_train, epochs=epochs, lr=LEARNING_RATES["mnist"]["spectral"], seed=0, progress=False)
assert np.all(only_in.layers[0].params["lam_out"].value == 0)

lam_in = only_in.layers[0].params["lam_in"].value
silenced_pixels = np.argsort(np.abs(lam_in))[:392]  # the half with the smallest knobs
knob_model = only_in.copy()
knob_model.layers[0].params["lam_in"].value[silenced_pixels] = 0.0
x_zeroed = data.x_test.copy()
x_zeroed[:, silenced_pixels] = 0.0
out_knob = knob_model.forward(data.x_test)
out_zeroed = only_in.forward(x_zeroed)
assert np.allclose(out_knob, out_zeroed, rtol=1e-5, atol=1e-5)
acc = {"lam_out = 0": evaluate(only_in, data.x_test, data.y_test)[1],
       "two sets": evaluate(two_sets, data.x_test, data.y_test)[1],
       "lam_out = 0, half the knobs at zero": evaluate(knob_model, data.x_test, data.y_test)[1]}
print("exercise 1: lam_in_j = 0 equals zeroing pixel j;", {k: round(v, 4) for k, v in acc.items()})
assert acc["lam_out = 0"] > 0.15 and acc["two sets"] > 0.15  # well above chance (0.10)

# --- Exercise 2: gains are not unique ----------------------------------------------------------------
# h = relu(x W1ᵀ + b1). Scaling lam_in¹, lam_out¹, b1 by c > 0 scales W1 and b1 by c, so
# h -> relu(c z) = c relu(z) (ReLU is positively homogeneous). Scaling lam_in², lam_out² by 1/c
# scales W2 by 1/c, so the logits h W2ᵀ + b2 are unchanged. The size of an eigenvalue therefore
# only means something relative to the other eigenvalues of its layer and to the next layer's.
c = 7.5
model = ms.mlp((20, 12, 5), model="spectral", phi_init=(-1, 1), lam_in_init=(-2, 2), lam_out_init=(-2, 2),
               b_init=(-1, 1), seed=0, dtype="float64")
scaled = model.copy()
for name in ("lam_in", "lam_out", "b"):
    scaled.layers[0].params[name].value *= c
for name in ("lam_in", "lam_out"):
    scaled.layers[2].params[name].value /= c
x = rng.standard_normal((9, 20))
diff = float(np.max(np.abs(model.forward(x) - scaled.forward(x))))
print(f"exercise 2: largest output difference after rescaling by c = {c}: {diff:.1e}")
assert diff < 1e-10
assert not np.allclose(np.abs(model.layers[0].params["lam_out"].value), np.abs(scaled.layers[0].params["lam_out"].value))

# --- Exercise 3: a zero in phi --------------------------------------------------------------------------
# J lam = 0 means phi_ij (lam_in_j - lam_out_i) = 0 for every edge: lam_in_j = lam_out_i wherever phi_ij != 0.
# Read phi's nonzero entries as the edges of a bipartite graph on the n_in + n_out nodes: the eigenvalues
# must be equal along every edge, so constant on each connected component, and the lost directions are one
# per component: rank J = n_in + n_out - (number of components). One zero entry leaves the graph connected
# (every other edge is still there): the rank stays n_in + n_out - 1. A zero row cuts receiving node i off:
# lam_out_i no longer touches W, a second lost direction, rank n_in + n_out - 2.


def weight_jacobian(phi):
    n_out, n_in = phi.shape
    J = np.zeros((n_out, n_in, n_in + n_out))
    rows, cols = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    J[rows, cols, cols] = phi
    J[rows, cols, n_in + rows] = -phi
    return J.reshape(n_out * n_in, n_in + n_out)


n_in, n_out = 7, 4
phi = rng.uniform(-0.5, 0.5, (n_out, n_in))
one_zero, zero_row = phi.copy(), phi.copy()
one_zero[1, 2] = 0.0
zero_row[3] = 0.0
ranks = {name: int(np.linalg.matrix_rank(weight_jacobian(p)))
         for name, p in (("phi", phi), ("one zero", one_zero), ("zero row", zero_row))}
print("exercise 3: ranks of J:", ranks, f"(n_in + n_out = {n_in + n_out})")
assert ranks == {"phi": n_in + n_out - 1, "one zero": n_in + n_out - 1, "zero row": n_in + n_out - 2}
