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
# # Lesson 11 — Spectral pruning: ranking nodes by their eigenvalues
#
# **Why this lesson.** Lesson 10 zeroed individual *weights*. Removing whole hidden *nodes* is
# better still: the matrices themselves shrink, so memory and compute drop without any sparse
# kernels. The question is which nodes to remove. In a one-set spectral layer every incoming
# weight of hidden node $i$ carries the factor $\lambda^\text{out}_i$, so $|\lambda^\text{out}_i|$ is a natural
# importance score. Sci. Rep. 2022 (Buffoni et al., "SR") uses it in two ways:
#
# * **post-training**: train $\phi$ and $\lambda$ together, remove the nodes with the smallest
#   $|\lambda|$, evaluate without retraining;
# * **pre-training**: train only the eigenvalues (cheap), rank the nodes, build the smaller network
#   from the survivors, and train that one fully.
#
# The baseline is a dense network whose nodes are ranked by their incoming connectivity
# $\sum_j|W_{ij}|$. This lesson derives why removing a node is exact; you write the score and the
# removal of nodes (two blanks, checked against the library's `minispectral.pruning`); then we run
# all three — plus the control experiments that tell us what the ranking is really worth.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral import pruning
from minispectral.datasets import load_mnist
from minispectral.experiment import DEFAULT_LR
from minispectral.functional import spectral_forward
from minispectral.train import evaluate, fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Why $\lambda^\text{out}_i = 0$ removes node $i$ exactly
#
# SR uses the one-set layer (lessons 05 and 07) without a bias: $W = -\operatorname{diag}(\lambda^\text{out})\,\phi$, so
# hidden node $i$ computes
#
# $$h_i = f\big(-\lambda^\text{out}_i\,(\phi_{i:}\cdot x)\big).$$
#
# For $f \in \{\tanh, \mathrm{ReLU}, \mathrm{ELU}\}$, $f(0) = 0$. Setting $\lambda^\text{out}_i = 0$ therefore makes
# $h_i = 0$ for every input, and node $i$ contributes nothing to the next layer — the same as deleting
# row $i$ of the first layer and column $i$ of the second.
#
# (With a bias, or with a second eigenvalue set, this breaks: $h_i = f(b_i)$, or
# $W_{ij} = \phi_{ij}\lambda^\text{in}_j$ survives. So here, to remove a node exactly, we prune one-set
# layers without bias, SR's MNIST setting. SR's CIFAR-10 head is a two-set layer pruned by
# $|\lambda^\text{out}|$ (paper.md §7); there a removed node's row is not zero, and pruning changes the output.)

# %%
small = ms.mlp((20, 12, 5), model="nc", activation="tanh", bias=False, seed=0)
x_small = rng.standard_normal((8, 20)).astype(np.float32)
hidden = small.layers[1].forward(small.layers[0].forward(x_small))
phi0, lam0 = small.layers[0].phi(), small.layers[0].params["lam_out"].value
assert np.allclose(hidden, np.tanh(-lam0 * (x_small @ phi0.T)), rtol=1e-5, atol=1e-6)


def layer_arrays(layer):
    """A layer's parameter values by name: {"W", "b"} for Dense, {"phi", "lam_in", "lam_out"(, "b")} for Spectral."""
    return {name: p.value for name, p in layer.params.items()}


print({name: value.shape for name, value in layer_arrays(small.layers[0]).items()})

# %% [markdown]
# ## 2. The score of a node
#
# A hidden node is an output of the first layer, so its score reads that layer's parameters:
#
# * spectral (one set): $s_i = |\lambda^\text{out}_i|$, the factor on every incoming weight of node $i$;
# * dense: the incoming connectivity $s_i = \sum_j |W_{ij}|$. There, deleting node $i$ is not exact — the
#   node was doing something — but nodes with small incoming weights have small pre-activations, and
#   for $\tanh$ small outputs, so they are the natural ones to drop.

