"""The machinery that makes the optimizers of ``optim.py`` fast, beside their plain rules.

``optim.py`` writes each update rule as its formula.  This module runs the same rules faster, in
four ways; every one gives the numbers of the plain rule (tests/test_optim.py keeps the two
equal: exactly on the CPU, to rounding in a fused GPU kernel).

**No temporaries.** The in-place forms (``sgd_rule``, ``adam_rule``, ``adamax_rule``) write every
intermediate of a step into a preallocated scratch array, so a step allocates nothing (on a
784×1000 layer each temporary would be a fresh 3 MB).

**Vectors are updated together.**  A spectral network's trainable parameters are mostly short
vectors: a 784→100→10 net has six (lam_in, lam_out and b of each layer, 1,104 numbers in all).
A rule is ~10 library calls, and on such short arrays the cost of a call, not the arithmetic,
is the time (``benchmarks/bench_hot_paths.py``). So on the CPU the 1-D parameters of one dtype
form a *pack*: their state lives in shared flat arrays (each parameter's state is a slice of
them), their gradients are copied into one flat buffer, and the rule runs once on it.  The
numbers are exactly those of separate updates, because every rule acts entry by entry.

**Large arrays are updated a block of rows at a time.** A rule makes ~10 passes over the
parameter, its gradient and its state. On a 784 × 1000 layer each array is 3 MB, more than a
core's L2 cache; run on equal blocks of at most ``block_entries`` = 2^17 entries (512 KB of
float32 per array), the passes find the block in L2 (``benchmarks/RESULTS.md``).

**On a GPU, one kernel per parameter.** Each library call on CuPy is a kernel launch of ~5-10 µs,
and a step of a small network is bound by launches, not arithmetic. So on CuPy each rule is one
``cupy.ElementwiseKernel`` that updates the state and the parameter in one pass, and nothing is
packed or blocked (a pack's copies would cost two launches per member).

**Decayed state is flushed before it turns subnormal.** Where a gradient entry stays zero (a
dead ReLU unit zeroes a whole row of dW), the momentum ``m ← β₁m`` shrinks by β₁ every step and
after ~850 steps (β₁ = 0.9, float32) falls below the smallest normal number.  Arithmetic on such
*subnormal* numbers takes a slow microcode path on many x86 CPUs, ~100× the cost of a normal
operation (``benchmarks/RESULTS.md``, *Subnormal numbers*). So every ``flush_every`` steps the
decaying state arrays (``decaying_state``) have their entries below ``FLUSH_BELOW`` × the smallest
normal number set to zero, and ``flush_every`` is short enough that an entry above that bound
cannot decay by more than 2^22 before the next flush: the state, and the step m/u computed from it,
stay normal numbers. The zeroed entries are far too small to move a parameter: in float32 an entry
below 1.3e-26 moves a weight by less than ``lr`` × 1.3e-17 (Adam and Adamax divide by at least
``eps`` = 1e-8), which rounds away on any weight above ~1e-10. With an ``eps`` much below 1e-8 that
bound fails, and Adam and Adamax leave the state they cannot flush safely alone (``_flush_limit``).
"""
from __future__ import annotations

import functools
import math

from array_api_compat import device, is_cupy_array

from .backend import namespace
from .functional.fast import write_into

# A decaying state entry is zeroed below FLUSH_BELOW × the dtype's smallest normal number.  The
# factor leaves 2^40 of room: 2^22 for the decay between two flushes, a factor of 2 for rounding,
# and 2^17 for the division of m by u and the multiplication by the learning rate, so that the
# step computed from the state stays normal too.
FLUSH_BELOW = 2.0 ** 40
DECAY_BETWEEN_FLUSHES = 2.0 ** -22


def mirrors(plain_rule):
    """Mark a fast rule as the twin of ``plain_rule``: a subclass that rewrites the plain rule
    without its own fast twin is run by its plain rule, never by its parent's fast one."""
    def mark(fast_rule):
        fast_rule.mirrors = plain_rule
        return fast_rule
    return mark


