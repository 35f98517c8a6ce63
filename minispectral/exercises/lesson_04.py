"""Checks for lesson 04, optimisers and initialisation: four update rules against ``minispectral.optim``.

Each rule is checked over several steps.  At every step the learner's function gets the library
optimizer's parameter and state from the step before (never its own earlier output, so one wrong step
cannot make the next one crash), and its results of all the steps are compared at once, stacked.
"""
import numpy as np

from ..nn.module import Parameter
from ..optim import SGD, Adam, Adamax
from . import CHANGED_NOTE, as_tuple, changed_in_place, compare, exercise, stacked

# Gradient scales that change from step to step, so that Adamax's max(β₂u, |g|) switches between its
# two arguments, and the bias corrections (1 − β^t) are seen at several t.
_SCALES = (1.0, 0.2, 3.0, 0.05)
_SHAPE = (3, 4)  # not square: a transposed answer has the wrong shape


def _check_rule(title, fn, fn_name, optimizer, state_names, returned, call):
    """Run ``optimizer`` on one parameter for len(_SCALES) steps, and ``call(fn, theta, grad, state, t)``
    from the library's values before each step; compare every returned quantity, stacked over the steps.

    ``state_names``: the optimizer's state arrays, in the order the learner's function takes and returns
    them; ``returned``: the names of the learner's results (the parameter first).
    """
    rng = np.random.default_rng(4)
    theta0 = rng.standard_normal(_SHAPE)
    grads = [scale * rng.standard_normal(_SHAPE) for scale in _SCALES]
    p = Parameter(theta0.copy())
    opt = optimizer([("theta", p)])
    got = {name: [] for name in returned}
    expected = {name: [] for name in returned}
    inputs_after, inputs_given = {}, {}  # what the learner's function got, after and before each call
    for t, g in enumerate(grads, start=1):
        before = [np.array(getattr(opt, s)[0]) for s in state_names]
        theta = p.value.copy()
        p.grad = g.copy()
        opt.step()
        after = [p.value.copy()] + [np.array(getattr(opt, s)[0]) for s in state_names]
        # the learner's names of its state inputs are those of its state results: velocity; m, v; m, u
        inputs = {"theta": theta, "grad": g.copy(), **dict(zip(returned[1:], before))}
        given = {name: value.copy() for name, value in inputs.items()}
        result = as_tuple(call(fn, theta, inputs["grad"], before, t), len(returned), fn_name)
        for name, mine, ref in zip(returned, result, after):
            got[name].append(mine)
            expected[name].append(ref)
        for name, value in inputs.items():
            inputs_after.setdefault(name, []).append(value)
            inputs_given.setdefault(name, []).append(given[name])
    quantities = {name: (stacked(got[name], _SHAPE), np.stack(expected[name])) for name in returned}
    changed = changed_in_place(inputs_after, inputs_given)
    quantities.update(changed)
    return compare(f"{title}, {len(grads)} steps, each from the library's state at the step before (float64)"
                   + (CHANGED_NOTE if changed else ""), quantities)


@exercise("04", "my_sgd")
def check_sgd(my_sgd):
    """``my_sgd(theta, grad, lr) -> theta_new``, against ``minispectral.optim.SGD``.  theta, grad (3, 4)."""
    lr = 0.3
    return _check_rule("my_sgd against minispectral.optim.SGD(lr=0.3)", my_sgd, "my_sgd",
                       lambda params: SGD(params, lr=lr), (), ("theta",),
                       lambda fn, theta, g, state, t: fn(theta, g, lr))


@exercise("04", "my_momentum")
def check_momentum(my_momentum):
    """``my_momentum(theta, grad, velocity, lr, momentum) -> (theta_new, velocity_new)``, against
    ``minispectral.optim.SGD(momentum=...)``.  Every array (3, 4)."""
    lr, momentum = 0.3, 0.8
    return _check_rule("my_momentum against minispectral.optim.SGD(lr=0.3, momentum=0.8)", my_momentum,
                       "my_momentum", lambda params: SGD(params, lr=lr, momentum=momentum), ("velocity",),
                       ("theta", "velocity"),
                       lambda fn, theta, g, state, t: fn(theta, g, state[0], lr, momentum))


@exercise("04", "my_adam")
def check_adam(my_adam):
    """``my_adam(theta, grad, m, v, t, lr, beta1, beta2, eps) -> (theta_new, m_new, v_new)``, against
    ``minispectral.optim.Adam``.  Every array (3, 4); t is the step's number, 1 at the first step."""
    lr, beta1, beta2, eps = 0.1, 0.8, 0.9, 1e-3  # not the defaults: a rule that ignores its arguments fails
    return _check_rule("my_adam against minispectral.optim.Adam(lr=0.1, betas=(0.8, 0.9), eps=1e-3)", my_adam,
                       "my_adam", lambda params: Adam(params, lr=lr, betas=(beta1, beta2), eps=eps), ("m", "v"),
                       ("theta", "m", "v"),
                       lambda fn, theta, g, state, t: fn(theta, g, state[0], state[1], t, lr, beta1, beta2, eps))


@exercise("04", "my_adamax")
def check_adamax(my_adamax):
    """``my_adamax(theta, grad, m, u, t, lr, beta1, beta2, eps) -> (theta_new, m_new, u_new)``, against
    ``minispectral.optim.Adamax`` (which keeps u in its state array ``v``).  Every array (3, 4)."""
    lr, beta1, beta2, eps = 0.1, 0.8, 0.9, 1e-3
    return _check_rule("my_adamax against minispectral.optim.Adamax(lr=0.1, betas=(0.8, 0.9), eps=1e-3)",
                       my_adamax, "my_adamax",
                       lambda params: Adamax(params, lr=lr, betas=(beta1, beta2), eps=eps), ("m", "v"),
                       ("theta", "m", "u"),
                       lambda fn, theta, g, state, t: fn(theta, g, state[0], state[1], t, lr, beta1, beta2, eps))
