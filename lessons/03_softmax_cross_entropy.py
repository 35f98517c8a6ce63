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
# # Lesson 03 — Softmax cross-entropy, and a dense MLP on MNIST
#
# **Why this lesson.** A classifier's last layer outputs one score (*logit*) per class. The
# softmax turns the scores into probabilities and the cross-entropy scores those probabilities
# against the true label. Taken separately, their derivatives are a Jacobian matrix and a
# division by a probability that can underflow to zero; taken together they collapse into one
# line. This lesson derives that fused gradient step by step, shows how to compute the loss without
# overflow, and then builds the whole backward pass of a two-layer network by hand. You write two
# functions: the loss with its gradient, and the network's backward pass. Then you train the network
# on MNIST with them — the dense baseline that the spectral networks of the later lessons are compared
# against.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.functional import accuracy, one_hot, softmax_cross_entropy
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The loss
#
# For a batch of logits $z$ (shape $(N, C)$: $N$ samples, $C$ classes) and integer labels
# $y_n \in \{0,\dots,C-1\}$:
# $$p_{nc} = \mathrm{softmax}(z_n)_c = \frac{e^{z_{nc}}}{\sum_{c'} e^{z_{nc'}}}, \qquad
# L = -\frac1N \sum_n \log p_{n,y_n}.$$
# $L$ is the average surprise of the model at the true labels: $0$ for a confident correct
# model, $\log C$ for a model that spreads its bets evenly.

# %%
N, C = 6, 4
z = rng.standard_normal((N, C))
labels = rng.integers(0, C, size=N)

p_hand = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
loss_hand = -np.mean(np.log(p_hand[np.arange(N), labels]))
loss_lib, _ = softmax_cross_entropy(z, labels)
print(f"loss by hand {loss_hand:.12f}, library {float(loss_lib):.12f}")
assert np.isclose(float(loss_lib), loss_hand, rtol=1e-13)
assert np.allclose(p_hand.sum(axis=1), 1.0)
# equal logits: every class gets 1/C and the loss is exactly log C
assert np.isclose(float(softmax_cross_entropy(np.zeros((N, C)), labels)[0]), math.log(C))

# %% [markdown]
# ## 2. The gradient, step by step
#
# **Step 1 — through the log.** Only the true class appears in $L$:
# $$\frac{\partial L}{\partial p_{nc}} = -\frac{[c = y_n]}{N\,p_{nc}} .$$
#
# **Step 2 — the softmax Jacobian.** Differentiating the quotient,
# $$\frac{\partial p_{nc}}{\partial z_{nk}} = p_{nc}\,(\delta_{ck} - p_{nk}),$$
# a $C\times C$ matrix per sample: $\mathrm{diag}(p_n) - p_n p_n^\top$.
#
# **Step 3 — chain them.** Summing over $c$, the $p_{nc}$ of step 2 cancels the $1/p_{nc}$ of step 1:
# $$\frac{\partial L}{\partial z_{nk}} = \sum_c -\frac{[c=y_n]}{N p_{nc}}\;p_{nc}(\delta_{ck} - p_{nk})
# = -\frac{1}{N}\big(\delta_{y_n k} - p_{nk}\big) = \frac{p_{nk} - [k = y_n]}{N}.$$
#
# ## 3. Computing it stably: log-sum-exp
#
# $e^{z}$ overflows float32 at $z \approx 88$ and float64 at $z \approx 709$, and the formula of
# section 1 then divides infinity by infinity:

# %%
big = 1000 * rng.standard_normal((3, 5))
big_labels = np.array([0, 1, 2])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum(axis=1, keepdims=True)
loss_big, dz_big = softmax_cross_entropy(big, big_labels)
print("naive softmax of large logits has NaN:", bool(np.isnan(naive).any()),
      "| library loss:", float(loss_big))
assert np.isnan(naive).any()
assert np.isfinite(float(loss_big)) and np.all(np.isfinite(dz_big))