# %%
def my_node_scores(arrays):
    """arrays: a layer's parameters by name (with "lam_out" for Spectral, "W" (n_out, n_in) for Dense)
    -> scores (n_out,), float64, higher = keep."""
    ### BEGIN SOLUTION
    if "lam_out" in arrays:
        scores = np.abs(arrays["lam_out"])
    else:
        scores = np.abs(arrays["W"]).sum(axis=1)   # over the inputs j of each node i
    ### END SOLUTION
    return scores.astype(np.float64)


# %% [markdown]
# **Exercise.** Fill in `my_node_scores` for both kinds of layer. The check compares your scores with
# `pruning.node_scores` on a one-set spectral layer and on a dense one.

# %%
from minispectral.exercises.lesson_11 import check_node_scores

check_node_scores(my_node_scores)

# %%
scores = my_node_scores(layer_arrays(small.layers[0]))
assert np.allclose(scores, pruning.node_scores(small, 0))
keep = pruning.keep_indices(scores, 0.5)
print("scores:", np.round(scores, 3))
print("kept nodes:", keep)
assert len(keep) == 6 and np.min(scores[keep]) >= np.max(np.delete(scores, keep))

dense_small = ms.mlp((20, 12, 5), model="dense", activation="tanh", bias=False, seed=0)
assert np.allclose(my_node_scores(layer_arrays(dense_small.layers[0])), np.abs(dense_small.layers[0].weight()).sum(axis=1))

# %% [markdown]
# `pruning.keep_indices(scores, q)` returns, sorted, the nodes that survive removing the fraction $q$
# with the lowest scores (at least one node always survives).
#
# ## 3. Removing nodes
#
# Removing hidden node $i$ deletes everything indexed by it: in the first layer its **row** of the
# weights ($W$ or $\phi$) and its entry of $b$ and $\lambda^\text{out}$; in the second layer its **column**
# of the weights and its entry of $\lambda^\text{in}$ (zero in a one-set layer, but it has one entry per
# input node all the same). Everything else — the first layer's $\lambda^\text{in}$, the second layer's
# $\lambda^\text{out}$ and $b$ — stays. `pruning.prune` does this and returns a smaller network;
# `pruning.silence` keeps the size and zeroes the removed nodes' outgoing weights.

# %%
def my_remove_nodes(first, second, keep):
    """first, second: the two layers' parameter arrays by name (as layer_arrays gives them); keep: sorted
    indices of the surviving hidden nodes -> (first_kept, second_kept), new dicts of the smaller arrays."""
    first_kept, second_kept = dict(first), dict(second)
    ### BEGIN SOLUTION
    for name in ("W", "phi", "b", "lam_out"):      # indexed by the first layer's outputs: rows, entries
        if name in first:
            first_kept[name] = np.take(first[name], keep, axis=0)
    for name in ("W", "phi"):                      # indexed by the second layer's inputs: columns
        if name in second:
            second_kept[name] = np.take(second[name], keep, axis=1)
    if "lam_in" in second:                         # one entry per input node
        second_kept["lam_in"] = np.take(second["lam_in"], keep)
    ### END SOLUTION
    return first_kept, second_kept


# %% [markdown]
# **Exercise.** Fill in `my_remove_nodes`: rows and entries of the first layer, columns and entries of
# the second, every other array unchanged. It must not modify its inputs. The check compares every
# array with those of `pruning.prune`, for a two-set spectral network with biases and for a dense one.

# %%
from minispectral.exercises.lesson_11 import check_remove_nodes

check_remove_nodes(my_remove_nodes)

# %% [markdown]
# Now the three ways to drop the nodes must give the same outputs: the arrays you removed (run through
# the library's `spectral_forward`), the library's smaller network, the same-size network with the
# nodes silenced, and the original with $\lambda^\text{out}_i = 0$ for the removed nodes.

