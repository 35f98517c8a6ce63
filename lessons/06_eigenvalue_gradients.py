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
# # Lesson 06 — The gradients of the eigenvalues
#
# **Why this lesson.** Lesson 05 showed that a spectral layer is a dense layer whose weights are
# computed, $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$. To train it we need
# $\partial L/\partial\lambda^\text{in}$, $\partial L/\partial\lambda^\text{out}$ and (when the eigenvectors are
# trained too) $\partial L/\partial\phi$. The derivation is short because $W$ is an intermediate: the
# dense layer's backward pass (lesson 02) delivers $dW = \partial L/\partial W$, and the chain rule
# carries it one more step back. You write each of the three gradients yourself, right after its
# derivation, and a check compares it with the library's `spectral_weight_backward`; a fourth blank
# computes the eigenvalue gradients without ever forming $dW$.
#
# Then we look at the result from two other angles. First through the transfer operator
# $A = \Phi\Lambda\Phi^{-1}$: the chain rule through $A$ at fixed $\Phi$ gives the same sums. (This is
# *not* the classical eigenvalue-perturbation formula $\partial\lambda_k/\partial A$: that one answers the
# opposite question, how an eigenvalue moves when $A$ moves; section 7 tells the two apart.) Second through a
# symmetry: the eigenvalue gradients always sum to zero, so plain gradient descent conserves
# $\sum\lambda$ (an optimizer with a per-coordinate step size, such as Adamax, does not).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.functional import (dense_forward, spectral_backward, spectral_forward,
                                     spectral_weight_backward, spectral_weight_forward)
from minispectral.gradient_check import numerical_gradient, rel_error

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 0. The forward pass, in two named steps
#
# $$W = \phi \odot (\mathbf 1\,\lambda^{\text{in}\top} - \lambda^\text{out}\mathbf 1^\top), \qquad y = xW^\top + b .$$
# We use float64 and unit-scale values throughout, a batch of $N$ samples, and a random upstream
# gradient $dy = \partial L/\partial y$ standing in for the rest of the network.

# %%
N, n_in, n_out = 5, 6, 4
x = rng.standard_normal((N, n_in))
phi = rng.uniform(-1, 1, size=(n_out, n_in))
lam_in = rng.uniform(-2, 2, size=n_in)
lam_out = rng.uniform(-2, 2, size=n_out)
b = rng.standard_normal(n_out)
dy = rng.standard_normal((N, n_out))

lam_diff = lam_in[None, :] - lam_out[:, None]   # (n_out, n_in): λ_in_j − λ_out_i
W = phi * lam_diff
y, dense_cache = dense_forward(x, W, b)

# %% [markdown]
# ## 1. Through the dense layer: $dx$, $dW$, $db$
#
# Exactly lesson 02 — the dense layer does not care where $W$ came from:
# $$dx = dy\,W, \qquad dW = dy^\top x, \qquad db = \textstyle\sum_n dy_n .$$
# $dx$ and $db$ are final. $dW$ is not a parameter gradient here; it is the upstream gradient for
# the second step.

# %%
dx = dy @ W
dW = dy.T @ x
db = dy.sum(axis=0)

# %% [markdown]
# ## 2. Through $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$
#
# By the chain rule, for any parameter $\theta$,
# $\;\partial L/\partial\theta = \sum_{i,j} dW_{ij}\,\partial W_{ij}/\partial\theta$. Three local derivatives:
#
# **Eigenvectors.** $\partial W_{ij}/\partial\phi_{kl} = \delta_{ik}\delta_{jl}\,(\lambda^\text{in}_j - \lambda^\text{out}_i)$, so
# $$\frac{\partial L}{\partial \phi_{ij}} = dW_{ij}\,(\lambda^\text{in}_j - \lambda^\text{out}_i)
# \qquad\Longrightarrow\qquad d\phi = dW \odot (\mathbf 1\,\lambda^{\text{in}\top} - \lambda^\text{out}\mathbf 1^\top).$$

