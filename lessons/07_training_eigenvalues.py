# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 07 — Training eigenvalues only
#
# **Why this lesson.** A dense $784\to100\to10$ network trains 79,510 numbers. The spectral
# layer writes every weight as $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$; if the
# eigenvector block $\phi$ stays frozen at its random start, only the eigenvalues are left to
# train — one number per *node* instead of one per *connection*. Two papers took this route:
#
# * **Nat. Commun. 2021** ("NC", Giambagli et al.) trains **one set**: the eigenvalues
#   $\lambda^\text{out}$ of the receiving nodes, with $\lambda^\text{in} = 0$;
# * **Phys. Rev. E 2021** ("PRE", Chicchi et al.) trains **two sets**, $\lambda^\text{in}$ and
#   $\lambda^\text{out}$, and reports that this comes much closer to dense training.
#
# This lesson counts the parameters of each, derives the eigenvalue gradients in a form that never
# builds $\partial L/\partial W$, trains all three models on MNIST, and then looks at what the
# trained eigenvalues *mean*: $\lambda^\text{in}$ as a knob on each input pixel, $\lambda^\text{out}$ as the
# excitability of each receiving node. It ends with the weight distributions that spectral and
# direct training produce.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.experiment import DEFAULT_LR
from minispectral.functional import spectral_backward, spectral_forward
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. One set, two sets, and the parameter counts
#
# Lesson 05 counted the parameters of $784\to100\to10$. Here is the general picture. For a layer
# $n_\text{in}\to n_\text{out}$ with the eigenvector block $\phi$ frozen:
#
# | model | weights | trained per layer |
# |---|---|---|
# | dense | $W$ | $n_\text{out}\,n_\text{in}$ |
# | NC, one set | $W = -\operatorname{diag}(\lambda^\text{out})\,\phi$, i.e. $W_{ij} = -\lambda^\text{out}_i\phi_{ij}$ | $n_\text{out}$ |
# | PRE, two sets | $W = \phi\operatorname{diag}(\lambda^\text{in}) - \operatorname{diag}(\lambda^\text{out})\,\phi$ | $n_\text{in} + n_\text{out}$ |
#
# plus a bias of $n_\text{out}$ in every case. For the network $N_1 \to N_2 \to 10$ that gives
#
# $$P_\text{dense} = N_1 N_2 + N_2 + 10 N_2 + 10,\qquad
# P_\text{NC} = 2\,(N_2 + 10),\qquad
# P_\text{PRE} = (N_1 + N_2) + (N_2 + 10) + (N_2 + 10).$$
#
# The spectral counts grow *linearly* with the widths, the dense one with their product.
# `ms.mlp(..., model="nc")` and `model="spectral"` build the two spectral models (`model=` picks the
# layer variant); `num_parameters()` counts what the optimizer will train.

# %%
def count_dense(n1, n2):
    return n1 * n2 + n2 + 10 * n2 + 10


def count_nc(n1, n2):
    return 2 * (n2 + 10)


def count_pre(n1, n2):
    return (n1 + n2) + (n2 + 10) + (n2 + 10)


N1 = 784
for n2 in (50, 100, 300):
    counts = {kind: ms.mlp((N1, n2, 10), model=kind, seed=0).num_parameters()
              for kind in ("dense", "nc", "spectral")}
    print(f"N2 = {n2:>3}: dense {counts['dense']:>7,}   NC {counts['nc']:>4}   PRE {counts['spectral']:>5,}   "
          f"PRE/dense = {counts['spectral'] / counts['dense']:.4f}")
    assert counts == {"dense": count_dense(N1, n2), "nc": count_nc(N1, n2), "spectral": count_pre(N1, n2)}

# %% [markdown]
# The NC layer really is "each receiving node scales a frozen random row": every row of $W$ is the
# matching row of $\phi$ times $-\lambda^\text{out}_i$.

# %%
nc_layer = ms.Spectral(N1, 100, variant="nc", seed=0)
W, phi = nc_layer.weight(), nc_layer.phi()
lam_out = nc_layer.params["lam_out"].value
assert np.allclose(W, -lam_out[:, None] * phi, rtol=1e-6, atol=0)
assert np.all(nc_layer.params["lam_in"].value == 0) and not nc_layer.params["lam_in"].trainable
print({name: ("trained" if p.trainable else "frozen") for name, p in nc_layer.params.items()})

