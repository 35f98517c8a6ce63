# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 05 — The spectral domain
#
# **Why this lesson.** A dense layer $n_\text{in} \to n_\text{out}$ trains $n_\text{in} n_\text{out}$ weights
# (78,400 for $784 \to 100$). *Spectral learning* (Giambagli et al., *Nat. Commun.* 2021; Chicchi
# et al., *Phys. Rev. E* 2021) trains something else: it views the layer as the transfer of
# signal between the $n_\text{in} + n_\text{out}$ nodes of a graph, writes the square operator $A$
# that does the transfer through its eigendecomposition $A = \Phi\Lambda\Phi^{-1}$, and trains the
# **eigenvalues** $\Lambda$. There are only $n_\text{in} + n_\text{out}$ of them, yet every one of them
# touches a whole row or column of weights.
#
# In this lesson you build $\Phi$, $\Phi^{-1}$, $A$ and the direct-space weights
# $W = \phi\Lambda_\text{in} - \Lambda_\text{out}\phi$ yourself, for a small layer: three blanks, each
# followed by a check against the library. On the way we prove (and check) why $\Phi^{-1} = 2I - \Phi$,
# and see what `eig` does and does not tell us about $A$. Lesson 06 derives the gradients.
#
# Symbols: $N$ is always the batch size (the number of rows of $x$). The number of nodes of the
# graph, $n_\text{in} + n_\text{out}$, has no letter of its own; in code it is `n_nodes`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import minispectral as ms
from minispectral.functional import spectral_forward, spectral_weight_forward

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The eigenvector matrix $\Phi$
#
# Number the nodes so that the first $n_\text{in}$ are the layer's inputs (sending nodes) and the
# last $n_\text{out}$ its outputs (receiving nodes). The eigenvectors are the columns of
# $$\Phi = \begin{pmatrix} I_{n_\text{in}} & 0 \\ \phi & I_{n_\text{out}} \end{pmatrix},$$
# where the only free block is $\phi$, of shape $(n_\text{out}, n_\text{in})$ — the same shape as $W$.
# Column $j \le n_\text{in}$ is $e_j + \sum_i \phi_{ij}\, e_{n_\text{in}+i}$: input node $j$ plus its links
# to every output node. The last $n_\text{out}$ columns are plain unit vectors.
#
# We use a small layer with unit-scale random values so that the pictures are readable, and
# float64 so that the algebra checks are exact to round-off.

# %%
n_in, n_out = 6, 4
n_nodes = n_in + n_out
phi = rng.uniform(-1, 1, size=(n_out, n_in))
lam_in = rng.uniform(-2, 2, size=n_in)
lam_out = rng.uniform(-2, 2, size=n_out)
I = np.eye(n_nodes)
print(f"{n_in} inputs + {n_out} outputs = {n_nodes} nodes; phi has shape {phi.shape}")

# %% [markdown]
# ## 2. Why $\Phi^{-1} = 2I - \Phi$
#
# Write $\Phi = I + E$ with $E = \begin{pmatrix} 0 & 0 \\ \phi & 0\end{pmatrix}$. The block structure
# makes $E$ *nilpotent*: $E^2 = \begin{pmatrix} 0 & 0 \\ \phi & 0\end{pmatrix}\begin{pmatrix} 0 & 0 \\ \phi & 0\end{pmatrix} = 0$,
# since the only non-zero block of the right factor meets the zero block of the left one. Then
# $$(I + E)(I - E) = I - E^2 = I \qquad\Longrightarrow\qquad \Phi^{-1} = I - E = 2I - \Phi
# = \begin{pmatrix} I & 0 \\ -\phi & I\end{pmatrix}.$$
# Inverting $\Phi$ costs nothing: flip the sign of $\phi$. (This is the inverse the authors' first
# code used.)