# %%
def my_dphi(dW, lam_in, lam_out):
    """dW (n_out, n_in), lam_in (n_in,), lam_out (n_out,) -> dphi (n_out, n_in)."""
    ### BEGIN SOLUTION
    dphi = dW * (lam_in[None, :] - lam_out[:, None])
    ### END SOLUTION
    return dphi


# %% [markdown]
# **Exercise.** Fill in `my_dphi` from the formula above (broadcasting, no loop), then run the check:
# it compares your $d\phi$ with the library's `spectral_weight_backward`.

# %%
from minispectral.exercises.lesson_06 import check_dphi

check_dphi(my_dphi)
dphi = my_dphi(dW, lam_in, lam_out)

# %% [markdown]
# **Input eigenvalues.** $\partial W_{ij}/\partial\lambda^\text{in}_l = \phi_{ij}\,\delta_{jl}$: $\lambda^\text{in}_l$ sits in every entry
# of column $l$. Summing over that column,
# $$\frac{\partial L}{\partial \lambda^\text{in}_j} = \sum_i dW_{ij}\,\phi_{ij}
# \qquad\Longrightarrow\qquad d\lambda^\text{in} = \text{column sums of } dW \odot \phi .$$

# %%
def my_dlam_in(dW, phi):
    """dW (n_out, n_in), phi (n_out, n_in) -> dlam_in (n_in,)."""
    ### BEGIN SOLUTION
    dlam_in = np.sum(dW * phi, axis=0)   # down each column j: over the output nodes i
    ### END SOLUTION
    return dlam_in


# %% [markdown]
# **Exercise.** Fill in `my_dlam_in`. Mind the axis: a column sum runs over the rows.

# %%
from minispectral.exercises.lesson_06 import check_dlam_in

check_dlam_in(my_dlam_in)
dlam_in = my_dlam_in(dW, phi)

# %% [markdown]
# **Output eigenvalues.** $\partial W_{ij}/\partial\lambda^\text{out}_k = -\phi_{ij}\,\delta_{ik}$: $\lambda^\text{out}_k$ sits, with a minus
# sign, in every entry of row $k$:
# $$\frac{\partial L}{\partial \lambda^\text{out}_i} = -\sum_j dW_{ij}\,\phi_{ij}
# \qquad\Longrightarrow\qquad d\lambda^\text{out} = -\text{row sums of } dW \odot \phi .$$

# %%
def my_dlam_out(dW, phi):
    """dW (n_out, n_in), phi (n_out, n_in) -> dlam_out (n_out,)."""
    ### BEGIN SOLUTION
    dlam_out = -np.sum(dW * phi, axis=1)   # along each row i, with the minus sign of −λ_out_i
    ### END SOLUTION
    return dlam_out


# %% [markdown]
# **Exercise.** Fill in `my_dlam_out`, minus sign included.

# %%
from minispectral.exercises.lesson_06 import check_dlam_out

check_dlam_out(my_dlam_out)
dlam_out = my_dlam_out(dW, phi)

# %% [markdown]
# ## 3. The library gives the same numbers
#
# `spectral_weight_backward(dW, cache)` is step 2 alone; `spectral_backward(dy, cache)` chains
# steps 1 and 2 and returns `(dx, dphi, dlam_in, dlam_out, db)`.

# %%
W_lib, weight_cache = spectral_weight_forward(phi, lam_in, lam_out)
dphi_lib, dlam_in_lib, dlam_out_lib = spectral_weight_backward(dW, weight_cache)
y_lib, cache = spectral_forward(x, phi, lam_in, lam_out, b)
grads_lib = spectral_backward(dy, cache)

assert np.allclose(W_lib, W, rtol=1e-15) and np.allclose(y_lib, y, rtol=1e-14, atol=1e-15)
for mine, lib in ((dphi, dphi_lib), (dlam_in, dlam_in_lib), (dlam_out, dlam_out_lib)):
    assert np.allclose(mine, lib, rtol=1e-13, atol=1e-15)
for mine, lib in zip((dx, dphi, dlam_in, dlam_out, db), grads_lib):
    assert np.allclose(mine, lib, rtol=1e-13, atol=1e-15)
