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
# # Lesson 02 — A dense layer
#
# **Why this lesson.** The dense (fully connected) layer is the building block of everything
# that follows. The spectral layer of lessons 05–06 *is* a dense layer whose weight matrix is
# computed from eigenvalues and eigenvectors, and its backward pass starts with the dense
# layer's. Here we write the layer's forward pass, derive its three gradients $dx$, $dW$ and
# $db$ index by index, write the backward pass with a *cache*, and check everything numerically.
# Then come the two activations that sit between dense layers, ReLU and tanh, and a first use of the
# gradients: fitting a linear model by gradient descent. You write four functions: the dense layer's
# backward pass, the backward passes of ReLU and tanh, and the mean squared error with its gradient.
#
# Conventions used throughout `minispectral` (and CS231n): a batch of $N$ inputs is a matrix
# $x$ of shape $(N, D_\text{in})$, one sample per row; $W$ has shape $(D_\text{out}, D_\text{in})$,
# so row $k$ holds the incoming weights of output unit $k$.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.functional import dense_backward, dense_forward
from minispectral.gradient_check import numerical_gradient, rel_error

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Forward
#
# $$y = x W^\top + b, \qquad y_{nk} = \sum_{j=1}^{D_\text{in}} x_{nj} W_{kj} + b_k,$$
# with $y$ of shape $(N, D_\text{out})$ and $b$ broadcast over the batch. The forward pass also
# returns a **cache**: whatever the backward pass will need. Here that is $x$ and $W$ (the
# library's cache also records whether there was a bias: without one, `dense_backward` returns
# `None` for `db`).

# %%
def my_dense_forward(x, W, b):
    y = x @ W.T + b
    cache = (x, W)
    return y, cache


N, D_in, D_out = 4, 5, 3
x = rng.standard_normal((N, D_in))
W = rng.standard_normal((D_out, D_in))
b = rng.standard_normal(D_out)

y, cache = my_dense_forward(x, W, b)
y_lib, cache_lib = dense_forward(x, W, b)
# the index formula, summed explicitly
y_loops = np.array([[sum(x[n, j] * W[k, j] for j in range(D_in)) + b[k] for k in range(D_out)]
                    for n in range(N)])
assert y.shape == (N, D_out)
assert np.allclose(y, y_loops, rtol=1e-13, atol=1e-13) and np.allclose(y_lib, y, rtol=1e-13, atol=0)

# %% [markdown]
# ## 2. Backward: deriving $dx$, $dW$ and $db$
#
# The layer sits inside a network that ends in a scalar loss $L$. Backpropagation hands the
# layer the *upstream gradient* $dy = \partial L/\partial y$ (shape $(N, D_\text{out})$), and
# the layer must return the gradients with respect to its inputs and parameters. By the chain
# rule, for any variable $v$ the layer uses,
# $$\frac{\partial L}{\partial v} = \sum_{n,k} \frac{\partial L}{\partial y_{nk}}\,\frac{\partial y_{nk}}{\partial v}
# = \sum_{n,k} dy_{nk}\,\frac{\partial y_{nk}}{\partial v}.$$
# The local derivatives come straight from $y_{nk} = \sum_j x_{nj}W_{kj} + b_k$:
#
# **Input.** $\partial y_{nk}/\partial x_{mj} = \delta_{nm} W_{kj}$, so
# $$dx_{mj} = \sum_{n,k} dy_{nk}\,\delta_{nm} W_{kj} = \sum_k dy_{mk} W_{kj}
# \quad\Longrightarrow\quad dx = dy\,W \qquad (N\times D_\text{out})(D_\text{out}\times D_\text{in}).$$
#
# **Weights.** $\partial y_{nk}/\partial W_{lj} = \delta_{kl}\, x_{nj}$, so
# $$dW_{lj} = \sum_{n,k} dy_{nk}\,\delta_{kl}\, x_{nj} = \sum_n dy_{nl}\, x_{nj}
# \quad\Longrightarrow\quad dW = dy^\top x \qquad (D_\text{out}\times N)(N\times D_\text{in}).$$
#
# **Bias.** $\partial y_{nk}/\partial b_l = \delta_{kl}$, so
# $$db_l = \sum_n dy_{nl} \quad\Longrightarrow\quad db = \textstyle\sum_n dy_{n,:}.$$
#
# A useful sanity rule: each gradient has the shape of its variable, and in each case there is
# only one way to multiply $dy$ with the cached $x$ or $W$ that produces that shape. The
# sum over $n$ in $dW$ and $db$ says that a parameter shared by all samples collects the
# gradient of every sample.

