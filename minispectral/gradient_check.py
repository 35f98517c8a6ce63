"""Gradient checking: compare hand-written backward passes with central differences.

The rules (CS231n's, and the reason float32 checks are meaningless, lesson 01; appendix B of the lessons
walks through the step size and the round-off bound below):
  * work in float64, on a copy, so nothing the caller owns is touched;
  * use the central difference (f(θ+h_i) − f(θ−h_i)) / 2h_i, error O(h_i²), with the step h_i of
    the next rule;
  * compare with the symmetric relative error ‖a − n‖ / (‖a‖ + ‖n‖);
  * check every entry of every parameter, not a sample;
  * step in proportion to the entry: θ_i ± h·max(1, |θ_i|), and divide by the step actually taken
    (θ_i + h and θ_i − h rounded to θ's dtype), so that a large entry still moves (1e10 + 1e-6 is
    1e10 in float64) and the step's own rounding does not enter the quotient;
  * mind the numerical gradient's own round-off: each f(θ ± h) is exact only to ~eps · S, where S is
    the size of what f is computed from (Σ|out ⊙ dout| for a kernel or a layer, the loss plus the
    largest |logit| for a model), so the difference quotient carries an error of ~eps · S / h_i.
    Where the true gradients are tiny (a model on inputs in [0, 1), whose cross-entropy hardly moves
    with one eigenvalue), that error alone can exceed the relative tolerance.  A row whose every
    entry is within ``ROUNDOFF_FACTOR`` · eps · S / h_i of the numerical gradient therefore passes,
    and the report says that it passed on that ground ("yes, round-off").  The bound scales with
    S, with no floor: a function of size 1e-10 has a round-off of that order, not of order 1;
  * hold a sparse layer's magnitude mask fixed (paper.md §6: the mask is a constant of the forward
    pass).  A nudge across the threshold would move it, and the difference quotient would measure
    the jump, not the gradient the backward pass computes.

To check a whole layer or model against one scalar, the loss is ``L = Σ out ⊙ dout`` for a
fixed random ``dout`` (a layer) or the softmax cross-entropy (a model): then the analytic
gradient is exactly what ``backward(dout)`` returns.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .backend import from_numpy, namespace, to_backend, to_numpy

DEFAULT_TOL = 1e-7
ROUNDOFF_FACTOR = 32  # generous over the ~2 roundings of f(θ+h) and f(θ−h); still ~1e-9 for a model's loss


@dataclass
class GradRow:
    name: str
    shape: tuple
    max_abs_diff: float
    rel_error: float
    passed: bool
    roundoff: float = 0.0  # the numerical gradient's round-off bound; an entry within it passes


@dataclass
class GradcheckReport:
    """Per-parameter comparison; ``print(report)`` shows a table, ``report.passed`` the verdict."""

    rows: list[GradRow] = field(default_factory=list)
    tol: float = DEFAULT_TOL

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def max_rel_error(self) -> float:
        return max((r.rel_error for r in self.rows), default=0.0)

    def __getitem__(self, name: str) -> GradRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no gradient named {name!r} was checked; the report has {[r.name for r in self.rows]}")

    def __str__(self) -> str:
        if not self.rows:
            return "FAILED: nothing was checked (no trainable parameters)"
        lines = [f"{'parameter':<14}{'shape':<14}{'max |a-n|':>12}{'rel error':>12}  ok"]
        for r in self.rows:
            verdict = "NO" if not r.passed else "yes" if r.rel_error <= self.tol else "yes, round-off"
            lines.append(f"{r.name:<14}{str(r.shape):<14}{r.max_abs_diff:>12.2e}{r.rel_error:>12.2e}  {verdict}")
        lines.append(f"{'passed' if self.passed else 'FAILED'} (tolerance {self.tol:.0e})")
        bound = max((r.roundoff for r in self.rows if r.passed and r.rel_error > self.tol), default=0.0)
        if bound:
            lines.append(f"round-off: the rows marked 'yes, round-off' differ by less than {bound:.1e}, the "
                         "numerical gradient's own rounding error")
        return "\n".join(lines)

    def raise_if_failed(self) -> "GradcheckReport":
        if not self.passed:
            raise AssertionError("gradient check failed:\n" + str(self))
        return self


def rel_error(analytic, numeric) -> float:
    """Symmetric relative error ‖a − n‖ / (‖a‖ + ‖n‖), 0 when both vanish."""
    a, n = to_numpy(analytic).astype(np.float64), to_numpy(numeric).astype(np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def numerical_gradient(f, x, h: float = 1e-6):
    """Central-difference gradient of the scalar function ``f()`` with respect to the array ``x``.

    ``x`` is nudged in place and restored entry by entry, so ``f`` must read it on every call.
    Entry i moves by ± h·max(1, |x_i|), and the quotient divides by the step actually taken.
    Returns an array of x's shape on x's backend.
    """
    grad, _ = _central_differences(f, x, h)
    return grad


def _central_differences(f, x, h: float):
    """``numerical_gradient``, and the half-steps h_i actually taken (a NumPy array of x's shape)."""
    grad, half_steps = np.zeros(tuple(x.shape)), np.zeros(tuple(x.shape))
    for idx in itertools.product(*(range(n) for n in x.shape)):
        original = float(x[idx])
        step = h * max(1.0, abs(original))
        x[idx] = original + step
        plus = float(x[idx])  # as stored: rounded to x's dtype
        f_plus = float(f())
        x[idx] = original - step
        minus = float(x[idx])
        f_minus = float(f())
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (plus - minus)
        half_steps[idx] = (plus - minus) / 2
    return from_numpy(grad, "float64", _backend_name(x)), half_steps


def _backend_name(x) -> str:
    from .backend import backend_of

    return backend_of(x).name


def _as_float64(a):
    xp = namespace(a)
    return xp.astype(a, xp.float64)  # astype copies, so the caller's array is never nudged


def _roundoff(size: float, half_steps):
    """The numerical gradient's round-off bound per entry, for a scalar f computed from terms of total
    size ``size`` and the half-steps ``half_steps`` (NumPy) that each entry took."""
    return ROUNDOFF_FACTOR * float(np.finfo(np.float64).eps) * size / half_steps


def _size_of_sum(terms) -> float:
    xp = namespace(terms)
    return float(xp.sum(xp.abs(terms)))


def _compare(report, name, analytic, numeric, roundoff=None):
    """Add the row of one gradient; ``roundoff`` (NumPy, numeric's shape, or None) bounds each entry's
    round-off."""
    # A backward that never set this gradient, or set one of another shape (which NumPy would happily
    # broadcast against the numerical one), fails the check instead of crashing it or passing it.
    if analytic is None or tuple(analytic.shape) != tuple(numeric.shape):
        shape = tuple(numeric.shape) if analytic is None else tuple(analytic.shape)
        report.rows.append(GradRow(name, shape, float("inf"), float("inf"), False))
        return
    diff = np.abs(to_numpy(analytic).astype(np.float64) - to_numpy(numeric))
    err = rel_error(analytic, numeric)
    within = roundoff is not None and bool(np.all(diff <= roundoff))
    bound = float(np.max(roundoff, initial=0.0)) if roundoff is not None else 0.0
    report.rows.append(GradRow(name, tuple(analytic.shape), float(np.max(diff, initial=0.0)),  # 0-d and empty alike
                               err, err <= report.tol or within, bound))


def _check_against_differences(report, name, analytic, loss, x, h: float, size: float, mask=None) -> None:
    """Add the row of the gradient ``analytic`` of ``loss()`` with respect to ``x``: central differences,
    their round-off bound for a loss of size ``size``, and the comparison. Entries outside a
    parameter's ``mask`` are constants (not parameters), so they have no gradient."""
    numeric, half_steps = _central_differences(loss, x, h)
    if mask is not None:
        numeric = numeric * mask
    _compare(report, name, analytic, numeric, _roundoff(size, half_steps))


def check_kernel(forward, backward, inputs: dict, *, wrt=None, seed: int = 0, h: float = 1e-6,
                 tol: float = DEFAULT_TOL, **kwargs) -> GradcheckReport:
    """Check a ``forward(*inputs) -> (out, cache)`` / ``backward(dout, cache) -> grads`` pair.

    ``inputs`` maps each argument name to its array (or None), in ``forward``'s order.
    ``backward`` returns one gradient per input, in the same order (a single array for a
    one-input kernel), unless ``wrt`` names the inputs it does return: ``ssvd_backward``
    returns only ``ds``, so it is checked with ``wrt=["s"]``.  Extra keyword arguments go
    to ``forward``.
    """
    names = list(inputs) if wrt is None else list(wrt)
    unknown = [name for name in names if name not in inputs]
    if unknown:
        raise ValueError(f"wrt names {unknown}, which are not among the inputs {list(inputs)}")
    args = {k: None if v is None else _as_float64(v) for k, v in inputs.items()}
    out, cache = forward(*args.values(), **kwargs)
    rng = np.random.default_rng(seed)
    dout = from_numpy(rng.standard_normal(tuple(out.shape)), "float64", _backend_name(out))
    xp = namespace(out)
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(names):
        raise ValueError(f"backward returned {len(grads)} gradients, expected {len(names)}: one for each of {names}")
    report = GradcheckReport(tol=tol)
    size = _size_of_sum(out * dout)
    for name, grad in zip(names, grads):
        if args[name] is None:  # an absent input (b=None) has no gradient
            continue
        loss = lambda: xp.sum(forward(*args.values(), **kwargs)[0] * dout)  # noqa: E731
        _check_against_differences(report, name, grad, loss, args[name], h, size)
    return report


def check_layer(layer, x, *, seed: int = 0, h: float = 1e-6, tol: float = DEFAULT_TOL) -> GradcheckReport:
    """Check ``layer.backward`` for the input and every trainable parameter, in float64 on a copy."""
    layer = _hold_masks(layer.copy().to(dtype="float64"))
    layer.input_grad = True
    x = _as_float64(to_backend(x, layer.backend))  # from any backend, as fit and evaluate take it
    out = layer.forward(x)
    rng = np.random.default_rng(seed)
    dout = from_numpy(rng.standard_normal(tuple(out.shape)), "float64", _backend_name(out))
    xp = namespace(out)
    dx = layer.backward(dout)
    loss = lambda: xp.sum(layer.forward(x) * dout)  # noqa: E731
    report = GradcheckReport(tol=tol)
    size = _size_of_sum(out * dout)
    _check_against_differences(report, "x", dx, loss, x, h, size)
    for name, p in layer.trainable_parameters():
        _check_against_differences(report, name, p.grad, loss, p.value, h, size, p.mask)
    return report


def check_model(model, x, labels, *, h: float = 1e-5, tol: float = DEFAULT_TOL) -> GradcheckReport:
    """Check every trainable parameter of a model under the softmax cross-entropy loss."""
    from .functional import softmax_cross_entropy

    model = _hold_masks(model.copy().to(dtype="float64"))
    x = _as_float64(to_backend(x, model.backend))  # from any backend, as fit and evaluate take it
    logits = model.forward(x)
    labels = to_backend(labels, _backend_name(logits))  # as fit and evaluate take them: from any backend
    loss_value, dlogits = softmax_cross_entropy(logits, labels)
    model.backward(dlogits)
    loss = lambda: softmax_cross_entropy(model.forward(x), labels)[0]  # noqa: E731
    report = GradcheckReport(tol=tol)
    # the loss averages log-sum-exps of the logits, each rounded relative to the largest logit
    xp = namespace(logits)
    size = abs(float(loss_value)) + float(xp.max(xp.abs(logits)))
    for name, p in model.trainable_parameters():
        _check_against_differences(report, name, p.grad, loss, p.value, h, size, p.mask)
    return report


def _hold_masks(module):
    """Fix the magnitude mask of every sparse layer in ``module`` (a copy) at its current weights."""
    from .functional import magnitude_mask

    if hasattr(module, "layers"):  # a Sequential, perhaps with Sequentials inside
        for layer in module.layers:
            _hold_masks(layer)
    elif getattr(module, "sparsity", 0):
        module.held_mask = magnitude_mask(module.weight(), module.sparsity)
    return module


def gradcheck(target, *args, **kwargs) -> GradcheckReport:
    """One entry point: ``gradcheck(layer, x)``, ``gradcheck(model, x, labels)`` or
    ``gradcheck(forward, backward, inputs)``."""
    if callable(target) and not hasattr(target, "backward"):
        return check_kernel(target, *args, **kwargs)
    if not args:
        raise TypeError(f"gradcheck of a {type(target).__name__} needs its inputs: gradcheck(layer, x) or "
                        f"gradcheck(model, x, labels)")
    if len(args) >= 2:
        return check_model(target, *args, **kwargs)
    return check_layer(target, *args, **kwargs)
