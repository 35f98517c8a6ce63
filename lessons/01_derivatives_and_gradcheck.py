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
# # Lesson 01 — Derivatives and gradient checking
#
# ## The course
#
# These lessons build neural networks from scratch, in NumPy, with every forward and backward pass
# written by hand, and then use them for **spectral learning**: training a network through the
# eigenvalues and eigenvectors of the operator that each layer applies, rather than through its
# weights directly. The path:
#
# * **01–04, deep learning from the ground up.** Derivatives and gradient checking (this lesson),
#   a dense layer (02), softmax cross-entropy and a multilayer perceptron trained on MNIST (03),
#   optimisers and initialisation (04).
# * **05–11, spectral learning.** The spectral parametrisation of a layer (05), the gradients of its
#   eigenvalues (06), training eigenvalues alone (07), why two sets of eigenvalues (08), closing the
#   gap to dense training (09), sparse networks (10) and pruning by eigenvalues (11).
# * **12–13.** The same code on a GPU (12), and a capstone (13): a spectral network built from the
#   formulas alone.
# * **Appendices.** A: array backends and floating-point precision. B: inside the library (the
#   numerical details that its gradient checker and kernels take care of). Neither is needed to follow
#   the lessons.
#
# You need Python, NumPy and first-year calculus (derivatives, the chain rule, sums over indices).
#
# ## How to work through a lesson
#
# Each lesson comes in two editions:
#
# * the **exercise edition**, `lessons/exercises/NN_topic.ipynb`: open it in Jupyter and run its cells
#   from the top. Where a function's body says `# YOUR CODE HERE` and `raise NotImplementedError()`,
#   replace those two lines with your code: it is a step that the text just derived. The cell right
#   after it runs a **check**: your function gets fixed inputs, and each quantity it returns is compared
#   with a reference (the library's own code, or central differences). The check prints, per quantity,
#   its largest element-wise relative error, its norm-wise relative error, and *pass* or *FAIL*. Until
#   the check passes, the cells below it have nothing right to build on: they use your function.
# * the **worked edition**, `lessons/NN_topic.ipynb`: the same lesson with every blank filled in and
#   every output shown. It is the solution.
#
# Each lesson ends with a few longer exercises; their solutions are scripts in `lessons/solutions/`.
# To start, install the library with the lessons' extras from the repository root,
# `pip install -e ".[lessons]"`, and run `jupyter lab lessons/`. The lessons that train on MNIST read
# it from the folder named by the environment variable `MINISPECTRAL_DATA` (or download it). With
# `MINISPECTRAL_FAST=1` every lesson runs in a few seconds on smaller sizes: the test suite runs them
# that way.
#
# ## Why this lesson
#
# `minispectral` has no autograd: every backward pass is written by hand from a derivation on paper,
# and in these lessons you will write many of them. Hand-written gradients are easy to get subtly
# wrong — a missing transpose, a sign, a forgotten sum over the batch — and a wrong gradient rarely
# crashes; the model just trains badly. The safety net is the *gradient check*: compare the
# hand-written gradient with one measured by nudging the inputs. This lesson builds that check from
# scratch — you will write its two parts, the numerical gradient and the relative error, and a first
# backward pass by the chain rule — and shows the three things that make it trustworthy: **float64**,
# the **relative error**, and care at **kinks** such as ReLU's.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.functional import (dense_backward, dense_forward, relu_backward, relu_forward,
                                     tanh_backward, tanh_forward)
from minispectral.gradient_check import numerical_gradient, rel_error

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Derivatives by nudging
#
# The derivative is the limit of a difference quotient. Taylor's theorem tells us how far a
# finite step $h$ is from the limit:
# $$\frac{f(x+h) - f(x)}{h} = f'(x) + \frac{h}{2} f''(x) + O(h^2) \qquad \text{(forward difference, error } O(h)\text{)},$$
# $$\frac{f(x+h) - f(x-h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4) \qquad \text{(central difference, error } O(h^2)\text{)}.$$
# The even terms cancel in the central difference, which is why gradient checks use it.
#
# Our test function is $f = \tanh$. By hand, with $t = \tanh x$:
# $$f'(x) = 1 - t^2, \qquad f''(x) = -2t(1-t^2), \qquad f'''(x) = -2(1-t^2)(1-3t^2).$$
# The library's `tanh_backward(dout, cache)` returns $\texttt{dout}\odot f'(x)$; with
# $\texttt{dout} = 1$ it must give the same $f'$, to the last digit or two (it writes $1 - t^2$ in a
# form that keeps its digits far out on the curve: appendix B).

