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
# **Why this lesson.** `minispectral` has no autograd: every backward pass is written by hand
# from a derivation on paper. Hand-written gradients are easy to get subtly wrong — a missing
# transpose, a sign, a forgotten sum over the batch — and a wrong gradient rarely crashes; the
# model just trains badly. The safety net is the *gradient check*: compare the hand-written
# gradient with one measured by nudging the inputs. This lesson builds that check from scratch
# and shows the three things that make it trustworthy: **float64**, the **relative error**, and
# care at **kinks** such as ReLU's.

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
# The library's `tanh_backward(dout, cache)` returns $\texttt{dout}\odot(1-t^2)$; with
# $\texttt{dout} = 1$ it must give the same $f'$ (to the last digit or two: it computes
# $1-t^2$ as $4e/(1+e)^2$ with $e = e^{-2|x|}$, the same number written so that it keeps its
# digits far out on the curve, where $t$ rounds to $\pm 1$ and $1-t^2$ would round to 0).

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
# A computer adds a second error: each $f(x\pm h)$ is rounded, with a relative error of about
# the unit round-off $u$ (appendix A). Subtracting two nearly equal rounded numbers and dividing
# by $h$ magnifies it to about $u|f|/h$. For the central difference the total is roughly
# $$E(h) \approx \frac{h^2}{6}|f'''| + \frac{u\,|f|}{h}, \qquad\text{smallest at}\qquad h^\ast = \Big(\frac{3u|f|}{|f'''|}\Big)^{1/3} \sim u^{1/3}.$$
# In float64 ($u \approx 10^{-16}$) that is $h^\ast \approx 10^{-5}$ and an error of $10^{-11}$ or less;
# in float32 ($u \approx 6\times10^{-8}$) it is $h^\ast \approx 10^{-2}$ and an error of order $10^{-6}$ to
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
# ## 2. The chain rule, by hand and with the kernels
#
# Backpropagation is the chain rule applied node by node, from the loss back to the inputs.
# Take one dense layer, a tanh and a scalar loss:
# $$z = xW^\top + b, \qquad a = \tanh(z), \qquad L = \sum_{n,k} a_{nk}^2 .$$
# Going backwards, each step multiplies by a local derivative:
# $$\frac{\partial L}{\partial a} = 2a, \qquad \frac{\partial L}{\partial z} = 2a\odot(1-a^2), \qquad
# \frac{\partial L}{\partial W} = \Big(\frac{\partial L}{\partial z}\Big)^{\!\top} x .$$
# (Lesson 02 derives the last step.) The library's kernels do the same steps:
# `tanh_backward` for the middle one, `dense_backward` for the last.

# %%
x = rng.standard_normal((4, 3))
W = rng.standard_normal((2, 3))
b = rng.standard_normal(2)

z, dense_cache = dense_forward(x, W, b)
a, tanh_cache = tanh_forward(z)
loss = np.sum(a**2)

# by hand
dz_hand = 2 * a * (1 - a**2)
dW_hand = dz_hand.T @ x

# with the kernels, in reverse order
da = 2 * a
dz = tanh_backward(da, tanh_cache)
dx, dW, db = dense_backward(dz, dense_cache)
# rtol 1e-12, not 1e-14: where a is near ±1, 1 − a² by hand has lost digits that the kernel keeps
assert np.allclose(dz, dz_hand, rtol=1e-12, atol=0) and np.allclose(dW, dW_hand, rtol=1e-12, atol=0)


# and by nudging every entry of W (numerical_gradient reads W afresh on each call)
def loss_of_W():
    return np.sum(tanh_forward(dense_forward(x, W, b)[0])[0] ** 2)


dW_num = numerical_gradient(loss_of_W, W, h=1e-6)
print("dW (analytic):\n", dW, "\nrel error vs numerical:", f"{rel_error(dW, dW_num):.1e}")
assert rel_error(dW, dW_num) < 1e-8

