"""Checks for lesson 13, the capstone: a 784→100→10 two-set spectral network written in NumPy.

The learner's network is a dict of arrays named by layer (``phi1``, ``lam_in1``, ``lam_out1``, ``b1`` for the
first Spectral layer, ``...2`` for the second).  Each check builds a small library model of the same shape
(6→5→3, float64, unit-scale initial values so that every term matters), hands its values to the learner's
function, and compares every returned quantity with the library's.
"""
import numpy as np

from ..functional import relu_forward, softmax_cross_entropy
from ..functional.spectral import spectral_forward, spectral_weight_forward
from ..nn import mlp
from ..optim import Adamax
from . import CHANGED_NOTE, as_tuple, changed_in_place, compare, exercise, stacked

# the capstone's names of the library model's parameters (layer 0 and layer 2 of the Sequential: 1 is the ReLU)
LIBRARY_NAMES = {"0.phi": "phi1", "0.lam_in": "lam_in1", "0.lam_out": "lam_out1", "0.b": "b1",
                 "2.phi": "phi2", "2.lam_in": "lam_in2", "2.lam_out": "lam_out2", "2.b": "b2"}
TRAINED = ("lam_in1", "lam_out1", "b1", "lam_in2", "lam_out2", "b2")
CACHE_KEYS = ("x", "W1", "z1", "h", "W2")


def _model_and_batch(seed=5, n=4, sizes=(6, 5, 3)):
    """A float64 library model with every parameter of order 1 (biases included), its values as the
    capstone's dict, and a batch x whose hidden pre-activations take both signs."""
    model = mlp(sizes, "spectral", activation="relu", seed=seed, dtype="float64", phi_init=(-1, 1),
                lam_in_init=(-1, 1), lam_out_init=(-1, 1), b_init=(-0.5, 0.5))
    params = {LIBRARY_NAMES[name]: np.array(p.value) for name, p in model.named_parameters()}
    x = np.random.default_rng(seed + 1).standard_normal((n, sizes[0]))
    return model, params, x


def _reference_cache(params, x):
    """The forward pass's intermediates, from the library's teaching kernels."""
    W1, _ = spectral_weight_forward(params["phi1"], params["lam_in1"], params["lam_out1"])
    z1, _ = spectral_forward(x, params["phi1"], params["lam_in1"], params["lam_out1"], params["b1"])
    h, _ = relu_forward(z1)
    W2, _ = spectral_weight_forward(params["phi2"], params["lam_in2"], params["lam_out2"])
    return {"x": x, "W1": W1, "z1": z1, "h": h, "W2": W2}


def _entry(mapping, key):
    """mapping[key], or None when the learner's result is not a mapping holding it (compare says 'got None')."""
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


def _copies(params):
    return {k: v.copy() for k, v in params.items()}


@exercise("13", "net_forward")
def check_forward(net_forward):
    """``net_forward(params, x) -> (logits, cache)``; cache holds x, W1, z1, h and W2.

    Shapes (here): x (4, 6), W1 (5, 6), z1 and h (4, 5), W2 (3, 5), logits (4, 3).
    """
    model, params, x = _model_and_batch()
    logits, cache = as_tuple(net_forward(_copies(params), x.copy()), 2, "net_forward")
    expected = _reference_cache(params, x)
    assert np.any(expected["z1"] < 0) and np.any(expected["z1"] > 0)  # the ReLU is exercised
    quantities = {"logits": (logits, model.forward(x))}
    quantities.update({f"cache[{k!r}]": (_entry(cache, k), expected[k]) for k in CACHE_KEYS})
    return compare("net_forward against the library's model ms.mlp((6, 5, 3), 'spectral') (float64)", quantities)


@exercise("13", "cross_entropy")
def check_cross_entropy(cross_entropy):
    """``cross_entropy(logits, y) -> (loss, dlogits)``: the mean softmax cross-entropy (a number) and its
    gradient (N, C), against ``minispectral.functional.softmax_cross_entropy``.  Here logits (5, 4)."""
    rng = np.random.default_rng(6)
    logits = 3 * rng.standard_normal((5, 4))
    y = np.array([0, 3, 1, 3, 2])
    loss, dlogits = as_tuple(cross_entropy(logits.copy(), y.copy()), 2, "cross_entropy")
    loss_ref, dlogits_ref = softmax_cross_entropy(logits, y)
    return compare("cross_entropy against minispectral.functional.softmax_cross_entropy (float64)",
                   {"loss": (loss, loss_ref), "dlogits": (dlogits, dlogits_ref)})