# %% [markdown]
# ## 2. The eigenvalue gradients, read as a model of the data
#
# Lesson 06 (§6) reordered the sums of the eigenvalue gradients so that they never build
# $\partial L/\partial W$. The same forms follow from writing the pre-activation of sample $n$ with the
# two terms of $W$ kept apart,
#
# $$z_n = \phi\,(\lambda^\text{in}\odot x_n) \;-\; \lambda^\text{out}\odot(\phi\,x_n) \;+\; b ,$$
#
# and applying the chain rule to each term, with $\delta_n = \partial L/\partial z_n$:
#
# $$\frac{\partial L}{\partial \lambda^\text{in}_j} = \sum_n x_{nj}\,(\phi^\top\delta_n)_j ,\qquad
# \frac{\partial L}{\partial \lambda^\text{out}_i} = -\sum_n \delta_{ni}\,(\phi\, x_n)_i .$$
#
# This view is the one to keep in mind for the rest of the lesson: $\lambda^\text{in}$ multiplies the *data*
# before the frozen projection, $\lambda^\text{out}$ multiplies the frozen projection *after* it. Both
# formulas by hand, against the library's `spectral_forward`/`spectral_backward`:

# %%
N, n_in, n_out = 7, 6, 4
x = rng.standard_normal((N, n_in))
phi = rng.standard_normal((n_out, n_in))
lam_in, lam_out, b = rng.standard_normal(n_in), rng.standard_normal(n_out), rng.standard_normal(n_out)
delta = rng.standard_normal((N, n_out))  # stands for dL/dz

z_split = (x * lam_in) @ phi.T - lam_out * (x @ phi.T) + b  # the two terms kept apart
z_lib, cache = spectral_forward(x, phi, lam_in, lam_out, b)
assert np.allclose(z_split, z_lib, rtol=1e-12, atol=1e-12)

dlam_in_hand = np.sum(x * (delta @ phi), axis=0)
dlam_out_hand = -np.sum(delta * (x @ phi.T), axis=0)
_, _, dlam_in_lib, dlam_out_lib, _ = spectral_backward(delta, cache)
print("dlam_in  by hand:", np.round(dlam_in_hand, 6))
print("dlam_in  library:", np.round(dlam_in_lib, 6))
print("dlam_out by hand:", np.round(dlam_out_hand, 6))
print("dlam_out library:", np.round(dlam_out_lib, 6))
assert np.allclose(dlam_in_hand, dlam_in_lib, rtol=1e-10, atol=1e-12)
assert np.allclose(dlam_out_hand, dlam_out_lib, rtol=1e-10, atol=1e-12)

# %% [markdown]
# Before training anything, the whole NC and PRE models pass the gradient check under the softmax
# cross-entropy, with only the eigenvalues and biases listed as trainable. We use unit-scale initial
# values: with the papers' tiny ones the deep gradients sink into the finite-difference noise
# (lesson 01).

# %%
x_small = rng.standard_normal((5, 12))
y_small = rng.integers(0, 10, size=5)
unit = dict(phi_init=(-1, 1), lam_in_init=(-2, 2), lam_out_init=(-2, 2))
for kind in ("nc", "spectral"):
    kw = unit if kind == "spectral" else {k: v for k, v in unit.items() if k != "lam_in_init"}
    report = ms.gradcheck(ms.mlp((12, 8, 10), model=kind, seed=1, **kw), x_small, y_small)
    print(f"--- {kind} model ---\n{report}")
    assert report.passed

