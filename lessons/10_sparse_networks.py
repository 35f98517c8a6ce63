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
# # Lesson 10 — Sparse networks: dynamic magnitude pruning
#
# **Why this lesson.** A sparse network has most of its weights exactly zero: less memory, fewer
# multiplications, and often little loss of accuracy. The PRE paper builds sparse networks by
# *dynamic magnitude pruning*: at every forward pass, the smallest weights of each layer are set
# to zero, and training goes on from scratch with that moving mask. It then compares two ways of
# training under the same mask rule — direct (dense) and spectral — and reports that the spectral
# networks hold up much better at high sparsity.
#
# You write the mask and the masked backward pass (two blanks, each checked against the library),
# and then we see why the two kinds of training behave so differently: a pruned dense weight is
# frozen, a pruned spectral weight is not. A dense control with a bias, the one thing the PRE
# baseline lacks and the spectral model has, tells whether the bias explains the difference.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.functional import (magnitude_mask, masked_spectral_backward, masked_spectral_forward,
                                    softmax_cross_entropy)
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The mask
#
# For a layer with weights $W$ (the full spectral $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$
# or a dense $W$) and a target sparsity $p$ (the fraction of zeros), let $k = \operatorname{round}(p\cdot n_\text{out} n_\text{in})$ and
# $\tau$ the $k$-th smallest $|W_{ij}|$. The mask and the pruned weights are
#
# $$M_{ij} = [\,|W_{ij}| > \tau\,], \qquad \widetilde W = W\odot M, \qquad y = x\,\widetilde W^\top + b .$$
#
# Each layer gets its own $\tau$, recomputed at every forward pass. Two edge cases: $k = 0$ ($p = 0$, or a
# $p$ that rounds to no entry) prunes nothing, and $k$ never exceeds $n_\text{out}n_\text{in} - 1$, so that a
# layer always keeps a weight to train. By hand, a full sort does it (the library uses a partial sort,
# `kth_smallest`, which is $O(n)$ instead of $O(n\log n)$).

# %%
def my_magnitude_mask(W, p):
    """W (n_out, n_in), sparsity p in [0, 1) -> mask M (n_out, n_in) of 0.0 and 1.0, W's dtype."""
    ### BEGIN SOLUTION
    k = min(round(p * W.size), W.size - 1)
    if k == 0:
        return np.ones_like(W)
    tau = np.sort(np.abs(W).ravel())[k - 1]   # the k-th smallest |W_ij|
    M = (np.abs(W) > tau).astype(W.dtype)
    ### END SOLUTION
    return M


# %% [markdown]
# **Exercise.** Fill in `my_magnitude_mask` with a full sort (`np.sort`), minding both edge cases. The
# check compares your mask with the library's `magnitude_mask` at several sparsities, both edge cases
# included: $p = 0$, and $p = 0.999$, which for its $12\times20$ matrix rounds to all 240 entries.

# %%
from minispectral.exercises.lesson_10 import check_magnitude_mask

check_magnitude_mask(my_magnitude_mask)

# %%
W = rng.standard_normal((30, 40))
for p in (0.5, 0.9, 0.98):
    M_hand, M_lib = my_magnitude_mask(W, p), magnitude_mask(W, p)
    assert np.array_equal(M_hand, M_lib)
    print(f"p = {p}: {int(M_lib.sum())} of {W.size} weights survive (expected {W.size - round(p * W.size)})")
    assert M_lib.sum() == W.size - round(p * W.size)

# %% [markdown]
# ## 2. The masked backward pass
#
# The mask is a step function of $W$: it changes only when some $|W_{ij}|$ crosses $\tau$, and
# is constant everywhere else. So, almost everywhere, $\partial\widetilde W_{ij}/\partial W_{ij} = M_{ij}$, and
# the backward pass is the dense one (lesson 02) followed by the mask. With the upstream gradient
# $dy = \partial L/\partial y$ (shape $(N, n_\text{out})$) and $dW = dy^\top x$, the gradient with respect to
# the weights actually used, $\widetilde W$:
#
# $$\frac{\partial L}{\partial W} = dW\odot M,$$
#
# then the spectral chain rule of lesson 06 applied to $dW\odot M$:
#
# $$\frac{\partial L}{\partial \phi_{ij}} = (dW\odot M)_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i),\quad
# \frac{\partial L}{\partial \lambda^\text{in}_j} = \sum_i (dW\odot M\odot\phi)_{ij},\quad
# \frac{\partial L}{\partial \lambda^\text{out}_i} = -\sum_j (dW\odot M\odot\phi)_{ij},$$
#
# with $\partial L/\partial x = dy\,\widetilde W$ and $\partial L/\partial b = \sum_n dy_n$ as for any dense layer.