# %% [markdown]
# The softmax is unchanged by a shift, $\mathrm{softmax}(z_n - m_n) = \mathrm{softmax}(z_n)$ (the factor
# $e^{-m_n}$ cancels between numerator and denominator). So subtract the row maximum
# $m_n = \max_c z_{nc}$ and take logs before exponentiating:
# $$\log p_{nc} = (z_{nc} - m_n) - \log \sum_{c'} e^{z_{nc'} - m_n}.$$
# Every exponent is now $\le 0$, and the largest term of the sum is exactly $1$, so the log never
# sees $0$ or infinity. The loss picks $-\log p_{n,y_n}$ from each row, and the gradient needs only
# $p = e^{\log p}$ and the one-hot targets (`one_hot(labels, C, dtype)` builds them).
#
# **Exercise.** Write `my_softmax_cross_entropy(logits, labels)`: the loss of section 1 through
# log-sum-exp, and $\partial L/\partial z$ from step 3. The check compares both with the library's
# `softmax_cross_entropy`, on ordinary logits and on logits in the thousands. Take the loss from the
# log-probabilities of the formula above, not from `np.log(p)`: the probability of a class far below
# the maximum underflows to 0, and its log to $-\infty$.

# %%
def my_softmax_cross_entropy(logits, labels):
    """logits (N, C), labels (N,) integers in [0, C) -> loss (a number) and dlogits = ∂loss/∂logits (N, C)."""
    N, C = logits.shape
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)                  # every exponent <= 0
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-sum-exp
    loss = -np.mean(log_p[np.arange(N), labels])
    dlogits = (np.exp(log_p) - one_hot(labels, C, logits.dtype)) / N
    ### END SOLUTION
    return loss, dlogits


# %%
from minispectral.exercises.lesson_03 import check_softmax_cross_entropy

check_softmax_cross_entropy(my_softmax_cross_entropy)

# %% [markdown]
# The three steps of section 2, computed one by one with the Jacobian, give your `dlogits`, and so
# does the numerical gradient. To hand the loss to `ms.gradcheck` as a forward/backward pair, the
# forward returns the scalar loss and caches `dlogits`, and the backward scales the cached gradient by
# the upstream $dL$.

# %%
loss_mine, dz_mine = my_softmax_cross_entropy(z, labels)
targets = one_hot(labels, C, z.dtype)                           # [c = y_n]
dp = -targets / (N * p_hand)                                     # step 1
jacobian = np.einsum("nc,ck->nck", p_hand, np.eye(C)) - np.einsum("nc,nk->nck", p_hand, p_hand)  # step 2
dz_steps = np.einsum("nc,nck->nk", dp, jacobian)                 # step 3
assert np.allclose(jacobian[0], np.diag(p_hand[0]) - np.outer(p_hand[0], p_hand[0]))
assert np.allclose(dz_steps, dz_mine, rtol=1e-12, atol=1e-15)
print("dL/dz:\n", np.round(dz_mine, 4))


def ce_forward(logits):
    loss, dlogits = my_softmax_cross_entropy(logits, labels)
    return np.asarray(loss), dlogits  # gradcheck wants an array, even for a scalar


def ce_backward(dloss, dlogits):
    return dloss * dlogits


report = ms.gradcheck(ce_forward, ce_backward, {"logits": z})
print(report)
assert report.passed

# %% [markdown]
# Three properties worth remembering, checked below. Each row of the gradient sums to zero
# ($\sum_k p_{nk} = 1$ and exactly one label): adding the same constant to all logits of a sample
# does not change the loss. The gradient is bounded, $|\partial L/\partial z_{nk}| \le 1/N$,
# however wrong the model is — unlike the separate steps, where $1/p_{nc}$ can explode. And, being
# computed from the shifted logits, the loss is the same after any shift.

# %%
assert np.allclose(dz_mine.sum(axis=1), 0.0, atol=1e-15)
assert np.all(np.abs(dz_mine) <= 1 / N)
assert np.isclose(my_softmax_cross_entropy(z + 37.5, labels)[0], loss_mine, rtol=1e-12)

# %% [markdown]
# ## 4. A two-layer network, forward and backward by hand
#
# The classifier of this lesson is a multilayer perceptron (MLP) with one hidden layer of $H$ ReLU
# units: for inputs $x$ of shape $(N, D)$,
# $$z_1 = x W_1^\top + b_1, \qquad a_1 = \mathrm{relu}(z_1), \qquad z = a_1 W_2^\top + b_2, \qquad
# L = \mathrm{CE}(z, y),$$
# with $W_1$ of shape $(H, D)$, $b_1$ $(H,)$, $W_2$ $(C, H)$, $b_2$ $(C,)$; $z_1$ and $a_1$ are $(N, H)$
# and the logits $z$ are $(N, C)$. The output layer stays linear: the loss applies the softmax.
# The forward pass keeps what the backward pass will need in a cache:

# %%
def mlp_forward(x, params):
    """x (N, D) and params {"W1": (H, D), "b1": (H,), "W2": (C, H), "b2": (C,)} -> logits (N, C), cache."""
    z1 = x @ params["W1"].T + params["b1"]       # (N, H)
    a1 = np.maximum(z1, 0)                       # (N, H)
    logits = a1 @ params["W2"].T + params["b2"]  # (N, C)
    cache = {"x": x, "z1": z1, "a1": a1, "W1": params["W1"], "W2": params["W2"]}
    return logits, cache


# %% [markdown]
# The backward pass runs the same chain from the end. It starts from $dz = \partial L/\partial z$,
# which your `my_softmax_cross_entropy` returns, and uses only the two rules of lesson 02:
#
# * **through a dense layer** $y = x W^\top + b$: $\;dW = dy^\top x$, $\;db = \sum_n dy_{n,:}$, $\;dx = dy\,W$;
# * **through an element-wise activation**: $\;dx = dy \odot \sigma'(x)$, with $\sigma'(x) = [x > 0]$ for ReLU.
#
# Applied from the top: the output layer's input is $a_1$, so $dW_2$, $db_2$ and $da_1$ come from $dz$;
# ReLU turns $da_1$ into $dz_1$; the first layer's input is $x$, so $dW_1$ and $db_1$ come from $dz_1$.
# Nobody trains the data, so $dx$ is not needed.
#
# **Exercise.** Write `my_mlp_backward(dlogits, cache)`: five lines from $dz$ to the four gradients,
# each the shape of its parameter. The check builds a small MLP with the library
# (`ms.mlp((6, 5, 4), model="dense")`), runs its own backward pass, and compares your four gradients
# with the ones it wrote into its parameters.

# %%
def my_mlp_backward(dlogits, cache):
    """dlogits (N, C) and mlp_forward's cache -> {"W1": (H, D), "b1": (H,), "W2": (C, H), "b2": (C,)}."""
    x, z1, a1, W2 = cache["x"], cache["z1"], cache["a1"], cache["W2"]
    ### BEGIN SOLUTION
    dW2 = dlogits.T @ a1           # (C, N) @ (N, H)
    db2 = dlogits.sum(axis=0)
    da1 = dlogits @ W2             # (N, C) @ (C, H)
    dz1 = da1 * (z1 > 0)           # through ReLU
    dW1 = dz1.T @ x                # (H, N) @ (N, D)
    db1 = dz1.sum(axis=0)
    ### END SOLUTION
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# %%
from minispectral.exercises.lesson_03 import check_mlp_backward

check_mlp_backward(my_mlp_backward)

# %% [markdown]
# Your backward pass, checked by central differences on a small network in float64: the loss as a
# function of each parameter in turn.

# %%
from minispectral.gradient_check import numerical_gradient, rel_error

small = {"W1": rng.standard_normal((8, 6)), "b1": rng.standard_normal(8),
         "W2": rng.standard_normal((3, 8)), "b2": rng.standard_normal(3)}
x_small, y_small = rng.standard_normal((5, 6)), np.array([0, 2, 1, 1, 0])
logits_small, cache_small = mlp_forward(x_small, small)
grads_small = my_mlp_backward(my_softmax_cross_entropy(logits_small, y_small)[1], cache_small)
for name, value in small.items():
    numeric = numerical_gradient(lambda: my_softmax_cross_entropy(mlp_forward(x_small, small)[0], y_small)[0], value)
    print(f"{name}: rel error vs central differences {rel_error(grads_small[name], numeric):.1e}")
    assert rel_error(grads_small[name], numeric) < 1e-7

# %% [markdown]
# ## 5. Training on MNIST with your backward pass
#
# MNIST comes through the library's loader, which reads the original files from the folder named by
# `MINISPECTRAL_DATA` (or downloads and checks them). Images become rows of 784 pixels in $[0, 1]$.
# With `MINISPECTRAL_FAST=1` we train on a subset.