# %%
def my_dense_backward(dy, cache):
    """dy (N, D_out) and cache = (x, W) -> dx (N, D_in), dW (D_out, D_in), db (D_out,)."""
    x, W = cache
    ### BEGIN SOLUTION
    dx = dy @ W            # (N, D_out) @ (D_out, D_in)
    dW = dy.T @ x          # (D_out, N) @ (N, D_in)
    db = dy.sum(axis=0)    # shared by every sample: sum over the batch
    ### END SOLUTION
    return dx, dW, db


# %% [markdown]
# **Exercise.** Fill in `my_dense_backward` above from the three formulas, then run the check below.
# It compares each of your gradients with the library's, entry by entry and as a whole.

# %%
from minispectral.exercises.lesson_02 import check_dense_backward

check_dense_backward(my_dense_backward)

# %%
dy = rng.standard_normal((N, D_out))
dx, dW, db = my_dense_backward(dy, cache)
dx_lib, dW_lib, db_lib = dense_backward(dy, cache_lib)
assert (dx.shape, dW.shape, db.shape) == (x.shape, W.shape, b.shape)
for mine, lib in ((dx, dx_lib), (dW, dW_lib), (db, db_lib)):
    assert np.allclose(mine, lib, rtol=1e-13, atol=1e-13)

# the index formulas, summed explicitly
dW_loops = np.array([[sum(dy[n, l] * x[n, j] for n in range(N)) for j in range(D_in)] for l in range(D_out)])
dx_loops = np.array([[sum(dy[m, k] * W[k, j] for k in range(D_out)) for j in range(D_in)] for m in range(N)])
assert np.allclose(dW, dW_loops, rtol=1e-12) and np.allclose(dx, dx_loops, rtol=1e-12)

# %% [markdown]
# ## 3. Checking numerically
#
# To turn $dy$ into a scalar loss we can nudge, use $L = \sum_{n,k} y_{nk}\, G_{nk}$ for a fixed
# random $G$: then $\partial L/\partial y = G$ exactly, so with $dy = G$ the backward pass must
# return $\partial L/\partial x$, $\partial L/\partial W$, $\partial L/\partial b$. First by hand, for
# $W$, then with `ms.gradcheck`, which does this for every input at once.

# %%
G = rng.standard_normal((N, D_out))
dW_num = numerical_gradient(lambda: np.sum(my_dense_forward(x, W, b)[0] * G), W)
print(f"dW: rel error vs central differences {rel_error(my_dense_backward(G, cache)[1], dW_num):.1e}")
assert rel_error(my_dense_backward(G, cache)[1], dW_num) < 1e-8

report_mine = ms.gradcheck(my_dense_forward, my_dense_backward, {"x": x, "W": W, "b": b})
report_lib = ms.gradcheck(dense_forward, dense_backward, {"x": x, "W": W, "b": b})
print("my kernels:\n", report_mine, "\nlibrary kernels:\n", report_lib, sep="")
assert report_mine.passed and report_lib.passed

