"""Optimizers: SGD (with momentum), Adam and Adamax (the authors' optimizer).

Each takes ``model.trainable_parameters()`` (or any list of (name, Parameter)), keeps state
only for those, preallocates it once, and updates values in place, in their own dtype;
Adam and Adamax also write their intermediates into a preallocated scratch array, so a step
allocates no arrays (except the flush of decayed state, below, once every ``flush_every`` steps, and,
once the members of a pack have skipped different steps, small arrays of their step counts).
The update rules follow PyTorch's documentation, so that the benchmark against PyTorch
compares like with like.

**Vectors are updated together.**  A spectral network's trainable parameters are mostly short
vectors: a 784→100→10 net has six (lam_in, lam_out and b of each layer, 1,104 numbers in all).
A rule is ~10 library calls, and on such short arrays the cost of a call, not the arithmetic,
is the time: 9 µs per vector, as long as one 784×100 matrix takes. So the 1-D parameters of one
dtype and backend form a *pack*: their state lives in shared flat arrays (each parameter's state
is a slice of them), their gradients are copied into one flat buffer, and the rule runs once
on it. The numbers are exactly those of separate updates, because every rule acts entry by
entry.

**Large arrays are updated a block of rows at a time.** A rule makes ~10 passes over the
parameter, its gradient and its state. On a 784 × 1000 layer each array is 3 MB, more than a
core's L2 cache, so every pass streams them from further away; run on equal blocks of at most
``block_entries`` = 2^17 entries (512 KB of float32 per array), the ten passes find the block in
L2. An Adamax step of that layer: 2.6 → 2.0 ms on this project's 2-core machine, and 13 % off a
dense 784→1000→10 epoch at batch 200 (``benchmarks/bench_hot_paths.py``). A parameter of up to
2^17 entries (a 784 × 100 layer) is updated whole: it is near enough to fit the cache as it is,
and blocks would only add calls. GPU arrays are updated whole: a GPU has no such cache to fit,
and each block would cost ten kernel launches.

**Decayed state is flushed before it turns subnormal.** Where a gradient entry stays zero (a
dead ReLU unit zeroes a whole row of dW), the momentum ``m ← β₁m`` shrinks by β₁ every step and
after ~850 steps (β₁ = 0.9, float32) falls below the smallest normal number. Arithmetic on such
*subnormal* numbers takes a slow microcode path on many x86 CPUs, ~100× the cost of a normal
operation: unflushed, a dense 784→1000→10 epoch at batch 200 (random labels, many dead units)
grew from 1.75 s to 5.1 s over six epochs on this project's Intel machine, and PyTorch's Adamax,
which does not flush, slows down too (``benchmarks/RESULTS.md``, *Subnormal numbers*). So every
``flush_every`` steps the decaying state arrays (``decaying_state``) have their entries below
``FLUSH_BELOW`` × the smallest normal number set to zero, and ``flush_every`` is short enough
that an entry above that bound cannot decay by more than 2^22 before the next flush: the state,
and the step m/u computed from it, stay normal numbers. The zeroed entries are far too small to
move a parameter: in float32 an entry below 1.3e-26 moves a weight by less than ``lr`` × 1.3e-17
(Adam and Adamax divide by at least ``eps`` = 1e-8), which rounds away on any weight above
~1e-10. With an ``eps`` much below 1e-8 that bound fails, and Adam and Adamax leave the state
they cannot flush safely alone (``_flush_limit``). ``flush_subnormals=False`` turns the flush off.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from array_api_compat import device, is_cupy_array

from .backend import backend_of, namespace, resolve_dtype
from .functional.fast import write_into
from .nn.module import Parameter

# A decaying state entry is zeroed below FLUSH_BELOW × the dtype's smallest normal number.  The
# factor leaves 2^40 of room: 2^22 for the decay between two flushes, a factor of 2 for rounding,
# and 2^17 for the division of m by u and the multiplication by the learning rate, so that the
# step computed from the state stays normal too.
FLUSH_BELOW = 2.0 ** 40
_DECAY_BETWEEN_FLUSHES = 2.0 ** -22


class Optimizer:
    """Base class: ``step()`` applies ``value -= rule(grad, *state)`` to every trained parameter.

    Subclasses name their per-parameter state arrays in ``state_names`` (zero-initialised, of the
    parameter's shape, dtype and backend; reachable as lists, e.g. ``opt.m[i]``) and implement
    ``rule``.
    """

    state_names: tuple[str, ...] = ()
    block_entries = 2 ** 17  # most entries per block of a large parameter's update (None: update whole)

    def __init__(self, params, lr: float, *, pack_vectors: bool = True, flush_subnormals: bool = True):
        self.params = [(name, p) for name, p in _named_parameters(params) if p.trainable]
        lr = _check_real("lr", lr)
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {lr}")
        self.lr = lr
        self.t = 0  # steps taken
        # Steps that updated each parameter: its own t in the bias corrections, as in PyTorch, where a
        # parameter without a gradient at a step is not stepped (and does not age) either.
        self.counts = [0] * len(self.params)
        self.state, self.packs = self._allocate_state(pack_vectors)
        for k, name in enumerate(self.state_names):
            setattr(self, name, [s[k] for s in self.state])
        self.flush_subnormals = bool(flush_subnormals)

    def decaying_state(self) -> dict[str, float]:
        """{state name: the factor it shrinks by at every step whose gradient entry is zero}."""
        return {}

    @property
    def flush_every(self) -> int | None:
        """Steps between two flushes: the most steps that shrink an entry by no more than 2^22.

        Derived from the current decay factors.  None when the flush is off or no state decays (plain
        SGD, or factors of 0, which zero the state outright).
        """
        if not self.flush_subnormals:
            return None
        factors = [f for f in self.decaying_state().values() if 0.0 < f < 1.0]
        if not factors:
            return None
        return max(1, math.floor(math.log(_DECAY_BETWEEN_FLUSHES) / math.log(min(factors))))

    def flush_decayed_state(self) -> None:
        """Zero every decaying state entry below ``FLUSH_BELOW`` × the smallest normal number (or the
        optimizer's own, smaller bound: ``_flush_limit``)."""
        names = self.decaying_state()
        columns = [(k, name) for k, name in enumerate(self.state_names) if name in names]
        packed = {i for pack in self.packs for i in pack.indices}
        arrays = [(name, pack.state[k]) for pack in self.packs for k, name in columns]
        arrays += [(name, self.state[i][k]) for i in range(len(self.params)) if i not in packed for k, name in columns]
        for name, a in arrays:
            xp = namespace(a)
            limit = self._flush_limit(name, float(xp.finfo(a.dtype).smallest_normal) * FLUSH_BELOW)
            if limit is not None:
                a[...] = xp.where(xp.abs(a) < limit, xp.zeros_like(a), a)

    def _flush_limit(self, name: str, limit: float) -> float | None:
        """The bound below which state ``name`` is zeroed, or None to leave it alone."""
        return limit

    def _allocate_state(self, pack_vectors: bool):
        """Per parameter, a tuple of zeroed state arrays; the vectors of a pack get views of its flat arrays."""
        n_state = len(self.state_names)
        state, groups = [None] * len(self.params), {}
        for i, (_, p) in enumerate(self.params):
            v = p.value
            if pack_vectors and n_state and v.ndim == 1:
                # the type first, so that one library's dtype is never compared with another's
                groups.setdefault((type(v), v.dtype, str(device(v))), []).append(i)
            else:
                state[i] = tuple(namespace(v).zeros_like(v) for _ in range(n_state))
        packs = []
        for members in groups.values():
            if len(members) == 1:  # nothing to gain from a pack of one
                v = self.params[members[0]][1].value
                state[members[0]] = tuple(namespace(v).zeros_like(v) for _ in range(n_state))
                continue
            pack = _Pack(members, [self.params[i][1].value for i in members], n_state)
            for i, sl in zip(members, pack.slices):
                state[i] = tuple(s[sl] for s in pack.state)
            packs.append(pack)
        return state, packs

    def step(self) -> None:
        """Apply one update from each parameter's ``grad``; parameters without a grad are skipped.

        Every gradient is checked before anything moves, so a bad one leaves the step untaken.
        """
        grads = [self._checked_grad(i) for i in range(len(self.params))]
        self.t += 1
        packed = set()
        for pack in self.packs:
            if any(grads[i] is None for i in pack.indices):
                continue  # its members are updated one by one below, on views of the same state
            for i, sl in zip(pack.indices, pack.slices):
                pack.grad[sl] = grads[i]
            counts = [self.counts[i] + 1 for i in pack.indices]
            # One count for the pack, or, once a member has skipped a step, one per entry.
            t = counts[0] if len(set(counts)) == 1 else StepCounts(counts, pack.slices, pack.grad)
            step = self.rule(pack.grad, *pack.state, t=t)
            for i, sl, count in zip(pack.indices, pack.slices, counts):
                self.params[i][1].value -= step[sl]
                self.counts[i] = count
            packed.update(pack.indices)
        for i, (_, p) in enumerate(self.params):
            if i not in packed and grads[i] is not None:
                self.counts[i] += 1
                self._update(p.value, grads[i], self.state[i], self.counts[i])
        flush_every = self.flush_every
        if flush_every is not None and self.t % flush_every == 0:
            self.flush_decayed_state()

    def _update(self, value, grad, state, t: int) -> None:
        """``value -= rule(grad, *state)`` in blocks of rows that fit a core's cache (module docstring).

        Every rule acts entry by entry, so the blocks give exactly the numbers of one update.
        """
        if not self.block_entries or value.size <= self.block_entries or is_cupy_array(value):
            value -= self.rule(grad, *state, t=t)
            return
        n_rows = value.shape[0]
        # equal blocks: a short last block would cost a full block's calls for little work
        n_blocks = min(n_rows, math.ceil(value.size / self.block_entries))
        block_rows = math.ceil(n_rows / n_blocks)
        for lo in range(0, n_rows, block_rows):
            rows = slice(lo, min(lo + block_rows, n_rows))  # the Array API forbids a stop past the end
            block = value[rows, ...]  # a view: updating it in place updates the parameter
            block -= self.rule(grad[rows, ...], *(s[rows, ...] for s in state), t=t)

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

    def rule(self, grad, *state, t):
        """The amount to subtract from the value, given its gradient and its step count ``t`` (1 at its
        first update; ``StepCounts`` for a pack whose members skipped different steps: see
        ``per_step``); updates ``state`` in place."""
        raise NotImplementedError


class _Pack:
    """1-D parameters of one dtype and backend whose state lives in flat arrays, one slice each."""

    def __init__(self, indices: list[int], values: list, n_state: int):
        xp = namespace(values[0])
        self.indices, self.slices, start = indices, [], 0
        for v in values:
            self.slices.append(slice(start, start + v.shape[0]))
            start += v.shape[0]
        flat = lambda: xp.zeros(start, dtype=values[0].dtype, device=device(values[0]))  # noqa: E731
        self.grad = flat()
        self.state = tuple(flat() for _ in range(n_state))


class StepCounts:
    """The step counts of a pack's members, when they differ (a member skipped a step): ``per_step``
    turns a function of the count into an array of its values, one per entry."""

    def __init__(self, counts: list[int], slices: list[slice], like):
        self.counts, self.slices, self.like = counts, slices, like

    def fill(self, fn):
        xp, like = namespace(self.like), self.like
        return xp.concat([xp.full(sl.stop - sl.start, fn(c), dtype=like.dtype, device=device(like))
                          for sl, c in zip(self.slices, self.counts)])


def per_step(fn, t):
    """``fn(t)`` for a step count t (a number), or its values per entry for ``StepCounts``.

    Each value is computed as a Python float and rounded to the array's dtype, as a number is when it
    multiplies an array: a pack gives exactly the numbers of updates one by one.
    """
    return fn(t) if isinstance(t, int) else t.fill(fn)


class SGD(Optimizer):
    """v ← μ v + g;  θ ← θ − lr v   (plain SGD when μ = 0)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, *, pack_vectors: bool = True,
                 flush_subnormals: bool = True):
        self.momentum = _check_factor("momentum", momentum)
        self.state_names = ("velocity",) if momentum else ()
        super().__init__(params, lr, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals)
        if not momentum:
            self.velocity = None

    def decaying_state(self) -> dict[str, float]:
        return {"velocity": self.momentum} if self.momentum else {}

    def rule(self, grad, *state, t):
        if not state:
            return self.lr * grad
        (v,) = state
        v *= self.momentum
        v += grad
        return self.lr * v


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr · m̂ / (√v̂ + ε), with bias-corrected m̂, v̂."""

    # scratch: every intermediate of a step is written there, so a step allocates nothing
    # (on a 784×1000 layer each temporary would be a fresh 3 MB)
    state_names = ("m", "v", "scratch")

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8, *,
                 pack_vectors: bool = True, flush_subnormals: bool = True):
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = _check_factor("beta1", betas[0]), _check_factor("beta2", betas[1])
        eps = _check_real("eps", eps)
        if not math.isfinite(eps) or eps <= 0:
            # a gradient entry that has always been zero (a dead unit) would make the step 0/0 = NaN
            raise ValueError(f"eps must be a finite number > 0, got {eps}")
        self.eps = float(eps)
        super().__init__(params, lr, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals)
        for name, p in self.params:
            dtype = resolve_dtype(p.value.dtype)
            if dtype.type(eps) == 0:  # added to a state of that dtype, it would vanish: the same 0/0
                raise ValueError(f"eps must stay above 0 in {name}'s dtype {dtype.name}, got {eps}, which rounds "
                                 f"to 0 there (the smallest {dtype.name} above 0 is {np.finfo(dtype).smallest_subnormal})")

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

    def rule(self, grad, m, v, tmp, *, t):
        xp = namespace(grad)
        m *= self.beta1
        m += write_into(xp.multiply, grad, 1.0 - self.beta1, out=tmp)
        v *= self.beta2
        tmp = write_into(xp.multiply, grad, grad, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp
        step_size = per_step(lambda t: self.lr / (1.0 - self.beta1 ** t), t)
        denom = write_into(xp.sqrt, v, out=tmp)
        denom /= per_step(lambda t: math.sqrt(1.0 - self.beta2 ** t), t)
        denom += self.eps
        step = write_into(xp.divide, m, denom, out=tmp)
        step *= step_size
        return step


class Adamax(Adam):
    """m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − lr/(1−β₁ᵗ) · m / u   (Kingma & Ba, §7.1,
    with ε inside the max as in PyTorch, so that an entry whose gradient stayed 0 never divides by 0).

    u is kept in the state array named ``v``.
    """

    def __init__(self, params, lr: float = 0.002, betas=(0.9, 0.999), eps: float = 1e-8, *,
                 pack_vectors: bool = True, flush_subnormals: bool = True):
        super().__init__(params, lr, betas, eps, pack_vectors=pack_vectors, flush_subnormals=flush_subnormals)

    def decaying_state(self) -> dict[str, float]:
        return {"m": self.beta1}  # u = max(β₂u, |g| + eps) never falls below eps

    def rule(self, grad, m, u, tmp, *, t):
        xp = namespace(grad)
        m *= self.beta1
        m += write_into(xp.multiply, grad, 1.0 - self.beta1, out=tmp)
        abs_grad = write_into(xp.abs, grad, out=tmp)
        abs_grad += self.eps
        u *= self.beta2
        write_into(xp.maximum, u, abs_grad, out=u)
        step = write_into(xp.divide, m, u, out=tmp)
        step *= per_step(lambda t: self.lr / (1.0 - self.beta1 ** t), t)
        return step


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