def fast_rule_of(opt):
    """The optimizer's fast rule, or None when its plain rule has no twin here."""
    fast = getattr(type(opt), "fast_rule", None)
    return fast if fast is not None and getattr(fast, "mirrors", None) is type(opt).rule else None


# ------------------------------------------------------------------ state

class Pack:
    """1-D parameters of one dtype and backend whose state lives in flat arrays, one slice each."""

    def __init__(self, indices: list[int], values: list, n_state: int):
        xp = namespace(values[0])
        self.indices, self.slices, start = indices, [], 0
        for v in values:
            self.slices.append(slice(start, start + v.shape[0]))
            start += v.shape[0]
        flat = lambda: xp.zeros(start, dtype=values[0].dtype, device=device(values[0]))  # noqa: E731
        self.grad = flat()
        self.scratch = flat()
        self.state = tuple(flat() for _ in range(n_state))


def allocate_state(opt, pack_vectors: bool):
    """(state, scratch, packs): per parameter a tuple of zeroed state arrays and a scratch array; the
    vectors of a pack get views of its flat arrays.  CuPy arrays are never packed (module docstring)."""
    n_state = len(opt.state_names)
    fast = fast_rule_of(opt)
    fused = fast is not None and opt.fast and getattr(fast, "fused", None) is not None
    state, scratch, groups = [None] * len(opt.params), [None] * len(opt.params), {}
    for i, (_, p) in enumerate(opt.params):
        v = p.value
        if pack_vectors and n_state and v.ndim == 1 and not is_cupy_array(v):
            # the type first, so that one library's dtype is never compared with another's
            groups.setdefault((type(v), v.dtype, str(device(v))), []).append(i)
        else:
            state[i] = tuple(namespace(v).zeros_like(v) for _ in range(n_state))
            # a fused CuPy kernel needs no scratch: no 3 MB array per large parameter on the GPU
            scratch[i] = None if is_cupy_array(v) and fused else namespace(v).zeros_like(v)
    packs = []
    for members in groups.values():
        if len(members) == 1:  # nothing to gain from a pack of one
            v = opt.params[members[0]][1].value
            state[members[0]] = tuple(namespace(v).zeros_like(v) for _ in range(n_state))
            scratch[members[0]] = namespace(v).zeros_like(v)
            continue
        pack = Pack(members, [opt.params[i][1].value for i in members], n_state)
        for i, sl in zip(members, pack.slices):
            state[i] = tuple(s[sl] for s in pack.state)
            scratch[i] = pack.scratch[sl]
        packs.append(pack)
    return state, scratch, packs


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


# ------------------------------------------------------------------ the step

def step(opt, grads) -> None:
    """One update of every parameter with a gradient: packs first, then the others, in blocks."""
    fast = fast_rule_of(opt)
    packed = set()
    for pack in opt.packs if fast is not None else ():  # a plain rule takes one count t: no packs
        if any(grads[i] is None for i in pack.indices):
            continue  # its members are updated one by one below, on views of the same state
        for i, sl in zip(pack.indices, pack.slices):
            pack.grad[sl] = grads[i]
        counts = [opt.counts[i] + 1 for i in pack.indices]
        # One count for the pack, or, once a member has skipped a step, one per entry.
        t = counts[0] if len(set(counts)) == 1 else StepCounts(counts, pack.slices, pack.grad)
        update = _rule(opt, fast, pack.grad, pack.state, pack.scratch, t)
        for i, sl, count in zip(pack.indices, pack.slices, counts):
            opt.params[i][1].value -= update[sl]
            opt.counts[i] = count
        packed.update(pack.indices)
    for i, (_, p) in enumerate(opt.params):
        if i not in packed and grads[i] is not None:
            opt.counts[i] += 1
            _update(opt, fast, p.value, grads[i], opt.state[i], opt.scratch[i], opt.counts[i])


