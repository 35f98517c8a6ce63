"""Solutions to the exercises of lesson 10 (sparse networks: dynamic magnitude pruning)."""
import os

import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.functional import magnitude_mask
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(8)

# --- Exercise 1: ties -----------------------------------------------------------------------------------
# With W = ±1, every |W_ij| equals τ = 1, and no entry satisfies |W_ij| > τ: all are pruned. In general
# the strict inequality keeps at most size − k entries (ties at τ all go), so the sparsity is never below
# the target k/size = round(p·size)/size (p, up to that rounding); it can only overshoot, when there are
# ties at the threshold.
signs = np.sign(rng.standard_normal((20, 30)))
print("exercise 1: ±1 weights at p = 0.5 keep", int(magnitude_mask(signs, 0.5).sum()), "entries")
assert magnitude_mask(signs, 0.5).sum() == 0
for trial in range(20):
    W = np.round(rng.standard_normal((15, 25)), 1)  # many ties
    p = rng.uniform(0.1, 0.95)
    kept = magnitude_mask(W, p).sum()
    assert kept <= W.size - round(p * W.size)

# --- Exercise 2: dead output nodes -----------------------------------------------------------------------
# A class whose row of the (bias-free) output layer is entirely pruned has the logit 0 for every input:
# it can still win, but only for images where every other logit is negative.
data = load_mnist(val_split=1 / 12, seed=0)
n_train, epochs = (5_000, 3) if FAST else (20_000, 5)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
model = ms.mlp((784, 100, 10), model="dense", activation="tanh", bias=False, sparsity=0.98, seed=0)
fit(model, x_train, y_train, epochs=epochs, optimizer="adam", lr=5e-3, seed=0, progress=False)
out_mask = magnitude_mask(model.layers[2].weight(), 0.98)
dead_classes = np.flatnonzero(out_mask.sum(axis=1) == 0)
logits = model.forward(data.x_test[:500])
print(f"exercise 2: {int(out_mask.sum())} output weights survive; classes without any: {dead_classes.tolist()}")
assert out_mask.sum() == 20
assert np.all(logits[:, dead_classes] == 0)

# --- Exercise 3: revived weights ---------------------------------------------------------------------------
# Record the first layer's mask after every epoch; a weight is revived if it is pruned after some epoch and
# survives after a later one.


def sparse_mlp(kind, p):
    if kind == "dense":
        return ms.mlp((784, 100, 10), model="dense", activation="tanh", bias=False, sparsity=p, seed=0)
    return ms.mlp((784, 100, 10), model="qr", activation="tanh", sparsity=p, lam_in_init=1.0, lam_out_init=0.0, seed=0)


revived = {}
for kind in ("dense", "qr"):
    net = sparse_mlp(kind, 0.9)
    optimizer = ms.Adam(net, lr=5e-3)
    masks = [magnitude_mask(net.layers[0].weight(), 0.9).astype(bool)]
    for epoch in range(epochs):
        fit(net, x_train, y_train, epochs=1, optimizer=optimizer, seed=epoch, progress=False)
        masks.append(magnitude_mask(net.layers[0].weight(), 0.9).astype(bool))
    masks = np.stack(masks)
    pruned_before = np.logical_or.accumulate(~masks, axis=0)  # pruned at this epoch or an earlier one
    revived[kind] = int(np.sum(np.any(masks[1:] & pruned_before[:-1], axis=0)))
    print(f"exercise 3: {kind}: {revived[kind]:,} first-layer weights revived, "
          f"test accuracy {evaluate(net, data.x_test, data.y_test)[1]:.4f}")
assert revived["qr"] > revived["dense"]