# %% [markdown]
# The first formula has a consequence worth noticing now: if pixel $j$ is zero in *every* training
# image, then $x_{nj} = 0$ for all $n$ and $\partial L/\partial\lambda^\text{in}_j = 0$ exactly — the
# eigenvalue of a dead pixel never moves. We will see it on the $28\times 28$ grid in section 4.
#
# ## 3. Training: one set against two sets against dense
#
# MNIST comes through the library's loader. The three models share the architecture
# $784\to100\to10$ with a ReLU (the PRE setting) and the optimizer, Adamax with batch 200, at the
# learning rates of `minispectral.experiment.DEFAULT_LR`: the authors' code's for the spectral models;
# for dense, 0.002, the authors' CIFAR-10 rate (on MNIST their notebook falls back to 0.015,
# paper.md §7). To keep the lesson
# under a minute on a laptop we train for a few epochs only (the papers train up to 90, with early
# stopping), so the spectral models are still climbing when we stop: read the numbers as a snapshot,
# not as the papers' final accuracies.

# %%
data = load_mnist(val_split=1 / 12, seed=0)
n_train = 10_000 if FAST else 30_000
epochs = 5 if FAST else 10
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
print(data.summary(), f"-> training on {n_train:,} images for {epochs} epochs")

models, histories, test_acc = {}, {}, {}
for kind in ("nc", "spectral", "dense"):
    papers = {} if kind == "dense" else {"phi_init": "papers"}  # the papers' phi (the default: results/init)
    models[kind] = ms.mlp((784, 100, 10), model=kind, activation="relu", seed=0, **papers)
    histories[kind] = fit(models[kind], x_train, y_train, epochs=epochs, batch_size=200, optimizer="adamax",
                          lr=DEFAULT_LR[kind], x_val=data.x_val, y_val=data.y_val, seed=0, progress=False)
    test_acc[kind] = evaluate(models[kind], data.x_test, data.y_test)[1]
    print(f"{kind:>8}: {models[kind].num_parameters():>6,} parameters, lr {DEFAULT_LR[kind]}, "
          f"test accuracy {test_acc[kind]:.4f}, {sum(histories[kind].epoch_seconds):.1f} s")

assert test_acc["dense"] > (0.85 if FAST else 0.95)
assert min(test_acc["nc"], test_acc["spectral"]) > 0.15  # well above chance (0.10)
assert test_acc["dense"] > max(test_acc["nc"], test_acc["spectral"])
if not FAST:
    assert test_acc["spectral"] > test_acc["nc"] + 0.1

# %%
labels = {"nc": "NC: one set", "spectral": "PRE: two sets", "dense": "dense"}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
for kind, h in histories.items():
    ax1.plot(h["epoch"], h["val_accuracy"], "o-", ms=3, label=labels[kind])
    ax2.plot(models[kind].num_parameters(), test_acc[kind], "o", ms=7, label=labels[kind])
