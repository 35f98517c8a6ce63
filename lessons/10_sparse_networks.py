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
# This lesson derives the masked backward pass, checks it, and explains why the two kinds of
# training behave so differently: a pruned dense weight is frozen, a pruned spectral weight is not.

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
# Each layer gets its own $\tau$, recomputed at every forward pass. By hand, with a full sort (the
# library uses a partial sort, `kth_smallest`, which is $O(n)$ instead of $O(n\log n)$):

# %%
def mask_by_hand(W, p):
    k = round(p * W.size)
    tau = np.sort(np.abs(W).ravel())[k - 1]
    return (np.abs(W) > tau).astype(W.dtype)


W = rng.standard_normal((30, 40))
for p in (0.5, 0.9, 0.98):
    M_hand, M_lib = mask_by_hand(W, p), magnitude_mask(W, p)
    assert np.array_equal(M_hand, M_lib)
    print(f"p = {p}: {int(M_lib.sum())} of {W.size} weights survive (expected {W.size - round(p * W.size)})")
    assert M_lib.sum() == W.size - round(p * W.size)

# %% [markdown]
# ## 2. The masked backward pass
#
# The mask is a step function of $W$: it changes only when some $|W_{ij}|$ crosses $\tau$, and
# is constant everywhere else. So, almost everywhere, $\partial\widetilde W_{ij}/\partial W_{ij} = M_{ij}$, and
# the backward pass is the dense one followed by the mask:
#
# $$G = \delta^\top x,\qquad \frac{\partial L}{\partial W} = G\odot M,$$
#
# then the spectral chain rule of lesson 06 applied to $G\odot M$:
#
# $$\frac{\partial L}{\partial \phi_{ij}} = (G\odot M)_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i),\quad
# \frac{\partial L}{\partial \lambda^\text{in}_j} = \sum_i (G\odot M\odot\phi)_{ij},\quad
# \frac{\partial L}{\partial \lambda^\text{out}_i} = -\sum_j (G\odot M\odot\phi)_{ij},$$
#
# with $\partial L/\partial x = \delta\,\widetilde W$ and $\partial L/\partial b = \sum_n\delta_n$ as for any dense layer.

# %%
N, n_in, n_out, p = 6, 9, 5, 0.6
x = rng.standard_normal((N, n_in))
phi = rng.standard_normal((n_out, n_in))
lam_in, lam_out, b = rng.standard_normal(n_in), rng.standard_normal(n_out), rng.standard_normal(n_out)
delta = rng.standard_normal((N, n_out))  # stands for dL/dy

W_full = phi * (lam_in[None, :] - lam_out[:, None])
M = mask_by_hand(W_full, p)
y_hand = x @ (W_full * M).T + b
G_masked = (delta.T @ x) * M
grads_hand = {
    "dx": delta @ (W_full * M),
    "dphi": G_masked * (lam_in[None, :] - lam_out[:, None]),
    "dlam_in": np.sum(G_masked * phi, axis=0),
    "dlam_out": -np.sum(G_masked * phi, axis=1),
    "db": delta.sum(axis=0),
}

y_lib, cache = masked_spectral_forward(x, phi, lam_in, lam_out, b, p)
grads_lib = dict(zip(grads_hand, masked_spectral_backward(delta, cache)))
assert np.allclose(y_hand, y_lib, rtol=1e-12, atol=1e-12)
for name in grads_hand:
    assert np.allclose(grads_hand[name], grads_lib[name], rtol=1e-10, atol=1e-12), name
