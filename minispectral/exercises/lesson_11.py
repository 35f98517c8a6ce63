"""Checks for lesson 11, spectral pruning: the node scores and the removal of nodes."""
import numpy as np

from .. import pruning
from ..nn import mlp
from . import as_tuple, compare, exercise


def _arrays(layer):
    return {name: p.value.copy() for name, p in layer.params.items()}


def _models():
    """(name, model) pairs: a one-set spectral 7 -> 6 -> 3 without bias, a two-set one with biases, a dense one
    with biases; float64, unit-scale eigenvalues."""
    unit = dict(phi_init=(-1, 1), lam_in_init=(-2, 2), lam_out_init=(-2, 2))
    return (("one-set", mlp((7, 6, 3), model="nc", activation="tanh", bias=False, seed=110, dtype="float64",
                            phi_init=(-1, 1), lam_out_init=(-2, 2))),
            ("two-set", mlp((7, 6, 3), model="spectral", activation="tanh", seed=111, dtype="float64", **unit)),
            ("dense", mlp((7, 6, 3), model="dense", activation="tanh", seed=112, dtype="float64")))


@exercise("11", "my_node_scores")
def check_node_scores(my_node_scores):
    """``my_node_scores(arrays) -> scores``, against ``pruning.node_scores`` on a one-set spectral layer and a
    dense one.  arrays: the layer's parameter values by name; scores (n_out,)."""
    quantities = {}
    for name, model in _models():
        if name == "two-set":
            continue
        expected = pruning.node_scores(model, 0)
        quantities[f"s ({name})"] = (my_node_scores(_arrays(model.layers[0])), expected)
    return compare("my_node_scores against minispectral.pruning.node_scores (float64)", quantities)


@exercise("11", "my_remove_nodes")
def check_remove_nodes(my_remove_nodes):
    """``my_remove_nodes(first, second, keep) -> (first_kept, second_kept)``, every array against those of
    ``pruning.prune(model, 0, keep)``, for a two-set spectral network with biases and a dense one.

    first, second: the two weight layers' parameter values by name; keep: sorted indices of surviving nodes.
    """
    keep = np.array([0, 2, 3, 5])
    quantities = {}
    for name, model in _models():
        if name == "one-set":
            continue
        pruned = pruning.prune(model, 0, keep)
        expected = (_arrays(pruned.layers[0]), _arrays(pruned.layers[2]))
        got = as_tuple(my_remove_nodes(_arrays(model.layers[0]), _arrays(model.layers[2]), keep.copy()), 2,
                       "my_remove_nodes")
        for layer, (mine, ref) in enumerate(zip(got, expected), start=1):
            mine = mine if isinstance(mine, dict) else {}
            for key, value in ref.items():
                label = f"{layer}.{key}" + (" (d)" if name == "dense" else "")
                quantities[label] = (mine.get(key), value)
    return compare("my_remove_nodes against minispectral.pruning.prune (float64); (d): the dense network",
                   quantities)