print("dlam_in :", np.round(dlam_in, 4))
print("dlam_out:", np.round(dlam_out, 4))

# %% [markdown]
# ## 4. Checked numerically
#
# `gradcheck` nudges every entry of every input of the kernel pair — $x$, $\phi$, $\lambda^\text{in}$,
# $\lambda^\text{out}$, $b$ — and compares with the backward pass. First the weight step alone, then the
# whole layer.

# %%
report_weight = ms.gradcheck(spectral_weight_forward, spectral_weight_backward,
                             {"phi": phi, "lam_in": lam_in, "lam_out": lam_out})
report_layer = ms.gradcheck(spectral_forward, spectral_backward,
                            {"x": x, "phi": phi, "lam_in": lam_in, "lam_out": lam_out, "b": b})
print(report_weight, report_layer, sep="\n")
assert report_weight.passed and report_layer.passed

# %% [markdown]
# And your step-by-step gradients against central differences, for the loss
# $L = \sum y \odot dy$ (whose $\partial L/\partial y$ is exactly $dy$):

# %%
def loss():
    return np.sum(spectral_forward(x, phi, lam_in, lam_out, b)[0] * dy)


for name, analytic, variable in (("dphi", dphi, phi), ("dlam_in", dlam_in, lam_in),
                                 ("dlam_out", dlam_out, lam_out)):
    err = rel_error(analytic, numerical_gradient(loss, variable))
    print(f"{name:>8}: rel error {err:.1e}")
    assert err < 1e-8

# %% [markdown]
# ## 5. Seeing the sums
#
# $d\lambda^\text{in}$ collects $dW\odot\phi$ down each column and $-d\lambda^\text{out}$ along each row. For a
# wider layer:

# %%
m_in, m_out = 24, 10
x_w = rng.standard_normal((8, m_in))
phi_w = rng.uniform(-1, 1, size=(m_out, m_in))
dy_w = rng.standard_normal((8, m_out))
_, cache_w = spectral_forward(x_w, phi_w, rng.uniform(-2, 2, m_in), rng.uniform(-2, 2, m_out))
_, _, col_sums, row_sums, _ = spectral_backward(dy_w, cache_w)
product = (dy_w.T @ x_w) * phi_w  # dW ⊙ phi
assert np.allclose(col_sums, product.sum(axis=0)) and np.allclose(row_sums, -product.sum(axis=1))

