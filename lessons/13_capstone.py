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
# # Lesson 13 — Capstone: a two-set spectral network from the formulas alone
#
# **Why this lesson.** Twelve lessons have taken the spectral network apart: the dense layer and its backward
# pass (02), the softmax cross-entropy (03), Adamax (04), the weights $W_{ij} = \phi_{ij}(\lambda^\text{in}_j - \lambda^\text{out}_i)$ (05) and
# their eigenvalue gradients (06), the two-set model (07–08). Here you put it back together with nothing but NumPy:
# a 784→100→10 two-set spectral network — the model of Chicchi et al. (*Phys. Rev. E*, 2021) — with its forward pass,
# its loss, its backward pass, a hand-written Adamax and the training loop, trained on MNIST.
#
# No minispectral layer, kernel or optimiser runs inside your network. The library appears only to load MNIST, to
# provide the initial values, to check each function you write, and at the end as a yardstick: starting from the same initial values, in float32,
# on the same batches, your network must take the same steps as `ms.mlp((784, 100, 10), "spectral")` — the same
# losses to float32 precision — and reach the same test accuracy.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.experiment import RunConfig
from minispectral.functional import softmax_cross_entropy
from minispectral.gradient_check import numerical_gradient, rel_error
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"

# %% [markdown]
# ## 1. The network
#
# Two spectral layers with a ReLU between them, and a softmax cross-entropy on the 10 logits. For a batch $x$ of $N$
# images ($N\times784$):
# $$W_1 = \phi_1 \odot (\mathbf 1\,\lambda^{\text{in}\top}_1 - \lambda^\text{out}_1\mathbf 1^\top), \qquad z_1 = x W_1^\top + b_1, \qquad h = \max(z_1, 0),$$
# $$W_2 = \phi_2 \odot (\mathbf 1\,\lambda^{\text{in}\top}_2 - \lambda^\text{out}_2\mathbf 1^\top), \qquad \text{logits} = h W_2^\top + b_2,
# \qquad L = -\frac1N\sum_n \log\mathrm{softmax}(\text{logits}_n)_{y_n}.$$
# Entry by entry, $(W_k)_{ij} = (\phi_k)_{ij}\,\big((\lambda^\text{in}_k)_j - (\lambda^\text{out}_k)_i\big)$. The eigenvector blocks $\phi_1$ (100×784)
# and $\phi_2$ (10×100) are frozen; the network trains the eigenvalues $\lambda^\text{in}_1$ (784), $\lambda^\text{out}_1$ (100), $\lambda^\text{in}_2$ (100),
# $\lambda^\text{out}_2$ (10) and the biases $b_1$ (100), $b_2$ (10): 1,104 numbers, against 79,510 for a dense 784→100→10 network.
#
# The network is a dict of NumPy arrays. Its initial values are those of the library's model for the recipe of
# `minispectral train --model spectral --dataset mnist --hidden 100` (seed 0, and the library's default φ for two sets,
# Glorot-uniform: the initialisation study of `results/init` chose it; lesson 04 §7 measures both),
# copied out of it — the library's model then serves as the yardstick. Layer 1 of ours is the library's `layers[0]`,
# layer 2 its `layers[2]` (`layers[1]` is the ReLU).

# %%
recipe = RunConfig(model="spectral", dataset="mnist", hidden=(100,)).resolved()
print(recipe)
data = load_dataset("mnist", val_split=recipe.val_split, seed=recipe.seed, dtype=recipe.dtype)
x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
print(f"x_train {x_train.shape} {x_train.dtype}, x_test {x_test.shape}")

library_model = ms.mlp((784, *recipe.hidden, 10), recipe.model, activation=recipe.activation, seed=recipe.seed,
                       dtype=recipe.dtype)
names = {"0.phi": "phi1", "0.lam_in": "lam_in1", "0.lam_out": "lam_out1", "0.b": "b1",
         "2.phi": "phi2", "2.lam_in": "lam_in2", "2.lam_out": "lam_out2", "2.b": "b2"}
params0 = {names[name]: p.value.copy() for name, p in library_model.named_parameters()}
TRAINED = ("lam_in1", "lam_out1", "b1", "lam_in2", "lam_out2", "b2")
for name, value in params0.items():
    print(f"{name:<9}{str(value.shape):<12}{value.dtype}  {'trained' if name in TRAINED else 'frozen'}")