ax1.set_xlabel("epoch")
ax1.set_ylabel("validation accuracy")
ax1.legend(fontsize=8)
ax2.set_xscale("log")
ax2.set_xlabel("trained parameters")
ax2.set_ylabel("test accuracy")
ax2.set_ylim(0, 1)
ax2.grid(alpha=0.3)
fig.suptitle(f"MNIST, 784-100-10 ReLU, {n_train:,} training images, {epochs} epochs", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# With 1.4 % of the dense model's parameters, the two-set model comes much closer to the dense
# accuracy than the single set, which, with 0.3 %, stalls far below. Why one set is so much weaker is visible
# in the output layer: with $\lambda^\text{in} = 0$, the $10\times100$ map from hidden features to
# classes can only rescale ten frozen random rows, one gain per class. The second set adds one gain
# per *sending* node, which lets each class row weigh the hidden features differently.
#
# ## 4. $\lambda^\text{in}$: one knob per input pixel
#
# Fix a sending node $j$ — in the first layer, a pixel. Its weights to all 100 hidden nodes are
# the column $W_{:j} = \phi_{:j}\,(\lambda^\text{in}_j - \lambda^\text{out})$. Once training has made the
# $\lambda^\text{in}$ large compared with the $\lambda^\text{out}$ (the PRE initialisation already starts them
# at $\pm0.97$ against $\pm0.13$), $|\lambda^\text{in}_j|$ is a volume knob on the whole contribution of
# pixel $j$: large means amplified, near zero means (almost) silenced. Drawn on the $28\times28$
# grid, the trained knobs look like a map of where digits put ink.

# %%
first = models["spectral"].layers[0]
init_first = ms.mlp((784, 100, 10), model="spectral", seed=0, phi_init="papers").layers[0]
lam_in_trained = first.params["lam_in"].value
lam_in_init = init_first.params["lam_in"].value
dead = np.all(x_train == 0, axis=0)  # pixels that are zero in every training image
moved = np.abs(lam_in_trained - lam_in_init)
print(f"{dead.sum()} dead pixels; largest move of their lam_in: {moved[dead].max():.1e}")
print(f"median |lam_in| of live pixels {np.median(np.abs(lam_in_trained[~dead])):.2f}, "
      f"initial range ±0.97")
assert np.all(moved[dead] == 0)  # zero gradient, exactly: see section 2
assert np.median(moved[~dead]) > 0

fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
for ax, image, title in zip(axes, (x_train.std(axis=0), np.abs(lam_in_init), np.abs(lam_in_trained)),
                            ("pixel std over images", r"$|\lambda^{in}|$ at init", r"$|\lambda^{in}|$ trained")):
    im = ax.imshow(image.reshape(28, 28), cmap="magma")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# Is the knob a good ranking of the pixels? Silence pixels — set them to zero in every test image,
# which removes the column $W_{:j}$ — in three orders: smallest $|\lambda^\text{in}_j|$ first, largest
# first, and at random. If $|\lambda^\text{in}|$ measures relevance, the first order should hurt least.

# %%
fractions = np.linspace(0, 0.9, 10)
orders = {"smallest |lam_in| first": np.argsort(np.abs(lam_in_trained)),
          "largest |lam_in| first": np.argsort(-np.abs(lam_in_trained)),
          "random": rng.permutation(784)}
silenced_acc = {name: [] for name in orders}
for name, order in orders.items():
    for fraction in fractions:
        x_silenced = data.x_test.copy()
        x_silenced[:, order[:int(fraction * 784)]] = 0.0
        silenced_acc[name].append(evaluate(models["spectral"], x_silenced, data.y_test)[1])

fig, ax = plt.subplots(figsize=(6, 3.2))
for name, accs in silenced_acc.items():
    ax.plot(fractions, accs, "o-", ms=3, label=name)
ax.set_xlabel("fraction of the 784 pixels silenced")
ax.set_ylabel("test accuracy")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

half = 5  # fractions[5] = 0.5
print({name: round(accs[half], 3) for name, accs in silenced_acc.items()}, "at half the pixels silenced")
assert silenced_acc["smallest |lam_in| first"][half] > silenced_acc["largest |lam_in| first"][half]
if not FAST:
    assert silenced_acc["smallest |lam_in| first"][half] > silenced_acc["random"][half] + 0.1

# %% [markdown]
# Half the pixels can go at a small cost when $|\lambda^\text{in}|$ picks them, while a random half
# costs far more. This is the "enhance or silence the input nodes" reading of the PRE abstract, and
# the seed of later work that uses $\lambda^\text{in}$ as a feature-relevance score.
#
# ## 5. $\lambda^\text{out}$: the excitability of a receiving node
#
# Now fix a receiving node $i$. In the one-set model its whole input is
#
# $$z_i - b_i = -\lambda^\text{out}_i \,(\phi_{i:}\cdot x),$$
#
# a frozen random projection of the image times one number. $\lambda^\text{out}_i$ is a *gain*: it
# scales every incoming weight of node $i$ by the same factor, so it sets how strongly the node
# responds (its excitability) without changing *what* it responds to. Neuroscience has a name for a
# neuron rescaling all its incoming synapses together to keep its activity in range: homeostatic
# (synaptic-scaling) plasticity, the analogy the PRE paper draws. Check the gain property: doubling
# $\lambda^\text{out}_i$ doubles $z_i - b_i$ for every image.

# %%
nc_first = models["nc"].layers[0]
knob = nc_first.copy()
i = 7
knob.params["lam_out"].value[i] *= 2.0
b_nc = nc_first.params["b"].value
z_before = nc_first.forward(data.x_test[:500]) - b_nc
z_after = knob.forward(data.x_test[:500]) - b_nc
projection = data.x_test[:500] @ nc_first.phi().T  # phi_i: . x for every image and node
assert np.allclose(z_before, -nc_first.params["lam_out"].value * projection, rtol=1e-4, atol=1e-5)
assert np.allclose(z_after[:, i], 2.0 * z_before[:, i], rtol=1e-5, atol=1e-6)
assert np.array_equal(np.delete(z_after, i, axis=1), np.delete(z_before, i, axis=1))
print(f"node {i}: |z - b| doubled for every image; the other 99 nodes unchanged")

# %% [markdown]
# In the two-set model, $z_i - b_i = \sum_j \phi_{ij}\lambda^\text{in}_j x_j - \lambda^\text{out}_i(\phi_{i:}\cdot x)$:
# $\lambda^\text{out}_i$ is the gain of node $i$ on top of a $\lambda^\text{in}$-weighted term (its own, through
# $\phi_{i:}$; only $\lambda^\text{in}$ is shared). At
# initialisation $|\lambda^\text{out}|$ is tiny and says nothing about the size of node $i$'s incoming
# weights $\lVert W_{i:}\rVert$; after training it largely does (left). Excitability also shows in
# how often each hidden node fires (right): training drives many NC nodes to silence — the node's
# gain and bias push its input below zero for every image — whereas the two-set and dense nodes
# stay in use.

# %%
def row_norms(layer):
    return np.linalg.norm(layer.weight(), axis=1)


def firing_rates(model, x):
    """Fraction of images on which each hidden ReLU node is active."""
    return np.mean(model.layers[1].forward(model.layers[0].forward(x)) > 0, axis=0)


corr = {}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
for layer, tag, marker in ((init_first, "init", "x"), (first, "trained", "o")):
    lam_abs = np.abs(layer.params["lam_out"].value)
    corr[tag] = np.corrcoef(lam_abs, row_norms(layer))[0, 1]
    ax1.plot(lam_abs, row_norms(layer) / row_norms(layer).max(), marker, ms=4,
             label=f"{tag} (corr {corr[tag]:.2f})")
ax1.set_xscale("log")
ax1.set_xlabel(r"$|\lambda^{out}_i|$ (two sets)")
ax1.set_ylabel(r"$\|W_{i:}\|$ / max")
ax1.legend(fontsize=8)
silent = {}
for kind in ("nc", "spectral", "dense"):
    rates = np.sort(firing_rates(models[kind], data.x_val))[::-1]
    silent[kind] = int(np.sum(rates == 0))
    ax2.plot(rates, label=f"{labels[kind]} ({silent[kind]} silent)")
ax2.set_xlabel("hidden node (sorted)")
ax2.set_ylabel("firing rate on validation images")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()
print("corr(|lam_out|, row norm):", {k: round(float(v), 2) for k, v in corr.items()}, "| silent nodes:", silent)
if not FAST:
    assert corr["trained"] > corr["init"] + 0.3

# %% [markdown]
# ## 6. Weight distributions: spectral against direct training
#
# The NC paper reports that eigenvalue-only training yields a weight distribution close to that of
# unrestricted direct training. Here are the first-layer weights of our three trained models, each
# divided by its standard deviation so that the shapes can be compared (dead pixels left out: their
# weights never matter). The dashed curve is a standard normal.

# %%
def standardised_weights(model):
    w = model.layers[0].weight()[:, ~dead].ravel().astype(np.float64)
    return w / w.std()


def kurtosis(a):
    """E[a⁴] / E[a²]² (raw moments; 3 for a zero-mean normal)."""
    return float(np.mean(a**4) / np.mean(a**2) ** 2)


fig, ax = plt.subplots(figsize=(6, 3.2))
bins = np.linspace(-8, 8, 81)
for kind in ("dense", "nc", "spectral"):
    w = standardised_weights(models[kind])
    ax.hist(w, bins=bins, density=True, histtype="step", lw=1.5, label=f"{labels[kind]} (kurtosis {kurtosis(w):.1f})")
grid = np.linspace(-8, 8, 400)
ax.plot(grid, np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi), "k--", lw=0.8, label="normal (kurtosis 3)")
ax.set_yscale("log")
ax.set_ylim(1e-5, 2)
ax.set_xlabel("first-layer weight / its std")
ax.set_ylabel("density")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# In our runs the shapes differ: the dense weights (which start Glorot-uniform, kurtosis 1.8) are
# mildly heavy-tailed, the spectral ones much more so. The spectral tails have a simple origin.
# Each weight is a product $W_{ij} = \phi_{ij}\,d_{ij}$ with $d_{ij} = \lambda^\text{in}_j - \lambda^\text{out}_i$,
# and if $\phi$ and $d$ were independent, the raw moments would factor:
#
# $$\frac{E[W^4]}{E[W^2]^2} = \frac{E[\phi^4]}{E[\phi^2]^2}\cdot\frac{E[d^4]}{E[d^2]^2}.$$
#
# For the two-set model, a product of two bell-shaped factors (kurtosis about 3 each) has kurtosis
# about 9. The one-set model's $\phi$ is uniform (kurtosis 1.8), and its heavy tail comes from
# $d = -\lambda^\text{out}$, whose trained values spread far. Training makes $d$ depend on $\phi$, but
# only weakly, so the formula still predicts the measured kurtosis well for both:

# %%
for kind in ("nc", "spectral"):
    layer = models[kind].layers[0]
    phi_live = layer.phi()[:, ~dead].astype(np.float64)
    d_live = (layer.params["lam_in"].value[None, :] - layer.params["lam_out"].value[:, None])[:, ~dead]
    measured = kurtosis(layer.weight()[:, ~dead].astype(np.float64))
    predicted = kurtosis(phi_live) * kurtosis(d_live.astype(np.float64))
    print(f"{labels[kind]:>14}: kurtosis of W {measured:5.2f}, predicted by the product formula {predicted:5.2f}")
    assert abs(measured - predicted) < 0.15 * predicted

# %% [markdown]
# ## Summary
#
# * Freezing $\phi$ leaves one trained number per node: $2(N_2+10)$ for one set (NC),
#   $N_1 + 3N_2 + 20$ for two sets (PRE), against $N_1N_2 + 11N_2 + 10$ for dense.
# * The eigenvalue gradients are $\sum_n x_n\odot(\phi^\top\delta_n)$ and
#   $-\sum_n\delta_n\odot(\phi x_n)$; they match the library's kernel, which reduces $\partial L/\partial W$
#   instead. A pixel that is always zero never moves its $\lambda^\text{in}$.
# * Two sets get much closer to dense than one set, with about 1 % of the parameters.
# * $|\lambda^\text{in}_j|$ works as a relevance score for input pixels; $\lambda^\text{out}_i$ is a gain on
#   everything node $i$ receives — its excitability.
# * Spectral weights are products, so they come out heavier-tailed than directly trained ones.
#
# Lesson 09 lets $\phi$ learn too, through a decomposition cheap enough to keep the counts small.
#
# ## Exercises
#
# Solutions: `lessons/solutions/07_training_eigenvalues.py`.
#
# 1. **Deeper counts.** Write the three parameter counts for $N_1\to N_2\to N_2\to10$ (two hidden
#    layers) and check them against `ms.mlp(...).num_parameters()`. For which $N_2$ does the two-set
#    model reach 1 % of the dense count?
# 2. **An exact silencer.** Build a two-set model whose $\lambda^\text{out}$ is frozen at zero
#    (`lam_out_init=0.0, trainable={"lam_out": False}`). Show that setting $\lambda^\text{in}_j = 0$ in the
#    first layer then gives *exactly* the same outputs as zeroing pixel $j$ in the input, and train it
#    briefly to compare its accuracy with the two-set model's.
# 3. **Gains are not unique.** In a ReLU network $N_1\to N_2\to10$ of two-set layers, multiply the
#    first layer's $\lambda^\text{in}$, $\lambda^\text{out}$ and $b$ by $c > 0$ and the second layer's
#    $\lambda^\text{in}$ and $\lambda^\text{out}$ by $1/c$. Prove that the outputs do not change and check it
#    numerically. What does this say about reading $|\lambda|$ as an importance score (lesson 11)?