# %%
def my_masked_spectral_backward(dy, cache):
    """dy (N, n_out), cache = (x (N, n_in), phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,), M (n_out, n_in))
    -> dx (N, n_in), dphi (n_out, n_in), dlam_in (n_in,), dlam_out (n_out,), db (n_out,)."""
    x, phi, lam_in, lam_out, M = cache
    ### BEGIN SOLUTION
    lam_diff = lam_in[None, :] - lam_out[:, None]
    W_masked = phi * lam_diff * M            # the weights the forward pass used
    dx = dy @ W_masked                       # through the dense layer, as in lesson 02
    db = dy.sum(axis=0)
    dW_full = (dy.T @ x) * M                 # the mask passes no gradient to pruned entries
    dphi = dW_full * lam_diff                # then lesson 06's chain rule
    dlam_in = np.sum(dW_full * phi, axis=0)
    dlam_out = -np.sum(dW_full * phi, axis=1)
    ### END SOLUTION
    return dx, dphi, dlam_in, dlam_out, db


# %% [markdown]
# **Exercise.** Fill in `my_masked_spectral_backward`: the dense backward through the masked weights,
# the mask, then the three spectral gradients. The check compares all five gradients with the
# library's `masked_spectral_backward` (given the same mask).

# %%
from minispectral.exercises.lesson_10 import check_masked_spectral_backward

check_masked_spectral_backward(my_masked_spectral_backward)

# %%
N, n_in, n_out, p = 6, 9, 5, 0.6
x = rng.standard_normal((N, n_in))
phi = rng.standard_normal((n_out, n_in))
lam_in, lam_out, b = rng.standard_normal(n_in), rng.standard_normal(n_out), rng.standard_normal(n_out)
dy = rng.standard_normal((N, n_out))

W_full = phi * (lam_in[None, :] - lam_out[:, None])
M = my_magnitude_mask(W_full, p)
y_hand = x @ (W_full * M).T + b
names = ("dx", "dphi", "dlam_in", "dlam_out", "db")
grads_hand = dict(zip(names, my_masked_spectral_backward(dy, (x, phi, lam_in, lam_out, M))))

y_lib, cache = masked_spectral_forward(x, phi, lam_in, lam_out, b, p)
grads_lib = dict(zip(names, masked_spectral_backward(dy, cache)))
assert np.allclose(y_hand, y_lib, rtol=1e-12, atol=1e-12)
for name in names:
    assert np.allclose(grads_hand[name], grads_lib[name], rtol=1e-10, atol=1e-12), name
print("by hand = masked_spectral_backward for", ", ".join(names))
print("dlam_out by hand:", np.round(grads_hand["dlam_out"], 6))
print("dlam_out library:", np.round(grads_lib["dlam_out"], 6))

# %% [markdown]
# The gradient check nudges each input by $h = 10^{-6}$. As long as no $|W_{ij}|$ sits within
# about $h$ of $\tau$ the mask does not flip, and the numerical gradient sees the same piecewise-linear
# function as the analytic one. The kernel check below relies on that. A check of a whole layer or
# model (`gradcheck(layer, x)`, `gradcheck(model, x, labels)`) does not have to: it holds each sparse
# layer's mask fixed at its unperturbed weights (`layer.held_mask`), since the mask is a constant
# of the forward pass, and so checks exactly the gradient the backward pass computes, wherever the
# weights sit.

# %%
report = ms.gradcheck(masked_spectral_forward, masked_spectral_backward,
                      {"x": x, "phi": phi, "lam_in": lam_in, "lam_out": lam_out, "b": b}, sparsity=p)
print(report)
assert report.passed