assert sum(params0[name].size for name in TRAINED) == library_model.num_parameters() == 1104

# %% [markdown]
# ## 2. Forward
#
# Write the forward pass. Besides the logits it returns a cache, a dict of what the backward pass will need:
# `x`, `W1`, `z1`, `h` and `W2`. Build each $W$ by broadcasting: `lam_in[None, :] - lam_out[:, None]` is the
# $(n_\text{out}, n_\text{in})$ matrix of $\lambda^\text{in}_j - \lambda^\text{out}_i$.

# %%
def net_forward(params, x):
    """params (dict, as params0), x (N, 784) -> logits (N, 10), cache {x, W1 (100, 784), z1 (N, 100), h (N, 100), W2 (10, 100)}."""
    ### BEGIN SOLUTION
    W1 = params["phi1"] * (params["lam_in1"][None, :] - params["lam_out1"][:, None])
    z1 = x @ W1.T + params["b1"]
    h = np.maximum(z1, 0)
    W2 = params["phi2"] * (params["lam_in2"][None, :] - params["lam_out2"][:, None])
    logits = h @ W2.T + params["b2"]
    cache = {"x": x, "W1": W1, "z1": z1, "h": h, "W2": W2}
    ### END SOLUTION
    return logits, cache


# %% [markdown]
# **Exercise.** Write `net_forward`, then run its check: it builds a small library model (6→5→3, float64, initial
# values of order 1), hands you its parameters, and compares your logits and each entry of your cache.

# %%
from minispectral.exercises.lesson_13 import check_forward

check_forward(net_forward)

# %% [markdown]
# ## 3. The loss
#
# The mean softmax cross-entropy and its gradient with respect to the logits (lesson 03): with
# $\log p_{nc} = (z_{nc} - m_n) - \log\sum_{c'} e^{z_{nc'} - m_n}$ and $m_n = \max_c z_{nc}$ (so that no exponential overflows),
# $$L = -\frac1N\sum_n \log p_{n,y_n}, \qquad \frac{\partial L}{\partial z_{nc}} = \frac{p_{nc} - [c = y_n]}{N}.$$

# %%
def cross_entropy(logits, y):
    """logits (N, C), integer labels y (N,) -> (loss, a number; dlogits (N, C))."""
    ### BEGIN SOLUTION
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].sum() / n
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    ### END SOLUTION
    return loss, dlogits


# %% [markdown]
# **Exercise.** Write `cross_entropy` and run its check (against `minispectral.functional.softmax_cross_entropy`).

# %%
from minispectral.exercises.lesson_13 import check_cross_entropy

check_cross_entropy(cross_entropy)

# %% [markdown]
# ## 4. Backward
#
# Walk the forward pass backwards, one named intermediate at a time, starting from $d\text{logits} = \partial L/\partial\,\text{logits}$:
#
# * second layer, a dense layer (lesson 02) in $h$: $\; dW_2 = d\text{logits}^\top h, \quad db_2 = \sum_n d\text{logits}_n, \quad dh = d\text{logits}\,W_2$;
# * its eigenvalues (lesson 06): $\; d\lambda^\text{in}_2 = \sum_i (dW_2 \odot \phi_2)_{ij}$ (column sums),
#   $\; d\lambda^\text{out}_2 = -\sum_j (dW_2\odot\phi_2)_{ij}$ (minus row sums);
# * the ReLU: $\; dz_1 = dh \odot [z_1 > 0]$;
# * first layer, the same two steps: $\; dW_1 = dz_1^\top x,\quad db_1 = \sum_n dz_{1,n}$, and $d\lambda^\text{in}_1$, $d\lambda^\text{out}_1$ from $dW_1\odot\phi_1$.
#
# $\phi_1$ and $\phi_2$ are frozen, so nobody needs $d\phi$; and nobody needs $dx$. Return the six gradients the
# optimiser uses, in a dict named like the parameters.