# %%
x0 = 0.5
t0 = np.tanh(x0)
d1_hand = 1 - t0**2
d3_hand = -2 * (1 - t0**2) * (1 - 3 * t0**2)

out, cache = tanh_forward(np.array([x0]))
d1_kernel = tanh_backward(np.ones(1), cache)[0]
print(f"f'(0.5): by hand {d1_hand:.15f}, kernel {d1_kernel:.15f}")
assert np.isclose(d1_kernel, d1_hand, rtol=1e-15, atol=0)  # within a few units of the last place

# the central difference at a moderate step matches the Taylor prediction h² f'''/6
h = 1e-2
central = (np.tanh(x0 + h) - np.tanh(x0 - h)) / (2 * h)
assert np.isclose(central - d1_hand, h**2 / 6 * d3_hand, rtol=0.02)

# %% [markdown]
# A computer adds a second error: each $f(x\pm h)$ is rounded to the nearest floating-point number,
# with a relative error of at most the *unit round-off* $u$: $u = 2^{-53} \approx 1.1\times10^{-16}$ in
# float64 (NumPy's default) and $u = 2^{-24} \approx 6\times10^{-8}$ in float32 (the usual type for
# training). Subtracting two nearly equal rounded numbers and dividing by $h$ magnifies that
# rounding to about $u|f|/h$. For the central difference the total is roughly
# $$E(h) \approx \frac{h^2}{6}|f'''| + \frac{u\,|f|}{h}, \qquad\text{smallest at}\qquad h^\ast = \Big(\frac{3u|f|}{|f'''|}\Big)^{1/3} \sim u^{1/3}.$$
# In float64 that is $h^\ast \approx 10^{-5}$ and an error of $10^{-11}$ or less;
# in float32 it is $h^\ast \approx 10^{-2}$ and an error of order $10^{-6}$ to
# $10^{-5}$ (the estimate is rough, and pessimistic). Let's measure it.

# %%
steps = np.logspace(-12, -0.5, 24 if FAST else 60)


def difference_errors(dtype):
    x, hs = dtype(x0), steps.astype(dtype)
    forward = (np.tanh(x + hs) - np.tanh(x)) / hs
    centre = (np.tanh(x + hs) - np.tanh(x - hs)) / (2 * hs)
    return np.abs(forward.astype(np.float64) - d1_hand), np.abs(centre.astype(np.float64) - d1_hand)


err = {dtype.__name__: difference_errors(dtype) for dtype in (np.float64, np.float32)}

fig, ax = plt.subplots(figsize=(6.5, 3.8))
for name, style in (("float64", "-"), ("float32", "--")):
    fwd, ctr = err[name]
    ax.loglog(steps, np.maximum(fwd, 1e-17), style, color="tab:blue", label=f"forward, {name}")
    ax.loglog(steps, np.maximum(ctr, 1e-17), style, color="tab:orange", label=f"central, {name}")
ax.set_xlabel("step h")
ax.set_ylabel("|numerical − exact|")
ax.set_title(r"Finite differences of tanh at x = 0.5")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# The right-hand slopes are the truncation errors ($\propto h$ and $\propto h^2$); the left-hand
# rise is round-off ($\propto 1/h$). We check the slopes, and that float32 cannot get anywhere
# near the accuracy a gradient check needs.

# %%
fwd64, ctr64 = err["float64"]
large = (steps > 1e-3) & (steps < 1e-1)
slope_forward = np.polyfit(np.log(steps[large]), np.log(fwd64[large]), 1)[0]
slope_central = np.polyfit(np.log(steps[large]), np.log(ctr64[large]), 1)[0]
print(f"truncation slopes: forward {slope_forward:.2f}, central {slope_central:.2f}")
assert abs(slope_forward - 1) < 0.1 and abs(slope_central - 2) < 0.1

