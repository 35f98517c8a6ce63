"""Pruning hidden nodes: rank them, then remove them for real (Sci. Rep. 2022, paper.md §8–§9).

A hidden node i is the output i of layer k and the input i of the next weight layer.
Spectral layers rank it by |lam_out_i|: lam_out_i scales every incoming weight of node i
(with lam_in = 0 it zeroes them exactly).  Dense layers rank it by its incoming
connectivity Σ_j |W_ij|.  ``prune`` builds a smaller network with fewer parameters and less
compute; ``silence`` keeps the size and cuts the removed nodes' outgoing weights, which
gives the same outputs (a test checks it) on layers without ``sparsity``.  With it, the two
differ: the pruned layers rank ``sparsity`` of their smaller W, while a silenced layer counts its
cut weights among the smallest.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import namespace, to_numpy
from .nn import Dense, Sequential, Spectral

# The parameters that index a layer's outputs (rows) and its inputs (columns), per kind.
_OUT_AXES = {"W": 0, "b": 0, "phi": 0, "lam_out": 0, "U": 0, "R": 0}
_IN_AXES = {"W": 1, "phi": 1, "lam_in": 0, "V": 1, "Q": 1}


def _weight_layers(model: Sequential, layer_index: int) -> tuple[int, int]:
    """(layer_index, the next weight layer's index), the first counted from the front: -1 is the last layer."""
    layers = model.layers
    if not isinstance(layer_index, (int, np.integer)) or isinstance(layer_index, (bool, np.bool_)) \
            or not -len(layers) <= layer_index < len(layers):
        raise ValueError(f"layer_index must be an integer in [{-len(layers)}, {len(layers) - 1}], got {layer_index!r}")
    layer_index = int(layer_index) % len(layers)  # -1 would search for the next weight layer from layer 0
    if not isinstance(layers[layer_index], (Dense, Spectral)):
        raise ValueError(f"layer {layer_index} is {type(layers[layer_index]).__name__}, not a weight layer")
    # between the two weight layers only parameter-free layers (activations) may sit: anything else (a
    # nested Sequential) would take node i's output, and pruning the next top-level layer would be wrong
    following = None
    for i in range(layer_index + 1, len(layers)):
        if isinstance(layers[i], (Dense, Spectral)):
            following = i
            break
        if layers[i].parameters() or hasattr(layers[i], "layers"):
            raise ValueError(f"layer {i} ({type(layers[i]).__name__}) sits between layer {layer_index} and the next "
                             f"weight layer; pruning works on a flat Sequential of Dense, Spectral and activations")
    if following is None:
        raise ValueError(f"layer {layer_index} is the output layer; only hidden nodes can be pruned")
    if layers[following].n_in != layers[layer_index].n_out:
        raise ValueError(f"layer {following} takes {layers[following].n_in} inputs, but layer {layer_index} gives "
                         f"{layers[layer_index].n_out}")
    return layer_index, following


def _check_keep(keep, n_nodes: int) -> np.ndarray:
    """``keep`` as a sorted int64 array of distinct node indices in [0, n_nodes), at least one."""
    keep = np.asarray(keep)
    if keep.ndim != 1 or keep.size == 0:
        raise ValueError(f"keep must be a non-empty 1-D list of node indices, got shape {keep.shape}")
    if not np.issubdtype(keep.dtype, np.integer):
        raise TypeError(f"keep must hold integer node indices, got dtype {keep.dtype}")
    if keep.min() < 0 or keep.max() >= n_nodes:
        raise ValueError(f"keep must hold node indices in [0, {n_nodes - 1}], got values in "
                         f"[{keep.min()}, {keep.max()}]")
    if np.unique(keep).size != keep.size:
        raise ValueError(f"keep must not repeat a node (a copy would change the network's output), got {keep.tolist()}")
    return np.sort(keep).astype(np.int64)


def node_scores(model: Sequential, layer_index: int) -> np.ndarray:
    """Importance of each output node of ``model.layers[layer_index]`` (host array, higher = keep).

    |lam_out| for a Spectral layer, Σ_j |W_ij| (incoming connectivity) for a Dense one.
    """
    layer_index, _ = _weight_layers(model, layer_index)
    layer = model.layers[layer_index]
    if isinstance(layer, Spectral):
        return np.abs(to_numpy(layer.params["lam_out"].value)).astype(np.float64)
    W = layer.params["W"].value
    return to_numpy(namespace(W).sum(namespace(W).abs(W), axis=1)).astype(np.float64)


def keep_indices(scores, fraction_removed: float) -> np.ndarray:
    """Sorted indices of the nodes that survive removing the lowest-scoring ``fraction_removed``."""
    if not 0.0 <= fraction_removed < 1.0:
        raise ValueError(f"fraction_removed must be in [0, 1), got {fraction_removed}")
    scores = np.asarray(scores)
    if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):  # NaN would sort last: kept
        raise ValueError(f"scores must be a non-empty 1-D array of finite numbers, got {scores!r}")
    # the 1e-9: 0.29 * 100 is 28.999...; and at least one node survives any fraction below 1
    n_removed = min(math.floor(fraction_removed * scores.size + 1e-9), scores.size - 1)
    order = np.argsort(scores, kind="stable")  # ascending: the weakest first
    return np.sort(order[n_removed:])


