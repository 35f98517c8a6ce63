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
# # Appendix B — Inside the library
#
# **Why this appendix.** The lessons use `ms.gradcheck` and the library's kernels as references, and
# say only what they compute. This appendix shows the numerical details behind them, for readers who
# want to know why the references can be trusted, or who write kernels of their own:
#
# 1. how `numerical_gradient` chooses its steps, and why it divides by the step actually taken;
# 2. the numerical gradient's own round-off, the bound that `gradcheck` derives from it, and the rows it
#    marks "yes, round-off";
# 3. two kernels that are written to keep their digits: `tanh_backward` and `softmax_cross_entropy`.
#
# It assumes lesson 01 (central differences, the relative error, the unit round-off $u$). The
# machine epsilon is $\varepsilon = 2u$: $2.2\times10^{-16}$ in float64.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.functional import dense_backward, dense_forward, softmax_cross_entropy, tanh_backward, tanh_forward
from minispectral.gradient_check import ROUNDOFF_FACTOR, numerical_gradient

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)
eps = np.finfo(np.float64).eps

# %% [markdown]
# ## 1. The steps of `numerical_gradient`
#
# `numerical_gradient(f, theta, h)` nudges one entry at a time, in place, and puts it back. Two details
# of the nudge matter.
#
# **A step in proportion to the entry.** Entry $i$ moves by $h_i = h\max(1, |\theta_i|)$, not by $h$.
# A float64 number near $10^{12}$ has neighbours about $10^{-4}$ apart, so $10^{12} + 10^{-6}$
# *is* $10^{12}$: a fixed step would not move the entry at all, and the quotient would be $0/0$ or $0$.
#
# **Divide by the step actually taken.** $\theta_i + h_i$ is rounded when it is stored, by up to
# $u|\theta_i|$. Against a step of $h_i$ that is a relative error of up to $u|\theta_i|/h_i$ in the divisor:
# $10^{-7}$ for $\theta_i = 1000$ and $h_i = 10^{-6}$, as large as the tolerance of a check. The library
# therefore divides by $(\theta_i + h_i)_\text{stored} - (\theta_i - h_i)_\text{stored}$, which is exact
# (the difference of two nearby floats is), so the rounding of the step never enters the quotient.
# For $f(\theta) = 4\theta$, whose values are exact (a product by 4 only moves the exponent), the
# quotient is then exactly 4:

# %%
theta = 1000.3
for step in (1e-9, 1e-6, 1e-3):
    plus, minus = theta + step, theta - step
    by_2h = (4 * plus - 4 * minus) / (2 * step)
    by_taken = (4 * plus - 4 * minus) / (plus - minus)
    print(f"h = {step:.0e}: divided by 2h: error {abs(by_2h - 4):.1e}; by the step taken: error {abs(by_taken - 4):.1e}")
    assert by_taken == 4.0 and abs(by_2h - 4) > 0

big = np.array([1e12])
assert big[0] + 1e-6 == big[0]  # a fixed step does not move it
grad_big = numerical_gradient(lambda: big[0] ** 2 / 2, big)  # d/dθ θ²/2 = θ
print(f"gradient of θ²/2 at θ = 1e12: {grad_big[0]:.6e}")
assert np.isclose(grad_big[0], 1e12, rtol=1e-6)