# %% [markdown]
# ## 4. Activations: ReLU and tanh
#
# A stack of dense layers alone is still one dense layer: $(xW_1^\top + b_1)W_2^\top + b_2 = x(W_2W_1)^\top + b'$.
# What makes a network more is an **activation** between the layers: a function $\sigma$ applied to
# every entry, $y = \sigma(x)$, $y_{nk} = \sigma(x_{nk})$. Its backward pass is the shortest there is.
# Entry $y_{nk}$ depends on $x_{nk}$ alone, so the chain rule's sum has one term:
# $$dx_{nk} = \sum_{m,l} dy_{ml}\,\frac{\partial y_{ml}}{\partial x_{nk}} = dy_{nk}\,\sigma'(x_{nk})
# \quad\Longrightarrow\quad dx = dy \odot \sigma'(x),$$
# with $\odot$ the entry-by-entry product. The cache is the input $x$. Two activations serve
# throughout the lessons:
#
# * **ReLU**, $\sigma(x) = \max(x, 0)$: its slope is $1$ where $x > 0$ and $0$ where $x < 0$. At the kink
#   $x = 0$ it has none; the library takes $0$ there.
# * **tanh**, $\sigma(x) = \tanh x = \dfrac{e^x - e^{-x}}{e^x + e^{-x}}$: the quotient rule gives
#   $\sigma'(x) = 1 - \tanh^2 x$.
#
# **Exercise.** Write `my_relu_backward` and `my_tanh_backward`. Each takes the upstream gradient and
# the cache, `x`, as the library's `relu_backward` and `tanh_backward` do. Each check compares your
# `dx` with the library's kernel and with central differences of $L = \sum y \odot dy$; the ReLU check
# also feeds inputs exactly at the kink, where your slope must be the library's $0$.

# %%
def my_relu_backward(dout, cache):
    """dout (N, D) and cache = x (N, D) -> dx (N, D) of y = max(x, 0)."""
    x = cache
    ### BEGIN SOLUTION
    dx = dout * (x > 0)    # slope 1 where x > 0, 0 elsewhere (the kink gets 0)
    ### END SOLUTION
    return dx


# %%
from minispectral.exercises.lesson_02 import check_relu_backward

check_relu_backward(my_relu_backward)


# %%
def my_tanh_backward(dout, cache):
    """dout (N, D) and cache = x (N, D) -> dx (N, D) of y = tanh(x)."""
    x = cache
    ### BEGIN SOLUTION
    t = np.tanh(x)
    dx = dout * (1 - t**2)
    ### END SOLUTION
    return dx


# %%
from minispectral.exercises.lesson_02 import check_tanh_backward

check_tanh_backward(my_tanh_backward)

# %% [markdown]
# With the library's forward kernels, your backward passes make pairs that `ms.gradcheck` accepts
# (inputs kept clear of ReLU's kink, as lesson 01 advises). The slopes, drawn from your functions with
# $dy = 1$, show what each passes back: ReLU passes the gradient through or stops it; tanh damps it,
# and almost stops it once $|x| \gtrsim 3$, where the curve is flat.

# %%
from minispectral.functional import relu_forward, tanh_forward

x_act = rng.standard_normal((N, D_in))
x_act = np.where(np.abs(x_act) < 1e-3, 0.5, x_act)
for name, forward, backward in (("relu", relu_forward, my_relu_backward), ("tanh", tanh_forward, my_tanh_backward)):
    report_act = ms.gradcheck(forward, backward, {"x": x_act})
    print(f"{name} with my backward:\n{report_act}")
    assert report_act.passed

grid = np.linspace(-4, 4, 401)
fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
for ax, name, forward, backward in zip(axes, ("ReLU", "tanh"), (relu_forward, tanh_forward),
                                       (my_relu_backward, my_tanh_backward)):
    y_act, cache_act = forward(grid)
    ax.plot(grid, y_act, label=r"$\sigma(x)$")
    ax.plot(grid, backward(np.ones_like(grid), cache_act), "--", label=r"$\sigma'(x)$ (your backward)")
    ax.set_title(name)
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
assert np.all(my_tanh_backward(np.ones(2), np.array([-3.5, 3.5])) < 0.004)