# %%
data = load_dataset("mnist", val_split=1 / 12, seed=0)
print(data.summary())
n_train = 10_000 if FAST else len(data.y_train)
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for ax, image, label in zip(axes.ravel(), data.x_train, data.y_train):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_title(str(label), fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()
assert data.x_train.shape[1] == 784 and 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0

# %% [markdown]
# The network is $784 \to 100 \to 10$. Its initial values come from the library's `ms.mlp`, which
# builds the same network as a `Sequential` of layers (dense, ReLU, dense); we copy them into a
# dictionary of float32 arrays for our own functions. An untrained network should not be confidently
# wrong: its initial loss is close to $\log 10$.

# %%
model = ms.mlp((784, 100, 10), model="dense", activation="relu", seed=0)
print(model)
print(f"{model.num_parameters():,} trainable parameters")
assert model.num_parameters() == 784 * 100 + 100 + 100 * 10 + 10
params0 = {"W1": model.layers[0].params["W"].value.copy(), "b1": model.layers[0].params["b"].value.copy(),
           "W2": model.layers[2].params["W"].value.copy(), "b2": model.layers[2].params["b"].value.copy()}
loss0 = float(my_softmax_cross_entropy(mlp_forward(data.x_val, params0)[0], data.y_val)[0])
print(f"before training: loss {loss0:.3f} (log 10 = {math.log(10):.3f})")
assert abs(loss0 - math.log(10)) < 0.3

# %% [markdown]
# One training step is four lines: forward, loss and its gradient, backward, and the update of plain
# stochastic gradient descent (SGD), $\theta \leftarrow \theta - \eta\, d\theta$ for every parameter. Each
# update makes new arrays: nothing is changed in place.
#
# Beside it runs the library's version of the same step on a copy of the model: `model.forward`,
# `softmax_cross_entropy`, `model.backward` (which writes each parameter's gradient into its `.grad`)
# and `ms.SGD`'s `step()`. Both start from the same values and see the same batches, so their losses
# must agree step by step, to float32's precision.

# %%
params = dict(params0)
sgd_model = model.copy()
optimizer = ms.SGD(sgd_model, lr=0.1)
lr, batch_size = 0.1, 100
my_losses, lib_losses = [], []
for start in range(0, 50 * batch_size if FAST else 300 * batch_size, batch_size):
    xb, yb = x_train[start:start + batch_size], y_train[start:start + batch_size]
    # by hand
    logits, cache = mlp_forward(xb, params)
    loss, dlogits = my_softmax_cross_entropy(logits, yb)
    grads = my_mlp_backward(dlogits, cache)
    params = {name: params[name] - lr * grads[name] for name in params}
    my_losses.append(float(loss))
    # the library
    loss_ref, dlogits_ref = softmax_cross_entropy(sgd_model.forward(xb), yb)
    sgd_model.backward(dlogits_ref)
    optimizer.step()
    lib_losses.append(float(loss_ref))

my_losses, lib_losses = np.array(my_losses), np.array(lib_losses)
gap = np.max(np.abs(my_losses - lib_losses) / lib_losses)
print(f"by hand: loss {my_losses[:10].mean():.3f} -> {my_losses[-10:].mean():.3f}; "
      f"largest relative gap to the library's losses {gap:.1e}")
assert np.all(np.isfinite(my_losses)) and params["W1"].dtype == np.float32
assert np.mean(my_losses[-10:]) < 0.6 * np.mean(my_losses[:10])
assert np.allclose(my_losses[:10], lib_losses[:10], rtol=1e-5) and gap < 1e-3

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(my_losses, label="your forward and backward")
ax.plot(lib_losses, "--", label="the library's model")
ax.set_xlabel("step (batch of 100)")
ax.set_ylabel("training loss")
ax.set_title("plain SGD, lr = 0.1")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. The library's training loop
#
# `ms.train.fit` is the same loop with shuffling, mini-batches, an optimizer chosen by name and a
# per-epoch history. We train with Adam, an optimizer that scales each parameter's step by a running
# estimate of its gradient's size: lesson 04 derives it, and shows why it is the usual default for this
# baseline. First, the library's own checker on the whole model (on a narrower twin: the check nudges
# every weight one at a time, and $784\times100$ of them would be slow).

# %%
twin = ms.mlp((20, 12, 10), model="dense", seed=0)
x_check = rng.standard_normal((3, 20)).astype(np.float32)
report = ms.gradcheck(twin, x_check, np.array([3, 1, 4]))
print(report)
assert report.passed

epochs = 3 if FAST else 10
history = fit(model, x_train, y_train, epochs=epochs, batch_size=100, optimizer="adam", lr=1e-3,
              x_val=data.x_val, y_val=data.y_val, seed=0, progress=False)
for e in history.epochs:
    print(f"epoch {e['epoch']}: loss {e['loss']:.4f}, train acc {e['train_accuracy']:.4f}, "
          f"val acc {e['val_accuracy']:.4f}")

test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
test_logits = model.forward(data.x_test)
print(f"test accuracy {test_acc:.4f}")
assert np.isclose(accuracy(test_logits, data.y_test), test_acc, atol=1e-12)
assert test_acc > (0.85 if FAST else 0.97)
assert history["loss"][-1] < history["loss"][0]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
ep = history["epoch"]
ax1.plot(ep, history["loss"], "o-")
ax1.set_xlabel("epoch")
ax1.set_ylabel("training loss")
ax2.plot(ep, history["train_accuracy"], "o-", label="train")
ax2.plot(ep, history["val_accuracy"], "s--", label="validation")
ax2.axhline(test_acc, color="k", lw=0.8, ls=":", label="test (final)")
ax2.set_xlabel("epoch")
ax2.set_ylabel("accuracy")
ax2.legend(fontsize=8)
fig.suptitle(f"dense 784-100-10: {model.num_parameters():,} parameters")
fig.tight_layout()
plt.show()

# %% [markdown]
# Where does it go wrong? The misclassified test digits are often ones a person would hesitate
# over too.

# %%
predicted = np.argmax(test_logits, axis=1)
wrong = np.flatnonzero(predicted != data.y_test)
assert len(wrong) == round((1 - test_acc) * len(data.y_test))
fig, axes = plt.subplots(1, 8, figsize=(8, 1.5))
for ax, i in zip(axes, wrong):
    ax.imshow(data.x_test[i].reshape(28, 28), cmap="gray_r")
    ax.set_title(f"{data.y_test[i]}→{predicted[i]}", fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * Softmax and cross-entropy fuse into $\partial L/\partial z = (p - \mathrm{onehot}(y))/N$: bounded,
#   rows summing to zero, no division by a probability.
# * The loss is computed through log-sum-exp, so huge logits are harmless.
# * A network's backward pass is the dense rule and the activation rule, applied from the loss back to
#   the first layer; written by hand, it trains an MLP on MNIST exactly as the library's does.
# * A training step is forward → loss → backward → optimizer step; `fit` wraps it.
# * The dense $784\to100\to10$ baseline has 79,510 parameters; lesson 05 builds a layer with
#   $n_\text{in} + n_\text{out}$ trainable parameters instead of $n_\text{in} n_\text{out}$.
#
# ## Exercises
#
# Solutions: `lessons/solutions/03_softmax_cross_entropy.py`.
#
# 1. **Shift invariance and the zero row sums.** Show that $\frac{d}{dc}L(z + c\,\mathbf 1) = \sum_k \partial L/\partial z_{nk}$
#    summed over the batch, and check numerically that it is zero.
# 2. **Label smoothing.** Replace the one-hot targets by $q = (1-\varepsilon)\,\mathrm{onehot}(y) + \varepsilon/C$ and
#    $L = -\frac1N\sum_n q_n\cdot\log p_n$. Derive $\partial L/\partial z = (p - q)/N$, implement the loss, and
#    check it with `ms.gradcheck`.
# 3. **Temperature.** For $L_T(z) = L(z/T)$, show that $\partial L_T/\partial z = (p_T - \mathrm{onehot}(y))/(NT)$
#    with $p_T = \mathrm{softmax}(z/T)$. Get the left side from `softmax_cross_entropy(z / T, labels)` and
#    the chain rule, compare it with the formula (computing $p_T$ by hand), and check it numerically.
