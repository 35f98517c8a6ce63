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
# # Lesson 09 — Closing the gap: decomposing the eigenvector block
#
# **Why this lesson.** Lesson 07 trained eigenvalues only and stopped short of dense accuracy, and
# lesson 08 showed why: with $\phi$ frozen, the weights the eigenvalues can reach form a space of
# dimension $n_\text{in} + n_\text{out} - 1$ out of $n_\text{in} n_\text{out}$. The
# rest of the gap sits in the frozen eigenvector block $\phi$: training it outright costs
# $n_\text{in} n_\text{out}$ numbers per layer, as many as a dense layer. The PRE paper's answer
# is to train $\phi$ through a *decomposition* with few free numbers. The authors' code has two:
#
# * **S-SVD**: $\phi = U\operatorname{diag}(s)\,V$ with $U$, $V$ frozen and the $m$ values $s$
#   trained, where $m = \min(n_\text{in}, n_\text{out})$;
# * **QR**: $\phi = R\,Q$ with $Q$ frozen (orthonormal rows) and $R$ trained, kept lower-triangular:
#   $m(m+1)/2$ numbers for a square $R$.
#
# A decomposition $\phi = \phi(\theta)$ with a small $\theta$ adds directions the eigenvalues cannot reach.
# The chain rule needs only one new step, from $\partial L/\partial\phi$ (which the spectral kernel already
# returns, lesson 06) to $\partial L/\partial\theta$. For each decomposition you derive and write that step,
# check it against the library's kernel and central differences, and then we train both against the
# two-set model and dense on MNIST.

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.functional import qr_backward, qr_forward, ssvd_backward, ssvd_forward
from minispectral.nn.init import qr_factors
from minispectral.reproduce.params import LEARNING_RATES
from minispectral.train import fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. S-SVD: $\phi = U\operatorname{diag}(s)\,V$
#
# Entry by entry, $\phi_{ij} = \sum_r U_{ir}\,s_r\,V_{rj}$, so $\partial\phi_{ij}/\partial s_r = U_{ir}V_{rj}$ and
#
# $$\frac{\partial L}{\partial s_r} = \sum_{i,j} \frac{\partial L}{\partial\phi_{ij}}\,U_{ir}\,V_{rj}
# = \big(U^\top\,\tfrac{\partial L}{\partial\phi}\,V^\top\big)_{rr}.$$
#
# Forming the $m\times m$ product only to keep its diagonal wastes work: the diagonal is also the row
# sums of $(U^\top\,\partial L/\partial\phi)\odot V$, which costs one $m\times n_\text{out}$ by
# $n_\text{out}\times n_\text{in}$ product.
#
# **Exercise.** Write `my_ssvd_backward(dphi, cache)` with `cache = (U, V)`, returning $\partial L/\partial s$,
# without forming the $m\times m$ matrix. The check compares it with the library's `ssvd_backward` and with
# central differences.

# %%
def my_ssvd_backward(dphi, cache):
    """dphi (n_out, n_in) and cache = (U (n_out, m), V (m, n_in)) -> ds (m,), ds_r = (U^T dphi V^T)_rr."""
    U, V = cache
    ### BEGIN SOLUTION
    ds = np.sum((U.T @ dphi) * V, axis=1)  # row r of U^T dphi, dotted with row r of V
    ### END SOLUTION
    return ds


# %%
from minispectral.exercises.lesson_09 import check_ssvd_backward

check_ssvd_backward(my_ssvd_backward)

# %% [markdown]
# The same numbers three ways — the triple sum as an `einsum`, the diagonal of the product, and your
# function — and the library's `gradcheck` on the S-SVD kernel:

# %%
n_out, n_in = 5, 8
m = min(n_in, n_out)
U, V = rng.standard_normal((n_out, m)), rng.standard_normal((m, n_in))
s = rng.uniform(0, 3, size=m)
dphi = rng.standard_normal((n_out, n_in))  # stands for dL/dphi

