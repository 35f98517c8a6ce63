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
# **Why this lesson.** Lesson 07 trained eigenvalues only and stopped short of dense accuracy. The
# rest of the gap sits in the frozen eigenvector block $\phi$: training it outright costs
# $n_\text{in} n_\text{out}$ numbers per layer, as many as a dense layer. The PRE paper's answer
# is to train $\phi$ through a *decomposition* with few free numbers. The authors' code has two:
#
# * **S-SVD**: $\phi = U\operatorname{diag}(s)\,V$ with $U$, $V$ frozen and the $m$ values $s$
#   trained, where $m = \min(n_\text{in}, n_\text{out})$;
# * **QR**: $\phi = R\,Q$ with $Q$ frozen (orthonormal rows) and $R$ trained, kept lower-triangular:
#   $m(m+1)/2$ numbers for a square $R$.
#
# For each we derive the gradient of the trained factor, check it against the library's kernel and
# with `gradcheck`, and then train both against the two-set model and dense on MNIST.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.experiment import DEFAULT_LR
from minispectral.functional import qr_backward, qr_forward, ssvd_backward, ssvd_forward
from minispectral.nn.init import qr_factors
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. What a frozen $\phi$ cannot do
#
# With $\phi$ frozen, row $i$ of the weight matrix is
#
# $$W_{i:} = \phi_{i:} \odot (\lambda^\text{in} - \lambda^\text{out}_i\mathbf 1),$$
#
# the frozen random row $\phi_{i:}$ with its entries rescaled. The same $n_\text{in}$ column gains
# $\lambda^\text{in}$ are shared by all rows, and each row only adds its own offset $\lambda^\text{out}_i$.
# The eigenvalues can flip signs (where $\lambda^\text{in}_j$ falls between $\lambda^\text{out}_i$ and
# $\lambda^\text{out}_{i'}$, rows $i$ and $i'$ get opposite relative signs at pixel $j$), but the ratios
# $W_{ij}/\phi_{ij} = \lambda^\text{in}_j - \lambda^\text{out}_i$ always have this additive form: for any
# two rows, $W_{ij}/\phi_{ij} - W_{i'j}/\phi_{i'j} = \lambda^\text{out}_{i'} - \lambda^\text{out}_i$ is the
# same at every pixel, and a zero of $\phi$ stays a zero of $W$. The reachable $W$ form a subspace of
# dimension $n_\text{in} + n_\text{out} - 1$ out of $n_\text{in} n_\text{out}$. A decomposition
# $\phi = \phi(\theta)$ with a small $\theta$ adds directions the eigenvalues cannot reach. The chain rule needs only one new step,
# from $\partial L/\partial\phi$ (which the spectral kernel already returns) to $\partial L/\partial\theta$.
#
# The row formula, on a two-set layer of the size used below:

# %%
two_set = ms.Spectral(784, 100, variant="spectral", seed=0)
W_two, phi_two = two_set.weight(), two_set.phi()
lam_in_two, lam_out_two = two_set.params["lam_in"].value, two_set.params["lam_out"].value
for i in (0, 41, 99):
    assert np.allclose(W_two[i], phi_two[i] * (lam_in_two - lam_out_two[i]), rtol=1e-6, atol=1e-9)

# %% [markdown]
# ## 2. S-SVD: $\phi = U\operatorname{diag}(s)\,V$
#
# Entry by entry, $\phi_{ij} = \sum_r U_{ir}\,s_r\,V_{rj}$, so $\partial\phi_{ij}/\partial s_r = U_{ir}V_{rj}$ and
#
# $$\frac{\partial L}{\partial s_r} = \sum_{i,j} \frac{\partial L}{\partial\phi_{ij}}\,U_{ir}\,V_{rj}
# = \big(U^\top\,\tfrac{\partial L}{\partial\phi}\,V^\top\big)_{rr}.$$
#
# The library computes the diagonal as the row sums of $(U^\top\,\partial L/\partial\phi)\odot V$,
# which costs one $m\times n_\text{out}$ by $n_\text{out}\times n_\text{in}$ product and never builds
# the $m\times m$ matrix. By hand, with the triple sum written as an `einsum`:

# %%
n_out, n_in = 5, 8
m = min(n_in, n_out)
U, V = rng.standard_normal((n_out, m)), rng.standard_normal((m, n_in))
s = rng.uniform(0, 3, size=m)
dphi = rng.standard_normal((n_out, n_in))  # stands for dL/dphi

phi_hand = np.einsum("ir,r,rj->ij", U, s, V)
phi_lib, ssvd_cache = ssvd_forward(U, s, V)
assert np.allclose(phi_hand, phi_lib, rtol=1e-12, atol=1e-12)