print("by hand = masked_spectral_backward for", ", ".join(grads_hand))
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
# Look at $\partial L/\partial W = G\odot M$ once more. For a **dense** layer the parameters *are*
# $W$, so a pruned entry gets a gradient of exactly zero: a fresh optimizer does not move it at all
# (the step below shows it). During training it can still drift, on the momentum it gathered while it
# survived (Adam's $m$ decays, it is not reset), and the mask also changes when surviving weights
# shrink below $\tau$, which moves $\tau$ itself. For a **spectral** layer the parameters are shared:
# $W_{ij}$ depends on $\lambda^\text{in}_j$, $\lambda^\text{out}_i$ and (for QR) a row of $R$, and all of these
# receive gradient through the *surviving* weights of the same row and column. A pruned spectral
# weight keeps moving and can grow back above $\tau$: the mask rewires. One optimizer step shows it.
# (Some surviving dense weights do not move either: their gradient $\sum_n \delta_{ni}x_{nj}$ is zero
# when pixel $j$ is blank in the whole batch, or when node $i$ gets no error signal, $\delta_{:i} = 0$,
# as when all its outgoing weights in the next layer are pruned. A spectral weight stays put only when
# both hold: node $i$'s $\lambda^\text{out}_i$ and row of $R$ get no gradient, and pixel $j$'s
# $\lambda^\text{in}_j$ gets none either.)
#
# A practical aside on speed: an entry whose gradient has become exactly zero keeps its optimizer
# momentum, which now only decays, $m \leftarrow \beta_1 m$. Some 850 steps later ($\beta_1 = 0.9$) it is
# below float32's smallest normal number, and many CPUs compute on such *subnormal* numbers about
# 100× slower. Sparse training makes many of them. minispectral's optimizers zero such state before it
# gets there (`flush_subnormals=True`, explained in `minispectral/optim.py`); without it, a dense
# epoch on this project's machine grew 3× slower over six epochs (`benchmarks/RESULTS.md`).

# %%
def sparse_mlp(kind, p, seed=0):
    """The PRE sparse study's models (784 -> 100 -> 10 here, tanh): dense without bias, or QR
    with bias, started at lam_in = 1, lam_out = 0 so that W = phi = R Q."""
    if kind == "dense":
        return ms.mlp((784, 100, 10), model="dense", activation="tanh", bias=False, sparsity=p, seed=seed)
    return ms.mlp((784, 100, 10), model="qr", activation="tanh", sparsity=p, lam_in_init=1.0,
                  lam_out_init=0.0, phi_init="papers", seed=seed)  # B ~ N(0, 0.036²), as in the PRE code


data = load_mnist(val_split=1 / 12, seed=0)
xb, yb = data.x_train[:200], data.y_train[:200]
for kind in ("dense", "qr"):
    model = sparse_mlp(kind, 0.9)
    W_before = model.layers[0].weight().copy()
    pruned = magnitude_mask(W_before, 0.9) == 0
    _, dlogits = softmax_cross_entropy(model.forward(xb), yb)
    model.backward(dlogits)
    ms.Adam(model, lr=5e-3).step()
    change = np.abs(model.layers[0].weight() - W_before)
    print(f"{kind:>5}: pruned weights that moved in one step: {np.mean(change[pruned] > 0):6.1%}, "
          f"surviving weights that moved: {np.mean(change[~pruned] > 0):6.1%}")
    if kind == "dense":
        assert np.all(change[pruned] == 0)
    else:
        assert np.mean(change[pruned] > 0) > 0.5

# %% [markdown]
# ## 4. Sparse training: dense against spectral
#
# The PRE sparse study uses $784\to500\to500\to10$, tanh, Adam (lr $5\cdot10^{-3}$ on MNIST),
# batch 200 and up to 90 epochs. To stay under a minute we shrink it to $784\to100\to10$, a subset
# of MNIST and a few epochs; the models are otherwise the paper's: the dense baseline has no bias,
# the QR model has one and starts at $\lambda^\text{in} = 1$, $\lambda^\text{out} = 0$.
#
# We train one epoch at a time with the same optimizer object, and after each epoch record how much
# of the *initial* mask of the first layer is still in place.

# %%
n_train = 10_000 if FAST else 20_000
epochs = 3 if FAST else 5
sparsities = (0.5, 0.9, 0.98) if FAST else (0.5, 0.8, 0.9, 0.95, 0.98)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
print(f"training on {n_train:,} images for {epochs} epochs at sparsities {sparsities}")