# %%
first, second = my_remove_nodes(layer_arrays(small.layers[0]), layer_arrays(small.layers[2]), keep)
h_kept, _ = spectral_forward(x_small, first["phi"], first["lam_in"], first["lam_out"])
out_mine, _ = spectral_forward(np.tanh(h_kept), second["phi"], second["lam_in"], second["lam_out"])

zeroed = small.copy()
removed = np.setdiff1d(np.arange(12), keep)
zeroed.layers[0].params["lam_out"].value[removed] = 0.0
out_zeroed = zeroed.forward(x_small)
pruned_small = pruning.prune(small, 0, keep)
out_pruned = pruned_small.forward(x_small)
out_silenced = pruning.silence(small, 0, keep).forward(x_small)
print("largest difference, lam_out = 0 vs prune:", float(np.max(np.abs(out_zeroed - out_pruned))))
for out in (out_zeroed, out_silenced, out_mine):
    assert np.allclose(out, out_pruned, rtol=1e-5, atol=1e-6)

print(f"parameters: {small.num_parameters(trainable_only=False)} stored before, "
      f"{pruned_small.num_parameters(trainable_only=False)} after pruning half the hidden nodes")
assert pruned_small.layers[0].weight().shape == (6, 20) and pruned_small.layers[2].weight().shape == (5, 6)

# %% [markdown]
# Before training, the eigenvalues are draws from $U(-0.5, 0.5)$: a ranking by $|\lambda^\text{out}|$ is a
# random ranking. Everything the score knows, it learns during training, so it also has to pass the
# gradient check. The one-set model with $\phi$ trained (the "post-training" model) does:

# %%
check = ms.mlp((12, 8, 10), model="nc", activation="tanh", bias=False, trainable={"phi": True},
               phi_init=(-1, 1), lam_out_init=(-2, 2), seed=1)
report = ms.gradcheck(check, rng.standard_normal((5, 12)), rng.integers(0, 10, size=5))
print(report)
assert report.passed

# %% [markdown]
# ## 4. Three trained networks
#
# SR's networks are $784\to n_2\to10$ with $\tanh$, no biases, $\phi\sim U(\pm0.2)$ and
# $\lambda\sim U(\pm0.5)$. We use $n_2 = 200$, a subset of MNIST and a few epochs (SR: $n_2 = 500$,
# 100 epochs, Adam). Our short runs use Adamax at the rates of the authors' NC code — 0.03 when
# only eigenvalues train, 0.01 when $\phi$ trains too — because with Adam's $10^{-3}$ the eigenvalues
# barely leave their random start in a few epochs, and the ranking would still be the random one.
#
# * **direct**: dense, trained in direct space, ranked by $\sum_j|W_{ij}|$;
# * **post**: one-set spectral with $\phi$ trained too, ranked by $|\lambda^\text{out}|$;
# * **pre**: one-set spectral, only the eigenvalues trained, ranked by $|\lambda^\text{out}|$.

# %%
data = load_mnist(val_split=1 / 12, seed=0)
n_train = 10_000 if FAST else 20_000
epochs = 3 if FAST else 5
retrain_epochs = 1 if FAST else 2
pre_draws = 2 if FAST else 3  # random draws for the retrained control of section 7
n2 = 200
x_train, y_train = data.x_train[:n_train], data.y_train[:n_train]
print(f"784-{n2}-10 tanh, {n_train:,} training images, {epochs} epochs")

nets = {
    "direct": ms.mlp((784, n2, 10), model="dense", activation="tanh", bias=False, seed=0),
    "post": ms.mlp((784, n2, 10), model="nc", activation="tanh", bias=False, trainable={"phi": True}, seed=0),
    "pre": ms.mlp((784, n2, 10), model="nc", activation="tanh", bias=False, seed=0),
}
rates = {"direct": DEFAULT_LR["dense"], "post": DEFAULT_LR["full"], "pre": DEFAULT_LR["nc"]}
lam_init = np.abs(nets["pre"].layers[0].params["lam_out"].value).copy()
full_acc = {}
for name, net in nets.items():
    fit(net, x_train, y_train, epochs=epochs, batch_size=200, optimizer="adamax", lr=rates[name], seed=0, progress=False)
    full_acc[name] = evaluate(net, data.x_test, data.y_test)[1]
    print(f"{name:>6}: {net.num_parameters():>7,} trained parameters, lr {rates[name]}, test accuracy {full_acc[name]:.4f}")