# %% [markdown]
# ## 5. The cache, and what it costs
#
# The backward pass never recomputes the forward pass: it reads $x$ and $W$ from the cache.
# The price is memory — every layer keeps its input batch alive until its backward pass has run,
# which for a deep network is most of the memory used by training. What a kernel caches is a
# choice between memory and precision. Tanh's slope $1 - t^2$ could be rebuilt from the output
# $t = \tanh x$, which the next layer keeps anyway; but $1 - t^2$ is exactly 0 once $t$ rounds to
# $\pm 1$ (from $|x| \approx 9$ in float32). So the library's `tanh_backward` keeps the input $x$
# and computes the slope in a form without that cancellation (appendix B shows it): one more
# batch-sized array held, every digit kept. Your `my_tanh_backward` shares the textbook formula's
# weakness far out on the curve, which is why its check keeps $x$ within $\pm 4$.
#
# One gradient is often not needed: the first layer's $dx$ is the gradient with respect to the
# *data*, which nobody trains. The library's `dense_backward(..., need_dx=False)` skips that
# matrix product, and a `Sequential` asks it of its first layer (unless `model.input_grad` is True).

# %%
dx_skipped, dW_again, db_again = dense_backward(dy, cache_lib, need_dx=False)
assert dx_skipped is None
assert np.allclose(dW_again, dW_lib) and np.allclose(db_again, db_lib)
print("cached arrays:", [type(c).__name__ + (str(c.shape) if hasattr(c, "shape") else "") for c in cache_lib])

# %% [markdown]
# The stateful `ms.Dense` layer wraps these kernels: `forward` stores the cache on the layer,
# `backward(dy)` writes $dW$ and $db$ into each parameter's `.grad` and returns $dx$.

# %%
layer = ms.Dense(D_in, D_out, seed=0, dtype="float64")
y_layer = layer.forward(x)
dx_layer = layer.backward(dy)
_, cache_check = dense_forward(x, layer.params["W"].value, layer.params["b"].value)
dx_k, dW_k, db_k = dense_backward(dy, cache_check)
assert np.allclose(dx_layer, dx_k) and np.allclose(layer.params["W"].grad, dW_k)
assert np.allclose(layer.params["b"].grad, db_k)
report_layer = ms.gradcheck(layer, x)
print(report_layer)
assert report_layer.passed

# %% [markdown]
# ## 6. Using the gradients: linear regression by gradient descent
#
# To fit targets $t$ (shape $(N, D_\text{out})$) take the mean squared error
# $$L = \frac{1}{2N}\sum_{n,k}(y_{nk} - t_{nk})^2 .$$
# Each $y_{nk}$ appears in one term, so $\partial L/\partial y_{nk} = (y_{nk} - t_{nk})/N$: the upstream
# gradient is $dy = (y - t)/N$ (the $\tfrac12$ is there to cancel the 2 of the square). Feeding it to
# your `my_dense_backward` and stepping $W \leftarrow W - \eta\, dW$, $b \leftarrow b - \eta\, db$ fits a
# linear model. Gradient descent on this convex loss must reach the least-squares solution, which NumPy
# computes directly.
#
# **Exercise.** Write `my_mse(y, t)`, returning the loss and $dy$. The check compares both with the
# formulas, and $dy$ also with central differences.

# %%
def my_mse(y, t):
    """y and t (N, D_out) -> loss (a number) and dy = ∂loss/∂y (N, D_out)."""
    ### BEGIN SOLUTION
    N = len(y)
    loss = np.sum((y - t) ** 2) / (2 * N)
    dy = (y - t) / N
    ### END SOLUTION
    return loss, dy


# %%
from minispectral.exercises.lesson_02 import check_mse

check_mse(my_mse)

# %% [markdown]
# The training loop: forward, loss, backward (your `my_dense_backward`; the loop never needs $dx$),
# step.