phi_hand = np.einsum("ir,r,rj->ij", U, s, V)
phi_lib, ssvd_cache = ssvd_forward(U, s, V)
assert np.allclose(phi_hand, phi_lib, rtol=1e-12, atol=1e-12)

ds_sum = np.einsum("ij,ir,rj->r", dphi, U, V)
ds_diag = np.diag(U.T @ dphi @ V.T)
ds_yours = my_ssvd_backward(dphi, ssvd_cache)
print("ds as a triple sum:", np.round(ds_sum, 6))
print("ds as a diagonal:  ", np.round(ds_diag, 6))
print("ds, your function: ", np.round(ds_yours, 6))
assert np.allclose(ds_sum, ds_yours, rtol=1e-10, atol=1e-12) and np.allclose(ds_diag, ds_yours, rtol=1e-10, atol=1e-12)

report = ms.gradcheck(lambda s: ssvd_forward(U, s, V), ssvd_backward, {"s": s})
print(report)
assert report.passed

# %% [markdown]
# Despite the name, this is not a singular value decomposition: in the authors' code $U$ and $V$
# are plain Gaussian matrices, not orthogonal ones, so the $s_r$ are not the singular values of
# $\phi$. What matters is the count: $m$ extra numbers per layer, which keeps the total linear in
# the widths. For $784\to100\to10$: $1{,}104 + 100 + 10 = 1{,}214$.

# %%
ssvd_layer = ms.Spectral(784, 100, variant="ssvd", seed=0, phi_init="papers")  # Gaussian U, V as in the PRE code
U0 = ssvd_layer.params["U"].value
gram = U0.T @ U0
print(f"U^T U: diagonal around {np.mean(np.diag(gram)):.3f}, largest off-diagonal {np.max(np.abs(gram - np.diag(np.diag(gram)))):.3f}"
      " (an orthogonal U would give the identity)")
assert not np.allclose(gram, np.eye(gram.shape[0]), atol=0.1)
ssvd_model = ms.mlp((784, 100, 10), model="ssvd", seed=0)
print({name: p.count for name, p in ssvd_model.trainable_parameters()})
assert ssvd_model.num_parameters() == ms.mlp((784, 100, 10), model="spectral", seed=0).num_parameters() + 100 + 10 == 1214

# %% [markdown]
# ## 2. QR: $\phi = R\,Q$
#
# The QR layer starts from a random block $B$ (Gaussian, std 0.036), takes the reduced QR
# factorisation of its transpose, $B^\top = Q_r R_r$, and sets $R = R_r^\top$ (lower-triangular,
# $n_\text{out}\times m$) and $Q = Q_r^\top$ ($m\times n_\text{in}$, orthonormal rows). So at
# initialisation $\phi = RQ = B$ exactly, and $QQ^\top = I_m$.
#
# With $Q$ frozen, $\phi = RQ$ is linear in $R$: $\partial\phi_{ij}/\partial R_{ir} = Q_{rj}$, hence
#
# $$\frac{\partial L}{\partial R} = \frac{\partial L}{\partial \phi}\,Q^\top
# \qquad\Big(\odot\,M \text{ to keep } R \text{ lower-triangular, } M_{ir} = [r \le i]\Big).$$
#
# Masking the *gradient* is enough: the upper triangle starts at zero and never receives an update,
# so it stays zero.
#
# **Exercise.** Write `my_qr_backward(dphi, Q, R_mask)`, returning the masked $\partial L/\partial R$.

# %%
def my_qr_backward(dphi, Q, R_mask):
    """dphi (n_out, n_in), Q (m, n_in), R_mask (n_out, m) of 0/1 -> dR (n_out, m), dR = (dphi Q^T) ⊙ R_mask."""
    ### BEGIN SOLUTION
    dR = (dphi @ Q.T) * R_mask  # dR_ir = sum over pixels j of dL/dphi_ij Q_rj, where R may move
    ### END SOLUTION
    return dR