layer = ms.Spectral(n_in, n_out, variant="qr", sparsity=p, lam_in_init=(-2, 2), lam_out_init=(-2, 2), seed=0)
report = ms.gradcheck(layer, x)
print(f"--- Spectral(variant='qr', sparsity={p}) ---\n{report}")
assert report.passed

# %% [markdown]
# ## 3. Why a pruned spectral weight can come back
#
# Look at $\partial L/\partial W = dW\odot M$ once more. For a **dense** layer the parameters *are*
# $W$, so a pruned entry gets a gradient of exactly zero: a fresh optimizer does not move it at all
# (the step below shows it). During training it can still drift, on the momentum it gathered while it
# survived (Adam's first moment $m$ decays, it is not reset: lesson 04), and the mask also changes when
# surviving weights shrink below $\tau$, which moves $\tau$ itself. For a **spectral** layer the
# parameters are shared: $W_{ij}$ depends on $\lambda^\text{in}_j$, $\lambda^\text{out}_i$ and (for QR) a row of
# $R$, and all of these receive gradient through the *surviving* weights of the same row and column. A
# pruned spectral weight keeps moving and can grow back above $\tau$: the mask rewires. One optimizer
# step shows it. (Some surviving dense weights do not move either: their gradient $\sum_n dy_{ni}x_{nj}$
# is zero when pixel $j$ is blank in the whole batch, or when node $i$ gets no error signal,
# $dy_{:i} = 0$, as when all its outgoing weights in the next layer are pruned. A spectral weight stays
# put only when both hold: node $i$'s $\lambda^\text{out}_i$ and row of $R$ get no gradient, and pixel $j$'s
# $\lambda^\text{in}_j$ gets none either.)
#
# The models are those of the PRE sparse study, at $784\to100\to10$ with $\tanh$: the dense baseline
# *without* bias, as in the paper, and the QR spectral model *with* a bias, started at
# $\lambda^\text{in} = 1$, $\lambda^\text{out} = 0$ so that $W = \phi = RQ$. Since that asymmetry could by
# itself favour QR, we add a control: the same dense model *with* a bias.

# %%
KINDS = ("dense", "dense+bias", "qr")
LABELS = {"dense": "dense, no bias (PRE)", "dense+bias": "dense with bias (control)", "qr": "spectral QR (bias)"}


def sparse_mlp(kind, p, seed=0):
    """784 -> 100 -> 10 tanh at sparsity p: dense without bias (the PRE baseline), dense with bias (the
    control), or QR with bias, started at lam_in = 1, lam_out = 0 so that W = phi = R Q."""
    if kind in ("dense", "dense+bias"):
        return ms.mlp((784, 100, 10), model="dense", activation="tanh", bias=kind == "dense+bias", sparsity=p,
                      seed=seed)
    return ms.mlp((784, 100, 10), model="qr", activation="tanh", sparsity=p, lam_in_init=1.0,
                  lam_out_init=0.0, phi_init="papers", seed=seed)  # B ~ N(0, 0.036²), as in the PRE code


data = load_mnist(val_split=1 / 12, seed=0)
xb, yb = data.x_train[:200], data.y_train[:200]
for kind in KINDS:
    model = sparse_mlp(kind, 0.9)
    W_before = model.layers[0].weight().copy()
    pruned = magnitude_mask(W_before, 0.9) == 0
    _, dlogits = softmax_cross_entropy(model.forward(xb), yb)
    model.backward(dlogits)
    ms.Adam(model, lr=5e-3).step()
    change = np.abs(model.layers[0].weight() - W_before)
    print(f"{kind:>10}: pruned weights that moved in one step: {np.mean(change[pruned] > 0):6.1%}, "
          f"surviving weights that moved: {np.mean(change[~pruned] > 0):6.1%}")
    if kind == "qr":
        assert np.mean(change[pruned] > 0) > 0.5
    else:
        assert np.all(change[pruned] == 0)