@exercise("13", "net_backward")
def check_backward(net_backward):
    """``net_backward(dlogits, params, cache) -> grads``, a dict of the six trained parameters' gradients
    (lam_in1 (6,), lam_out1 (5,), b1 (5,), lam_in2 (5,), lam_out2 (3,), b2 (3,) here), against the library
    model's backward pass.  The cache comes from the library's kernels, not from your net_forward."""
    model, params, x = _model_and_batch()
    dlogits = np.random.default_rng(7).standard_normal((x.shape[0], 3))
    cache = _reference_cache(params, x)
    grads = net_backward(dlogits.copy(), _copies(params), _copies(cache))
    model.forward(x)
    model.backward(dlogits)
    expected = {LIBRARY_NAMES[name]: p.grad for name, p in model.named_parameters() if p.trainable}
    return compare("net_backward against the library model's backward pass (float64)",
                   {name: (_entry(grads, name), expected[name]) for name in TRAINED})


@exercise("13", "adamax_update")
def check_adamax_update(adamax_update):
    """``adamax_update(params, grads, state, t, lr, beta1, beta2, eps) -> (new_params, new_state)``, against
    ``minispectral.optim.Adamax`` on the library's model, over 3 steps (each from the library's values and
    state at the step before).  state = {"m": {name: array}, "u": {name: array}} for the six trained
    parameters; new_params holds every parameter, the frozen phi1 and phi2 unchanged.  The arrays it is given
    must come back as they were (a row "given ..." names any it wrote into)."""
    model, params, _ = _model_and_batch()
    lr, beta1, beta2, eps = 0.1, 0.8, 0.9, 1e-3  # not the defaults: an update that ignores its arguments fails
    opt = Adamax(model, lr=lr, betas=(beta1, beta2), eps=eps)
    named = dict(model.named_parameters())
    index = {LIBRARY_NAMES[name]: i for i, (name, _) in enumerate(opt.params)}
    rng = np.random.default_rng(8)
    got, expected = {}, {}  # "phi1", "m[lam_in1]", ...: one list per quantity, one entry per step
    inputs_after, inputs_given = {}, {}  # the arrays handed to adamax_update, after and before each call

    def record(key, mine, ref):
        got.setdefault(key, []).append(mine)
        expected.setdefault(key, []).append(np.array(ref))

    for t, scale in enumerate((1.0, 0.2, 3.0), start=1):
        values = {LIBRARY_NAMES[name]: np.array(p.value) for name, p in named.items()}
        state = {"m": {k: np.array(opt.m[i]) for k, i in index.items()},
                 "u": {k: np.array(opt.v[i]) for k, i in index.items()}}
        grads = {}
        for name, p in named.items():
            if p.trainable:
                p.grad = scale * rng.standard_normal(p.value.shape)
                grads[LIBRARY_NAMES[name]] = p.grad.copy()
        opt.step()
        inputs = {**values, **{f"grads[{k}]": g for k, g in grads.items()},
                  **{f"{s}[{k}]": a for s in ("m", "u") for k, a in state[s].items()}}
        given = {key: a.copy() for key, a in inputs.items()}
        new_params, new_state = as_tuple(adamax_update(values, grads, state, t, lr, beta1, beta2, eps), 2,
                                         "adamax_update")
        for key, a in inputs.items():
            inputs_after.setdefault(key, []).append(a)
            inputs_given.setdefault(key, []).append(given[key])
        for name, p in named.items():
            record(LIBRARY_NAMES[name], _entry(new_params, LIBRARY_NAMES[name]), p.value)
        for key, i in index.items():
            record(f"m[{key}]", _entry(_entry(new_state, "m"), key), opt.m[i])
            record(f"u[{key}]", _entry(_entry(new_state, "u"), key), opt.v[i])
    quantities = {key: (stacked(got[key], expected[key][0].shape), np.stack(expected[key])) for key in got}
    changed = changed_in_place(inputs_after, inputs_given)
    quantities.update(changed)
    return compare("adamax_update against minispectral.optim.Adamax(lr=0.1, betas=(0.8, 0.9), eps=1e-3), "
                   "3 steps, stacked (float64)" + (CHANGED_NOTE if changed else ""), quantities)