def _rule(opt, fast, grad, state, scratch, t):
    if fast is None:
        return opt.rule(grad, *state, t=t)
    return fast(opt, grad, *state, out=scratch, t=t)


def _update(opt, fast, value, grad, state, scratch, t: int) -> None:
    """``value -= rule(grad, *state)``: in one kernel on CuPy, else in blocks of rows that fit a core's
    cache (module docstring).  Every rule acts entry by entry, so the blocks give exactly the numbers
    of one update."""
    if is_cupy_array(value) and fast is not None and getattr(fast, "fused", None) is not None:
        fast.fused(opt, value, grad, *state, t=t)
        return
    if not opt.block_entries or value.size <= opt.block_entries or is_cupy_array(value):
        value -= _rule(opt, fast, grad, state, scratch, t)
        return
    n_rows = value.shape[0]
    # equal blocks: a short last block would cost a full block's calls for little work
    n_blocks = min(n_rows, math.ceil(value.size / opt.block_entries))
    block_rows = math.ceil(n_rows / n_blocks)
    for lo in range(0, n_rows, block_rows):
        rows = slice(lo, min(lo + block_rows, n_rows))  # the Array API forbids a stop past the end
        block = value[rows, ...]  # a view: updating it in place updates the parameter
        block -= _rule(opt, fast, grad[rows, ...], tuple(s[rows, ...] for s in state), scratch[rows, ...], t)


# ------------------------------------------------------------------ the subnormal flush

def flush_every(opt) -> int | None:
    """Steps between two flushes: the most steps that shrink an entry by no more than 2^22.

    Derived from the current decay factors.  None when the flush is off or no state decays (plain
    SGD, or factors of 0, which zero the state outright).
    """
    if not opt.flush_subnormals:
        return None
    factors = [f for f in opt.decaying_state().values() if 0.0 < f < 1.0]
    if not factors:
        return None
    return max(1, math.floor(math.log(DECAY_BETWEEN_FLUSHES) / math.log(min(factors))))


def flush_decayed_state(opt) -> None:
    """Zero every decaying state entry below ``FLUSH_BELOW`` × the smallest normal number (or the
    optimizer's own, smaller bound: ``_flush_limit``)."""
    names = opt.decaying_state()
    columns = [(k, name) for k, name in enumerate(opt.state_names) if name in names]
    packed = {i for pack in opt.packs for i in pack.indices}
    arrays = [(name, pack.state[k]) for pack in opt.packs for k, name in columns]
    arrays += [(name, opt.state[i][k]) for i in range(len(opt.params)) if i not in packed for k, name in columns]
    for name, a in arrays:
        xp = namespace(a)
        limit = opt._flush_limit(name, float(xp.finfo(a.dtype).smallest_normal) * FLUSH_BELOW)
        if limit is not None:
            a[...] = xp.where(xp.abs(a) < limit, xp.zeros_like(a), a)


# ------------------------------------------------------------------ the rules, in place

def sgd_rule(opt, grad, *state, out, t):
    """``optim.SGD.rule`` writing into ``out``: the step ``lr·v`` (or ``lr·g``), v updated in place."""
    xp = namespace(grad)
    if not state:
        return write_into(xp.multiply, grad, opt.lr, out=out)
    (v,) = state
    v *= opt.momentum
    v += grad
    return write_into(xp.multiply, v, opt.lr, out=out)


def adam_rule(opt, grad, m, v, *, out, t):
    """``optim.Adam.rule`` with every intermediate written into ``out`` (same numbers, no temporaries)."""
    xp, tmp = namespace(grad), out
    m *= opt.beta1
    m += write_into(xp.multiply, grad, 1.0 - opt.beta1, out=tmp)
    v *= opt.beta2
    tmp = write_into(xp.multiply, grad, grad, out=tmp)
    tmp *= 1.0 - opt.beta2
    v += tmp
    step_size = per_step(lambda t: opt.lr / (1.0 - opt.beta1 ** t), t)
    denom = write_into(xp.sqrt, v, out=tmp)
    denom /= per_step(lambda t: math.sqrt(1.0 - opt.beta2 ** t), t)
    denom += opt.eps
    update = write_into(xp.divide, m, denom, out=tmp)
    update *= step_size
    return update