# %% [markdown]
# ## 4. Sparse training: dense against spectral
#
# The PRE sparse study uses $784\to500\to500\to10$, tanh, Adam (lr $5\cdot10^{-3}$ on MNIST),
# batch 200 and up to 90 epochs. To keep the lesson short we shrink it to $784\to100\to10$, a subset
# of MNIST and a few epochs.
#
# **Parameter budgets.** The dense baseline trains every entry of its two weight matrices,
# $784\cdot100 + 100\cdot10 = 79{,}400$ numbers, of which at most a fraction $1-p$ is non-zero at any
# time; the control adds the $100 + 10$ biases, $79{,}510$. The QR model trains the same number
# whatever $p$ is: the upper-triangular $R$ of each layer ($100\cdot101/2 + 10\cdot11/2 = 5{,}105$), the
# eigenvalues ($784 + 100$ and $100 + 10$) and the biases ($110$), $6{,}209$ in all — and its $W$ has the
# same fraction $1-p$ of non-zero entries as the dense ones. The cell below counts them from the models.
#
# We train one epoch at a time with the same optimizer object, and after each epoch record how much
# of the *initial* mask of the first layer is still in place.

# %%
n_train = 10_000 if FAST else 20_000
epochs = 3 if FAST else 5
sparsities = (0.5, 0.9, 0.98) if FAST else (0.5, 0.8, 0.9, 0.95, 0.98)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
print(f"training on {n_train:,} images for {epochs} epochs at sparsities {sparsities}")