fig = plt.figure(figsize=(8, 3.6))
grid = fig.add_gridspec(2, 2, width_ratios=(m_in, 4), height_ratios=(3, m_out), wspace=0.05, hspace=0.05)
ax_main = fig.add_subplot(grid[1, 0])
ax_top = fig.add_subplot(grid[0, 0], sharex=ax_main)
ax_right = fig.add_subplot(grid[1, 1], sharey=ax_main)
vmax = np.max(np.abs(product))
ax_main.imshow(product, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
ax_main.set_xlabel("input node j")
ax_main.set_ylabel("output node i")
ax_top.bar(np.arange(m_in), col_sums, color="tab:blue")
ax_top.set_ylabel(r"$d\lambda^{in}$", fontsize=9)
ax_top.tick_params(labelbottom=False)
ax_right.barh(np.arange(m_out), row_sums, color="tab:orange")
ax_right.set_xlabel(r"$d\lambda^{out}$", fontsize=9)
ax_right.tick_params(labelleft=False)
fig.suptitle(r"$dW \odot \phi$: column sums give $d\lambda^{in}$, minus row sums give $d\lambda^{out}$", fontsize=10)
plt.show()

# %% [markdown]
# ## 6. Without forming $dW$
#
# Substituting $dW_{ij} = \sum_n dy_{ni} x_{nj}$ and reordering the sums gives forms that never build
# the $(n_\text{out}, n_\text{in})$ matrix $dW$ — useful when only the eigenvalues are trained:
# $$d\lambda^\text{in}_j = \sum_i\sum_n dy_{ni}x_{nj}\,\phi_{ij} = \sum_n x_{nj}\,(dy_n\,\phi)_j, \qquad
# d\lambda^\text{out}_i = -\sum_j\sum_n dy_{ni}x_{nj}\,\phi_{ij} = -\sum_n dy_{ni}\,(x_n\phi^\top)_i .$$
# Each costs one product with $\phi$ or $\phi^\top$, the same as the forward pass.

# %%
def my_eigenvalue_grads(x, dy, phi):
    """x (N, n_in), dy (N, n_out), phi (n_out, n_in) -> dlam_in (n_in,), dlam_out (n_out,), without dW."""
    ### BEGIN SOLUTION
    dlam_in = np.sum(x * (dy @ phi), axis=0)      # (N, n_in) ⊙ (N, n_in), summed over the batch
    dlam_out = -np.sum(dy * (x @ phi.T), axis=0)  # (N, n_out) ⊙ (N, n_out)
    ### END SOLUTION
    return dlam_in, dlam_out


# %% [markdown]
# **Exercise.** Fill in `my_eigenvalue_grads` with the two formulas above: one matrix product each,
# no $(n_\text{out}, n_\text{in})$ intermediate. The check compares them with `spectral_backward` and with
# central differences of $L = \sum y\odot dy$.

# %%
from minispectral.exercises.lesson_06 import check_eigenvalue_grads

check_eigenvalue_grads(my_eigenvalue_grads)

# %%
dlam_in_direct, dlam_out_direct = my_eigenvalue_grads(x, dy, phi)
assert np.allclose(dlam_in_direct, dlam_in, rtol=1e-13, atol=1e-14)
assert np.allclose(dlam_out_direct, dlam_out, rtol=1e-13, atol=1e-14)

# %% [markdown]
# ## 7. The same result from $A = \Phi\Lambda\Phi^{-1}$
#
# The layer uses only the lower-left block of the transfer operator, so the gradient with respect
# to $A$ is $dA = \begin{pmatrix} 0 & 0 \\ dW & 0\end{pmatrix}$. With $\Phi$ fixed, a change of eigenvalues moves
# $A$ by $\delta A = \Phi\,\delta\Lambda\,\Phi^{-1}$, so
# $$\delta L = \sum_{ab} dA_{ab}\,\delta A_{ab} = \mathrm{tr}\big(dA^\top \Phi\,\delta\Lambda\,\Phi^{-1}\big)
# = \mathrm{tr}\big(\Phi^{-1} dA^\top \Phi\;\delta\Lambda\big)
# \quad\Longrightarrow\quad \frac{\partial L}{\partial \Lambda_{kk}} = \big(\Phi^\top dA\,\Phi^{-\top}\big)_{kk}
# = v_k^\top\, dA\; u_k ,$$
# with the right eigenvector $v_k$ (column $k$ of $\Phi$) and the left eigenvector $u_k^\top$ (row $k$ of
# $\Phi^{-1}$), because at fixed $\Phi$, $\partial A/\partial\lambda_k = v_k u_k^\top$.
#
# **Which question this answers.** The textbook eigenvalue-perturbation formula,
# $\partial\lambda_k/\partial A = u_k v_k^\top$ (for $u_k^\top v_k = 1$, which holds here since $\Phi^{-1}\Phi = I$),
# tells how an eigenvalue moves when the *matrix* moves. Training asks the opposite: how the matrix (and
# so the loss) moves when we move an eigenvalue with the eigenvectors held fixed. The two Jacobians
# are built from the same vectors, transposed; only the second is used here.
#
# **The reduction to column and row sums.** With $\Phi^{-1} = 2I - \Phi$ both eigenvectors are explicit.
#
# * Input node $j$ ($k = j \le n_\text{in}$): $v_j = e_j + \sum_i \phi_{ij}\, e_{n_\text{in}+i}$, and row $j$ of
#   $\Phi^{-1}$ is that of the identity, $u_j = e_j$. So $v_j^\top dA\, u_j = v_j^\top (dA\, e_j)$: column $j$ of
#   $dA$, which is $(0, dW_{:j})$, dotted with $v_j$, whose lower part is $\phi_{:j}$:
#   $$\frac{\partial L}{\partial\lambda^\text{in}_j} = \sum_i \phi_{ij}\, dW_{ij} .$$
# * Output node $i$ ($k = n_\text{in} + i$): $v_k = e_{n_\text{in}+i}$, and row $n_\text{in}+i$ of $\Phi^{-1}$ is
#   $u_k^\top = (-\phi_{i:},\; e_i^\top)$. So $v_k^\top dA\, u_k$ is row $n_\text{in}+i$ of $dA$, $(dW_{i:},\, 0)$,
#   dotted with $u_k$:
#   $$\frac{\partial L}{\partial\lambda^\text{out}_i} = -\sum_j dW_{ij}\,\phi_{ij} .$$
#
# These are the column sums and minus the row sums of $dW\odot\phi$ from section 2. Below, both the full
# matrices and each pair $(u_k, v_k)$.

# %%
n_nodes = n_in + n_out
Phi = np.block([[np.eye(n_in), np.zeros((n_in, n_out))], [phi, np.eye(n_out)]])
Phi_inv = 2 * np.eye(n_nodes) - Phi
dA = np.zeros((n_nodes, n_nodes))
dA[n_in:, :n_in] = dW
dLam = np.diag(Phi.T @ dA @ Phi_inv.T)
assert np.allclose(dLam[:n_in], dlam_in, rtol=1e-13, atol=1e-14)
assert np.allclose(dLam[n_in:], dlam_out, rtol=1e-13, atol=1e-14)

for k in range(n_nodes):
    v_k, u_k = Phi[:, k], Phi_inv[k, :]
    assert np.isclose(u_k @ v_k, 1.0)
    if k < n_in:   # input node j = k: u_k = e_k, v_k's lower part is phi's column k
        assert np.array_equal(u_k, np.eye(n_nodes)[k]) and np.array_equal(v_k[n_in:], phi[:, k])
        assert np.isclose(v_k @ dA @ u_k, np.sum(phi[:, k] * dW[:, k]))
    else:          # output node i = k − n_in: v_k = e_k, u_k = (−phi's row i, e_i)
        i = k - n_in
        assert np.array_equal(v_k, np.eye(n_nodes)[k]) and np.array_equal(u_k[:n_in], -phi[i])
        assert np.isclose(v_k @ dA @ u_k, -np.sum(dW[i] * phi[i]))
    assert np.isclose(v_k @ dA @ u_k, dLam[k])
print("v_k^T dA u_k = column sums (inputs) and minus row sums (outputs) of dW * phi, for all", n_nodes, "nodes")

# %% [markdown]
# ## 8. A symmetry the gradient respects
#
# Shifting *every* eigenvalue by the same $c$ leaves $\lambda^\text{in}_j - \lambda^\text{out}_i$, hence $W$ and
# the loss, unchanged. So the gradient has no component along that direction:
# $$\sum_j d\lambda^\text{in}_j + \sum_i d\lambda^\text{out}_i = \sum_{ij} dW_{ij}\phi_{ij} - \sum_{ij} dW_{ij}\phi_{ij} = 0 .$$
# A consequence: plain gradient descent, $\lambda \leftarrow \lambda - \eta\, d\lambda$, never changes
# $\sum\lambda^\text{in} + \sum\lambda^\text{out}$. If a "student" layer learns the eigenvalues of a "teacher"
# with the same $\phi$, it can at best find them up to that shift: it must end at $\lambda^\ast + c$ with
# $c = \big(\textstyle\sum\lambda(0) - \sum\lambda^\ast\big)/(n_\text{in}+n_\text{out})$. We check both.

# %%
assert abs(dlam_in.sum() + dlam_out.sum()) < 1e-12

t_in, t_out, n_samples = 12, 6, 400
phi_t = rng.uniform(-1, 1, size=(t_out, t_in))
lam_in_true = rng.uniform(-2, 2, size=t_in)
lam_out_true = rng.uniform(-2, 2, size=t_out)
X = rng.standard_normal((n_samples, t_in))
T, _ = spectral_forward(X, phi_t, lam_in_true, lam_out_true)

student_in, student_out = np.ones(t_in), np.ones(t_out)  # a start whose sum differs from the teacher's
total_before = student_in.sum() + student_out.sum()
lr, losses = 0.1, []
for step in range(300 if FAST else 1000):
    Y, cache_t = spectral_forward(X, phi_t, student_in, student_out)
    losses.append(np.sum((Y - T) ** 2) / (2 * n_samples))
    _, _, dlam_in, dlam_out, _ = spectral_backward((Y - T) / n_samples, cache_t, need_dx=False, need_dphi=False)
    student_in -= lr * dlam_in
    student_out -= lr * dlam_out

c = (total_before - lam_in_true.sum() - lam_out_true.sum()) / (t_in + t_out)
print(f"loss {losses[0]:.3f} -> {losses[-1]:.2e}; predicted shift c = {c:.4f}")
assert np.isclose(student_in.sum() + student_out.sum(), total_before, atol=1e-10)
assert np.allclose(student_in, lam_in_true + c, atol=1e-3 if FAST else 1e-6)
assert np.allclose(student_out, lam_out_true + c, atol=1e-3 if FAST else 1e-6)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
ax1.semilogy(losses)
ax1.set_xlabel("gradient-descent step")
ax1.set_ylabel("loss")
ax1.set_title("training only the eigenvalues", fontsize=10)
ax2.plot(lam_in_true, student_in, "o", label=r"$\lambda^{in}$")
ax2.plot(lam_out_true, student_out, "s", label=r"$\lambda^{out}$")
ax2.plot([-2, 2], [-2, 2], color="grey", lw=0.8, label=r"$\lambda^\ast$")
ax2.plot([-2, 2], [-2 + c, 2 + c], "k:", lw=1, label=r"$\lambda^\ast + c$")
ax2.set_xlabel("teacher eigenvalue")
ax2.set_ylabel("learned eigenvalue")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Only for updates that treat every coordinate alike.** The argument needs the step to be a
# multiple of the gradient, or a sum of past gradients with the same coefficients for every
# coordinate: plain gradient descent, and momentum too (its velocity is a sum of gradients, each
# summing to zero). Adam and Adamax divide each coordinate by its own running scale, so the step no
# longer sums to zero and $\sum\lambda$ drifts; lesson 04 shows this in detail. The same teacher and
# student, a few steps of each optimizer from `minispectral.optim`:

# %%
def sum_drift(make_optimizer, steps=50):
    """|Σλ after − Σλ before| for the student layer trained by ``make_optimizer(layer)``."""
    student = ms.Spectral(t_in, t_out, variant="spectral", bias=False, phi_init=phi_t, lam_in_init=np.ones(t_in),
                          lam_out_init=np.ones(t_out), dtype="float64")
    optimizer = make_optimizer(student)
    for _ in range(steps):
        student.backward((student.forward(X) - T) / n_samples)
        optimizer.step()
    p = student.params
    return abs(p["lam_in"].value.sum() + p["lam_out"].value.sum() - total_before)


drifts = {"SGD": sum_drift(lambda m: ms.SGD(m, lr=0.1)),
          "SGD, momentum 0.9": sum_drift(lambda m: ms.SGD(m, lr=0.02, momentum=0.9)),
          "Adamax": sum_drift(lambda m: ms.Adamax(m, lr=0.02))}
for name, drift in drifts.items():
    print(f"{name:>18}: |change of sum(lambda)| after 50 steps = {drift:.1e}")
assert drifts["SGD"] < 1e-10 and drifts["SGD, momentum 0.9"] < 1e-10 and drifts["Adamax"] > 1e-2

# %% [markdown]
# ## 9. In the layer and in a model
#
# `ms.Spectral` calls these kernels and stores the gradients of its *trainable* parameters only:
# in the two-set model of Chicchi et al. (`variant="spectral"`) $\phi$ is frozen, so `phi.grad` stays
# `None` and the backward pass skips computing $d\phi$ altogether. `variant="full"` trains $\phi$ too.
#
# For checks we again use unit-scale initial values. The papers' initialisation makes $\phi$ tiny
# ($\sim 10^{-2}$), so the gradients of a deep network become comparable to finite-difference noise
# and a relative error says little.

# %%
unit = dict(phi_init=(-1, 1), lam_in_init=(-2, 2), lam_out_init=(-2, 2), dtype="float64")
two_sets = ms.Spectral(n_in, n_out, variant="spectral", seed=0, **unit)
two_sets.forward(x)
two_sets.backward(dy)
print({name: (p.trainable, p.grad is not None) for name, p in two_sets.params.items()})
assert two_sets.params["phi"].grad is None and two_sets.params["lam_in"].grad is not None
_, cache_layer = spectral_forward(x, two_sets.params["phi"].value, two_sets.params["lam_in"].value,
                                  two_sets.params["lam_out"].value, two_sets.params["b"].value)
expected = spectral_backward(dy, cache_layer)
assert np.allclose(two_sets.params["lam_in"].grad, expected[2])
assert np.allclose(two_sets.params["lam_out"].grad, expected[3])

for variant in ("spectral", "full"):
    report = ms.gradcheck(ms.Spectral(n_in, n_out, variant=variant, seed=1, **unit), x)
    print(f"variant={variant!r}\n{report}")
    assert report.passed

model = ms.mlp((12, 8, 10), model="spectral", activation="tanh", seed=0, **unit)
report_model = ms.gradcheck(model, rng.standard_normal((4, 12)), np.array([0, 3, 9, 3]))
print(report_model)
assert report_model.passed

# %% [markdown]
# ## Summary
#
# * Backward through a spectral layer = the dense backward ($dx$, $dW$, $db$) + one more chain-rule step:
#   $d\phi = dW\odot(\lambda^\text{in}_j - \lambda^\text{out}_i)$, $d\lambda^\text{in}$ = column sums and
#   $d\lambda^\text{out}$ = minus row sums of $dW\odot\phi$; the eigenvalue gradients can skip $dW$ altogether.
# * The same sums follow from the chain rule through $A = \Phi\Lambda\Phi^{-1}$ at fixed $\Phi$:
#   $\partial L/\partial\lambda_k = v_k^\top dA\,u_k$, which $\Phi^{-1} = 2I - \Phi$ reduces to the column and row sums.
#   That is the derivative of $A$ with respect to its eigenvalues, not the textbook perturbation formula
#   $\partial\lambda_k/\partial A = u_k v_k^\top$, which answers the opposite question.
# * The eigenvalue gradients always sum to zero, so plain gradient descent (and momentum) conserves
#   $\sum\lambda$ and determines the eigenvalues only up to a common shift; Adam and Adamax break the
#   conservation (lesson 04).
#
# ## Exercises
#
# Solutions: `lessons/solutions/06_eigenvalue_gradients.py`.
#
# 1. **The one-set model.** With $\lambda^\text{in} \equiv 0$, derive $d\lambda^\text{out}$ and $d\phi$ and check them
#    against an `ms.Spectral(..., variant="nc", trainable={"phi": True})` layer's gradients and with `gradcheck`.
# 2. **The flat direction.** For the teacher–student loss of section 8, estimate the Hessian with respect to
#    $(\lambda^\text{in}, \lambda^\text{out})$ by central differences of `spectral_backward`'s gradients. Show it is
#    symmetric and positive semi-definite, and that $(1, \dots, 1)$ spans its null space.
# 3. **$d\phi$ from $A$.** With the eigenvalues fixed, a change $\delta\phi$ moves $\Phi$ by $\delta E$ and $\Phi^{-1}$ by
#    $-\delta E$. Show that the lower-left block of $\delta A$ is $\delta\phi\,\Lambda_\text{in} - \Lambda_\text{out}\,\delta\phi$, conclude
#    $d\phi = dW\odot(\lambda^\text{in}_j - \lambda^\text{out}_i)$, and check it numerically with the full matrices.
