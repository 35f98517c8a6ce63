"""Optimizers: SGD (with momentum), Adam and Adamax (the authors' optimizer).

Each takes ``model.trainable_parameters()`` (or any list of (name, Parameter)), keeps state only
for those, and updates values in place, in their own dtype.  Each rule is written here as its
formula: ``rule(grad, *state, t)`` updates the state and returns the amount to subtract from the
parameter.  The rules follow PyTorch's documentation, so that the benchmark against PyTorch
compares like with like.

``step()`` runs the same rules through ``optim_fast.py``: without temporaries, with short vectors
packed into one update, large arrays updated in cache-sized blocks, one fused kernel per parameter
on a GPU, and decayed state flushed before it turns subnormal.  ``fast=False`` runs the plain
rules below instead; the tests keep the two equal.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import optim_fast
from .backend import backend_of, namespace, resolve_dtype
from .nn.module import Parameter
from .optim_fast import FLUSH_BELOW  # noqa: F401  (re-exported: the flush's bound)


class Optimizer:
    """Base class: ``step()`` applies ``value -= rule(grad, *state, t)`` to every trained parameter.

    Subclasses name their per-parameter state arrays in ``state_names`` (zero-initialised, of the
    parameter's shape, dtype and backend; reachable as lists, e.g. ``opt.m[i]``) and implement
    ``rule``.  ``fast=False`` runs the plain rules one parameter at a time (``optim_fast.py`` is the
    fast path, which gives the same numbers).
    """

    state_names: tuple[str, ...] = ()
    block_entries = 2 ** 17  # most entries per block of a large parameter's update (None: update whole)

    def __init__(self, params, lr: float, *, pack_vectors: bool = True, flush_subnormals: bool = True,
                 fast: bool = True):
        self.params = [(name, p) for name, p in _named_parameters(params) if p.trainable]
        lr = _check_real("lr", lr)
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {lr}")
        self.lr = lr
        self.t = 0  # steps taken
        # Steps that updated each parameter: its own t in the bias corrections, as in PyTorch, where a
        # parameter without a gradient at a step is not stepped (and does not age) either.
        self.counts = [0] * len(self.params)
        self.fast = bool(fast)
        self.state, self.scratch, self.packs = optim_fast.allocate_state(self, pack_vectors and self.fast)
        for k, name in enumerate(self.state_names):
            setattr(self, name, [s[k] for s in self.state])
        self.flush_subnormals = bool(flush_subnormals)

    def rule(self, grad, *state, t):
        """The amount to subtract from the value, given its gradient and its step count ``t`` (1 at its
        first update); updates ``state`` in place."""
        raise NotImplementedError

    def step(self) -> None:
        """Apply one update from each parameter's ``grad``; parameters without a grad are skipped.

        Every gradient is checked before anything moves, so a bad one leaves the step untaken.
        """
        grads = [self._checked_grad(i) for i in range(len(self.params))]
        self.t += 1
        if self.fast:
            optim_fast.step(self, grads)
        else:
            for i, (_, p) in enumerate(self.params):
                if grads[i] is not None:
                    self.counts[i] += 1
                    p.value -= self.rule(grads[i], *self.state[i], t=self.counts[i])
        flush_every = self.flush_every
        if flush_every is not None and self.t % flush_every == 0:
            self.flush_decayed_state()

    # --- the subnormal flush (optim_fast.py says why)
    def decaying_state(self) -> dict[str, float]:
        """{state name: the factor it shrinks by at every step whose gradient entry is zero}."""
        return {}

    @property
    def flush_every(self) -> int | None:
        """Steps between two flushes of the decayed state (None: no flush)."""
        return optim_fast.flush_every(self)

    def flush_decayed_state(self) -> None:
        optim_fast.flush_decayed_state(self)

    def _flush_limit(self, name: str, limit: float) -> float | None:
        """The bound below which state ``name`` is zeroed, or None to leave it alone."""
        return limit

    def _checked_grad(self, i: int):
        name, p = self.params[i]
        if not p.trainable:  # frozen after the optimizer was built: its last gradient must not move it
            return None
        if p.grad is not None and (p.grad.shape != p.value.shape or p.grad.dtype != p.value.dtype):
            raise ValueError(f"gradient of {name} has shape {tuple(p.grad.shape)} and dtype {p.grad.dtype}, "
                             f"expected {tuple(p.value.shape)} and {p.value.dtype}")
        state = self.state[i]
        # model.to(...) after the optimizer was built: the state would silently narrow, or mix libraries
        if state and (type(state[0]) is not type(p.value) or state[0].dtype != p.value.dtype):
            raise ValueError(f"{name} is now a {_describe(p.value)} array, but the optimizer's state was made "
                             f"for {_describe(state[0])}; build the optimizer after model.to(...)")
        return p.grad


class SGD(Optimizer):
    """v ← μ v + g;  θ ← θ − lr v   (plain SGD when μ = 0)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, *, pack_vectors: bool = True,
                 flush_subnormals: bool = True, fast: bool = True):
        self.momentum = _check_factor("momentum", momentum)
        self.state_names = ("velocity",) if momentum else ()
        super().__init__(params, lr, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals, fast=fast)
        if not momentum:
            self.velocity = None

    def rule(self, grad, *state, t):
        if not state:
            return self.lr * grad
        (v,) = state
        v[...] = self.momentum * v + grad
        return self.lr * v

    fast_rule = optim_fast.mirrors(rule)(optim_fast.sgd_rule)

    def decaying_state(self) -> dict[str, float]:
        return {"velocity": self.momentum} if self.momentum else {}


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr · m̂ / (√v̂ + ε), with bias-corrected m̂, v̂."""

    state_names = ("m", "v")

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8, *,
                 pack_vectors: bool = True, flush_subnormals: bool = True, fast: bool = True):
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = _check_factor("beta1", betas[0]), _check_factor("beta2", betas[1])
        eps = _check_real("eps", eps)
        if not math.isfinite(eps) or eps <= 0:
            # a gradient entry that has always been zero (a dead unit) would make the step 0/0 = NaN
            raise ValueError(f"eps must be a finite number > 0, got {eps}")
        self.eps = float(eps)
        super().__init__(params, lr, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals, fast=fast)
        for name, p in self.params:
            dtype = resolve_dtype(p.value.dtype)
            if dtype.type(eps) == 0:  # added to a state of that dtype, it would vanish: the same 0/0
                raise ValueError(f"eps must stay above 0 in {name}'s dtype {dtype.name}, got {eps}, which rounds "
                                 f"to 0 there (the smallest {dtype.name} above 0 is {np.finfo(dtype).smallest_subnormal})")

    def rule(self, grad, m, v, *, t):
        xp = namespace(grad)
        m[...] = self.beta1 * m + (1.0 - self.beta1) * grad
        v[...] = self.beta2 * v + (1.0 - self.beta2) * (grad * grad)
        step_size = self.lr / (1.0 - self.beta1 ** t)  # lr · m̂ = step_size · m
        denom = xp.sqrt(v) / math.sqrt(1.0 - self.beta2 ** t) + self.eps  # √v̂ + ε
        return m / denom * step_size

    fast_rule = optim_fast.mirrors(rule)(optim_fast.adam_rule)

    def decaying_state(self) -> dict[str, float]:
        return {"m": self.beta1, "v": self.beta2}

    def _flush_limit(self, name: str, limit: float) -> float | None:
        # Zeroing m below the limit moves a weight by < lr · limit / eps (the step divides by at least
        # eps); zeroing v changes √v, next to eps, by < √limit. With eps = 1e-8 both are far below
        # float32's resolution; with a much smaller eps they are not, and that state is not flushed.
        if name == "m" and limit > self.eps * 2.0 ** -30:
            return None
        if name == "v" and math.sqrt(limit) > self.eps * 2.0 ** -10:
            return None
        return limit


class Adamax(Adam):
    """m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − lr/(1−β₁ᵗ) · m / u   (Kingma & Ba, §7.1,
    with ε inside the max as in PyTorch, so that an entry whose gradient stayed 0 never divides by 0).

    u is kept in the state array named ``v``.
    """

    def __init__(self, params, lr: float = 0.002, betas=(0.9, 0.999), eps: float = 1e-8, *,
                 pack_vectors: bool = True, flush_subnormals: bool = True, fast: bool = True):
        super().__init__(params, lr, betas, eps, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals,
                         fast=fast)

    def rule(self, grad, m, u, *, t):
        xp = namespace(grad)
        m[...] = self.beta1 * m + (1.0 - self.beta1) * grad
        u[...] = xp.maximum(self.beta2 * u, xp.abs(grad) + self.eps)
        return m / u * (self.lr / (1.0 - self.beta1 ** t))

    fast_rule = optim_fast.mirrors(rule)(optim_fast.adamax_rule)

    def decaying_state(self) -> dict[str, float]:
        return {"m": self.beta1}  # u = max(β₂u, |g| + eps) never falls below eps


def _named_parameters(params) -> list:
    """A model, (name, Parameter) pairs or bare Parameters (as ``model.parameters()`` gives them,
    named by position) -> a list of (name, Parameter) pairs."""
    if hasattr(params, "trainable_parameters"):
        return params.trainable_parameters()
    if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise TypeError(f"params must be a model or an iterable of parameters, got {type(params).__name__}")
    pairs = []
    for i, item in enumerate(params):
        if isinstance(item, Parameter):
            pairs.append((f"parameters[{i}]", item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Parameter):
            pairs.append(item)
        else:
            raise TypeError(f"params must be a model, (name, Parameter) pairs such as model.trainable_parameters(), "
                            f"or Parameters such as model.parameters(); item {i} is {item!r}")
    return pairs


def _describe(a) -> str:
    """'numpy float32', 'strict float64': an array's backend and dtype, for messages."""
    return f"{backend_of(a).name} {str(a.dtype).rsplit('.', 1)[-1]}"


def _check_real(name: str, value) -> float:
    """A real number (Python's or NumPy's; not a bool or a string) as a float."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_factor(name: str, value) -> float:
    """A decay factor (momentum, beta1, beta2): a number in [0, 1)."""
    value = _check_real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamax": Adamax}


def make_optimizer(name: str, params, lr: float, **kw) -> Optimizer:
    """Build an optimizer by name ('sgd', 'adam', 'adamax')."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](params, lr=lr, **kw)
