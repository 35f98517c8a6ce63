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
# # Lesson 08 — Why two eigenvalue sets
#
# **Why this lesson.** Lesson 07 trained eigenvalues only, with $\phi$ frozen: one set
# ($\lambda^\text{out}$, the NC paper) reached about half of the dense accuracy on MNIST, two sets
# ($\lambda^\text{in}$ and $\lambda^\text{out}$, the PRE paper) about 90 %, with only $784 + 100$ more
# numbers. This lesson asks why, from four sides:
#
# 1. a **picture**: a spectral layer as nodes and edges, each edge's weight set by its two end nodes;
# 2. an **algebraic reading**: $W = \phi \odot (\mathbf 1\lambda^{\text{in}\top} - \lambda^\text{out}\mathbf 1^\top)$, a fixed
#    matrix times, entry by entry, a matrix of rank at most 2;
# 3. a **dimension count**: the weights two sets can reach form a space of dimension
#    $n_\text{in} + n_\text{out} - 1$, one set only $n_\text{out}$, checked on the Jacobian;
# 4. **what training does with them**: $\lambda^\text{in}$ as a knob on each input pixel, tested against
#    a control that needs no training, and $\lambda^\text{out}$ as the "excitability" of each receiving
#    node, with an experiment on the PRE paper's homeostatic reading of it.
#
# It ends with the weight distributions that spectral and direct training produce.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cm, colors

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.reproduce.params import LEARNING_RATES
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A spectral layer as nodes and edges
#
# Draw a layer $n_\text{in} \to n_\text{out}$ as a graph: $n_\text{in}$ sending nodes on the left,
# $n_\text{out}$ receiving nodes on the right, an edge $j \to i$ for every pair. Lesson 05 put one
# eigenvalue on each *node* ($\lambda^\text{in}_j$ on sending node $j$, $\lambda^\text{out}_i$ on receiving
# node $i$) and one entry $\phi_{ij}$ of the eigenvector block on each *edge*. The weight of the edge is
#
# $$W_{ij} = \phi_{ij}\,(\lambda^\text{in}_j - \lambda^\text{out}_i):$$
#
# the frozen edge value times the difference of the eigenvalues at its two ends. With two sets, both
# ends of every edge hold a knob; with one set ($\lambda^\text{in} = 0$), only the receiving end does,
# and all the edges into node $i$ are scaled by the same $-\lambda^\text{out}_i$.