# %%
def my_eigenvectors(phi):
    """phi (n_out, n_in) -> Phi, Phi_inv, both (n_in + n_out, n_in + n_out)."""
    n_out, n_in = phi.shape
    ### BEGIN SOLUTION
    Phi = np.block([[np.eye(n_in), np.zeros((n_in, n_out))],
                    [phi, np.eye(n_out)]])
    Phi_inv = 2 * np.eye(n_in + n_out) - Phi
    ### END SOLUTION
    return Phi, Phi_inv


# %% [markdown]
# **Exercise.** Fill in `my_eigenvectors`: build $\Phi$ from its blocks (`np.block`) and its inverse
# from the identity $\Phi^{-1} = 2I - \Phi$, without calling `np.linalg.inv`. The check compares both
# with the definition and with `np.linalg.inv`.

# %%
from minispectral.exercises.lesson_05 import check_eigenvectors

check_eigenvectors(my_eigenvectors)

# %%
Phi, Phi_inv = my_eigenvectors(phi)
E = Phi - I
assert np.allclose(E @ E, 0.0, atol=0)
assert np.allclose(Phi @ Phi_inv, I, rtol=0, atol=1e-15) and np.allclose(Phi_inv @ Phi, I, rtol=0, atol=1e-15)
assert np.allclose(Phi_inv, np.linalg.inv(Phi), rtol=0, atol=1e-14)
assert np.array_equal(Phi_inv[n_in:, :n_in], -phi)

# %% [markdown]
# ## 3. The transfer operator $A = \Phi\Lambda\Phi^{-1}$
#
# Put the eigenvalues on a diagonal, $\Lambda = \mathrm{diag}(\lambda^\text{in}_1,\dots,\lambda^\text{in}_{n_\text{in}},
# \lambda^\text{out}_1,\dots,\lambda^\text{out}_{n_\text{out}})$, one per node. Expanding with $\Phi = I + E$:
# $$A = (I+E)\,\Lambda\,(I-E) = \Lambda + E\Lambda - \Lambda E - E\Lambda E .$$
# The last term vanishes for the same reason as $E^2$. The middle two only touch the lower-left block:
# $E\Lambda$ has $\phi\Lambda_\text{in}$ there and $\Lambda E$ has $\Lambda_\text{out}\phi$. So
# $$A = \begin{pmatrix} \Lambda_\text{in} & 0 \\ \phi\Lambda_\text{in} - \Lambda_\text{out}\phi & \Lambda_\text{out} \end{pmatrix}.$$

# %%
def my_transfer_operator(phi, lam_in, lam_out):
    """phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,) -> A (n_in + n_out, n_in + n_out) = Phi Lam Phi^-1."""
    ### BEGIN SOLUTION
    Phi, Phi_inv = my_eigenvectors(phi)
    Lam = np.diag(np.concatenate([lam_in, lam_out]))
    A = Phi @ Lam @ Phi_inv
    ### END SOLUTION
    return A


# %% [markdown]
# **Exercise.** Fill in `my_transfer_operator` from its definition, $A = \Phi\Lambda\Phi^{-1}$, using your
# `my_eigenvectors` (not the block formula just derived: the cell after the check compares the two).
# The check compares your $A$ with `ms.Spectral(...).transfer_operator()`.

# %%
from minispectral.exercises.lesson_05 import check_transfer_operator

check_transfer_operator(my_transfer_operator)

# %%
Lam = np.diag(np.concatenate([lam_in, lam_out]))
A = my_transfer_operator(phi, lam_in, lam_out)
W_block = phi @ np.diag(lam_in) - np.diag(lam_out) @ phi

assert np.allclose(E @ Lam @ E, 0.0, atol=0)
assert np.allclose(A[:n_in, :n_in], np.diag(lam_in), atol=1e-15)
assert np.allclose(A[:n_in, n_in:], 0.0, atol=0)
assert np.allclose(A[n_in:, n_in:], np.diag(lam_out), atol=1e-15)
assert np.allclose(A[n_in:, :n_in], W_block, rtol=1e-14, atol=1e-15)