def keep_globally(scores: list, fraction_removed: float) -> list[np.ndarray]:
    """``keep_indices`` with one threshold over the nodes of several hidden layers (Sci. Rep. 2022's
    multilayer pruning, paper.md §8): ``scores`` holds one array per layer; the result, the sorted
    indices that survive in each layer.  A layer may lose every node (an empty array); the
    network as a whole keeps at least one."""
    if not isinstance(scores, (list, tuple)) or not scores:
        raise ValueError(f"scores must be a non-empty list of 1-D score arrays, one per layer, got {scores!r}")
    if any(np.asarray(s).ndim != 1 for s in scores):
        raise ValueError(f"scores must hold one 1-D array per layer, got shapes {[np.shape(s) for s in scores]}")
    sizes = [np.asarray(s).size for s in scores]
    kept = keep_indices(np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in scores]), fraction_removed)
    starts = np.cumsum([0] + sizes)
    return [kept[(kept >= lo) & (kept < hi)] - lo for lo, hi in zip(starts[:-1], starts[1:])]


def prune(model: Sequential, layer_index: int, keep) -> Sequential:
    """A smaller copy of ``model`` whose hidden layer after ``layers[layer_index]`` has only ``keep`` nodes."""
    layer_index, following = _weight_layers(model, layer_index)
    keep = _check_keep(keep, model.layers[layer_index].n_out)
    pruned = model.copy()
    pruned.zero_grad()  # the unpruned network's gradients, of the old shapes
    for index, axes in ((layer_index, _OUT_AXES), (following, _IN_AXES)):
        layer = pruned.layers[index]
        backend = layer.backend
        keep_dev = backend.asarray(keep)
        for name, p in layer.params.items():
            if name in axes:
                xp = namespace(p.value)
                p.value = xp.take(p.value, keep_dev, axis=axes[name])
                if p.mask is not None:
                    p.mask = xp.take(p.mask, keep_dev, axis=axes[name])
        if index == layer_index:
            layer.n_out = int(keep.size)
        else:
            layer.n_in = int(keep.size)
    return pruned


def silence(model: Sequential, layer_index: int, keep) -> Sequential:
    """A same-size copy of ``model`` in which the hidden nodes not in ``keep`` send nothing on."""
    layer_index, following = _weight_layers(model, layer_index)
    silenced = model.copy()
    silenced.zero_grad()  # the unsilenced network's gradients
    layer = silenced.layers[following]
    alive = np.zeros(layer.n_in)
    alive[_check_keep(keep, layer.n_in)] = 1.0
    name = "W" if isinstance(layer, Dense) else ("phi" if "phi" in layer.params else ("V" if "V" in layer.params else "Q"))
    p = layer.params[name]
    p.value = p.value * layer.backend.asarray(alive, dtype=layer.dtype)[None, :]
    return silenced