best64, best32 = ctr64.min(), err["float32"][1].min()
u64, u32 = np.finfo(np.float64).eps / 2, np.finfo(np.float32).eps / 2
h_star64 = (3 * u64 * abs(t0) / abs(d3_hand)) ** (1 / 3)
print(f"best central error: float64 {best64:.1e} (h* predicted {h_star64:.0e}), float32 {best32:.1e}")
assert best64 < 1e-9 and best32 > 1e-7
assert 1e-7 < steps[np.argmin(ctr64)] < 1e-3

# %% [markdown]
# ## 2. The numerical gradient
#
# A loss depends on many numbers at once: a weight matrix, a batch of inputs. Its gradient with
# respect to an array $x$ has one entry per entry of $x$, the derivative when only that entry moves:
# $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h\,e_i) - f(x - h\,e_i)}{2h},$$
# where $e_i$ is the array of $x$'s shape with a 1 at entry $i$ and 0 elsewhere. That is two
# evaluations of $f$ per entry: slow for a large model, but simple and independent of any
# derivation, which is what a check needs.
#
# **Exercise.** Write `my_numerical_gradient(f, x, h)`: loop over every entry $i$ of $x$
# (`np.ndindex(x.shape)` yields each index tuple), build $x \pm h e_i$ as new arrays (leave $x$
# itself alone), and fill `grad[i]` with the central difference. The check compares your gradient with
# the exact one of a smooth function; a forward difference would fail it, being off by about
# $h|f''|/2$.

# %%
def my_numerical_gradient(f, x, h=1e-5):
    """Central differences of the scalar f(x) for every entry of x: x of any shape -> grad of x's shape."""
    grad = np.zeros(x.shape)
    ### BEGIN SOLUTION
    for i in np.ndindex(x.shape):
        e_i = np.zeros_like(x)
        e_i[i] = h
        grad[i] = (f(x + e_i) - f(x - e_i)) / (2 * h)
    ### END SOLUTION
    return grad


# %%
from minispectral.exercises.lesson_01 import check_numerical_gradient

check_numerical_gradient(my_numerical_gradient)

# %% [markdown]
# The library's `numerical_gradient(f, x, h)` does the same for a function `f()` of no arguments
# that reads `x` (it nudges `x` in place, entry by entry, and puts each entry back). The two agree:

# %%
v = rng.standard_normal((3, 4))
grad_mine = my_numerical_gradient(lambda v_: np.sum(np.tanh(v_) ** 2), v, h=1e-6)
grad_lib = numerical_gradient(lambda: np.sum(np.tanh(v) ** 2), v, h=1e-6)
print(f"max |mine - library| = {np.max(np.abs(grad_mine - grad_lib)):.1e}")
assert np.allclose(grad_mine, grad_lib, rtol=1e-8, atol=1e-10)

# %% [markdown]
# ## 3. The chain rule, by hand and with the kernels
#
# Backpropagation is the chain rule applied node by node, from the loss back to the inputs.
# Take one dense layer, a tanh and a scalar loss, each intermediate with its own name:
# $$z = xW^\top + b, \qquad a = \tanh(z), \qquad L = \sum_{n,k} a_{nk}^2 .$$
# Shapes: $x$ is $(N, D_\text{in})$, one sample per row; $W$ is $(D_\text{out}, D_\text{in})$;
# $b$, $(D_\text{out},)$, is added to every row; $z$ and $a$ are $(N, D_\text{out})$.
# Going backwards, each step multiplies by a local derivative, entry by entry:
# $$\frac{\partial L}{\partial a_{nk}} = 2a_{nk}, \qquad
# \frac{\partial L}{\partial z_{nk}} = \frac{\partial L}{\partial a_{nk}}\,(1 - a_{nk}^2),$$
# and then through the dense layer (lesson 02 derives these three, index by index), with
# $dz = \partial L/\partial z$:
# $$\frac{\partial L}{\partial W} = dz^\top x, \qquad \frac{\partial L}{\partial b} = \sum_n dz_{n,:}, \qquad
# \frac{\partial L}{\partial x} = dz\,W .$$
#
# **Exercise.** Fill in the backward half of `my_tanh_loss_backward`: `da`, then `dz`, then `dx`,
# `dW` and `db`, one line each. The check compares them with the library's kernels.