def adamax_rule(opt, grad, m, u, *, out, t):
    """``optim.Adamax.rule`` with every intermediate written into ``out``."""
    xp, tmp = namespace(grad), out
    m *= opt.beta1
    m += write_into(xp.multiply, grad, 1.0 - opt.beta1, out=tmp)
    abs_grad = write_into(xp.abs, grad, out=tmp)
    abs_grad += opt.eps
    u *= opt.beta2
    write_into(xp.maximum, u, abs_grad, out=u)
    update = write_into(xp.divide, m, u, out=tmp)
    update *= per_step(lambda t: opt.lr / (1.0 - opt.beta1 ** t), t)
    return update


# ------------------------------------------------------------------ the rules, fused on CuPy
# Each kernel updates the state and the parameter p in one pass.  The operations are those of the
# plain rules, in the same order, with the scalars rounded to T on the host as NumPy rounds them.
# (The compiler may fuse a multiply and an add, so a GPU can differ from NumPy in the last bit.)

ADAM_KERNEL = """
m = beta1 * m + one_minus_beta1 * g;
v = beta2 * v + one_minus_beta2 * (g * g);
T denom = sqrt(v) / bias2 + eps;
p -= m / denom * step_size;
"""

ADAMAX_KERNEL = """
m = beta1 * m + one_minus_beta1 * g;
T decayed = beta2 * u;
T bound = fabs(g) + eps;
// u = max(decayed, bound), keeping a NaN as NumPy's maximum does (CUDA's max of floats drops it)
u = (decayed > bound) | (decayed != decayed) ? decayed : bound;
p -= m / u * step_size;
"""

SGD_MOMENTUM_KERNEL = """
v = momentum * v + g;
p -= lr * v;
"""


@functools.lru_cache(maxsize=None)
def _kernel(name: str):
    import cupy

    if name == "adam":
        return cupy.ElementwiseKernel(
            "T g, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T bias2, T eps, T step_size",
            "T m, T v, T p", ADAM_KERNEL, "minispectral_adam")
    if name == "adamax":
        return cupy.ElementwiseKernel(
            "T g, T beta1, T one_minus_beta1, T beta2, T eps, T step_size", "T m, T u, T p", ADAMAX_KERNEL,
            "minispectral_adamax")
    return cupy.ElementwiseKernel("T g, T momentum, T lr", "T v, T p", SGD_MOMENTUM_KERNEL, "minispectral_sgd")


def _fused_adam(opt, p, grad, m, v, *, t):
    T = p.dtype.type
    _kernel("adam")(grad, T(opt.beta1), T(1.0 - opt.beta1), T(opt.beta2), T(1.0 - opt.beta2),
                    T(math.sqrt(1.0 - opt.beta2 ** t)), T(opt.eps), T(opt.lr / (1.0 - opt.beta1 ** t)), m, v, p)


def _fused_adamax(opt, p, grad, m, u, *, t):
    T = p.dtype.type
    _kernel("adamax")(grad, T(opt.beta1), T(1.0 - opt.beta1), T(opt.beta2), T(opt.eps),
                      T(opt.lr / (1.0 - opt.beta1 ** t)), m, u, p)


def _fused_sgd(opt, p, grad, *state, t):
    if not state:
        p -= grad * p.dtype.type(opt.lr)  # two launches; plain SGD is rare on a GPU
        return
    T = p.dtype.type
    _kernel("sgd")(grad, T(opt.momentum), T(opt.lr), state[0], p)


sgd_rule.fused = _fused_sgd
adam_rule.fused = _fused_adam
adamax_rule.fused = _fused_adamax