# %% [markdown]
# ## 3. Gradient checking done right
#
# **Compare with the relative error.** An absolute difference means nothing without a scale:
# multiply the loss by 1000 and every difference grows 1000-fold. The symmetric relative error
# $$\mathrm{rel}(a, n) = \frac{\lVert a - n\rVert}{\lVert a\rVert + \lVert n\rVert}$$
# is scale-free and stays bounded by 1. Rough guide (CS231n) in float64:
# above $10^{-2}$ the gradient is wrong; around $10^{-4}$ be suspicious; below $10^{-7}$ it is
# right. `ms.gradcheck` uses $10^{-7}$ as its tolerance. One exception, met in later lessons: when
# the true gradients are tiny, the difference quotient's own round-off, about $\varepsilon S/h$
# ($\varepsilon = 2u$ the machine epsilon, $S$ the size of what the loss is summed from: for a layer
# the sum of $|\texttt{out} \odot \texttt{dout}|$ for the random $\texttt{dout}$ the check draws, for a
# model its loss plus its largest logit),
# can exceed $10^{-7}$ of them. `gradcheck` therefore also passes a gradient whose every entry is
# within $32\,\varepsilon S/h$ of the numerical one (about $10^{-9}$ for a model's loss at
# $h = 10^{-5}$) and marks it "yes, round-off". Two more details of `numerical_gradient`: it steps
# each entry by $h\max(1, |\theta_i|)$, so that a large entry still moves ($10^{10} + 10^{-6}$ is
# $10^{10}$ in float64), and it divides by the step actually taken, $\theta_i + h$ and $\theta_i - h$
# as stored, so that their rounding does not enter the quotient.

# %%
def rel_by_hand(a, n):
    return np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))


assert np.isclose(rel_error(dW, dW_num), rel_by_hand(dW, dW_num), rtol=1e-12)
# scale-free: scaling both gradients leaves it unchanged
assert np.isclose(rel_error(1000 * dW, 1000 * dW_num), rel_error(dW, dW_num), rtol=1e-6)
# bounded: opposite gradients give exactly 1
assert np.isclose(rel_error(dW, -dW), 1.0)

# %% [markdown]
# **Check in float64.** The same check, run on float32 copies of the same arrays, fails for a
# *correct* gradient: section 1 showed that float32 differences reach only about $10^{-6}$ at their
# best step size ($8\times10^{-7}$ above), short of the $10^{-7}$ a check needs. This is why `ms.gradcheck` casts a copy of the layer or model to float64 first.

# %%
x32, W32, b32 = (v.astype(np.float32) for v in (x, W, b))


def loss_of_W32():
    return np.sum(tanh_forward(dense_forward(x32, W32, b32)[0])[0] ** 2)


z32, dense_cache32 = dense_forward(x32, W32, b32)
a32, tanh_cache32 = tanh_forward(z32)
dW32 = dense_backward(tanh_backward(2 * a32, tanh_cache32), dense_cache32)[1]
rel32 = {step: rel_error(dW32, numerical_gradient(loss_of_W32, W32, h=step)) for step in (1e-2, 1e-3, 1e-4)}
rel64 = rel_error(dW, dW_num)
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

# ms.gradcheck(forward, backward, inputs) runs this very check (section 4 shows it in full): h = 1e-6,
# and one row per input with the largest |analytic - numerical| and the relative error.
z_bad = rng.standard_normal((3, 5))
z_bad[0, 0] = 3e-7  # closer to the kink than gradcheck's step of 1e-6
z_good = np.where(np.abs(z_bad) < 1e-3, 0.5, z_bad)
report_bad = ms.gradcheck(relu_forward, relu_backward, {"x": z_bad})
report_good = ms.gradcheck(relu_forward, relu_backward, {"x": z_good})
print("near the kink:\n", report_bad, "\naway from it:\n", report_good, sep="")
assert not report_bad.passed and report_good.passed

# %% [markdown]
# ## 4. The library's `gradcheck`
#
# `ms.gradcheck` packs these rules together: it works on a float64 copy (nothing you own is
# touched), uses central differences with $h = 10^{-6}$ ($10^{-5}$ for whole models), nudges
# *every* entry of every trainable parameter (and, for a kernel or a layer, the input), and prints
# one row per tensor. It
# accepts a kernel pair with its inputs (as above), a layer with an input batch, or a model with
# inputs and labels.
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