# %%
def my_tanh_loss_backward(x, W, b):
    """Gradients of L = Σ tanh(x Wᵀ + b)²: x (N, D_in), W (D_out, D_in), b (D_out,) -> dx, dW, db of those shapes."""
    z = x @ W.T + b          # (N, D_out)
    a = np.tanh(z)           # (N, D_out)
    ### BEGIN SOLUTION
    da = 2 * a               # ∂L/∂a
    dz = da * (1 - a**2)     # ∂L/∂z, through tanh
    dW = dz.T @ x            # (D_out, N) @ (N, D_in)
    db = dz.sum(axis=0)      # b is added to every row: sum over the batch
    dx = dz @ W              # (N, D_out) @ (D_out, D_in)
    ### END SOLUTION
    return dx, dW, db


# %%
from minispectral.exercises.lesson_01 import check_tanh_loss_backward

check_tanh_loss_backward(my_tanh_loss_backward)

# %% [markdown]
# The library's kernels do the same steps, in reverse order: `tanh_backward` for the middle one,
# `dense_backward` for the last. Each kernel is a pair: `forward(...)` returns its output and a
# *cache* (what the backward pass will need), and `backward(dout, cache)` turns the gradient of the
# output into the gradients of the inputs. Your numerical gradient confirms `dW`.

# %%
x = rng.standard_normal((4, 3))
W = rng.standard_normal((2, 3))
b = rng.standard_normal(2)

z, dense_cache = dense_forward(x, W, b)
a, tanh_cache = tanh_forward(z)
loss = np.sum(a**2)

da = 2 * a
dz = tanh_backward(da, tanh_cache)
dx, dW, db = dense_backward(dz, dense_cache)
dx_mine, dW_mine, db_mine = my_tanh_loss_backward(x, W, b)
# rtol 1e-12, not 1e-14: where a is near ±1, 1 − a² by hand has lost digits that the kernel keeps
for kernel, mine in ((dx, dx_mine), (dW, dW_mine), (db, db_mine)):
    assert np.allclose(kernel, mine, rtol=1e-12, atol=0)


def loss_of_W(W_):
    return np.sum(tanh_forward(dense_forward(x, W_, b)[0])[0] ** 2)


dW_num = my_numerical_gradient(loss_of_W, W, h=1e-6)
print("dW (analytic):\n", dW, "\nrel error vs numerical:", f"{rel_error(dW, dW_num):.1e}")
assert rel_error(dW, dW_num) < 1e-8

# %% [markdown]
# ## 4. Gradient checking done right
#
# **Compare with the relative error.** An absolute difference means nothing without a scale:
# multiply the loss by 1000 and every difference grows 1000-fold. The symmetric relative error
# $$\mathrm{rel}(a, n) = \frac{\lVert a - n\rVert}{\lVert a\rVert + \lVert n\rVert}$$
# (with $\lVert\cdot\rVert$ the Euclidean norm of all entries, and $\mathrm{rel} = 0$ when both
# arrays are zero) is scale-free and stays between 0 and 1. Rough guide (CS231n) in float64:
# above $10^{-2}$ the gradient is wrong; around $10^{-4}$ be suspicious; below $10^{-7}$ it is
# right.
#
# **Exercise.** Write `my_rel_error(a, n)`, including the case of two zero arrays. The check compares
# it with the library's `rel_error` on several pairs.

# %%
def my_rel_error(a, n):
    """Symmetric relative error of two arrays of one shape -> a float in [0, 1] (0 when both are zero)."""
    ### BEGIN SOLUTION
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(a - n) / scale)
    ### END SOLUTION


# %%
from minispectral.exercises.lesson_01 import check_rel_error

check_rel_error(my_rel_error)

# %% [markdown]
# Its two properties, on the gradients of section 3:

# %%
print(f"rel(dW, dW_num) = {my_rel_error(dW, dW_num):.1e}")
# scale-free: scaling both gradients leaves it unchanged
assert np.isclose(my_rel_error(1000 * dW, 1000 * dW_num), my_rel_error(dW, dW_num), rtol=1e-6)
# bounded: opposite gradients give exactly 1, the largest value it takes
assert np.isclose(my_rel_error(dW, -dW), 1.0)