# %%
def net_backward(dlogits, params, cache):
    """dlogits (N, 10), params, the cache of net_forward -> dict of the gradients of lam_in1 (784,), lam_out1 (100,),
    b1 (100,), lam_in2 (100,), lam_out2 (10,), b2 (10,)."""
    ### BEGIN SOLUTION
    dW2 = dlogits.T @ cache["h"]                 # (10, N) @ (N, 100)
    dW2_phi = dW2 * params["phi2"]
    dh = dlogits @ cache["W2"]                   # (N, 10) @ (10, 100)
    dz1 = dh * (cache["z1"] > 0)
    dW1 = dz1.T @ cache["x"]                     # (100, N) @ (N, 784)
    dW1_phi = dW1 * params["phi1"]
    grads = {"lam_in1": dW1_phi.sum(axis=0), "lam_out1": -dW1_phi.sum(axis=1), "b1": dz1.sum(axis=0),
             "lam_in2": dW2_phi.sum(axis=0), "lam_out2": -dW2_phi.sum(axis=1), "b2": dlogits.sum(axis=0)}
    ### END SOLUTION
    return grads


# %% [markdown]
# **Exercise.** Write `net_backward` and run its check, against the library model's backward pass.

# %%
from minispectral.exercises.lesson_13 import check_backward

check_backward(net_backward)

# %% [markdown]
# The check compared your gradients with the library's. Now the independent test of lesson 01: float64 central
# differences of the whole loss, through your `net_forward` and `cross_entropy`, on a small network of the same
# form (8→6→4) whose parameters are all of order 1.

# %%
rng = np.random.default_rng(0)
small = {"phi1": rng.uniform(-1, 1, (6, 8)), "lam_in1": rng.uniform(-1, 1, 8), "lam_out1": rng.uniform(-1, 1, 6),
         "b1": rng.uniform(-0.5, 0.5, 6), "phi2": rng.uniform(-1, 1, (4, 6)), "lam_in2": rng.uniform(-1, 1, 6),
         "lam_out2": rng.uniform(-1, 1, 4), "b2": rng.uniform(-0.5, 0.5, 4)}
x_small, y_small = rng.standard_normal((5, 8)), np.array([0, 3, 1, 2, 3])


def small_loss():
    return cross_entropy(net_forward(small, x_small)[0], y_small)[0]


logits_small, cache_small = net_forward(small, x_small)
grads_small = net_backward(cross_entropy(logits_small, y_small)[1], small, cache_small)
for name in TRAINED:
    error = rel_error(grads_small[name], numerical_gradient(small_loss, small[name]))
    print(f"d{name:<9} rel. error against central differences {error:.1e}")
    assert error < 1e-7

# %% [markdown]
# ## 5. Adamax
#
# The update of lesson 04, now for every trained parameter of the network. With the optimiser's state $m$ and $u$
# (one array each per trained parameter, zeros before the first step) and the step number $t$ (1 at the first step):
# $$m \leftarrow \beta_1 m + (1-\beta_1)\,g, \qquad u \leftarrow \max(\beta_2 u,\ |g| + \varepsilon), \qquad
# \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,\frac{m}{u}.$$
# Return new dicts of new arrays, and write into none of the arrays you are given: at the first step of §6, `params` *is*
# `params0`, which §7 trains again from the start. Leave the frozen $\phi$'s as they are (the same arrays will do, since
# nothing writes into them).
#
# To match the library to the last bit in float32, compute the step as `(m / u) * (lr / (1 - beta1**t))`: the library
# divides first and then multiplies by the corrected learning rate (a Python float), and a different order rounds
# differently. With NumPy 2, a Python float times a float32 array stays float32.

