"""Solutions to the exercises of lesson 07 (training eigenvalues only)."""
import os

import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.experiment import DEFAULT_LR
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(6)

# --- Exercise 1: deeper counts ------------------------------------------------------------------
# N1 -> N2 -> N2 -> 10, biases everywhere:
#   dense: N1 N2 + N2 + N2² + N2 + 10 N2 + 10
#   NC:    one eigenvalue per receiving node, plus its bias: 2 (N2 + N2 + 10)
#   PRE:   (N1 + N2) + (N2 + N2) + (N2 + 10) eigenvalues + (2 N2 + 10) biases = N1 + 6 N2 + 20


def counts_two_hidden(n1, n2):
    return {"dense": n1 * n2 + n2 + n2 * n2 + n2 + 10 * n2 + 10,
            "nc": 2 * (2 * n2 + 10),
            "spectral": n1 + 6 * n2 + 20}


for n2 in (50, 100, 200):
    built = {kind: ms.mlp((784, n2, n2, 10), model=kind, seed=0).num_parameters() for kind in ("dense", "nc", "spectral")}
    assert built == counts_two_hidden(784, n2), (n2, built)
ratio = {n2: counts_two_hidden(784, n2)["spectral"] / counts_two_hidden(784, n2)["dense"] for n2 in range(1, 400)}
first = min(n2 for n2, r in ratio.items() if r <= 0.01)
print(f"exercise 1: counts match mlp(); PRE/dense drops to 1 % at N2 = {first} (ratio {ratio[first]:.4f})")
assert ratio[first] <= 0.01 < ratio[first - 1]

# --- Exercise 2: an exact silencer ------------------------------------------------------------------
# With lam_out ≡ 0, W = phi diag(lam_in): column j is phi[:, j] lam_in_j, so lam_in_j = 0 removes
# column j exactly, which is what zeroing pixel j of every input does.
data = load_mnist(val_split=1 / 12, seed=0)
n_train, epochs = (10_000, 5) if FAST else (30_000, 10)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
only_in = ms.mlp((784, 100, 10), model="spectral", lam_out_init=0.0, trainable={"lam_out": False}, seed=0)
two_sets = ms.mlp((784, 100, 10), model="spectral", seed=0)
for model in (only_in, two_sets):
    fit(model, x_train, y_train, epochs=epochs, lr=DEFAULT_LR["spectral"], seed=0, progress=False)
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
print("exercise 2: lam_in_j = 0 equals zeroing pixel j;", {k: round(v, 4) for k, v in acc.items()})
assert acc["lam_out = 0"] > 0.15 and acc["two sets"] > 0.15  # well above chance (0.10)

# --- Exercise 3: gains are not unique ----------------------------------------------------------------
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
print(f"exercise 3: largest output difference after rescaling by c = {c}: {diff:.1e}")
assert diff < 1e-10
assert not np.allclose(np.abs(model.layers[0].params["lam_out"].value), np.abs(scaled.layers[0].params["lam_out"].value))