def mask_overlap(mask_a, mask_b):
    """Fraction of the surviving weights of mask_a that also survive in mask_b."""
    return float(np.sum(mask_a * mask_b) / np.sum(mask_a))


results = {}
for p in sparsities:
    for kind in ("dense", "qr"):
        model = sparse_mlp(kind, p)
        optimizer = ms.Adam(model, lr=5e-3)
        mask0 = magnitude_mask(model.layers[0].weight(), p)
        overlap = [1.0]
        for epoch in range(epochs):
            fit(model, x_train, y_train, epochs=1, batch_size=200, optimizer=optimizer, seed=epoch, progress=False)
            overlap.append(mask_overlap(mask0, magnitude_mask(model.layers[0].weight(), p)))
        acc = evaluate(model, data.x_test, data.y_test)[1]
        zeros = np.mean([np.mean(magnitude_mask(layer.weight(), p) == 0) for layer in model.layers[::2]])
        results[kind, p] = {"acc": acc, "overlap": overlap, "params": model.num_parameters()}
        print(f"p = {p:<5} {kind:>5}: test accuracy {acc:.4f}, {model.num_parameters():>6,} trained parameters, "
              f"{zeros:.1%} zeros, initial mask kept {overlap[-1]:.1%}")
        assert abs(zeros - p) < 0.01

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
for kind, label in (("dense", "dense (direct)"), ("qr", "spectral (QR)")):
    ax1.plot(sparsities, [results[kind, p]["acc"] for p in sparsities], "o-", label=label)
ax1.set_xlabel("sparsity $p$ (fraction of zero weights)")
ax1.set_ylabel("test accuracy")
ax1.legend(fontsize=8)
ax1.grid(alpha=0.3)
p_show = 0.9
for kind, style in (("dense", "o-"), ("qr", "s--")):
    ax2.plot(range(epochs + 1), results[kind, p_show]["overlap"], style, label=f"{kind}, p = {p_show}")
ax2.set_xlabel("epoch")
ax2.set_ylabel("initial mask still in place")
ax2.set_ylim(0, 1.05)
ax2.legend(fontsize=8)
fig.suptitle(f"MNIST, 784-100-10 tanh, {n_train:,} images, {epochs} epochs", fontsize=10)
fig.tight_layout()
plt.show()

p_hi = max(sparsities)
print(f"at p = {p_hi}: dense {results['dense', p_hi]['acc']:.4f}, spectral {results['qr', p_hi]['acc']:.4f}")
assert results["qr", p_hi]["acc"] > results["dense", p_hi]["acc"]
assert results["qr", 0.9]["overlap"][-1] < results["dense", 0.9]["overlap"][-1]

# %% [markdown]
# At moderate sparsity the dense network is as good or better; at $p = 0.95$ the two are level, and
# at $p = 0.98$ direct training collapses while spectral training keeps much more — the PRE paper's
# observation, here at a much smaller scale and with few epochs. The right panel shows the mechanism of section 3: the spectral mask moves far
# from where it started, the dense one less, because its pruned weights get no gradient (they move only
# on leftover momentum, or when the threshold moves past them). Note also
# the budgets: the dense model trains all of its $79{,}400$ weights (at most $(1-p)$ of them
# non-zero at a time), the QR model trains $6{,}209$ numbers whatever $p$ is.
#
# ## Summary
#
# * Dynamic magnitude pruning: $M = [|W| > \tau]$ with $\tau$ the $k$-th smallest $|W|$, recomputed at
#   each forward pass, one $\tau$ per layer.
# * Backward: $\partial L/\partial W = (\delta^\top x)\odot M$, then the usual spectral chain rule;
#   the library's `masked_spectral_backward` matches the hand derivation and passes `gradcheck`.
# * Dense: pruned weights get zero gradient; only leftover momentum and a moving $\tau$ change the mask.
#   Spectral: pruned weights share eigenvalues and factors with surviving ones, so they move, and the
#   mask rewires much further.
# * At the highest sparsity, spectral training keeps much more accuracy than direct training.
#
# Lesson 11 removes whole nodes instead of single weights, ranked by their eigenvalues.
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