assert full_acc["direct"] > (0.85 if FAST else 0.9) and full_acc["post"] > (0.85 if FAST else 0.9)

# %% [markdown]
# ## 5. Before and after training
#
# How do the scores change? Sorted, at initialisation they are the ramp of $|U(-0.5, 0.5)|$ (on a log
# axis the few draws that land near zero make a tail). Training reshapes the ramp: with eigenvalues
# only, the ranking stretches — the large scores grow several-fold, the small ones stay small, the
# candidates for removal. With $\phi$ trained as well, the scores come out larger and flatter: part of
# each node's scale now lives in its row of $\phi$, so $|\lambda^\text{out}|$ alone says less.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(np.sort(lam_init)[::-1], "k:", label="at initialisation")
for name, style in (("pre", "-"), ("post", "--")):
    ax.semilogy(np.sort(my_node_scores(layer_arrays(nets[name].layers[0])))[::-1], style,
                label=f"after training ({name}: {'eigenvalues only' if name == 'pre' else 'phi and eigenvalues'})")
ax.set_xlabel("hidden node (sorted)")
ax.set_ylabel(r"$|\lambda^{out}_i|$")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

moved = np.abs(my_node_scores(layer_arrays(nets["pre"].layers[0])) - lam_init)
print(f"eigenvalue-only training moved |lam_out| by {np.median(moved):.2f} (median) from a start of at most 0.5")
assert np.median(moved) > 0.1

# %% [markdown]
# ## 6. Post-training pruning
#
# Remove a fraction $q$ of the hidden nodes — the lowest-scoring ones — and evaluate with no
# retraining. As a control, remove the same number of nodes chosen *at random* from the post-trained
# network: a score is only useful if it beats that. One random draw is itself a noisy measurement, so
# the control is the mean over several draws.