ds_hand = np.einsum("ij,ir,rj->r", dphi, U, V)
ds_diag = np.diag(U.T @ dphi @ V.T)
ds_lib = ssvd_backward(dphi, ssvd_cache)
print("ds by hand:      ", np.round(ds_hand, 6))
print("ds as a diagonal:", np.round(ds_diag, 6))
print("ds library:      ", np.round(ds_lib, 6))
assert np.allclose(ds_hand, ds_lib, rtol=1e-10, atol=1e-12) and np.allclose(ds_diag, ds_lib, rtol=1e-10, atol=1e-12)

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
# ## 3. QR: $\phi = R\,Q$
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

dR_hand = np.einsum("ij,rj->ir", dphi, Q)  # sum over pixels j of dL/dphi_ij Q_rj
phi_qr, qr_cache = qr_forward(R, Q)
dR_lib = qr_backward(dphi, qr_cache)
dR_lib_masked = qr_backward(dphi, qr_cache, R_mask=mask)
assert np.allclose(dR_hand, dR_lib, rtol=1e-10, atol=1e-12)
assert np.allclose(dR_hand * np.tril(np.ones_like(R)), dR_lib_masked, rtol=1e-10, atol=1e-12)
print("dR by hand matches qr_backward, with and without the triangular mask")

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
# ## 4. Training: two sets, S-SVD, QR and dense
#
# Same recipe as lesson 07: $784\to100\to10$, ReLU, Adamax with batch 200, the learning rates of
# `minispectral.experiment.DEFAULT_LR` (the authors' for the spectral models; see lesson 07 for
# dense), a subset of MNIST and a few epochs (the papers use up to 90 with early stopping).

# %%
data = load_mnist(val_split=1 / 12, seed=0)
n_train = 10_000 if FAST else 30_000
epochs = 5 if FAST else 10
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
print(data.summary(), f"-> training on {n_train:,} images for {epochs} epochs")

kinds = ("spectral", "ssvd", "qr", "dense")
names = {"spectral": "two sets", "ssvd": "S-SVD", "qr": "QR", "dense": "dense"}
models, histories, test_acc, counts = {}, {}, {}, {}
for kind in kinds:
    # phi from the papers' recipe (the library's default draws it Glorot-uniform for these variants: results/init)
    papers = {} if kind == "dense" else {"phi_init": "papers"}
    models[kind] = ms.mlp((784, 100, 10), model=kind, activation="relu", seed=0, **papers)
    counts[kind] = models[kind].num_parameters()
    histories[kind] = fit(models[kind], x_train, y_train, epochs=epochs, batch_size=200, optimizer="adamax",
                          lr=DEFAULT_LR[kind], x_val=data.x_val, y_val=data.y_val, seed=0, progress=False)
    test_acc[kind] = evaluate(models[kind], data.x_test, data.y_test)[1]
    print(f"{names[kind]:>8}: {counts[kind]:>6,} parameters ({counts[kind] / 79_510:7.2%} of dense), "
          f"test accuracy {test_acc[kind]:.4f}")

relative = {kind: test_acc[kind] / test_acc["dense"] for kind in kinds}
print("accuracy relative to dense:", {names[k]: round(v, 3) for k, v in relative.items()})
assert test_acc["qr"] > test_acc["spectral"] and test_acc["ssvd"] > test_acc["spectral"]
assert test_acc["dense"] > (0.88 if FAST else 0.95)
if not FAST:
    assert relative["qr"] > 0.93

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
for kind in kinds:
    h = histories[kind]
    ax1.plot(h["epoch"], h["val_accuracy"], "o-", ms=3, label=names[kind])
    ax2.plot(counts[kind] / counts["dense"], relative[kind], "o", ms=7, label=names[kind])
ax1.set_xlabel("epoch")
ax1.set_ylabel("validation accuracy")
ax1.legend(fontsize=8)
ax2.axhline(1.0, color="k", ls="--", lw=0.8)
ax2.set_xscale("log")
ax2.set_xlabel(r"$\rho$ = parameters / dense parameters")
ax2.set_ylabel("test accuracy / dense")
ax2.grid(alpha=0.3)
fig.suptitle(f"MNIST, 784-100-10 ReLU, {n_train:,} images, {epochs} epochs", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The right panel puts the PRE paper's two quantities, the relative accuracy and the parameter ratio
# $\rho$ (both plotted there against $N_2$), into one point per model at $N_2 = 100$. S-SVD adds 110 numbers and closes part of the gap; QR adds about 5,000 — still
# under 8 % of dense — and closes most of it.
#
# ## 5. What the factors learned
#
# Two checks on the trained models. QR: $\phi$ never left the row space of $Q$, and $R$ is still
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
#   hand-derived numbers and pass `gradcheck`.
# * On MNIST, QR gets within a few percent of dense with under 8 % of its parameters.
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