# %%
def draw_layer(ax, M, lam_in, lam_out, title, vmax):
    """Draw M (n_out, n_in) as edges from n_in sending nodes (left) to n_out receiving nodes (right):
    width ~ |M_ij|, red > 0, blue < 0; the nodes are coloured by their eigenvalue."""
    n_out, n_in = M.shape
    y_in, y_out = np.linspace(1, 0, n_in), np.linspace(0.85, 0.15, n_out)
    for i in range(n_out):
        for j in range(n_in):
            ax.plot([0, 1], [y_in[j], y_out[i]], color="tab:red" if M[i, j] > 0 else "tab:blue",
                    lw=4 * abs(M[i, j]) / vmax, alpha=0.8, zorder=1)
    node_colors = cm.ScalarMappable(colors.Normalize(-1, 1), cm.coolwarm)
    ax.scatter(np.zeros(n_in), y_in, s=420, c=node_colors.to_rgba(lam_in), edgecolors="k", zorder=2)
    ax.scatter(np.ones(n_out), y_out, s=420, c=node_colors.to_rgba(lam_out), edgecolors="k", zorder=2)
    for j in range(n_in):
        ax.text(-0.08, y_in[j], rf"$\lambda^{{in}}_{j}={lam_in[j]:+.1f}$", ha="right", va="center", fontsize=7)
    for i in range(n_out):
        ax.text(1.08, y_out[i], rf"$\lambda^{{out}}_{i}={lam_out[i]:+.1f}$", ha="left", va="center", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xlim(-0.55, 1.55)
    ax.axis("off")


small = ms.Spectral(5, 3, variant="spectral", phi_init=(-1, 1), lam_in_init=(-1, 1), lam_out_init=(-1, 1),
                    seed=3, dtype="float64")
phi_s, lam_in_s, lam_out_s = small.phi(), small.params["lam_in"].value, small.params["lam_out"].value
W_s = small.weight()
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
vmax = max(np.abs(phi_s).max(), np.abs(W_s).max())
draw_layer(axes[0], phi_s, lam_in_s, lam_out_s, r"edges: $\phi_{ij}$ (frozen)", vmax)
draw_layer(axes[1], W_s, lam_in_s, lam_out_s, r"edges: $W_{ij} = \phi_{ij}(\lambda^{in}_j - \lambda^{out}_i)$", vmax)
fig.tight_layout()
plt.show()

# %% [markdown]
# Where $\lambda^\text{in}_j$ and $\lambda^\text{out}_i$ are close, the edge $j\to i$ fades; where they are
# far apart, it grows; where $\lambda^\text{in}_j$ lies between two receiving nodes' eigenvalues, the two
# edges from $j$ get opposite relative signs. Each knob moves a whole *bundle* of edges: all the edges
# out of sending node $j$, or all the edges into receiving node $i$.
#
# ## 2. A fixed matrix times a matrix of rank at most 2
#
# Collect the differences in one matrix, $D_{ij} = \lambda^\text{in}_j - \lambda^\text{out}_i$:
#
# $$D = \mathbf 1\,\lambda^{\text{in}\top} - \lambda^\text{out}\,\mathbf 1^\top, \qquad W = \phi \odot D .$$
#
# $D$ is the sum of two outer products, so its rank is at most 2 (one set: $D = -\lambda^\text{out}\mathbf 1^\top$,
# rank 1). Training moves only $D$; the Hadamard (entry-by-entry) product with the fixed $\phi$ turns this
# low-rank pattern into a full weight matrix.
#
# **Exercise.** Write `my_rank2_form(phi, lam_in, lam_out)`, returning $D$ (built from the two outer
# products) and $W = \phi\odot D$.

# %%
def my_rank2_form(phi, lam_in, lam_out):
    """phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,) -> D (n_out, n_in), W (n_out, n_in)."""
    ### BEGIN SOLUTION
    ones_out, ones_in = np.ones_like(lam_out), np.ones_like(lam_in)
    D = np.outer(ones_out, lam_in) - np.outer(lam_out, ones_in)  # D_ij = lam_in_j - lam_out_i
    W = phi * D
    ### END SOLUTION
    return D, W


# %%
from minispectral.exercises.lesson_08 import check_rank2_form

check_rank2_form(my_rank2_form)

# %% [markdown]
# On a layer of the size the lessons train ($784 \to 100$): the singular values of $D$ drop to round-off
# after the second, while $W = \phi\odot D$ has full rank.

# %%
layer = ms.Spectral(784, 100, variant="spectral", seed=0, dtype="float64", phi_init="papers")
D, W = my_rank2_form(layer.phi(), layer.params["lam_in"].value, layer.params["lam_out"].value)
assert np.allclose(W, layer.weight(), rtol=1e-12, atol=1e-15)
sv_D, sv_W = np.linalg.svd(D, compute_uv=False), np.linalg.svd(W, compute_uv=False)
print("singular values of D:", np.array2string(sv_D[:4], precision=2), "...")
print(f"rank of D: {np.linalg.matrix_rank(D)}, rank of W = phi ⊙ D: {np.linalg.matrix_rank(W)} (of 100)")
assert np.linalg.matrix_rank(D) == 2 and np.linalg.matrix_rank(W) == 100

# %% [markdown]
# The reading says what the eigenvalues can and cannot do. The ratios $W_{ij}/\phi_{ij} = D_{ij}$
# always have the additive form $\lambda^\text{in}_j - \lambda^\text{out}_i$: for any two rows,
# $D_{ij} - D_{i'j} = \lambda^\text{out}_{i'} - \lambda^\text{out}_i$ is the same at every column $j$, and a
# zero of $\phi$ stays a zero of $W$.
#
# With one set the ratio is $-\lambda^\text{out}_i$ along the whole row: receiving node $i$ weighs its
# inputs in the proportions of the random row $\phi_{i:}$, fixed at initialisation. In the output layer
# of lesson 07 that means each class weighs the 100 hidden features in random proportions, and training
# can only turn the class up or down. The second set lets each *column* (each hidden feature) have its
# own factor $\lambda^\text{in}_j$, shared by all classes, and the offsets $\lambda^\text{out}_i$ then change
# the proportions from class to class.
#
# ## 3. The dimension argument
#
# $W$ is linear in the eigenvalues. Stack them as $\lambda = (\lambda^\text{in}, \lambda^\text{out})$, of
# length $n_\text{in} + n_\text{out}$; then $\operatorname{vec}(W) = J\lambda$ with a fixed Jacobian $J$ of
# shape $(n_\text{out} n_\text{in}) \times (n_\text{in} + n_\text{out})$, and the weights the eigenvalues can
# reach are the column space of $J$. Its dimension is the rank of $J$. From
# $W_{ij} = \phi_{ij}\lambda^\text{in}_j - \phi_{ij}\lambda^\text{out}_i$:
#
# $$\frac{\partial W_{ij}}{\partial \lambda^\text{in}_k} = \phi_{ij}\,[j = k], \qquad
# \frac{\partial W_{ij}}{\partial \lambda^\text{out}_k} = -\phi_{ij}\,[i = k].$$
#
# One direction is lost: adding the same constant $c$ to every $\lambda^\text{in}_j$ and every
# $\lambda^\text{out}_i$ leaves each difference, and so $W$, unchanged. When no $\phi_{ij}$ is zero it is
# the only one, so
#
# $$\dim\{W\} = \underbrace{n_\text{out}}_{\text{one set}} \;<\; \underbrace{n_\text{in} + n_\text{out} - 1}_{\text{two sets}}
# \;\ll\; \underbrace{n_\text{in}\,n_\text{out}}_{\text{dense}} .$$
#
# **Exercise.** Write `my_weight_jacobian(phi)`: the matrix $J$, with row $i\,n_\text{in} + j$ (the row-major
# order of `W.reshape(-1)`) holding the derivatives of $W_{ij}$, and columns $\lambda^\text{in}$ first,
# then $\lambda^\text{out}$. The check compares it with central differences of the library's weights.

# %%
def my_weight_jacobian(phi):
    """phi (n_out, n_in) -> J (n_out * n_in, n_in + n_out): d W.reshape(-1) / d (lam_in, lam_out)."""
    n_out, n_in = phi.shape
    ### BEGIN SOLUTION
    J = np.zeros((n_out, n_in, n_in + n_out))
    rows, cols = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    J[rows, cols, cols] = phi              # dW_ij / dlam_in_j = phi_ij
    J[rows, cols, n_in + rows] = -phi      # dW_ij / dlam_out_i = -phi_ij
    J = J.reshape(n_out * n_in, n_in + n_out)
    ### END SOLUTION
    return J


# %%
from minispectral.exercises.lesson_08 import check_weight_jacobian

check_weight_jacobian(my_weight_jacobian)

# %% [markdown]
# Now the ranks, for a few layer sizes. One set trains only the $\lambda^\text{out}$ columns of $J$;
# dense training moves every entry of $W$ on its own.

# %%
for n_in, n_out in ((6, 4), (50, 20), (200, 30)):
    phi = np.random.default_rng(n_in).uniform(-0.5, 0.5, (n_out, n_in))
    J = my_weight_jacobian(phi)
    rank_two, rank_one = np.linalg.matrix_rank(J), np.linalg.matrix_rank(J[:, n_in:])
    print(f"{n_in:>3} -> {n_out:<3} one set: rank {rank_one:>3} (n_out = {n_out}); two sets: rank {rank_two:>3} "
          f"(n_in + n_out - 1 = {n_in + n_out - 1}); dense: {n_in * n_out:>5}")
    assert rank_one == n_out and rank_two == n_in + n_out - 1
    assert np.allclose(J @ np.ones(n_in + n_out), 0)  # the lost direction: the same c added to every eigenvalue

# %% [markdown]
# For the first layer of $784 \to 100 \to 10$ that is 100 dimensions with one set, 883 with two, out of
# 78,400. The second set multiplies the reachable space by almost 9, and, more to the point, it gives
# the *input* side a handle: one knob per pixel. The rest of the lesson looks at what training does
# with the two kinds of knob.
#
# ## 4. $\lambda^\text{in}$: one knob per input pixel
#
# We train the one-set and two-set models of lesson 07, with its recipe (MNIST, $784\to100\to10$, ReLU,
# Adamax at the authors' learning rates, batch 200), plus two controls used below: the two-set model with
# $\lambda^\text{out}$ frozen at its initial values, and the dense model.

# %%
data = load_dataset("mnist", val_split=0.2, seed=0)
epochs = 3 if FAST else 25
LR = LEARNING_RATES["mnist"]
specs = {"nc": ("nc", {}), "spectral": ("spectral", {}),
         "lam_out frozen": ("spectral", {"trainable": {"lam_out": False}}), "dense": ("dense", {})}
labels = {"nc": "one set", "spectral": "two sets", "lam_out frozen": r"two sets, $\lambda^{out}$ frozen",
          "dense": "dense"}
models, initial, test_acc = {}, {}, {}
for name, (kind, kw) in specs.items():
    papers = {} if kind == "dense" else {"phi_init": "papers"}  # the papers' phi (the default: results/init)
    initial[name] = ms.mlp((784, 100, 10), model=kind, seed=0, **kw, **papers)
    models[name] = initial[name].copy()
    history = fit(models[name], data.x_train, data.y_train, epochs=epochs, batch_size=200, optimizer="adamax",
                  lr=LR[kind], seed=0, progress=False)
    test_acc[name] = evaluate(models[name], data.x_test, data.y_test)[1]
    print(f"{name:>15}: {models[name].num_parameters():>6,} parameters, test accuracy {test_acc[name]:.4f} "
          f"after {epochs} epochs, {sum(history.epoch_seconds):.1f} s")
assert test_acc["dense"] > test_acc["spectral"] > test_acc["nc"]

# %% [markdown]
# Fix a sending node $j$ — in the first layer, a pixel. Its weights to all 100 hidden nodes are the
# column $W_{:j} = \phi_{:j}\odot(\lambda^\text{in}_j - \lambda^\text{out})$: the PRE paper reads
# $\lambda^\text{in}_j$ as a knob on the whole contribution of pixel $j$, large to amplify it, near zero to
# silence it. The knob is not a switch, though: $\lambda^\text{in}_j = 0$ leaves the column
# $-\phi_{:j}\odot\lambda^\text{out}$, and training makes the $\lambda^\text{out}$ as large as the
# $\lambda^\text{in}$ (printed below; they start at $\pm0.97$ against $\pm0.13$). Exercise 1 builds a
# model in which it is an exact switch.
#
# Lesson 06 (§6) gave the gradient $d\lambda^\text{in}_j = \sum_n x_{nj}\,(dy_n\,\phi)_j$. If pixel $j$ is
# zero in *every* training image, it is exactly zero, and the knob of that dead pixel never moves.

# %%
two = models["spectral"].layers[0]
lam_in_trained = two.params["lam_in"].value
lam_in_init = initial["spectral"].layers[0].params["lam_in"].value
dead = np.all(data.x_train == 0, axis=0)  # pixels that are zero in every training image
live = ~dead
pixel_std = data.x_train.std(axis=0)
moved = np.abs(lam_in_trained - lam_in_init)
print(f"{dead.sum()} dead pixels; largest move of their lam_in: {moved[dead].max():.1e}")
print(f"trained: median |lam_in| of live pixels {np.median(np.abs(lam_in_trained[live])):.2f}, median |lam_out| "
      f"{np.median(np.abs(two.params['lam_out'].value)):.2f}")
assert np.all(moved[dead] == 0)  # zero gradient, exactly
assert np.median(moved[live]) > 0

fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
for ax, image, title in zip(axes, (pixel_std, np.abs(lam_in_init), np.abs(lam_in_trained)),
                            ("pixel std over images", r"$|\lambda^{in}|$ at init", r"$|\lambda^{in}|$ trained")):
    im = ax.imshow(image.reshape(28, 28), cmap="magma")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# The trained knobs look like a map of where digits put ink. But so does the left panel, the standard
# deviation of each pixel over the training images, which needs no training at all. Is $|\lambda^\text{in}|$
# a better ranking of the pixels than that?
#
# **The experiment.** Silence pixels — set them to zero in every test image, which removes the column
# $W_{:j}$ — and measure the test accuracy of the trained two-set model. Rank the live pixels in several
# orders (the dead ones are left out of every ranking: they are zero in training and nearly so in test):
# smallest $|\lambda^\text{in}_j|$ first; the **control**, smallest standard deviation first; and at random.
#
# **Exercise.** Write `silence(x, score, k)`: a copy of the images `x` with the `k` pixels of smallest
# `score` set to zero. A pixel whose score is `inf` is never silenced. Leave `x` itself unchanged.

# %%
def silence(x, score, k):
    """x (N, n_in), score (n_in,), k -> x_silenced (N, n_in): the k pixels of smallest score zeroed, x untouched."""
    ### BEGIN SOLUTION
    x_silenced = x.copy()
    x_silenced[:, np.argsort(score)[:k]] = 0.0  # argsort puts inf last
    ### END SOLUTION
    return x_silenced


# %%
from minispectral.exercises.lesson_08 import check_silence

check_silence(silence)

# %%
def live_only(score):
    return np.where(live, score, np.inf)


scores = {"|lam_in|": live_only(np.abs(lam_in_trained)),
          "control: std": live_only(pixel_std),
          "random": live_only(np.random.default_rng(1).random(784))}
legend = {"|lam_in|": r"smallest $|\lambda^{in}|$ first", "control: std": "control: smallest pixel std first",
          "random": "random"}
n_live = int(live.sum())
ks = np.linspace(0, n_live - 50, 9).astype(int)
silenced_acc = {name: [evaluate(models["spectral"], silence(data.x_test, score, k), data.y_test)[1] for k in ks]
                for name, score in scores.items()}

fig, ax = plt.subplots(figsize=(6, 3.2))
for name, accs in silenced_acc.items():
    ax.plot(ks, accs, "o-", ms=3, label=legend[name])
ax.set_xlabel(f"live pixels silenced (of {n_live})")
ax.set_ylabel("test accuracy, two sets")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

rank_corr = np.corrcoef(np.argsort(np.argsort(np.abs(lam_in_trained[live]))),
                        np.argsort(np.argsort(pixel_std[live])))[0, 1]
print(f"Spearman correlation of |lam_in| and pixel std over the live pixels: {rank_corr:.2f}")
print("test accuracy with k live pixels silenced, ranked by:")
print(f"{'k':>5} " + " ".join(f"{name:>13}" for name in scores))
for i, k in enumerate(ks):
    print(f"{k:>5} " + " ".join(f"{silenced_acc[name][i]:>13.4f}" for name in scores))
lam_acc, std_acc, random_acc = (np.array(silenced_acc[name]) for name in scores)
assert np.all(lam_acc[1:] > random_acc[1:])  # the knob is far better than chance...
if not FAST:
    half = len(ks) // 2
    assert std_acc[half] >= lam_acc[half] - 0.01  # ...but not better than the control at half the live pixels

# %% [markdown]
# Ranked by $|\lambda^\text{in}|$, far more pixels can go than at random: training has turned down the
# knobs of pixels that do not help. But the control, which knows nothing of the network, does as well
# or better until most pixels are gone: the two rankings are correlated, and much of what the knobs
# "learned" is that pixels which hardly vary over the images carry little information — which the data
# says without any training. Only when most pixels are silenced does $|\lambda^\text{in}|$ catch up or
# pull ahead in the full-mode run.
#
# So the PRE abstract's "enhance, or alternatively silence, the contribution of the input nodes" is
# right in what the knob does, and reading $|\lambda^\text{in}|$ as a feature-relevance score needs a
# baseline like this one before it says anything about the network (lesson 11 returns to scores).
#
# ## 5. $\lambda^\text{out}$: excitability, and a test of the homeostatic reading
#
# Now fix a receiving node $i$. In the one-set model its whole input is
#
# $$z_i - b_i = -\lambda^\text{out}_i\,(\phi_{i:}\cdot x),$$
#
# a frozen random projection of the image times one number: $\lambda^\text{out}_i$ is a *gain*, setting
# how strongly node $i$ responds (its excitability) without changing *what* it responds to.
#
# In the two-set model the input has two terms,
#
# $$z_i - b_i = u_i - \lambda^\text{out}_i\,v_i,\qquad u_i = \sum_j \phi_{ij}\lambda^\text{in}_j x_j,\quad v_i = \phi_{i:}\cdot x .$$
#
# The pixel knobs $\lambda^\text{in}$ are shared by all receiving nodes, each seeing them through its own
# row $\phi_{i:}$. $\lambda^\text{out}_i$ is no longer a gain on the whole input of node $i$: it scales only
# the second term, the plain projection $v_i$, which it subtracts from the knob-weighted one $u_i$.
#
# The PRE paper likens $\lambda^\text{out}$ to *homeostatic plasticity*: neurons rescaling their inputs to
# keep their activity in a working range. If $\lambda^\text{out}$ did that, training it should make the
# nodes' activity *more alike*. We measure, on validation images, each hidden node's scale $s_i$, the
# standard deviation of its pre-activation $z_i$ over the images, and the **spread** of the nodes,
# $\operatorname{std}_i(\log s_i)$ (0 when every node has the same scale), plus each node's firing rate
# (the fraction of images on which its ReLU is on). We compare:
#
# * each model before and after training;
# * the **control**: the two-set model trained with $\lambda^\text{out}$ frozen, everything else the same;
# * the trained two-set model with $\lambda^\text{out}$ put back to its initial values.

# %%
x_val = data.x_val[:5000]


def node_stats(model):
    """Per hidden node: the std of its pre-activation over x_val, and its firing rate."""
    z = model.layers[0].forward(x_val)
    return z.std(axis=0), np.mean(z > 0, axis=0)


def spread(s):
    return float(np.std(np.log(s)))


lam_out_back = models["spectral"].copy()
lam_out_back.layers[0].params["lam_out"].value[...] = initial["spectral"].layers[0].params["lam_out"].value
cases = {"one set, init": initial["nc"], "one set, trained": models["nc"],
         "two sets, init": initial["spectral"], "two sets, trained": models["spectral"],
         "control: lam_out frozen, trained": models["lam_out frozen"],
         "two sets, trained, lam_out back to init": lam_out_back}
stats = {name: node_stats(model) for name, model in cases.items()}
print(f"{'':>40} {'spread of log s_i':>18} {'silent nodes':>13} {'std of firing rates':>20} {'test acc.':>10}")
for name, (s, rate) in stats.items():
    acc = evaluate(cases[name], data.x_test, data.y_test)[1]
    print(f"{name:>40} {spread(s):>18.3f} {int(np.sum(rate == 0)):>13} {rate.std():>20.3f} {acc:>10.4f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
for name in ("two sets, init", "two sets, trained", "control: lam_out frozen, trained", "one set, trained"):
    s, rate = stats[name]
    ax1.plot(np.sort(s / np.median(s)), label=name)
    ax2.plot(np.sort(rate)[::-1], label=name)
ax1.set_yscale("log")
ax1.set_xlabel("hidden node (sorted)")
ax1.set_ylabel(r"$s_i$ / median")
ax2.set_xlabel("hidden node (sorted)")
ax2.set_ylabel("firing rate on validation images")
ax2.legend(fontsize=7)
fig.tight_layout()
plt.show()

two_trained, frozen, two_init = (spread(stats[n][0]) for n in
                                 ("two sets, trained", "control: lam_out frozen, trained", "two sets, init"))
assert two_trained > frozen and two_trained > two_init  # trained lam_out spreads the nodes apart
assert spread(stats["one set, trained"][0]) > spread(stats["one set, init"][0])

# %% [markdown]
# The answer is no. Training $\lambda^\text{out}$ makes the nodes' scales *less* alike: the spread grows
# with training, while the control, trained the same way with $\lambda^\text{out}$ frozen, hardly moves
# from its start, and putting the initial $\lambda^\text{out}$ back into the trained model brings the spread
# back down. The firing rates tell the same story: their spread grows far more with $\lambda^\text{out}$
# trained than in the control. What $\lambda^\text{out}$ buys is accuracy (compare the
# control's), by *differentiating* the nodes, not by holding them at a common level.
#
# The one-set model shows the same tendency at its extreme. Its gain is all a node has: a node whose
# random projection $\phi_{i:}\cdot x$ does not help the classification can only be turned down, and
# training turns many of them off for good — a small gain and a negative bias keep the input below zero
# on every image. These are the silent nodes counted in the table:

# %%
nc_first = models["nc"].layers[0]
silent = stats["one set, trained"][1] == 0
lam_out_nc, b_nc = nc_first.params["lam_out"].value, nc_first.params["b"].value
print(f"one set: {silent.sum()} silent nodes; median |lam_out| {np.median(np.abs(lam_out_nc[silent])):.3f} "
      f"(active nodes: {np.median(np.abs(lam_out_nc[~silent])):.3f}), median bias {np.median(b_nc[silent]):+.3f} "
      f"(active: {np.median(b_nc[~silent]):+.3f})")
assert silent.sum() > 10 and np.median(np.abs(lam_out_nc[silent])) < np.median(np.abs(lam_out_nc[~silent]))

# %% [markdown]
# So $\lambda^\text{out}$ is an excitability, as the PRE abstract says: it sets how strongly each node
# responds, and training uses it to turn some nodes up and others down, or off. In these runs it is not
# homeostatic in the sense of keeping every node's activity in a common range. With two sets, where the
# pixel knobs give every node a share of useful input, almost no node is turned off.
#
# ## 6. Weight distributions: spectral against direct training
#
# The NC paper's abstract states that eigenvalue-only training yields a weight distribution close to that
# of unrestricted direct training (paper.md §7 quotes the claim; the figure behind it is not in the digest). We test that claim on our
# trained models: the first-layer weights of each, divided by their standard deviation so that the shapes
# can be compared (dead pixels left out: their weights never matter). The dashed curve is a standard normal.

# %%
def standardised_weights(model):
    w = model.layers[0].weight()[:, live].ravel().astype(np.float64)
    return w / w.std()


def kurtosis(a):
    """E[a⁴] / E[a²]² (raw moments; 3 for a zero-mean normal)."""
    return float(np.mean(a**4) / np.mean(a**2) ** 2)


fig, ax = plt.subplots(figsize=(6, 3.2))
bins = np.linspace(-8, 8, 81)
measured = {}
for name in ("dense", "nc", "spectral"):
    w = standardised_weights(models[name])
    measured[name] = kurtosis(w)
    ax.hist(w, bins=bins, density=True, histtype="step", lw=1.5, label=f"{labels[name]} (kurtosis {measured[name]:.1f})")
grid = np.linspace(-8, 8, 400)
ax.plot(grid, np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi), "k--", lw=0.8, label="normal (kurtosis 3)")
ax.set_yscale("log")
ax.set_ylim(1e-5, 2)
ax.set_xlabel("first-layer weight / its std")
ax.set_ylabel("density")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
print("kurtosis of the standardised first-layer weights:", {labels[k]: round(v, 2) for k, v in measured.items()})
assert min(measured["nc"], measured["spectral"]) > measured["dense"]

# %% [markdown]
# In our runs the claim does not hold for the shape: the dense weights (which start Glorot-uniform,
# kurtosis 1.8) end mildly heavy-tailed, the spectral ones much more so. (The NC
# paper's setting differs from ours: wider tanh networks without biases, paper.md §7. So this is a
# disagreement under our recipe, not a refutation of its figure.) The spectral tails have a simple
# origin. Each weight is a product $W_{ij} = \phi_{ij}\,D_{ij}$ (section 2), and if $\phi$ and $D$ were
# independent, the raw moments would factor:
#
# $$\frac{E[W^4]}{E[W^2]^2} = \frac{E[\phi^4]}{E[\phi^2]^2}\cdot\frac{E[D^4]}{E[D^2]^2}.$$
#
# For the two-set model, a product of two bell-shaped factors (kurtosis about 3 each) has kurtosis
# about 9. The one-set model's $\phi$ is uniform (kurtosis 1.8), and its heavy tail comes from
# $D = -\lambda^\text{out}$, whose trained values spread far. Training makes $D$ depend on $\phi$, but
# only weakly, so the formula predicts the measured kurtosis well for both:

# %%
for name in ("nc", "spectral"):
    layer = models[name].layers[0]
    phi_live = layer.phi()[:, live].astype(np.float64)
    D_live, W_live = (a[:, live].astype(np.float64) for a in my_rank2_form(
        layer.phi(), layer.params["lam_in"].value, layer.params["lam_out"].value))
    predicted = kurtosis(phi_live) * kurtosis(D_live)
    print(f"{labels[name]:>9}: kurtosis of W {kurtosis(W_live):5.2f}, predicted by the product formula {predicted:5.2f}")
    assert abs(kurtosis(W_live) - predicted) < 0.15 * predicted

# %% [markdown]
# ## Summary
#
# * A spectral layer is a graph whose edge weights are $\phi_{ij}$ times the difference of the
#   eigenvalues at the edge's two ends: $W = \phi\odot D$ with $D = \mathbf 1\lambda^{\text{in}\top} - \lambda^\text{out}\mathbf 1^\top$
#   of rank at most 2 (one set: rank 1).
# * The reachable weights have dimension $n_\text{in} + n_\text{out} - 1$ with two sets (one direction,
#   the same constant added to every eigenvalue, is lost) and $n_\text{out}$ with one: the rank of the
#   Jacobian of $W$ with respect to the eigenvalues.
# * With one set each receiving node weighs its inputs in frozen random proportions; the second set gives
#   every sending node its own factor.
# * Trained $|\lambda^\text{in}|$ ranks input pixels far better than chance, but no better than their
#   standard deviation over the images, a control that needs no training.
# * Trained $\lambda^\text{out}$ sets each node's excitability, but spreads the nodes apart rather than
#   evening them out: no homeostasis in these runs. One set turns many nodes off altogether.
# * Spectral weights are products $\phi\odot D$, so they come out heavier-tailed than directly trained ones.
#
# Lesson 09 lets $\phi$ learn too, through a decomposition cheap enough to keep the counts small.
#
# ## Exercises
#
# Solutions: `lessons/solutions/08_two_eigenvalue_sets.py`.
#
# 1. **An exact silencer.** Build a two-set model whose $\lambda^\text{out}$ is frozen at zero
#    (`lam_out_init=0.0, trainable={"lam_out": False}`). Show that setting $\lambda^\text{in}_j = 0$ in the
#    first layer then gives *exactly* the same outputs as zeroing pixel $j$ in the input, and train it
#    briefly to compare its accuracy with the two-set model's.
# 2. **Gains are not unique.** In a ReLU network $n_1\to n_2\to10$ of two-set layers, multiply the
#    first layer's $\lambda^\text{in}$, $\lambda^\text{out}$ and $b$ by $c > 0$ and the second layer's
#    $\lambda^\text{in}$ and $\lambda^\text{out}$ by $1/c$. Prove that the outputs do not change and check it
#    numerically. What does this say about reading $|\lambda|$ as an importance score (lesson 11)?
# 3. **A zero in $\phi$.** Set one entry $\phi_{ij}$ to zero and compute the rank of $J$ again. Then set a
#    whole row of $\phi$ to zero. Explain both ranks from the lost direction of section 3.
