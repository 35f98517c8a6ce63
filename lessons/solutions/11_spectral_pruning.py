"""Solutions to the exercises of lesson 11 (spectral pruning)."""
import os

import numpy as np

import minispectral as ms
from minispectral import pruning
from minispectral.datasets import load_mnist
from minispectral.experiment import DEFAULT_LR
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(9)

# --- Exercise 1: two sets do not prune -----------------------------------------------------------------
# W_ij = phi_ij (lam_in_j − lam_out_i). With lam_out_i = 0, row i is phi_i: ⊙ lam_in, not zero.
# Row i vanishes (for a generic phi) only if lam_in_j = lam_out_i for every j: lam_in must be constant,
# equal to lam_out_i, even for a single node. Once it is, every node whose lam_out equals that constant
# vanishes, any number at once (rows 2 and 4 below). A trained lam_in is not constant, so training does
# not switch nodes off this way: that needs the one-set layer (lam_in = 0, lam_out_i = 0).
layer = ms.Spectral(12, 6, variant="spectral", bias=False, phi_init=(-1, 1), lam_in_init=(-2, 2),
                    lam_out_init=(-2, 2), seed=0, dtype="float64")
layer.params["lam_out"].value[2] = 0.0
x = rng.standard_normal((10, 12))
row = layer.weight()[2]
print(f"exercise 1: with lam_out_2 = 0 the row norm is {np.linalg.norm(row):.3f}; output 2 std {layer.forward(x)[:, 2].std():.3f}")
assert np.linalg.norm(row) > 0.1 and np.allclose(row, layer.phi()[2] * layer.params["lam_in"].value)
layer.params["lam_in"].value[:] = 0.7
layer.params["lam_out"].value[[2, 4]] = 0.7
assert np.allclose(layer.weight()[[2, 4]], 0.0) and np.all(np.abs(layer.weight()[[0, 1, 3, 5]]).sum(axis=1) > 0)

# --- Exercise 2: a global threshold ---------------------------------------------------------------------
# Scores of both hidden layers go into one pool; the 80th percentile of the pool is the threshold, and each
# layer keeps its nodes above it. Pruning layer 0 changes only layer 2's inputs, so the node indices of
# layer 2's outputs stay valid for the second prune.
data = load_mnist(val_split=1 / 12, seed=0)
n_train, epochs = (5_000, 2) if FAST else (20_000, 5)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
net = ms.mlp((784, 100, 100, 10), model="nc", activation="tanh", bias=False, trainable={"phi": True}, seed=0)
fit(net, x_train, y_train, epochs=epochs, lr=DEFAULT_LR["full"], seed=0, progress=False)
scores = {0: pruning.node_scores(net, 0), 2: pruning.node_scores(net, 2)}
tau = np.quantile(np.concatenate(list(scores.values())), 0.8)
keep = {i: np.flatnonzero(s > tau) for i, s in scores.items()}
small = pruning.prune(pruning.prune(net, 0, keep[0]), 2, keep[2])
kept = {i: len(k) for i, k in keep.items()}
acc_before, acc_after = (evaluate(m, data.x_test, data.y_test)[1] for m in (net, small))
print(f"exercise 2: nodes kept per hidden layer {kept}; accuracy {acc_before:.4f} -> {acc_after:.4f}")
assert sum(kept.values()) == 40
assert small.layers[0].n_out == kept[0] and small.layers[2].n_in == kept[0] and small.layers[2].n_out == kept[2]

# --- Exercise 3: a score that survives rescaling --------------------------------------------------------
# relu(c z) = c relu(z) for c > 0, so scaling lam_out_i of layer 0 by c (row i of W1 by c) and column i of
# layer 2's phi by 1/c (column i of W2 by 1/c) leaves the outputs unchanged. |lam_out_i| changes by c;
# the product of the incoming and outgoing weight norms, ‖W1[i, :]‖·‖W2[:, i]‖, does not.
model = ms.mlp((20, 12, 5), model="nc", activation="relu", bias=False, phi_init=(-1, 1), lam_out_init=(-2, 2),
               seed=0, dtype="float64")
scale = rng.uniform(0.05, 20, size=12)
rescaled = model.copy()
rescaled.layers[0].params["lam_out"].value *= scale
rescaled.layers[2].params["phi"].value /= scale[None, :]
x = rng.standard_normal((16, 20))
assert np.allclose(model.forward(x), rescaled.forward(x), rtol=1e-10, atol=1e-10)


def invariant_score(net):
    return np.linalg.norm(net.layers[0].weight(), axis=1) * np.linalg.norm(net.layers[2].weight(), axis=0)


rank_before = np.argsort(pruning.node_scores(model, 0))
rank_after = np.argsort(pruning.node_scores(rescaled, 0))
print("exercise 3: |lam_out| ranking changed:", not np.array_equal(rank_before, rank_after),
      "| invariant score unchanged:", np.allclose(invariant_score(model), invariant_score(rescaled)))
assert not np.array_equal(rank_before, rank_after)
assert np.allclose(invariant_score(model), invariant_score(rescaled), rtol=1e-10)