budgets = {kind: sparse_mlp(kind, 0.9).num_parameters() for kind in KINDS}
assert budgets == {"dense": 784 * 100 + 100 * 10, "dense+bias": 784 * 100 + 100 * 10 + 100 + 10,
                   "qr": (100 * 101 // 2 + 10 * 11 // 2) + (784 + 100) + (100 + 10) + (100 + 10)}
for kind in KINDS:
    print(f"{LABELS[kind]:>26}: {budgets[kind]:>6,} trained parameters")


def mask_overlap(mask_a, mask_b):
    """Fraction of the surviving weights of mask_a that also survive in mask_b."""
    return float(np.sum(mask_a * mask_b) / np.sum(mask_a))


results = {}
for p in sparsities:
    for kind in KINDS:
        model = sparse_mlp(kind, p)
        optimizer = ms.Adam(model, lr=5e-3)
        mask0 = magnitude_mask(model.layers[0].weight(), p)
        overlap = [1.0]
        for epoch in range(epochs):
            fit(model, x_train, y_train, epochs=1, batch_size=200, optimizer=optimizer, seed=epoch, progress=False)
            overlap.append(mask_overlap(mask0, magnitude_mask(model.layers[0].weight(), p)))
        acc = evaluate(model, data.x_test, data.y_test)[1]
        zeros = np.mean([np.mean(magnitude_mask(layer.weight(), p) == 0) for layer in model.layers[::2]])
        results[kind, p] = {"acc": acc, "overlap": overlap}
        print(f"p = {p:<5} {kind:>10}: test accuracy {acc:.4f}, {zeros:.1%} zeros, "
              f"initial mask kept {overlap[-1]:.1%}")
        assert abs(zeros - p) < 0.01

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
for kind, style in zip(KINDS, ("o-", "d-.", "s--")):
    ax1.plot(sparsities, [results[kind, p]["acc"] for p in sparsities], style, label=LABELS[kind])
ax1.set_xlabel("sparsity $p$ (fraction of zero weights)")
ax1.set_ylabel("test accuracy")
ax1.legend(fontsize=8)
ax1.grid(alpha=0.3)
p_show = 0.9
for kind, style in zip(KINDS, ("o-", "d-.", "s--")):
    ax2.plot(range(epochs + 1), results[kind, p_show]["overlap"], style, label=f"{kind}, p = {p_show}")
ax2.set_xlabel("epoch")
ax2.set_ylabel("initial mask still in place")
ax2.set_ylim(0, 1.05)
ax2.legend(fontsize=8)
fig.suptitle(f"MNIST, 784-100-10 tanh, {n_train:,} images, {epochs} epochs", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# What this run says, read off its numbers (the lines below are computed, not written in advance):
# at each sparsity, which model is best, and the gap between QR and each dense model. At the highest
# sparsity, the gap to the dense model *with* a bias says how much of QR's advantage the bias explains.

# %%
def gap(p, dense_kind):
    return results["qr", p]["acc"] - results[dense_kind, p]["acc"]


for p in sparsities:
    best = max(KINDS, key=lambda kind: results[kind, p]["acc"])
    print(f"p = {p:<5} best: {LABELS[best]:<26} QR − dense {gap(p, 'dense'):+.4f}, "
          f"QR − dense+bias {gap(p, 'dense+bias'):+.4f}")
p_hi = max(sparsities)
explained = 1 - gap(p_hi, "dense+bias") / gap(p_hi, "dense") if gap(p_hi, "dense") > 0 else float("nan")
print(f"at p = {p_hi}: QR {'beats' if gap(p_hi, 'dense') > 0 else 'does not beat'} the PRE baseline by "
      f"{gap(p_hi, 'dense'):+.4f} and the dense control with bias by {gap(p_hi, 'dense+bias'):+.4f}; "
      f"the bias accounts for {explained:.0%} of the gap")
moved = {kind: 1 - results[kind, 0.9]["overlap"][-1] for kind in KINDS}
print("share of the initial first-layer mask that moved at p = 0.9: "
      + ", ".join(f"{kind} {share:.1%}" for kind, share in moved.items()))
assert gap(p_hi, "dense") > 0 and gap(p_hi, "dense+bias") > 0
assert moved["qr"] > moved["dense"] and moved["qr"] > moved["dense+bias"]

# %% [markdown]
# The right panel shows the mechanism of section 3: the spectral mask moves far from where it started,
# the dense ones less, because their pruned weights get no gradient (they move only on leftover
# momentum, or when the threshold moves past them). The dense control with a bias answers the
# obvious objection to the PRE comparison — that the spectral model wins because it alone has a bias:
# compare its curve with the baseline's at the highest sparsity, and the two gaps printed above. The
# run here is much smaller than the paper's (one hidden layer of 100, a few epochs), so read the
# numbers as this run's, not the paper's.
#
# ## Summary
#
# * Dynamic magnitude pruning: $M = [|W| > \tau]$ with $\tau$ the $k$-th smallest $|W|$, recomputed at
#   each forward pass, one $\tau$ per layer.
# * Backward: $\partial L/\partial W = (dy^\top x)\odot M$, then the usual spectral chain rule;
#   the library's `masked_spectral_backward` matches the hand derivation and passes `gradcheck`.
# * Dense: pruned weights get zero gradient; only leftover momentum and a moving $\tau$ change the mask.
#   Spectral: pruned weights share eigenvalues and factors with surviving ones, so they move, and the
#   mask rewires much further.
# * Budgets: the dense models train $79{,}400$ (no bias) or $79{,}510$ (bias) numbers, at most $1-p$ of the
#   weights non-zero at a time; QR trains $6{,}209$ whatever $p$ is. The comparison at high sparsity,
#   against both dense models, is printed above.
#
# Lesson 11 removes whole nodes instead of single weights, ranked by their eigenvalues.
#
# ## Note: a library detail, subnormal numbers
#
# Not needed for the lesson; it explains an option of `minispectral/optim.py`. An entry whose gradient
# has become exactly zero (a pruned dense weight) keeps its optimizer momentum, which now only decays,
# $m \leftarrow \beta_1 m$. Some 850 steps later ($\beta_1 = 0.9$) it is below float32's smallest normal
# number, and many CPUs compute on such *subnormal* numbers about 100× slower. Sparse training makes
# many of them. minispectral's optimizers zero such state before it gets there (`flush_subnormals=True`,
# explained in the module docstring of `minispectral/optim_fast.py`); the measurement that motivated it, a
# dense epoch growing 3× slower over six epochs without the flush, is in `benchmarks/RESULTS.md`.
#
# ## Exercises
#
# Solutions: `lessons/solutions/10_sparse_networks.py`.
#
# 1. **Ties.** `magnitude_mask` keeps the entries with $|W_{ij}| > \tau$. What happens when many
#    entries share the value $\tau$ — for instance a weight matrix of $\pm1$? How many survive, and what
#    does the strict inequality guarantee about the sparsity in general?
# 2. **Dead output nodes.** At $p = 0.98$ the $100\times10$ output layer keeps only 20 weights. After
#    training a dense sparse model at $p = 0.98$, count the output classes left with no incoming weight
#    at all. What does such a class's logit depend on?
# 3. **Revived weights.** Train the QR model at $p = 0.9$ one epoch at a time and count the first-layer
#    weights that were pruned after some epoch and survive after a later one. Do the same for dense.
