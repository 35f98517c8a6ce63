"""Checks for lesson 03, softmax cross-entropy and a dense MLP."""
import numpy as np

from ..functional import dense_forward, relu_forward, softmax_cross_entropy
from ..nn import mlp
from . import ExerciseFailed, as_tuple, compare, exercise


@exercise("03", "my_softmax_cross_entropy")
def check_softmax_cross_entropy(my_softmax_cross_entropy):
    """``my_softmax_cross_entropy(logits, labels) -> (loss, dlogits)``, against ``softmax_cross_entropy``, on
    ordinary logits and on logits of size ~1000, where exp overflows unless the row maximum is subtracted.

    Shapes: logits (N, C), labels (N,) integers in [0, C); loss a number, dlogits (N, C).
    """
    rng = np.random.default_rng(31)
    N, C = 6, 5
    logits = rng.standard_normal((N, C))
    labels = rng.integers(0, C, size=N)
    big = 1000 * rng.standard_normal((N, C))
    loss, dlogits = as_tuple(my_softmax_cross_entropy(logits.copy(), labels.copy()), 2, "my_softmax_cross_entropy")
    with np.errstate(all="ignore"):  # a naive answer overflows here: the check reports it, NumPy need not
        loss_big, dlogits_big = as_tuple(my_softmax_cross_entropy(big.copy(), labels.copy()), 2,
                                         "my_softmax_cross_entropy")
    loss_ref, dlogits_ref = softmax_cross_entropy(logits, labels)
    loss_big_ref, dlogits_big_ref = softmax_cross_entropy(big, labels)
    return compare("my_softmax_cross_entropy against minispectral.functional.softmax_cross_entropy (float64)",
                   {"loss": (loss, loss_ref), "dlogits": (dlogits, dlogits_ref),
                    "loss big": (loss_big, loss_big_ref), "dlogits big": (dlogits_big, dlogits_big_ref)})


def mlp_cache(x, W1, b1, W2):
    """The cache the lesson's ``mlp_forward`` returns, for x (N, D), W1 (H, D), b1 (H,), W2 (C, H):
    ``{"x": x, "z1": x W1ᵀ + b1, "a1": relu(z1), "W1": W1, "W2": W2}``."""
    z1, _ = dense_forward(x, W1, b1)
    a1, _ = relu_forward(z1)
    return {"x": x, "z1": z1, "a1": a1, "W1": W1, "W2": W2}


@exercise("03", "my_mlp_backward")
def check_mlp_backward(my_mlp_backward):
    """``my_mlp_backward(dlogits, cache) -> {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}`` for the two-layer
    MLP logits = relu(x W1ᵀ + b1) W2ᵀ + b2, against the gradients that ``ms.mlp(..., model="dense")``'s
    own backward pass writes into its parameters, under the softmax cross-entropy.

    Shapes: x (N, D), W1 (H, D), b1 (H,), W2 (C, H), b2 (C,), dlogits (N, C); each gradient has its
    parameter's shape.  The cache is ``mlp_cache``'s dict.
    """
    rng = np.random.default_rng(32)
    N, D, H, C = 7, 6, 5, 4
    model = mlp((D, H, C), model="dense", activation="relu", seed=3, dtype="float64")
    first, second = model.layers[0], model.layers[2]
    x = rng.standard_normal((N, D))
    labels = rng.integers(0, C, size=N)
    W1, b1 = first.params["W"].value.copy(), first.params["b"].value.copy()
    W2 = second.params["W"].value.copy()
    logits = model.forward(x)
    _, dlogits = softmax_cross_entropy(logits, labels)
    model.backward(dlogits)
    reference = {"W1": first.params["W"].grad, "b1": first.params["b"].grad,
                 "W2": second.params["W"].grad, "b2": second.params["b"].grad}
    grads = my_mlp_backward(dlogits.copy(), mlp_cache(x, W1, b1, W2))
    if not isinstance(grads, dict):
        raise ExerciseFailed(f"my_mlp_backward should return a dict with the keys {sorted(reference)}, "
                             f"got {type(grads).__name__}")
    return compare("my_mlp_backward against the gradients of ms.mlp((6, 5, 4), model='dense') (float64)",
                   {name: (grads.get(name), reference[name]) for name in reference})