# %%
from minispectral.exercises.lesson_09 import check_qr_backward

check_qr_backward(my_qr_backward)

# %% [markdown]
# The library's QR layer, its factors, and your gradient on them:

# %%
qr_layer = ms.Spectral(n_in, n_out, variant="qr", seed=0, dtype="float64", phi_init="papers")
R, Q = qr_layer.params["R"].value, qr_layer.params["Q"].value
mask = qr_layer.params["R"].mask
print("R is", R.shape, "lower-triangular:", np.allclose(R, np.tril(R)), "| Q Q^T = I:", np.allclose(Q @ Q.T, np.eye(m)))
assert np.allclose(R, np.tril(R)) and np.allclose(Q @ Q.T, np.eye(m), atol=1e-12)
B = np.random.default_rng(0).normal(0.0, 0.036, size=(n_out, n_in))  # the block the factors come from
R_B, Q_B = qr_factors(np.random.default_rng(0), n_out, n_in)
assert np.allclose(R_B @ Q_B, B, rtol=1e-12, atol=1e-15)
print("R Q reproduces the random block B:", np.allclose(R_B @ Q_B, B))

phi_qr, qr_cache = qr_forward(R, Q)
assert np.array_equal(mask, np.tril(np.ones_like(R)))
assert np.allclose(my_qr_backward(dphi, Q, mask), qr_backward(dphi, qr_cache, R_mask=mask), rtol=1e-10, atol=1e-12)
assert np.allclose(my_qr_backward(dphi, Q, np.ones_like(R)), qr_backward(dphi, qr_cache), rtol=1e-10, atol=1e-12)
print("your dR matches qr_backward on the layer's factors, with and without the triangular mask")

report = ms.gradcheck(lambda R: qr_forward(R, Q), qr_backward, {"R": R})
print(report)
assert report.passed

# %% [markdown]
# The count for $784\to100\to10$: the first layer's $R$ is $100\times100$ with $5{,}050$ free
# entries, the second's is $10\times10$ with $55$, so $1{,}104 + 5{,}050 + 55 = 6{,}209$. The $R$ part
# is quadratic in the hidden width and independent of the 784 inputs; only the eigenvalues (784 of
# the 1,104 are $\lambda^\text{in}$ of the first layer) grow with the input width.
#
# What does it buy? Every row of $\phi = RQ$ is a combination of the $m$ rows of $Q$, so $\phi$
# always lives in the fixed $m$-dimensional row space of $Q$ (out of 784 dimensions), but *inside*
# it, $R$ can mix freely — about $m^2/2$ directions where S-SVD has $m$. The projection
# $Q^\top Q$ onto that row space leaves $\phi$ unchanged, before and after any training:
# $\phi\,(I - Q^\top Q) = 0$.

# %%
qr_model = ms.mlp((784, 100, 10), model="qr", seed=0)
print({name: p.count for name, p in qr_model.trainable_parameters()})
assert qr_model.num_parameters() == 1104 + 100 * 101 // 2 + 10 * 11 // 2 == 6209

# %% [markdown]
# Both layers, chained end to end (decomposition → eigenvalues → dense), pass the layer-level
# gradient check: every trained parameter and the input, in float64. The eigenvalues get unit-scale
# initial values so that the gradients stand well above the finite-difference noise.

# %%
x_small = rng.standard_normal((4, n_in))
for variant in ("ssvd", "qr"):
    layer = ms.Spectral(n_in, n_out, variant=variant, lam_in_init=(-2, 2), lam_out_init=(-2, 2), seed=3)
    report = ms.gradcheck(layer, x_small)
    print(f"--- Spectral(variant={variant!r}) ---\n{report}")
    assert report.passed