# %% [markdown]
# `ms.gradcheck`, the library's checker (section 5), uses $10^{-7}$ as its tolerance. One
# exception is met in later lessons: where the true gradients are tiny, the numerical gradient's own
# round-off (the $u|f|/h$ of section 1, with $|f|$ the size of everything the loss is summed from) can
# exceed $10^{-7}$ of them. The checker then also passes a gradient whose every entry lies within
# that round-off of the numerical one, and marks its row "yes, round-off". Appendix B gives the bound
# and the other details of how the library computes its numerical gradients.
#
# **Check in float64.** The same check, run on float32 copies of the same arrays, fails for a
# *correct* gradient: section 1 showed that float32 differences reach only about $10^{-6}$ at their
# best step size (the float32 "best central error" printed there), short of the $10^{-7}$ a check needs. This is why
# `ms.gradcheck` casts a copy of the layer or model to float64 first.

# %%
x32, W32, b32 = (v.astype(np.float32) for v in (x, W, b))


def loss_of_W32():
    return np.sum(tanh_forward(dense_forward(x32, W32, b32)[0])[0] ** 2)


z32, dense_cache32 = dense_forward(x32, W32, b32)
a32, tanh_cache32 = tanh_forward(z32)
dW32 = dense_backward(tanh_backward(2 * a32, tanh_cache32), dense_cache32)[1]
# the library's numerical_gradient nudges W32 in place, so W32 and the loss stay float32 throughout
rel32 = {step: my_rel_error(dW32, numerical_gradient(loss_of_W32, W32, h=step)) for step in (1e-2, 1e-3, 1e-4)}
rel64 = my_rel_error(dW, dW_num)
for step, r in rel32.items():
    print(f"float32, h={step:.0e}: rel error {r:.1e}")
print(f"float64, h=1e-06: rel error {rel64:.1e}")
assert min(rel32.values()) > 1e-6 > 1e-8 > rel64

# %% [markdown]
# **Beware of kinks.** ReLU, $\max(z, 0)$, has no derivative at $0$; the library uses slope $0$
# there. If an input sits closer to the kink than the step, the central difference straddles it:
# for $0 < z < h$,
# $$\frac{\mathrm{relu}(z+h) - \mathrm{relu}(z-h)}{2h} = \frac{z + h}{2h} = \frac12 + \frac{z}{2h},$$
# neither $0$ nor $1$. A gradient check then reports an error even though the backward pass is
# right.

# %%
h = 1e-5
z_grid = np.linspace(-3 * h, 3 * h, 241)
numeric_slope = (relu_forward(z_grid + h)[0] - relu_forward(z_grid - h)[0]) / (2 * h)
analytic_slope = relu_backward(np.ones_like(z_grid), relu_forward(z_grid)[1])

inside = (z_grid > 0) & (z_grid < h)
assert np.allclose(numeric_slope[inside], 0.5 + z_grid[inside] / (2 * h), rtol=1e-6)
far = np.abs(z_grid) > h
assert np.allclose(numeric_slope[far], analytic_slope[far], atol=1e-9)

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(z_grid / h, analytic_slope, label="analytic (relu_backward)", lw=2)
ax.plot(z_grid / h, numeric_slope, "--", label="central difference")
ax.axvspan(-1, 1, color="grey", alpha=0.15, label="|z| < h")
ax.set_xlabel("z / h")
ax.set_ylabel("d relu / dz")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# How often does this bite? For pre-activations $z \sim \mathcal N(0, 1)$ the chance that one lies
# within $h$ of the kink is about $2h\,p(0) = 2h/\sqrt{2\pi}$: negligible with float64's
# $h = 10^{-6}$ on a few thousand entries, common with the large steps float32 would need.
# When it happens, the remedy is to move the input away from the kink (or change the seed), not to
# loosen the tolerance.

# %%
h_mc = 1e-2
samples = rng.standard_normal(400_000 if FAST else 2_000_000)
p_measured = np.mean(np.abs(samples) < h_mc)
p_predicted = 2 * h_mc / np.sqrt(2 * np.pi)
print(f"P(|z| < {h_mc}): measured {p_measured:.5f}, predicted {p_predicted:.5f}")
assert abs(p_measured - p_predicted) < 0.05 * p_predicted