# %% [markdown]
# The picture: $\Phi$ and $\Phi^{-1}$ differ only in the sign of their lower-left block, $\Lambda$ is
# diagonal, and $A$ keeps $\Lambda$ on its diagonal and gains the weight block below it.

# %%
def show_blocks(ax, M, title):
    vmax = np.max(np.abs(M))
    ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.axhline(n_in - 0.5, color="k", lw=0.8)
    ax.axvline(n_in - 0.5, color="k", lw=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(1, 4, figsize=(8, 2.4))
for ax, M, title in zip(axes, (Phi, Lam, Phi_inv, A),
                        (r"$\Phi$", r"$\Lambda$", r"$\Phi^{-1} = 2I - \Phi$", r"$A = \Phi\Lambda\Phi^{-1}$")):
    show_blocks(ax, M, title)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Its eigenvalues, and why `eig`'s agreement is trivial
#
# $A$ is lower triangular, and the eigenvalues of any triangular matrix are its diagonal entries:
# $\det(A - \mu I) = \prod_k (\Lambda_{kk} - \mu)$. So the eigenvalues of $A$ are exactly
# $\lambda^\text{in}$ and $\lambda^\text{out}$, whatever $\phi$ is, and asking `np.linalg.eig` for them
# checks nothing about spectral learning: it only confirms that we built a triangular matrix with
# $\Lambda$ on its diagonal. (LAPACK even notices: its balancing step isolates the diagonal of a
# triangular matrix, so `eig` returns the $\lambda$'s to the last bit.) What the construction adds is
# the eigen*vectors*: $A\Phi = \Phi\Lambda\Phi^{-1}\Phi = \Phi\Lambda$, so column $k$ of $\Phi$ is an
# eigenvector for $\Lambda_{kk}$, and every $\phi$ gives the same spectrum with different eigenvectors —
# that freedom is where the weights live. `eig` returns unit-length eigenvectors in its own order, so
# we match them by eigenvalue and compare directions. (`eig` is used only here, for analysis;
# training never needs it, which is good news on GPUs, where CuPy, up to version 13, has no general
# `eig`.)

# %%
eigenvalues, eigenvectors = np.linalg.eig(A)
lam_all = np.concatenate([lam_in, lam_out])
assert np.array_equal(np.sort(np.diag(A)), np.sort(lam_all))  # the diagonal: that is all eig can find
assert np.allclose(eigenvalues.imag, 0.0, atol=1e-12)
assert np.allclose(np.sort(eigenvalues.real), np.sort(lam_all), rtol=0, atol=1e-12)
assert np.allclose(A @ Phi, Phi @ Lam, rtol=0, atol=1e-14)

for k in range(n_nodes):
    match = np.argmin(np.abs(eigenvalues - lam_all[k]))
    v = eigenvectors[:, match].real
    column = Phi[:, k] / np.linalg.norm(Phi[:, k])
    assert abs(abs(v @ column) - 1) < 1e-10  # parallel: |cos angle| = 1
print("eig agrees: eigenvalues", np.round(np.sort(lam_all), 3), "(the diagonal of A)")

# %% [markdown]
# The repository's picture of the transfer operator, `docs/transfer_operator.png` (drawn by
# `python docs/make_figures.py` for an $8 \to 5$ layer), shows the same blocks with their names. Its
# right panel, "A's spectrum is exactly the trained eigenvalues", is the trivial agreement above: read
# it as "A is triangular with the eigenvalues on its diagonal", not as a result.

# %%
figure = next((folder / "docs" / "transfer_operator.png" for folder in (Path.cwd(), *Path.cwd().parents)
               if (folder / "docs" / "transfer_operator.png").is_file()), None)
assert figure is not None, "docs/transfer_operator.png not found above " + str(Path.cwd())
display(Image(filename=str(figure), width=640))

# %% [markdown]
# ## 4. The direct-space weights
#
# Pad an input batch with $n_\text{out}$ zeros, apply $A$, and keep the receiving nodes:
# $$A\begin{pmatrix} x \\ 0\end{pmatrix} = \begin{pmatrix} \Lambda_\text{in}\,x \\ W x \end{pmatrix}, \qquad
# W = \phi\Lambda_\text{in} - \Lambda_\text{out}\phi, \qquad
# W_{ij} = \phi_{ij}\,(\lambda^\text{in}_j - \lambda^\text{out}_i).$$
# The self-loops $\Lambda_\text{in} x$ are discarded. So a spectral layer *is* a dense layer, $y = xW^\top + b$,
# whose weights are computed from $(\phi, \lambda^\text{in}, \lambda^\text{out})$ — and that is how the library
# computes it, without ever forming the $(n_\text{in}+n_\text{out}) \times (n_\text{in}+n_\text{out})$ matrix.

# %%
def my_spectral_weight(phi, lam_in, lam_out):
    """phi (n_out, n_in), lam_in (n_in,), lam_out (n_out,) -> W (n_out, n_in), W_ij = phi_ij (lam_in_j - lam_out_i)."""
    ### BEGIN SOLUTION
    lam_diff = lam_in[None, :] - lam_out[:, None]   # (n_out, n_in): λ_in_j − λ_out_i, by broadcasting
    W = phi * lam_diff
    ### END SOLUTION
    return W


# %% [markdown]
# **Exercise.** Fill in `my_spectral_weight` with the element formula, entry by entry but without a
# loop: broadcast $\lambda^\text{in}$ along the rows and $\lambda^\text{out}$ along the columns. No $n_\text{in}+n_\text{out}$
# matrix, no `np.diag`. The check compares your $W$ with the library's `spectral_weight_forward`.

# %%
from minispectral.exercises.lesson_05 import check_spectral_weight

check_spectral_weight(my_spectral_weight)

# %% [markdown]
# Three ways to get $W$ must now agree: the block of $A$, your element formula, and the library's
# `spectral_weight_forward`. Likewise the forward pass through $A$ and the library's `spectral_forward`.

# %%
W_elementwise = my_spectral_weight(phi, lam_in, lam_out)
W_lib, _ = spectral_weight_forward(phi, lam_in, lam_out)
assert np.allclose(W_elementwise, A[n_in:, :n_in], rtol=1e-14, atol=1e-15)
assert np.allclose(W_lib, W_elementwise, rtol=1e-15, atol=0)

x = rng.standard_normal((5, n_in))
x_padded = np.hstack([x, np.zeros((5, n_out))])
through_A = x_padded @ A.T                      # each row: A [x_n; 0]
y_lib, _ = spectral_forward(x, phi, lam_in, lam_out)
assert np.allclose(through_A[:, :n_in], x * lam_in, rtol=1e-14)   # the discarded self-loops
assert np.allclose(through_A[:, n_in:], y_lib, rtol=1e-13, atol=1e-14)
assert np.allclose(x @ W_elementwise.T, y_lib, rtol=1e-13, atol=1e-14)

# %% [markdown]
# The `ms.Spectral` layer holds these parameters and can rebuild $A$ from its definition with
# `transfer_operator()`; its `weight()` is the block we derived. It comes in *variants* that differ
# in what is trained: `"nc"` ($\lambda^\text{out}$ only), `"spectral"` ($\lambda^\text{in}$ and
# $\lambda^\text{out}$, $\phi$ frozen), `"full"` ($\phi$ too), and two that factor $\phi$ (lesson 09).
# An initialiser given as an array is used as it is; a pair `(a, b)` draws uniformly from $[a, b)$.

# %%
layer = ms.Spectral(n_in, n_out, variant="full", phi_init=phi, lam_in_init=lam_in, lam_out_init=lam_out,
                    dtype="float64")
for name, p in layer.params.items():
    print(f"{name:>8}: {p}")
assert np.allclose(layer.transfer_operator(), A, rtol=1e-14, atol=1e-15)
assert np.allclose(layer.weight(), W_block, rtol=1e-14, atol=1e-15)
assert np.allclose(layer.forward(x), y_lib, rtol=1e-13, atol=1e-14)  # the bias starts at 0

# %% [markdown]
# ## 5. What each eigenvalue controls
#
# $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$: $\lambda^\text{in}_j$ enters every weight in
# **column** $j$ (all links leaving input node $j$) and $\lambda^\text{out}_i$ every weight in **row** $i$
# (all links entering output node $i$). With $\lambda^\text{out} = 0$, $W = \phi\,\mathrm{diag}(\lambda^\text{in})$:
# setting $\lambda^\text{in}_j = 0$ silences input node $j$. With $\lambda^\text{in} = 0$ (the one-set model of
# Giambagli et al.), $W = -\mathrm{diag}(\lambda^\text{out})\,\phi$ and $\lambda^\text{out}_i$ scales the inputs of
# output node $i$. With both sets trained, neither can silence a node on its own.

# %%
only_in = my_spectral_weight(phi, lam_in, np.zeros(n_out))
assert np.allclose(only_in, phi * lam_in[None, :])
silenced = lam_in.copy()
silenced[2] = 0.0
W_silenced = my_spectral_weight(phi, silenced, np.zeros(n_out))
assert np.all(W_silenced[:, 2] == 0)
assert np.allclose(np.delete(W_silenced, 2, axis=1), np.delete(only_in, 2, axis=1))

only_out = my_spectral_weight(phi, np.zeros(n_in), lam_out)
assert np.allclose(only_out, -lam_out[:, None] * phi)
W_both = my_spectral_weight(phi, silenced, lam_out)
assert np.all(W_both[:, 2] != 0)  # λ_out still feeds column 2

# %% [markdown]
# ## 6. Counting parameters
#
# Per layer, a spectral layer with both eigenvalue sets trained and $\phi$ frozen has
# $n_\text{in} + n_\text{out}$ eigenvalues (plus $n_\text{out}$ biases) against $n_\text{in} n_\text{out}$ weights.
# For the papers' network $784 \to 100 \to 10$ with biases:
# $$\text{dense: } 784\cdot100 + 100 + 100\cdot10 + 10 = 79{,}510, \qquad
# \text{spectral: } (784 + 100) + (100 + 10) + 100 + 10 = 1{,}104 .$$
# The one-set variant (`"nc"`, only $\lambda^\text{out}$) has $100 + 10$ eigenvalues and $110$ biases: 220.

# %%
sizes = (784, 100, 10)
counts = {kind: ms.mlp(sizes, model=kind, seed=0).num_parameters() for kind in ("dense", "spectral", "nc")}
print({k: f"{v:,}" for k, v in counts.items()})
print(f"spectral / dense = {counts['spectral'] / counts['dense']:.4f}")
assert counts["dense"] == 784 * 100 + 100 + 100 * 10 + 10 == 79_510
assert counts["spectral"] == (784 + 100) + (100 + 10) + 100 + 10 == 1_104
assert counts["nc"] == (100 + 10) + (100 + 10) == 220

# %% [markdown]
# ## 7. A layer of realistic width
#
# The same structure at a larger size, built by `ms.Spectral` itself, with the unit-scale
# values used above. $A$'s upper-right block is empty, its diagonal blocks are diagonal, and all
# the structure sits in $W$. The right panel makes the point of section 3 visible: scale $\phi$ by
# 0, 1 or 10 and the weights change completely, while the eigenvalues of $A$ do not move at all — they
# are its diagonal.

# %%
n_in_big, n_out_big = (40, 24) if FAST else (120, 60)
big = ms.Spectral(n_in_big, n_out_big, variant="spectral", phi_init=(-1, 1), lam_in_init=(-2, 2),
                  lam_out_init=(-2, 2), seed=1, dtype="float64")
A_big = big.transfer_operator()
lam_big = np.concatenate([big.params["lam_in"].value, big.params["lam_out"].value])
assert np.allclose(A_big[:n_in_big, n_in_big:], 0.0)
assert np.allclose(A_big[n_in_big:, :n_in_big], big.weight(), rtol=1e-13, atol=1e-14)

phi_big = big.params["phi"].value
spectra = {}
for scale in (0.0, 1.0, 10.0):
    scaled = ms.Spectral(n_in_big, n_out_big, variant="spectral", phi_init=scale * phi_big,
                         lam_in_init=big.params["lam_in"].value, lam_out_init=big.params["lam_out"].value,
                         dtype="float64")
    spectra[scale] = np.sort(np.linalg.eigvals(scaled.transfer_operator()).real)
    assert np.allclose(spectra[scale], np.sort(lam_big), atol=1e-10)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1.1, 1]})