# %% [markdown]
# ## 3. Training: two sets, S-SVD, QR and dense
#
# Same recipe as lesson 07 (the PRE paper's for MNIST, paper.md §7): $784\to100\to10$, ReLU, Adamax with
# batch 200 at the authors' learning rates (`LEARNING_RATES["mnist"]`: 0.015 for two sets, S-SVD and dense,
# 0.005 for QR), early stopping on a 20 % validation split. As there, we train a few epochs here and read
# the converged runs from `lessons/data/curves.json` (`python lessons/make_curves.py`).

# %%
data = load_dataset("mnist", val_split=0.2, seed=0)
epochs = 2 if FAST else 5
print(data.summary(), f"-> {epochs} epochs here")
LR = LEARNING_RATES["mnist"]
kinds = ("spectral", "ssvd", "qr", "dense")
names = {"spectral": "two sets", "ssvd": "S-SVD", "qr": "QR", "dense": "dense"}
models, histories = {}, {}
for kind in kinds:
    papers = {} if kind == "dense" else {"phi_init": "papers"}  # the papers' phi (the default: results/init)
    models[kind] = ms.mlp((784, 100, 10), model=kind, activation="relu", seed=0, **papers)
    histories[kind] = fit(models[kind], data.x_train, data.y_train, epochs=epochs, batch_size=200,
                          optimizer="adamax", lr=LR[kind], seed=0,
                          x_val=data.x_val, y_val=data.y_val, progress=False)
    print(f"{names[kind]:>8}: {models[kind].num_parameters():>6,} parameters, lr {LR[kind]}, validation accuracy "
          f"by epoch {np.round(histories[kind]['val_accuracy'], 4).tolist()}")

CURVES = Path("data/curves.json") if Path("data/curves.json").exists() else Path("../data/curves.json")
curves = json.loads(CURVES.read_text())["curves"]
for kind in kinds:  # our run retraces the start of the committed one: same recipe, same order
    assert np.max(np.abs(np.array(histories[kind]["val_accuracy"]) - curves[kind]["val_accuracy"][:epochs])) < 0.01
final = {kind: curves[kind]["test_accuracy"][-1] for kind in kinds}
counts = {kind: curves[kind]["trainable_parameters"] for kind in kinds}
relative = {kind: final[kind] / final["dense"] for kind in kinds}
for kind in kinds:
    print(f"{names[kind]:>8}: {counts[kind]:>6,} parameters ({counts[kind] / counts['dense']:7.2%} of dense), "
          f"converged test accuracy {final[kind]:.4f} ({relative[kind]:.3f} of dense) after "
          f"{curves[kind]['epochs_run']} epochs")
assert final["qr"] > final["ssvd"] > final["spectral"] and relative["qr"] > 0.97

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.3))
colors = {"spectral": "tab:blue", "ssvd": "tab:orange", "qr": "tab:green", "dense": "black"}
for kind in kinds:
    c = curves[kind]
    ax1.plot(np.arange(1, c["epochs_run"] + 1), c["val_accuracy"], "-", color=colors[kind], label=names[kind])
    ax1.plot(histories[kind]["epoch"], histories[kind]["val_accuracy"], "o", ms=5, mfc="none", color=colors[kind])
    ax2.plot(counts[kind] / counts["dense"], relative[kind], "o", ms=7, color=colors[kind], label=names[kind])