# %% [markdown]
# ## 2. The numerical gradient's own round-off
#
# Lesson 01 estimated the round-off of a central difference as $u|f|/h$. For a loss that is a sum,
# what counts is not $|f|$ but the size of what it is summed from: the sum of $10^6$ and $-10^6$ is 0,
# yet each partial sum was rounded at the scale of $10^6$. `gradcheck` measures that size, $S$, as
#
# * for a kernel or a layer, whose scalar is $L = \sum \texttt{out}\odot\texttt{dout}$ for a random
#   $\texttt{dout}$: $S = \sum |\texttt{out}\odot\texttt{dout}|$;
# * for a model, whose scalar is the mean cross-entropy: $S = |L| + \max|\text{logit}|$ (each
#   log-sum-exp is rounded relative to the largest logit of its row).
#
# Each $f(\theta\pm h_i)$ is then exact to about $\varepsilon S$, and the quotient to about
# $\varepsilon S/h_i$. Where the true gradient is small against that, the relative error of a *correct*
# gradient exceeds the tolerance of $10^{-7}$. So `gradcheck` also passes a row whose every entry lies
# within `ROUNDOFF_FACTOR` $\cdot\,\varepsilon S/h_i$ of the numerical gradient (the factor, 32, is
# generous over the two roundings of $f(\theta + h_i)$ and $f(\theta - h_i)$), and marks it
# "yes, round-off". The bound has no floor: a function of size $10^{-10}$ has a round-off of that order.
#
# A dense layer with a large bias shows it: the bias makes every output, and so $S$, large, while the
# gradient of $W$, $dW = \texttt{dout}^\top x$, does not change. (The bias's own row stays sharp: its
# entries are large, so their steps are too.)

# %%
x = rng.standard_normal((4, 5))
W = rng.standard_normal((3, 5))
b = rng.standard_normal(3)
offsets = np.logspace(0, 6, 7 if FAST else 13)
measured, bound = [], []
for offset in offsets:
    report = ms.gradcheck(dense_forward, dense_backward, {"x": x, "W": W, "b": b + offset})
    assert report.passed
    measured.append(report["W"].max_abs_diff)
    bound.append(report["W"].roundoff)  # the largest entry's bound, ROUNDOFF_FACTOR · eps · S / h_i
print(ms.gradcheck(dense_forward, dense_backward, {"x": x, "W": W, "b": b + 1e4}))
out, _ = dense_forward(x, W, b + 1e4)
dout = np.random.default_rng(0).standard_normal(out.shape)  # the dout that gradcheck's seed 0 draws
assert np.isclose(bound[offsets.tolist().index(1e4)], ROUNDOFF_FACTOR * eps * np.sum(np.abs(out * dout)) / 1e-6)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(offsets, measured, "o-", label="measured: max |analytic − numerical| of dW")
ax.loglog(offsets, bound, "--", label=r"bound: $32\,\varepsilon S / h$")
ax.set_xlabel("bias added to every output")
ax.set_ylabel("absolute error")
ax.set_title("round-off of the numerical gradient grows with S")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
assert all(m <= bd for m, bd in zip(measured, bound))
assert measured[-1] > 1e3 * measured[0]

# %% [markdown]
# The error grows in proportion to $S$, and stays well below the bound. The price is
# that the check can only be as sharp as the numerical gradient: with a bias of $10^4$ a gradient 1 %
# wrong is still caught, because 1 % of $dW$ is far above the round-off, but an error below the
# round-off no longer can be. Where a row says "yes, round-off", make $S$ smaller (smaller inputs, a
# smaller loss) to sharpen the check.

# %%
def scaled_dense_backward(dy, cache):
    dx, dW, db = dense_backward(dy, cache)
    return dx, 1.01 * dW, db  # 1 % off


report_wrong = ms.gradcheck(dense_forward, scaled_dense_backward, {"x": x, "W": W, "b": b + 1e4})
print(report_wrong)
assert not report_wrong.passed and not report_wrong["W"].passed

# %% [markdown]
# Two more rules of `gradcheck`, stated here for completeness: it always works on a float64 **copy**
# (of the inputs, the layer or the model), so nothing the caller owns is nudged or cast; and for a
# sparse layer it **holds the magnitude mask fixed** at its value before the check, because a nudge
# that moved a weight across the pruning threshold would change the mask, and the quotient would
# measure that jump instead of the gradient the backward pass computes.
#
# ## 3. Kernels that keep their digits
#
# **The slope of tanh.** $1 - \tanh^2 x$ is the textbook slope, and what a learner writes first. But
# once $\tanh x$ rounds to $\pm1$ — from $|x| \approx 9$ in float32 and $19$ in float64 — it is exactly
# 0, and it has lost most of its relative digits well before that. The same number written as
# $$1 - \tanh^2 x = \frac{4e}{(1+e)^2}, \qquad e = e^{-2|x|},$$
# has no cancellation at all, and `tanh_backward` computes it that way. This is also why its cache is
# the input $x$ rather than the output $\tanh x$: from the output alone, the digits are already gone.