# %%
n_samples, n_features, n_targets = (200, 8, 3) if FAST else (1000, 8, 3)
X = rng.standard_normal((n_samples, n_features))
W_true = rng.standard_normal((n_targets, n_features))
b_true = rng.standard_normal(n_targets)
T = X @ W_true.T + b_true + 0.1 * rng.standard_normal((n_samples, n_targets))

W_fit, b_fit = np.zeros((n_targets, n_features)), np.zeros(n_targets)
lr, losses = 0.2, []
for step in range(150 if FAST else 300):
    y_fit, fit_cache = my_dense_forward(X, W_fit, b_fit)
    loss, dy_fit = my_mse(y_fit, T)
    losses.append(loss)
    _, dW_fit, db_fit = my_dense_backward(dy_fit, fit_cache)
    W_fit -= lr * dW_fit
    b_fit -= lr * db_fit

# least squares with the bias trick: append a column of ones to X
coef, *_ = np.linalg.lstsq(np.hstack([X, np.ones((n_samples, 1))]), T, rcond=None)
W_ls, b_ls = coef[:-1].T, coef[-1]
print(f"final loss {losses[-1]:.5f}; max |W_gd − W_lstsq| = {np.max(np.abs(W_fit - W_ls)):.1e}")
assert np.allclose(W_fit, W_ls, atol=1e-5) and np.allclose(b_fit, b_ls, atol=1e-5)
assert np.allclose(W_fit, W_true, atol=0.05)

loss_ls = my_mse(dense_forward(X, W_ls, b_ls)[0], T)[0]
assert min(losses) >= loss_ls - 1e-12  # nothing beats the least-squares optimum

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
ax1.semilogy(np.maximum(np.array(losses) - loss_ls, 1e-16))
ax1.set_xlabel("step")
ax1.set_ylabel("loss − least-squares loss")
ax1.set_title("gradient descent")
ax2.plot(W_true.ravel(), W_fit.ravel(), "o", ms=4)
lims = [W_true.min() - 0.2, W_true.max() + 0.2]
ax2.plot(lims, lims, "k:", lw=1)
ax2.set_xlabel("true $W_{kj}$")
ax2.set_ylabel("learned $W_{kj}$")
ax2.set_title("recovered weights")
fig.tight_layout()
plt.show()

# %% [markdown]
# The loss falls geometrically — the straight line on the log scale is the signature of gradient
# descent on a quadratic — and the learned weights sit on the diagonal.
#
# ## Summary
#
# * Forward: $y = xW^\top + b$; the cache keeps $x$ and $W$.
# * Backward: $dx = dy\,W$, $dW = dy^\top x$, $db = \sum_n dy_n$ — each derived from one line of index calculus.
# * An element-wise activation's backward is $dx = dy \odot \sigma'(x)$: $[x > 0]$ for ReLU, $1 - \tanh^2 x$ for tanh.
# * The mean squared error's gradient, $dy = (y - t)/N$, starts the backward pass of a regression.
# * The library's `dense_forward`/`dense_backward` give the same numbers, and `ms.gradcheck` confirms them.
#
# ## Exercises
#
# Solutions: `lessons/solutions/02_dense_layer.py`.
#
# 1. **The bias trick.** Append a column of ones to $x$ and $b$ as an extra column of $W$. Show that
#    `dense_forward` without a bias then gives the same $y$, and that the last column of the new
#    $dW$ equals $db$.
# 2. **A sum of outer products.** Show that $dW = \sum_n dy_n^{\top} x_n$ (one outer product per
#    sample) by computing it with a loop, and that stacking the batch twice doubles $dW$ and $db$
#    but leaves $dx$'s rows unchanged.
# 3. **Weight decay.** Add $\frac{\mu}{2}\lVert W\rVert^2$ to the mean squared error of section 6. Derive the new
#    $dW$ and check it with `numerical_gradient`.