# %%
fractions = [0.0, 0.5, 0.8, 0.9, 0.95] if FAST else [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
random_orders = [rng.permutation(n2) for _ in range(5)]


def random_keep(fraction, draw):
    """The nodes kept by the random control number ``draw``: as many as ``keep_indices`` keeps."""
    n_keep = len(pruning.keep_indices(np.zeros(n2), fraction))
    return np.sort(random_orders[draw][:n_keep])


acc = {key: [] for key in ("direct", "post", "post, random nodes")}
for q in fractions:
    for name in ("direct", "post"):
        keep = pruning.keep_indices(my_node_scores(layer_arrays(nets[name].layers[0])), q)
        acc[name].append(evaluate(pruning.prune(nets[name], 0, keep), data.x_test, data.y_test)[1])
    acc["post, random nodes"].append(np.mean([evaluate(pruning.prune(nets["post"], 0, random_keep(q, draw)),
                                                       data.x_test, data.y_test)[1] for draw in range(5)]))
for key, values in acc.items():
    print(f"{key:>18}: " + "  ".join(f"{q:.0%}: {a:.3f}" for q, a in zip(fractions, values)))

assert np.isclose(acc["post"][0], full_acc["post"], rtol=0, atol=1e-12)  # removing nothing changes nothing
wins = [a > r for a, r in zip(acc["post"][1:], acc["post, random nodes"][1:])]
print(f"|lam_out| beats the random control at {sum(wins)} of {len(wins)} fractions")
assert sum(wins) > len(wins) / 2

# %% [markdown]
# ## 7. Pre-training pruning
#
# Now the cheap route. Rank the nodes of the eigenvalue-only network, build the smaller network from
# the survivors — their $\phi$ rows and $\lambda^\text{out}$ copied over — and train it with $\phi$ trainable
# for a couple of epochs. The library's `prune` keeps each layer's trainable flags, so to let $\phi$
# train we rebuild the layers from their arrays (an initialiser spec may be an array).
#
# The control here is essential: the retraining alone might rescue *any* small network. So we also
# keep the same number of nodes at random, and retrain those in exactly the same way (the mean over a
# few random draws; removing nothing needs no draw).

# %%
def trainable_phi_copy(model):
    """The same network, with phi made trainable in every one-set spectral layer."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, ms.Spectral):
            p = layer.params
            layers.append(ms.Spectral(layer.n_in, layer.n_out, variant="nc", bias=False, trainable={"phi": True},
                                      phi_init=p["phi"].value, lam_out_init=p["lam_out"].value))
        else:
            layers.append(ms.Activation(layer.name))
    return ms.Sequential(*layers)


def retrain(model, keep):
    net = trainable_phi_copy(pruning.prune(model, 0, keep))
    fit(net, x_train, y_train, epochs=retrain_epochs, batch_size=200, optimizer="adamax", lr=DEFAULT_LR["full"],
        seed=0, progress=False)
    return evaluate(net, data.x_test, data.y_test)[1]


probe = trainable_phi_copy(nets["pre"])
assert np.allclose(probe.forward(data.x_test[:100]), nets["pre"].forward(data.x_test[:100]), rtol=1e-6, atol=1e-6)
assert probe.layers[0].params["phi"].trainable and not nets["pre"].layers[0].params["phi"].trainable

acc["pre"], acc["pre, random nodes"], acc["pre, no retraining"] = [], [], []
pre_scores = my_node_scores(layer_arrays(nets["pre"].layers[0]))
for q in fractions:
    keep = pruning.keep_indices(pre_scores, q)
    acc["pre, no retraining"].append(evaluate(pruning.prune(nets["pre"], 0, keep), data.x_test, data.y_test)[1])
    acc["pre"].append(retrain(nets["pre"], keep))
    draws = [acc["pre"][-1]] if q == 0 else [retrain(nets["pre"], random_keep(q, draw)) for draw in range(pre_draws)]
    acc["pre, random nodes"].append(float(np.mean(draws)))
for key in ("pre", "pre, random nodes", "pre, no retraining"):
    print(f"{key:>18}: " + "  ".join(f"{q:.0%}: {a:.3f}" for q, a in zip(fractions, acc[key])))

# %%
styles = {"direct": "o-", "post": "s-", "post, random nodes": "s:", "pre": "^-", "pre, random nodes": "^:"}
fig, ax = plt.subplots(figsize=(7, 3.6))
for key, style in styles.items():
    ax.plot(fractions, acc[key], style, ms=4, label=key)
ax.set_xlabel("fraction of hidden nodes removed")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower left")
ax.set_title(f"MNIST, 784-{n2}-10 tanh; 'pre' retrained {retrain_epochs} epoch(s) after pruning", fontsize=9)
fig.tight_layout()
plt.show()

last = len(fractions) - 1
assert acc["pre"][last] > acc["post"][last] and acc["pre"][last] > acc["direct"][last]

# %% [markdown]
# How much of "pre" is the ranking, and how much the retraining? Two differences, averaged over the
# fractions removed (removing nothing left out): **ranking** = ranked nodes retrained − random nodes
# retrained the same way; **retraining** = random nodes retrained − ranked nodes *not* retrained. Both
# come from this run.

# %%
def mean_gap(a, b):
    return float(np.mean([x - y for x, y in zip(acc[a][1:], acc[b][1:])]))


for key in ("post", "pre"):
    print(f"{key:>4}: ranked − random nodes: " + "  ".join(
        f"{q:.0%}: {a - r:+.3f}" for q, a, r in zip(fractions[1:], acc[key][1:], acc[f"{key}, random nodes"][1:])))
ranking_gain = mean_gap("pre", "pre, random nodes")
retraining_gain = mean_gap("pre, random nodes", "pre, no retraining")
print(f"pre-training: the ranking adds {ranking_gain:+.3f} on average, the retraining {retraining_gain:+.3f}: "
      f"{'the retraining' if retraining_gain > ranking_gain else 'the ranking'} does most of the work here")

# %% [markdown]
# What the runs say — read the printed numbers, they come from this run:
#
# * **Post-training**, $|\lambda^\text{out}|$ is a real score: pruning by it beats pruning the same network at
#   random over most of the range (the "post: ranked − random" line), and the network tolerates losing a
#   large share of its nodes. At the most extreme fractions the advantage can vanish — the handful of
#   nodes with the largest $|\lambda|$ is not necessarily a good *team*. Against the dense baseline's
#   connectivity score the picture depends on the fraction removed and, in SR's data, on the activation
#   (for ReLU, connectivity does as well).
# * **Pre-training** keeps the accuracy high even with almost all nodes removed — SR's headline. But
#   the control matters: a *random* set of nodes retrained the same way is the fair comparison, and the
#   last printed line weighs what the ranking adds against what the retraining adds. A small $\tanh$
#   network of a dozen nodes can already reach a high MNIST accuracy once its $\phi$ trains, so at this
#   scale expect the retraining to carry most of the gain. SR compares pre-training against
#   post-training and direct pruning *without* retraining, which is a different question.
# * Without retraining, the eigenvalue-only network ("pre, no retraining", printed above) starts low —
#   eigenvalue-only networks are weak, lesson 07 — and loses more with every node removed: the small
#   network needs its $\phi$ trained.
#
# ## Summary
#
# * In a bias-free one-set layer, $\lambda^\text{out}_i$ multiplies every incoming weight of node $i$, and
#   $\lambda^\text{out}_i = 0$ removes it exactly; removing row $i$ of the first layer and column $i$ of the second
#   (your `my_remove_nodes`, the library's `pruning.prune`), `pruning.silence` and zeroing the eigenvalue
#   give the same outputs.
# * Scores: $|\lambda^\text{out}_i|$ for a spectral layer, $\sum_j |W_{ij}|$ for a dense one.
# * Before training, $|\lambda|$ is a random ranking; after training it spreads out. In the network
#   trained with $\phi$ ("post") it ranks nodes better than chance at most fractions (section 6 asserts
#   it).
# * Post-training pruning needs no retraining; pre-training pruning trains only eigenvalues first,
#   then a much smaller network — and deserves a random-selection control: at this scale, whether the
#   ranking or the retraining carries the gain is what section 7's last printed line says.
#
# Lesson 12 runs the same code on a GPU.
#
# ## Exercises
#
# Solutions: `lessons/solutions/11_spectral_pruning.py`.
#
# 1. **Two sets do not prune.** For a two-set layer (`variant="spectral"`, no bias), show numerically that
#    setting $\lambda^\text{out}_i = 0$ does *not* silence node $i$. Which condition on $\lambda^\text{in}$ would make row
#    $i$ of $W$ vanish, and why does it need $\lambda^\text{in}$ to be constant, even for one node?
# 2. **A global threshold.** SR prunes multi-layer networks with one global percentile over all hidden
#    eigenvalues. Train a $784\to100\to100\to10$ one-set network briefly, remove 80 % of all its hidden
#    nodes by a global $|\lambda^\text{out}|$ threshold (using `pruning.prune` once per hidden layer), and report
#    how many nodes each layer keeps.
# 3. **A score that survives rescaling.** In a ReLU one-set network without bias, multiply
#    $\lambda^\text{out}_i$ of the first layer by $c > 0$ and column $i$ of the second layer's $\phi$ by $1/c$. Show the
#    outputs do not change but the ranking by $|\lambda^\text{out}|$ does. Propose a score that is invariant
#    (hint: include the outgoing weights) and check that it is.