# %%
def adamax_update(params, grads, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """params (dict), grads (dict of the trained ones), state {"m": dict, "u": dict}, t >= 1 -> (new params, new state)."""
    ### BEGIN SOLUTION
    new_params, new_state = dict(params), {"m": {}, "u": {}}
    for name, g in grads.items():
        m = beta1 * state["m"][name] + (1 - beta1) * g
        u = np.maximum(beta2 * state["u"][name], np.abs(g) + eps)
        new_params[name] = params[name] - (m / u) * (lr / (1 - beta1**t))
        new_state["m"][name], new_state["u"][name] = m, u
    ### END SOLUTION
    return new_params, new_state


# %% [markdown]
# **Exercise.** Write `adamax_update` and run its check: three steps of the library's `Adamax` on the small library
# model, with $\eta = 0.1$, $\beta = (0.8, 0.9)$, $\varepsilon = 10^{-3}$; every parameter and every state array is compared.

# %%
from minispectral.exercises.lesson_13 import check_adamax_update

check_adamax_update(adamax_update)

# %% [markdown]
# ## 6. The first steps, side by side with the library
#
# Everything is in place for training. One step: take a batch, `net_forward`, `cross_entropy`, `net_backward`,
# `adamax_update`. The library's `fit` shuffles the training set at every epoch with
# `np.random.default_rng(seed).permutation(n)` and takes the batches in that order; we do the same, so both see the same
# images at the same steps. Here are the first 20 steps of both, in float32 from the same initial values: your functions,
# and the library's model with its `Adamax` optimiser, stepped by hand.

# %%
def zero_state(params):
    return {"m": {name: np.zeros_like(params[name]) for name in TRAINED},
            "u": {name: np.zeros_like(params[name]) for name in TRAINED}}


def train_step(params, state, t, xb, yb, lr):
    """One step of the capstone network: -> (new params, new state, loss, number of correct predictions)."""
    logits, cache = net_forward(params, xb)
    loss, dlogits = cross_entropy(logits, yb)
    grads = net_backward(dlogits, params, cache)
    params, state = adamax_update(params, grads, state, t, lr)
    return params, state, float(loss), int(np.sum(np.argmax(logits, axis=1) == yb))


n_compare = 20
order = np.random.default_rng(recipe.seed).permutation(len(x_train))  # fit's first epoch
mirror = library_model.copy()  # the yardstick, stepped by hand; library_model keeps its initial values
mirror_opt = ms.Adamax(mirror, lr=recipe.lr)
params, state = params0, zero_state(params0)
ours, theirs = [], []
for t in range(1, n_compare + 1):
    batch = order[(t - 1) * recipe.batch_size:t * recipe.batch_size]
    xb, yb = x_train[batch], y_train[batch]
    params, state, loss, _ = train_step(params, state, t, xb, yb, recipe.lr)
    ours.append(loss)
    loss_lib, dlogits_lib = softmax_cross_entropy(mirror.forward(xb), yb)
    mirror.backward(dlogits_lib)
    mirror_opt.step()
    theirs.append(float(loss_lib))

ours, theirs = np.array(ours), np.array(theirs)
ulp = np.spacing(np.float32(2.3))
print(f"{'step':<6}{'our loss':<14}{'library loss':<14}{'difference in float32 ulps'}")
for t in range(n_compare):
    print(f"{t + 1:<6}{ours[t]:<14.7f}{theirs[t]:<14.7f}{(ours[t] - theirs[t]) / ulp:+.0f}")
assert all(params[name].dtype == np.float32 for name in params), "everything stays float32"
assert np.allclose(ours, theirs, rtol=4 * np.finfo(np.float32).eps, atol=0), "the first losses differ"
for name, p in mirror.named_parameters():
    assert np.allclose(params[names[name]], p.value, rtol=1e-5, atol=1e-6), name

# %% [markdown]
# The two agree to within a few units in the last place of float32 (one ulp near 2.3 is $2.4\times10^{-7}$), and so do the
# parameters after 20 steps: the same network, computed by two different programs. The differences that remain are
# rounding, from sums taken in another order: the library sums the columns and rows of $dW\odot\phi$ as products with a
# vector of ones (which BLAS runs faster), and picks the log-probabilities of the labels with a mask over the whole
# batch; NumPy's `.sum` and our indexing add the same numbers in another order.
#
# ## 7. Training
#
# The training loop: epochs of shuffled batches, `train_step` at each. Then the test accuracy. In full mode this is
# the recipe (20 epochs on the 60,000 training images); in FAST mode, 2 epochs.

# %%
def accuracy(params, x, y, batch_size=1000):
    hits = 0
    for lo in range(0, len(x), batch_size):
        logits, _ = net_forward(params, x[lo:lo + batch_size])
        hits += int(np.sum(np.argmax(logits, axis=1) == y[lo:lo + batch_size]))
    return hits / len(x)


def train(params, x, y, epochs, batch_size, lr, seed):
    """Adamax from a fresh state, batches in fit's order; -> (trained params, mean training loss of each epoch)."""
    state, t, epoch_losses = zero_state(params), 0, []
    shuffle = np.random.default_rng(seed)
    n = len(x)
    for epoch in range(epochs):
        order = shuffle.permutation(n)
        loss_sum = 0.0
        for lo in range(0, n, batch_size):
            batch = order[lo:lo + batch_size]
            t += 1
            params, state, loss, _ = train_step(params, state, t, x[batch], y[batch], lr)
            loss_sum += loss * len(batch)
        epoch_losses.append(loss_sum / n)
    return params, epoch_losses


epochs = 2 if FAST else recipe.epochs
start = time.perf_counter()
trained, our_losses = train(params0, x_train, y_train, epochs, recipe.batch_size, recipe.lr, recipe.seed)
our_seconds = time.perf_counter() - start
our_accuracy = accuracy(trained, x_test, y_test)

start = time.perf_counter()
library_history = fit(library_model, x_train, y_train, epochs=epochs, batch_size=recipe.batch_size,
                      optimizer=recipe.optimizer, lr=recipe.lr, seed=recipe.seed, progress=False)
library_seconds = time.perf_counter() - start
_, library_accuracy = evaluate(library_model, x_test, y_test)

print(f"{epochs} epochs: test accuracy {our_accuracy:.4f} (NumPy, from the formulas, {our_seconds:.0f} s) against "
      f"{library_accuracy:.4f} (the library's model, {library_seconds:.0f} s)")
print("final training loss: ours", f"{our_losses[-1]:.5f}, library's {library_history['loss'][-1]:.5f}")
assert abs(our_accuracy - library_accuracy) <= 0.002
assert np.allclose(our_losses, library_history["loss"], rtol=1e-3)
never_on = ~np.any(x_train > 0, axis=0)  # pixels that are 0 in every training image
assert never_on.any() and np.array_equal(trained["lam_in1"][never_on], params0["lam_in1"][never_on])

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
epochs_axis = np.arange(1, epochs + 1)
ax1.plot(epochs_axis, our_losses, "o-", label="NumPy, from the formulas")
ax1.plot(epochs_axis, library_history["loss"], "x--", ms=8, label="ms.mlp(..., 'spectral') + fit")
ax1.set_xlabel("epoch")
ax1.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax1.set_ylabel("mean training loss")
ax1.set_yscale("log")
ax1.legend(fontsize=8)
moved = trained["lam_in1"] - params0["lam_in1"]
image = ax2.imshow(moved.reshape(28, 28), cmap="RdBu_r", vmin=-np.abs(moved).max(), vmax=np.abs(moved).max())
fig.colorbar(image, ax=ax2, shrink=0.8)
ax2.set_title(r"trained $-$ initial $\lambda^{in}_1$, one per pixel", fontsize=10)
ax2.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# The two training curves lie on each other, and the test accuracies printed above agree: the network you wrote from
# the formulas *is* the library's two-set model. (Its accuracy, well below a dense network's, is the subject of
# lessons 07–09; lesson 04 §8 shows how much of the gap its initial $\phi$ accounts for.) The right panel shows how far
# training moved $\lambda^\text{in}_1$, one eigenvalue per pixel. The border pixels, black in every training image,
# kept their initial values exactly — their gradient $d\lambda^\text{in}_j = \sum_n x_{nj}(dz_{1,n}\phi_1)_j$ is exactly zero.
#
# ## Summary
#
# * A two-set spectral network is a dense network whose weights are built at every step from
#   $W = \phi\odot(\mathbf 1\lambda^{\text{in}\top} - \lambda^\text{out}\mathbf 1^\top)$; its backward pass is the dense one followed by column and row
#   sums of $dW\odot\phi$.
# * About fifty lines of NumPy — forward, loss, backward, Adamax, loop — reproduce the library's model step for step in
#   float32, and its test accuracy.
#
# ## Exercises
#
# Solutions: `lessons/solutions/13_capstone.py`.
#
# 1. **Train the eigenvectors too.** The "full" variant trains $\phi$ as well: derive $d\phi_k$ from $dW_k$, add it to
#    `net_backward`, and check your gradients against the library's `ms.mlp(..., "full")` on a small float64 network.
# 2. **The transfer operator.** Build the $(110\times110)$ operator $A_2 = \Phi_2\Lambda_2\Phi_2^{-1}$ of the second layer from
#    the trained parameters, with $\Phi_2 = \begin{pmatrix} I & 0\\ \phi_2 & I\end{pmatrix}$ and $\Phi_2^{-1} = 2I - \Phi_2$. Check that its lower-left
#    block is your $W_2$ and that $A_2\Phi_2 = \Phi_2\Lambda_2$.
# 3. **Pixels that never learn.** Show that the entries of $\lambda^\text{in}_1$ that training left unchanged are exactly the
#    pixels that are 0 in every training image, and explain why Adamax, too, leaves them where they are.
