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
# line, $\partial L/\partial z = (p - \text{onehot}(y))/N$. This lesson derives that fused
# gradient step by step, shows why the library computes the loss through log-sum-exp, and then
# uses it to train a dense multilayer perceptron on MNIST — the baseline that the spectral
# networks of the later lessons are compared against.

# %%
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.functional import accuracy, one_hot, softmax_cross_entropy
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The loss
#
# For a batch of logits $z$ (shape $(N, C)$) and integer labels $y_n \in \{0,\dots,C-1\}$:
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
loss_lib, dz_lib = softmax_cross_entropy(z, labels)
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
# The code follows the three steps, then the fused line, then the library.

# %%
targets = one_hot(labels, C, z.dtype)                           # [c = y_n]
dp = -targets / (N * p_hand)                                     # step 1
jacobian = np.einsum("nc,ck->nck", p_hand, np.eye(C)) - np.einsum("nc,nk->nck", p_hand, p_hand)  # step 2
dz_steps = np.einsum("nc,nck->nk", dp, jacobian)                 # step 3
dz_fused = (p_hand - targets) / N

assert np.allclose(jacobian[0], np.diag(p_hand[0]) - np.outer(p_hand[0], p_hand[0]))
assert np.allclose(dz_steps, dz_fused, rtol=1e-12, atol=1e-15)
assert np.allclose(dz_lib, dz_fused, rtol=1e-12, atol=1e-15)
print("dL/dz (fused):\n", np.round(dz_fused, 4))

# %% [markdown]
# Now the numerical check. The loss kernel returns `(loss, dlogits)`; to hand it to
# `ms.gradcheck` as a forward/backward pair, the forward returns the scalar loss and caches
# `dlogits`, and the backward scales the cached gradient by the upstream $dL$.

# %%
def ce_forward(logits):
    loss, dlogits = softmax_cross_entropy(logits, labels)
    return np.asarray(loss), dlogits  # a NumPy reduction gives a scalar; gradcheck wants an array


def ce_backward(dloss, dlogits):
    return dloss * dlogits


report = ms.gradcheck(ce_forward, ce_backward, {"logits": z})
print(report)
assert report.passed

# %% [markdown]
# Two properties worth remembering, both checked below. Each row of the gradient sums to zero
# ($\sum_k p_{nk} = 1$ and exactly one label): adding the same constant to all logits of a sample
# does not change the loss. And the gradient is bounded, $|\partial L/\partial z_{nk}| \le 1/N$,
# however wrong the model is — unlike the separate steps, where $1/p_{nc}$ can explode.

# %%
assert np.allclose(dz_lib.sum(axis=1), 0.0, atol=1e-15)
assert np.all(np.abs(dz_lib) <= 1 / N)

# %% [markdown]
# ## 3. Computing it stably: log-sum-exp
#
# $e^{z}$ overflows float32 at $z \approx 88$ and float64 at $z \approx 709$. Since the softmax is
# unchanged by a shift, $\mathrm{softmax}(z_n - m_n) = \mathrm{softmax}(z_n)$, the library subtracts the
# row maximum $m_n = \max_c z_{nc}$ and takes logs before exponentiating:
# $$\log p_{nc} = (z_{nc} - m_n) - \log \sum_{c'} e^{z_{nc'} - m_n}.$$
# Every exponent is now $\le 0$, and the largest term of the sum is exactly $1$, so the log never
# sees $0$.

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

shift = 37.5
assert np.isclose(float(softmax_cross_entropy(z + shift, labels)[0]), float(loss_lib), rtol=1e-12)

# %% [markdown]
# ## 4. Training a dense MLP on MNIST
#
# MNIST comes through the library's loader, which reads the original IDX files from the
# directory named by `MINISPECTRAL_DATA` (or downloads and checks them). Images become rows of
# 784 pixels in $[0, 1]$. With `MINISPECTRAL_FAST=1` we train on a subset.

# %%
data = load_mnist(val_split=1 / 12, seed=0)
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
# The model is $784 \to 100 \to 10$ with a ReLU: `ms.mlp` builds the dense layers and the
# activation into a `Sequential`. The output layer stays linear; the loss applies the softmax.
#
# Before training, two sanity checks. The whole model's gradient passes `gradcheck` (on a
# narrower twin: the check nudges every weight one at a time, and $784\times100$ of them would be
# slow). And the initial loss is close to $\log 10$: an untrained model should not be confidently
# wrong.

# %%
twin = ms.mlp((20, 12, 10), model="dense", seed=0)
x_check = rng.standard_normal((3, 20)).astype(np.float32)
report = ms.gradcheck(twin, x_check, np.array([3, 1, 4]))
print(report)
assert report.passed

model = ms.mlp((784, 100, 10), model="dense", activation="relu", seed=0)
print(model)
print(f"{model.num_parameters():,} trainable parameters")
assert model.num_parameters() == 784 * 100 + 100 + 100 * 10 + 10
loss0, acc0 = evaluate(model, data.x_val, data.y_val)
print(f"before training: loss {loss0:.3f} (log 10 = {math.log(10):.3f}), accuracy {acc0:.3f}")
assert abs(loss0 - math.log(10)) < 0.3

# %% [markdown]
# One training step is four lines: forward, loss and its gradient, backward (which fills each
# parameter's `.grad`), optimizer step. Here are a few hundred steps of plain SGD on a copy of the model,
# written out by hand:

# %%
sgd_model = model.copy()
optimizer = ms.SGD(sgd_model, lr=0.1)
batch_size, hand_losses = 100, []
for start in range(0, 50 * batch_size if FAST else 300 * batch_size, batch_size):
    xb, yb = x_train[start:start + batch_size], y_train[start:start + batch_size]
    logits = sgd_model.forward(xb)
    loss, dlogits = softmax_cross_entropy(logits, yb)
    sgd_model.backward(dlogits)
    optimizer.step()
    hand_losses.append(float(loss))
print(f"hand-written loop: loss {np.mean(hand_losses[:10]):.3f} -> {np.mean(hand_losses[-10:]):.3f}")
assert np.mean(hand_losses[-10:]) < 0.6 * np.mean(hand_losses[:10])

# %% [markdown]
# `ms.train.fit` is the same loop with shuffling, mini-batches, an optimizer chosen by name and a
# per-epoch history. We train with Adam, the usual default for this baseline.

# %%
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