# %%
xs = np.linspace(0, 12, 241).astype(np.float32)
slope_exact = 1 / np.cosh(xs.astype(np.float64)) ** 2
slope_textbook = 1 - np.tanh(xs) ** 2
slope_kernel = tanh_backward(np.ones_like(xs), tanh_forward(xs)[1])
rel_textbook = np.abs(slope_textbook - slope_exact) / slope_exact
rel_kernel = np.abs(slope_kernel - slope_exact) / slope_exact
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(xs, np.maximum(rel_textbook, 1e-9), label=r"$1 - \tanh^2 x$")
ax.semilogy(xs, np.maximum(rel_kernel, 1e-9), label=r"tanh_backward: $4e/(1+e)^2$")
ax.set_xlabel("x (float32)")
ax.set_ylabel("relative error of the slope")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
print(f"at x = 10: textbook {slope_textbook[200]:.2e}, kernel {slope_kernel[200]:.2e}, exact {slope_exact[200]:.2e}")
assert slope_textbook[200] == 0 and rel_kernel.max() < 1e-5

# %% [markdown]
# **Picking the true class's log-probability.** The loss is $-\frac1N\sum_n \log p_{n,y_n}$. A product
# with the one-hot targets, $\sum_c [c = y_n] \log p_{nc}$, would be the obvious way to pick
# $\log p_{n,y_n}$. But a logit far below its row's maximum has $\log p = -\infty$ (in float32, from a gap
# of about $3.4\times10^{38}$, where the subtraction of the maximum overflows), and $-\infty \cdot 0$ is NaN.
# `softmax_cross_entropy` picks with a `where` instead, which never multiplies:

# %%
extreme = np.array([[3e38, -3e38]], dtype=np.float32)
label = np.array([0])
with np.errstate(over="ignore", invalid="ignore"):
    shifted = extreme - extreme.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    by_product = -np.sum(np.eye(2, dtype=np.float32)[label] * log_p)
    loss_kernel, dlogits_kernel = softmax_cross_entropy(extreme, label)
print(f"log p = {log_p}; by a product with the one-hot: {by_product}; softmax_cross_entropy: {float(loss_kernel)}")
assert np.isnan(by_product) and float(loss_kernel) == 0.0 and np.all(np.isfinite(dlogits_kernel))

# %% [markdown]
# ## Summary
#
# * `numerical_gradient` steps each entry by $h\max(1,|\theta_i|)$ and divides by the step as stored.
# * A central difference is exact only to about $\varepsilon S/h$, with $S$ the size of what the loss is
#   summed from; `gradcheck` passes a row within 32 times that, says so ("yes, round-off"), and is then
#   only as sharp as that bound.
# * `tanh_backward` computes its slope as $4e/(1+e)^2$ from the cached input, and `softmax_cross_entropy`
#   picks the true class with `where`: each keeps digits or avoids a NaN where the textbook formula does not.
#
# ## Exercises
#
# Solutions: `lessons/solutions/B_inside_the_library.py`.
#
# 1. **The step taken, for a function of small values.** For $f = \sin$ at many points $\theta$ near 1000
#    and $h$ from $10^{-4}$ to $10^{-9}$, compare the error of the central difference divided by $2h$ and
#    divided by the step actually taken. Show that at small $h$ the first is bounded by $u|\theta|/h$ and the
#    second by $u/h$, and that the second is hundreds of times smaller. (Round-off scatters from point to
#    point: compare medians, and give each point its own step between $h$ and $2h$.)
# 2. **Where a layer's check needs the round-off rule.** For the dense layer of section 2, find the
#    smallest bias (a power of 10) at which `gradcheck` marks the `W` row "yes, round-off", and show that
#    its relative error then grows in proportion to the bias.