# ms.gradcheck(forward, backward, inputs) runs this very check (section 5 shows it in full): h = 1e-6,
# and one row per input with the largest |analytic - numerical| and the relative error.
z_bad = rng.standard_normal((3, 5))
z_bad[0, 0] = 3e-7  # closer to the kink than gradcheck's step of 1e-6
z_good = np.where(np.abs(z_bad) < 1e-3, 0.5, z_bad)
report_bad = ms.gradcheck(relu_forward, relu_backward, {"x": z_bad})
report_good = ms.gradcheck(relu_forward, relu_backward, {"x": z_good})
print("near the kink:\n", report_bad, "\naway from it:\n", report_good, sep="")
assert not report_bad.passed and report_good.passed

# %% [markdown]
# ## 5. The library's `gradcheck`
#
# `ms.gradcheck` packs these rules together: it works on a float64 copy (nothing you own is
# touched), uses central differences with $h = 10^{-6}$ ($10^{-5}$ for whole models), nudges
# *every* entry of every trainable parameter (and, for a kernel or a layer, the input), and prints
# one row per tensor. It accepts a kernel pair with its inputs (as above), a layer with an input
# batch, or a model with inputs and labels.
#
# For a layer, the scalar it differentiates is $L = \sum y \odot G$ for a fixed random $G$; then
# $\partial L/\partial y = G$ exactly, so `layer.backward(G)` must return $\partial L / \partial x$.
# A random $G$ (rather than all ones) makes it unlikely that errors cancel.

# %%
layer = ms.Dense(5, 3, seed=0)
x_batch = rng.standard_normal((4, 5)).astype(np.float32)
report = ms.gradcheck(layer, x_batch)
print(report)
assert report.passed
assert layer.params["W"].value.dtype == np.float32  # the check worked on a float64 copy

# %% [markdown]
# A deliberately broken backward is caught. Here the bias gradient averages over the batch
# instead of summing — the shapes still fit, so nothing crashes, and only the check notices:

# %%
def broken_dense_backward(dy, cache):
    dx, dW, db = dense_backward(dy, cache)
    return dx, dW, dy.mean(axis=0)  # mean instead of sum over the batch


report_broken = ms.gradcheck(dense_forward, broken_dense_backward,
                             {"x": x_batch, "W": layer.params["W"].value, "b": layer.params["b"].value})
print(report_broken)
assert not report_broken.passed and report_broken["b"].rel_error > 1e-2
assert report_broken["x"].passed and report_broken["W"].passed

# %% [markdown]
# ## Summary
#
# * Central differences have error $O(h^2)$; round-off adds $O(u/h)$; the best step is $\sim u^{1/3}$.
# * The numerical gradient nudges one entry at a time; the chain rule, applied node by node, gives the
#   analytic one.
# * Compare gradients with the symmetric relative error, in float64; aim below $10^{-7}$.
# * Kinks (ReLU at 0) produce false alarms when an input lies within $h$ of them.
# * `ms.gradcheck(...)` applies all of this to a kernel, a layer or a model; every later lesson uses it.
#
# ## Exercises
#
# Solutions: `lessons/solutions/01_derivatives_and_gradcheck.py`.
#
# 1. **ELU by hand.** $\mathrm{elu}(x) = x$ for $x>0$ and $\alpha(e^x-1)$ otherwise. Derive its
#    derivative and show it equals $\mathrm{elu}(x) + \alpha$ for $x \le 0$. Check your formula
#    against `elu_backward` and against `numerical_gradient`, then run `ms.gradcheck` on the
#    `elu_forward`/`elu_backward` pair.
# 2. **The best step for exp.** For $f = \exp$ near $x = 1$ in float64, scan $h$ and find the step
#    with the smallest central-difference error. Compare it with $h^\ast = (3u)^{1/3}$ (here
#    $f''' = f$). Round-off makes the curve jagged at its bottom: average the relative error over
#    many points $x \in [0.5, 1.5]$ before taking the arg-min.
# 3. **A forward-difference checker.** Write `forward_difference_gradient(f, x, h)` and use it to
#    check `dW` of the dense + tanh example above for $h = 10^{-3}, \dots, 10^{-10}$. Show that at
#    gradcheck's step $h = 10^{-6}$ it misses the $10^{-7}$ tolerance that the central difference
#    meets, and that its best step is near $\sqrt{u}$ rather than $u^{1/3}$.