ax1.set_xlabel("epoch (48,000 images each)")
ax1.set_ylabel("validation accuracy")
ax1.set_title("lines: committed full runs; circles: this lesson's run", fontsize=8)
ax1.set_ylim(0.4, 1)
ax1.legend(fontsize=8)
ax1.grid(alpha=0.3)
ax2.axhline(1.0, color="k", ls="--", lw=0.8)
ax2.set_xscale("log")
ax2.set_xlabel(r"$\rho$ = parameters / dense parameters")
ax2.set_ylabel("final test accuracy / dense")
ax2.grid(alpha=0.3)
fig.suptitle("MNIST, 784-100-10 ReLU, trained until early stopping (lessons/data/curves.json)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The right panel puts the PRE paper's two quantities, the relative accuracy and the parameter ratio
# $\rho$ (both plotted there against the hidden width $n_2$), into one point per model at $n_2 = 100$. Trained to
# convergence, S-SVD adds 110 numbers and closes part of the gap; QR adds about 5,000 — still under 8 %
# of dense — and closes most of it. The left panel shows that the models converge at different speeds,
# so only the converged runs rank them fairly.
#
# ## 4. What the factors learned
#
# Two checks on the models trained in this lesson. QR: $\phi$ never left the row space of $Q$, and $R$ is still
# lower-triangular. S-SVD: the trained $s$ have moved far from their $U(0, 3)$ start, several of
# them through zero — so they are gains on fixed rank-one patterns $U_{:r}V_{r:}$, free to change
# sign, not singular values.

# %%
qr_first = models["qr"].layers[0]
phi_trained = qr_first.phi()
Q_trained = qr_first.params["Q"].value
R_trained = qr_first.params["R"].value
off_space = np.linalg.norm(phi_trained - phi_trained @ Q_trained.T @ Q_trained) / np.linalg.norm(phi_trained)
print(f"QR: |phi (I - Q^T Q)| / |phi| = {off_space:.1e}; upper triangle of R: max |R_ij| = {np.abs(np.triu(R_trained, 1)).max()}")
assert off_space < 1e-5 and np.all(np.triu(R_trained, 1) == 0)

s_init = ms.mlp((784, 100, 10), model="ssvd", seed=0).layers[0].params["s"].value
s_trained = models["ssvd"].layers[0].params["s"].value
print(f"S-SVD: {np.sum(s_trained < 0)} of {s_trained.size} values of s turned negative")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(s_init, s_trained, "o", ms=4)
ax.axhline(0, color="k", lw=0.6)
ax.set_xlabel("$s_r$ at initialisation")
ax.set_ylabel("$s_r$ trained")
ax.set_title("first layer of the S-SVD model", fontsize=9)
fig.tight_layout()
plt.show()
assert np.mean(np.abs(s_trained - s_init)) > 0.1

# %% [markdown]
# ## Summary
#
# * S-SVD, $\phi = U\operatorname{diag}(s)V$: $\partial L/\partial s_r = (U^\top\,\partial L/\partial\phi\,V^\top)_{rr}$,
#   $m$ extra parameters per layer.
# * QR, $\phi = RQ$: $\partial L/\partial R = \partial L/\partial\phi\;Q^\top$, masked to the lower
#   triangle, $m(m+1)/2$ extra parameters; $\phi$ stays in the row space of $Q$.
# * Both chain onto the spectral kernel's $\partial L/\partial\phi$; the library's kernels give the
#   numbers of your `my_ssvd_backward` and `my_qr_backward` and pass `gradcheck`.
# * On MNIST, trained until early stopping, QR gets within a few percent of dense with under 8 % of its
#   parameters; S-SVD closes part of the gap with 110 extra numbers.
#
# Lesson 10 keeps the QR layer and makes its weights sparse.
#
# ## Exercises
#
# Solutions: `lessons/solutions/09_closing_the_gap.py`.
#
# 1. **The full factor.** The authors' code trains all of $R$, not only its triangle
#    (`triangular=False`). Count the parameters of that model for $784\to100\to10$, and train it next
#    to the triangular one. Does the extra freedom help in a short run?
# 2. **Training $U$ as well.** Derive $\partial L/\partial U$ for $\phi = U\operatorname{diag}(s)V$, implement
#    it as a backward function, and check it with `ms.gradcheck(forward, backward, {"U": U})`.
# 3. **Row spaces of $W$.** Show that if all $\lambda^\text{in}_j$ are equal, the rows of a QR layer's $W$
#    lie in the row space of $Q$, and that in general they do not. Measure how much of the trained QR
#    layer's $\lVert W\rVert$ lies outside that row space.