vmax = np.max(np.abs(A_big))
im = ax1.imshow(A_big, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
ax1.axhline(n_in_big - 0.5, color="k", lw=0.6)
ax1.axvline(n_in_big - 0.5, color="k", lw=0.6)
ax1.set_title(f"A for {n_in_big}→{n_out_big}: W in the lower-left block", fontsize=9)
fig.colorbar(im, ax=ax1, shrink=0.8)
for (scale, spectrum), marker in zip(spectra.items(), ("o", "x", "+")):
    ax2.plot(np.sort(lam_big), spectrum, marker, ms=5, mfc="none", label=rf"$\phi \times {scale:g}$")
ax2.plot([-2, 2], [-2, 2], "k:", lw=1)
ax2.set_xlabel(r"$\lambda$ (the diagonal of $A$)")
ax2.set_ylabel("eigenvalues from eig")
ax2.set_title(r"eig(A) ignores $\phi$: A is triangular", fontsize=9)
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * $\Phi = \begin{pmatrix} I & 0 \\ \phi & I\end{pmatrix}$ has the nilpotent part $E$ with $E^2 = 0$, so $\Phi^{-1} = 2I - \Phi$.
# * $A = \Phi\Lambda\Phi^{-1}$ is lower triangular with the weight block $W = \phi\Lambda_\text{in} - \Lambda_\text{out}\phi$,
#   i.e. $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$.
# * Its eigenvalues are $(\lambda^\text{in}, \lambda^\text{out})$ because they sit on the diagonal of a triangular
#   matrix: `eig` agreeing is a check of the construction, not a finding. $\phi$ moves the eigenvectors only.
# * The library never forms $A$ during training: `spectral_forward` computes $W$ and then a dense layer.
# * $\lambda^\text{in}_j$ acts on column $j$ of $W$, $\lambda^\text{out}_i$ on row $i$; the parameter count drops from
#   $n_\text{in}n_\text{out}$ to $n_\text{in}+n_\text{out}$.
#
# ## Exercises
#
# Solutions: `lessons/solutions/05_spectral_domain.py`.
#
# 1. **Powers of $\Phi$.** Show that $\Phi^k = I + kE$ for every integer $k$ (so $k = -1$ gives $2I - \Phi$).
#    Check $k = 3$ with `np.linalg.matrix_power`, and $k = -2$ against the square of the inverse.
# 2. **The one-set model.** Build `ms.Spectral(n_in, n_out, variant="nc")` and check that its weights are
#    $W = -\mathrm{diag}(\lambda^\text{out})\,\phi$ and that its $\lambda^\text{in}$ is zero and frozen. What happens to
#    row $i$ of $W$ when $\lambda^\text{out}_i = 0$?
# 3. **Every dense layer is spectral.** Given any $W$ and eigenvalues with $\lambda^\text{in}_j \ne \lambda^\text{out}_i$
#    for all $i, j$, choose $\phi$ so that the spectral layer reproduces $W$ exactly. Build it with
#    `ms.Spectral(..., variant="full", phi_init=..., lam_in_init=..., lam_out_init=...)`, check `weight()`, and check
#    that the eigenvalues of its `transfer_operator()` are the ones you chose.
