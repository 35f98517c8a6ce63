"""Optimizers: one or two steps against the update rules written out by hand in float64."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minispectral
from minispectral import SGD, Adam, Adamax, make_optimizer, mlp
from minispectral.nn import Parameter
from minispectral import optim_fast
from minispectral.optim import FLUSH_BELOW, Optimizer

from conftest import dtype_name, host, make

THETA = np.array([[0.5, -1.25, 2.0], [0.0, 3.0, -0.75]])
GRADS = [np.array([[0.1, -0.2, 0.3], [-0.4, 0.0, 1.5]]), np.array([[-0.3, 0.2, 0.05], [0.4, -2.0, 0.5]])]
LR = 0.1


# The update rules of PyTorch's documentation, spelled out in float64 for two steps.

def sgd_by_hand(theta, grads, lr, momentum):
    v = np.zeros_like(theta)
    for g in grads:
        v = momentum * v + g
        theta = theta - lr * v
    return theta


def adam_by_hand(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def adamax_by_hand(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m, u = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - (lr / (1 - b1 ** t)) * m / u
    return theta


CASES = [
    ("sgd", lambda ps, **kw: SGD(ps, lr=LR, **kw), lambda th, gs: sgd_by_hand(th, gs, LR, 0.0)),
    ("sgd-momentum", lambda ps, **kw: SGD(ps, lr=LR, momentum=0.9, **kw), lambda th, gs: sgd_by_hand(th, gs, LR, 0.9)),
    ("adam", lambda ps, **kw: Adam(ps, lr=LR, **kw), lambda th, gs: adam_by_hand(th, gs, LR)),
    ("adamax", lambda ps, **kw: Adamax(ps, lr=LR, **kw), lambda th, gs: adamax_by_hand(th, gs, LR)),
]


def test_first_steps_by_hand_in_numbers():
    """The first step of each rule on one entry, worked out on paper: θ=0.5, g=0.1, lr=0.1."""
    assert sgd_by_hand(np.array(0.5), [np.array(0.1)], 0.1, 0.9) == pytest.approx(0.49)
    # Adam's first step is lr·sign(g) (up to eps): m̂ = g, v̂ = g².
    assert adam_by_hand(np.array(0.5), [np.array(0.1)], 0.1) == pytest.approx(0.4, abs=1e-7)
    # Adamax's first step too: m = 0.1 g, u = |g| + eps, lr/(1−β₁) · m/u = lr.
    assert adamax_by_hand(np.array(0.5), [np.array(0.1)], 0.1) == pytest.approx(0.4, abs=1e-7)


@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_one_step_matches_the_rule(backend, name, build, by_hand):
    p = Parameter(make(backend, THETA))
    opt = build([("theta", p)])
    value = p.value
    p.grad = make(backend, GRADS[0])
    opt.step()
    assert p.value is value, "the update must happen in place"
    np.testing.assert_allclose(host(p.value), by_hand(THETA, GRADS[:1]), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_two_steps_match_the_rule(backend, name, build, by_hand):
    p = Parameter(make(backend, THETA))
    opt = build([("theta", p)])
    for g in GRADS:
        p.grad = make(backend, g)
        opt.step()
    assert opt.t == 2
    np.testing.assert_allclose(host(p.value), by_hand(THETA, GRADS), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_float32_stays_float32(backend, name, build, by_hand):
    p = Parameter(make(backend, THETA, "float32"))
    opt = build([("theta", p)])
    for g in GRADS:
        p.grad = make(backend, g, "float32")
        opt.step()
    assert dtype_name(p.value) == "float32"
    for state in (getattr(opt, "velocity", None), getattr(opt, "m", None), getattr(opt, "v", None)):
        for s in state or []:
            assert dtype_name(s) == "float32"
    np.testing.assert_allclose(host(p.value), by_hand(THETA, GRADS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(name, build, by_hand):
    torch = pytest.importorskip("torch")
    p = Parameter(THETA.copy())
    opt = build([("theta", p)])
    t_param = torch.nn.Parameter(torch.tensor(THETA))
    t_opt = {"sgd": lambda: torch.optim.SGD([t_param], lr=LR),
             "sgd-momentum": lambda: torch.optim.SGD([t_param], lr=LR, momentum=0.9),
             "adam": lambda: torch.optim.Adam([t_param], lr=LR),
             "adamax": lambda: torch.optim.Adamax([t_param], lr=LR)}[name]()
    for g in GRADS * 3:
        p.grad = g.copy()
        opt.step()
        t_param.grad = torch.tensor(g)
        t_opt.step()
    np.testing.assert_allclose(p.value, t_param.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_state_only_for_trainable_parameters():
    trained, frozen = Parameter(np.ones(3)), Parameter(np.ones(2), trainable=False)
    params = [("a", trained), ("frozen", frozen)]
    for opt in (SGD(params, lr=LR, momentum=0.9), Adam(params, lr=LR), Adamax(params, lr=LR)):
        assert [name for name, _ in opt.params] == ["a"]
        state = opt.velocity if isinstance(opt, SGD) else opt.m + opt.v
        assert all(s.shape == (3,) for s in state)
        assert len(state) == (1 if isinstance(opt, SGD) else 2)
    assert SGD(params, lr=LR).velocity is None  # plain SGD keeps no state at all


def test_a_model_passes_its_trainable_parameters():
    net = minispectral.mlp((4, 3, 2), "spectral")
    opt = make_optimizer("adamax", net, lr=0.01)
    assert [n for n, _ in opt.params] == [n for n, _ in net.trainable_parameters()]
    assert "0.phi" not in [n for n, _ in opt.params]


def test_parameters_without_a_gradient_are_left_alone():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = Adam([("a", a), ("b", b)], lr=LR)
    a.grad = np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_array_equal(b.value, [1.0, 1.0])
    assert not np.array_equal(a.value, [1.0, 1.0])
    np.testing.assert_array_equal(opt.m[1], 0.0)


def test_masked_entries_are_not_moved():
    """A triangular R's fixed entries get a zero gradient, so no optimizer moves them."""
    R = np.tril(np.ones((3, 3)))
    for name in ("sgd", "adam", "adamax"):
        p = Parameter(R.copy(), mask=R.copy())
        opt = make_optimizer(name, [("R", p)], lr=LR, **({"momentum": 0.9} if name == "sgd" else {}))
        for _ in range(3):
            p.grad = np.full((3, 3), 0.7) * p.mask
            opt.step()
        assert np.all(np.triu(p.value, k=1) == 0), name


def test_gradient_of_the_wrong_shape_or_dtype_names_the_parameter():
    p = Parameter(np.ones((2, 3)))
    opt = SGD([("layer.W", p)], lr=LR)
    p.grad = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"layer\.W.*\(3, 2\)"):
        opt.step()
    p.grad = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"layer\.W.*float32"):
        opt.step()


@pytest.mark.parametrize("lr", [0.0, -0.1, math.inf, math.nan])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="lr must be"):
        SGD([("a", Parameter(np.ones(2)))], lr=lr)


def test_unknown_optimizer_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"\['adam', 'adamax', 'sgd'\], got 'adamw'"):
        make_optimizer("adamw", [("a", Parameter(np.ones(2)))], lr=0.1)


# ------------------------------------------------------------------ packed vectors

def _mixed_params(backend):
    """Vectors of two dtypes (two packs) and a matrix (updated on its own), with fixed gradients."""
    rng = np.random.default_rng(1)
    shapes = [("a", (3,), "float32"), ("W", (2, 3), "float32"), ("b", (4,), "float32"),
              ("c", (2,), "float64"), ("d", (5,), "float64"), ("e", (1,), "float32")]
    params = [(n, Parameter(make(backend, rng.standard_normal(s), dt))) for n, s, dt in shapes]
    grads = [[make(backend, rng.standard_normal(s), dt) for _, s, dt in shapes] for _ in range(4)]
    return params, grads


@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_packed_vectors_update_exactly_as_one_by_one(backend, name, build, by_hand):
    """The packs change only how many library calls a step makes, not one bit of the numbers, also on
    a step where one vector of a pack has no gradient (that pack is then updated one by one)."""
    runs = []
    for pack in (True, False):
        params, grads = _mixed_params(backend)
        opt = build(params, pack_vectors=pack)
        for step, gs in enumerate(grads):
            for (pname, p), g in zip(params, gs):
                p.grad = None if (step == 2 and pname == "b") else g
            opt.step()
        runs.append((opt, [host(p.value) for _, p in params], [[host(a) for a in s] for s in opt.state]))
    (packed, values, state), (single, values1, state1) = runs
    if backend.name == "cupy":  # one fused kernel per parameter there: packing would add two calls a member
        assert not packed.packs
    elif name != "sgd":  # plain SGD keeps no state, so there is nothing to pack
        assert len(packed.packs) == 2 and not single.packs
        assert sorted(len(p.indices) for p in packed.packs) == [2, 3]  # a, b, e (float32) and c, d
    for v, v1 in zip(values, values1):
        np.testing.assert_array_equal(v, v1)
    for s, s1 in zip(state, state1):
        for a, a1 in zip(s, s1):
            np.testing.assert_array_equal(a, a1)


# ------------------------------------------------------------------ the plain rules and the fast path

@pytest.mark.parametrize("block_entries", [None, 4], ids=["whole", "blocks"])
@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_the_fast_path_gives_the_numbers_of_the_plain_rules(backend, name, build, by_hand, block_entries, monkeypatch):
    """optim_fast's step (scratch arrays, packs, blocks; one fused kernel per parameter on CuPy) against
    optim's formulas run one parameter at a time (fast=False): the same bits on the CPU; on CuPy the
    fused kernels' own arithmetic, equal to float32 rounding (tests/cupy_standin.py runs their C source)."""
    monkeypatch.setattr(Optimizer, "block_entries", block_entries)
    runs = []
    for fast in (True, False):
        params, grads = _mixed_params(backend)
        grads = [[g * 1e-8 if k in (0, 3) else g for k, g in enumerate(gs)] for gs in grads]  # eps matters here
        opt = build(params, fast=fast)
        for step, gs in enumerate(grads):
            for (pname, p), g in zip(params, gs):
                p.grad = None if (step == 2 and pname == "b") else g
            opt.step()
        runs.append(([host(p.value) for _, p in params], [[host(a) for a in st] for st in opt.state]))
    (values, state), (plain_values, plain_state) = runs
    for got, want in zip(values + sum(state, []), plain_values + sum(plain_state, [])):
        if backend.name == "cupy":
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-12)
        else:
            np.testing.assert_array_equal(got, want)
    assert not np.array_equal(values[1], host(_mixed_params(backend)[0][1][1].value))  # W moved


@pytest.mark.gpu
@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_a_fused_step_keeps_the_plain_rules_nan_and_inf(cupy_backend, name, build, by_hand):
    """A NaN or an infinite gradient entry leaves the very NaN and inf in the state and the value that the
    plain rule leaves (CUDA's max of floats drops a NaN, NumPy's maximum keeps it)."""
    runs = []
    for fast in (True, False):
        value = Parameter(make(cupy_backend, np.linspace(-1.0, 1.0, 6).reshape(2, 3), "float32"))
        opt = build([("W", value)], fast=fast)
        for g in ([np.nan, np.inf, -np.inf, 0.5, 0.0, -0.25], [0.1, 0.2, 0.3, -0.1, np.nan, 0.0]):
            value.grad = make(cupy_backend, np.reshape(g, (2, 3)), "float32")
            opt.step()
        runs.append([host(value.value)] + [host(a) for a in opt.state[0]])
    for got, want in zip(*runs):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=0)


@pytest.mark.parametrize("name, build, by_hand", CASES[1:], ids=[c[0] for c in CASES[1:]])
def test_on_cupy_each_parameter_is_updated_by_one_kernel(standin, name, build, by_hand):
    params, grads = _mixed_params("cupy")
    opt = build(params)
    for (_, p), g in zip(params, grads[0]):
        p.grad = g
    with standin.counting() as counts:
        opt.step()
    assert counts.calls == len(params) and counts.reads == 0


def test_a_subclass_that_rewrites_the_rule_is_run_by_its_own_rule():
    class Halved(Adamax):
        def rule(self, grad, m, u, *, t):
            return 0.5 * super().rule(grad, m, u, t=t)

    p, q = Parameter(np.zeros(3)), Parameter(np.zeros(3))
    for opt, param in ((Halved([("p", p)], lr=0.1), p), (Adamax([("q", q)], lr=0.1), q)):
        param.grad = np.ones(3)
        opt.step()
    np.testing.assert_allclose(p.value, 0.5 * q.value)


def test_a_packed_vectors_state_is_a_view_of_the_pack():
    params = [(n, Parameter(np.zeros(k, dtype=np.float32))) for n, k in (("a", 2), ("b", 3))]
    opt = Adamax(params, lr=LR)
    for _, p in params:
        p.grad = np.ones_like(p.value)
    opt.step()
    (pack,) = opt.packs
    np.testing.assert_array_equal(pack.state[0], np.concatenate([opt.m[0], opt.m[1]]))
    assert np.all(opt.m[1] != 0) and np.shares_memory(opt.m[1], pack.state[0])


# ------------------------------------------------------------------ subnormal state is flushed

DECAYING = [("sgd-momentum", lambda ps, **kw: SGD(ps, lr=LR, momentum=0.5, **kw)),
            ("adam", lambda ps, **kw: Adam(ps, lr=LR, betas=(0.5, 0.999), **kw)),
            ("adamax", lambda ps, **kw: Adamax(ps, lr=LR, betas=(0.5, 0.999), **kw))]


def _subnormal_count(a) -> int:
    a = np.asarray(minispectral.to_numpy(a))
    return int(np.sum((a != 0) & (np.abs(a) < np.finfo(a.dtype).smallest_normal)))


def _pulse_then_silence(backend, build, dtype, steps, **kw):
    """A matrix and two vectors (a pack) get one gradient, then zeros: their momentum only decays,
    as a dead unit's does.  Returns the optimizer, the parameters and the largest count of subnormal
    state entries seen after any step."""
    rng = np.random.default_rng(0)
    params = [(n, Parameter(make(backend, rng.standard_normal(s), dtype))) for n, s in
              (("W", (3, 4)), ("b", (3,)), ("c", (2,)))]
    opt = build(params, **kw)
    most = 0
    for step in range(steps):
        for _, p in params:
            g = rng.standard_normal(p.value.shape) if step == 0 else np.zeros(p.value.shape)
            p.grad = make(backend, g, dtype)
        opt.step()
        most = max(most, *(_subnormal_count(a) for s in opt.state for a in s))
    return opt, params, most


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, build", DECAYING, ids=[c[0] for c in DECAYING])
def test_decaying_state_never_turns_subnormal(backend, name, build, dtype):
    """With β = 0.5 the momentum underflows after ~130 (float32) or ~1,030 (float64) silent steps.
    Unflushed, the state passes through subnormal numbers; flushed, never, and it ends exactly 0."""
    steps = 200 if dtype == "float32" else 1100
    _, _, most_unflushed = _pulse_then_silence(backend, build, dtype, steps, flush_subnormals=False)
    assert most_unflushed > 0, "the test must reach the subnormal range"
    opt, _, most = _pulse_then_silence(backend, build, dtype, steps)
    assert most == 0
    decaying = opt.decaying_state()
    for k, name_k in enumerate(opt.state_names):
        if name_k in decaying and decaying[name_k] == 0.5:
            for s in opt.state:
                np.testing.assert_array_equal(host(s[k]), 0.0)


@pytest.mark.parametrize("name, build", DECAYING, ids=[c[0] for c in DECAYING])
def test_flushing_moves_no_parameter(name, build):
    """What the flush zeroes is far below a weight's resolution: the parameters end bit for bit
    where the unflushed run puts them."""
    _, flushed, _ = _pulse_then_silence("numpy", build, "float32", 200)
    _, unflushed, _ = _pulse_then_silence("numpy", build, "float32", 200, flush_subnormals=False)
    for (_, p), (_, q) in zip(flushed, unflushed):
        np.testing.assert_array_equal(p.value, q.value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_flush_zeroes_below_its_bound_and_nothing_above(backend, dtype):
    """The bound is FLUSH_BELOW × the smallest normal number: an entry just under it is zeroed, one just
    over it is kept, in every decaying state array (packed or not) and on every backend."""
    bound = float(np.finfo(dtype).smallest_normal) * FLUSH_BELOW
    entries = np.array([bound * 0.99, -bound * 0.99, bound * 1.01, -bound * 1.01, 0.5], dtype=dtype)
    params = [("a", Parameter(make(backend, np.ones(5), dtype))), ("b", Parameter(make(backend, np.ones(5), dtype))),
              ("W", Parameter(make(backend, np.ones((2, 5)), dtype)))]
    opt = Adamax(params)
    for m in opt.m:
        m[...] = make(backend, np.broadcast_to(entries, m.shape), dtype)
    opt.flush_decayed_state()
    for m in opt.m:
        np.testing.assert_array_equal(host(m), np.broadcast_to([0, 0, bound * 1.01, -bound * 1.01, 0.5], m.shape)
                                      .astype(dtype))


@given(beta=st.floats(0.01, 0.9999), dtype=st.sampled_from(["float32", "float64"]))
def test_between_two_flushes_no_entry_leaves_the_normal_range(beta, dtype):
    """The flush period is short enough that an entry just above the flush bound, decaying for a
    whole period in the dtype's own arithmetic, stays at least 2^17 above the smallest normal number
    (room for the step m/u · lr to stay normal as well)."""
    opt = SGD([("a", Parameter(np.ones(1, dtype=dtype)))], lr=LR, momentum=beta)
    smallest = np.finfo(dtype).smallest_normal
    entry = np.array(smallest * FLUSH_BELOW, dtype=dtype)
    for _ in range(opt.flush_every):
        entry = entry * np.array(beta, dtype=dtype)
    assert entry >= smallest * 2.0 ** 17
    assert entry.dtype == np.dtype(dtype)


def test_the_flush_period_follows_the_fastest_decay():
    p = [("a", Parameter(np.ones(2)))]
    assert Adamax(p).flush_every == 144  # β₁ = 0.9: 0.9^144 ≥ 2^-22 > 0.9^145
    assert Adam(p, betas=(0.99, 0.999)).flush_every == 1517  # the faster of the two decays
    assert SGD(p, momentum=0.9).flush_every == 144
    assert SGD(p).flush_every is None  # plain SGD keeps no state
    assert Adamax(p, betas=(0.0, 0.999)).flush_every is None  # m = g: nothing decays
    assert Adamax(p, flush_subnormals=False).flush_every is None


@pytest.mark.parametrize("kw, message", [
    (dict(betas=(1.0, 0.999)), r"beta1 must be in \[0, 1\), got 1.0"),
    (dict(betas=(0.9, -0.1)), r"beta2 must be in \[0, 1\), got -0.1"),
    (dict(betas=(0.9, math.nan)), r"beta2 must be in \[0, 1\), got nan"),
    (dict(betas=(0.9,)), r"betas must be a pair \(beta1, beta2\), got \(0.9,\)"),
    (dict(eps=-1e-8), r"eps must be a finite number > 0, got -1e-08"),
    (dict(eps=0.0), r"eps must be a finite number > 0, got 0.0"),
])
@pytest.mark.parametrize("cls", [Adam, Adamax])
def test_bad_decay_factors_are_named(cls, kw, message):
    with pytest.raises(ValueError, match=message):
        cls([("a", Parameter(np.ones(2)))], **kw)


@pytest.mark.parametrize("momentum", [1.0, -0.5, math.inf])
def test_bad_momentum_is_named(momentum):
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        SGD([("a", Parameter(np.ones(2)))], momentum=momentum)


# ------------------------------------------------------------------ large arrays, a block at a time

@pytest.mark.parametrize("shape, block_entries", [((7, 5), 10), ((7, 5), 1), ((9,), 4), ((4, 3, 2), 7)],
                         ids=["rows", "one-row-blocks", "vector", "3-d"])
@pytest.mark.parametrize("name, build, by_hand", CASES, ids=[c[0] for c in CASES])
def test_blocks_of_rows_give_the_numbers_of_one_update(backend, name, build, by_hand, shape, block_entries):
    """Updating a parameter a block of rows at a time changes no bit of the parameter or its state,
    also for a last block shorter than the others."""
    rng = np.random.default_rng(2)
    start, grads = rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(3)]
    runs = []
    for blocks in (block_entries, None):
        p = Parameter(make(backend, start))
        opt = build([("p", p)], pack_vectors=False)
        opt.block_entries = blocks
        value = p.value
        for g in grads:
            p.grad = make(backend, g)
            opt.step()
        assert p.value is value, "the update must happen in place"
        runs.append((host(p.value), [host(a) for s in opt.state for a in s]))
    (blocked, blocked_state), (whole, whole_state) = runs
    assert not np.array_equal(blocked, start)
    np.testing.assert_array_equal(blocked, whole)
    for a, b in zip(blocked_state, whole_state):
        np.testing.assert_array_equal(a, b)


def test_a_large_parameter_is_updated_in_blocks_of_rows(monkeypatch):
    """784 x 1000 float32 with 2^17-entry blocks: six equal blocks of 167 rows (the last 165), so the
    rule is called six times; a 784 x 100 layer (78,400 entries) is updated whole."""
    p = Parameter(np.zeros((1000, 784), dtype=np.float32))
    opt = Adamax([("W", p)])
    calls = []
    rule = optim_fast._rule  # the fast path's one entry to a rule, per block or pack
    monkeypatch.setattr(optim_fast, "_rule", lambda opt, fast, grad, *a: calls.append(grad.shape) or rule(opt, fast, grad, *a))
    p.grad = np.ones_like(p.value)
    opt.step()
    assert calls == [(167, 784)] * 5 + [(165, 784)]
    np.testing.assert_allclose(p.value, -0.002)  # Adamax's first step is lr · sign(g) on every entry
    small = Parameter(np.zeros((100, 784), dtype=np.float32))
    opt = Adamax([("W", small)])
    calls.clear()
    small.grad = np.ones_like(small.value)
    opt.step()
    assert calls == [(100, 784)]


def test_an_optimizer_built_before_model_to_says_so(backend):
    """Its state would otherwise narrow float64 gradients into float32, or mix libraries."""
    model = minispectral.mlp((4, 3, 2), "dense", seed=0)
    opt = Adamax(model)
    model.to(dtype="float64")
    for p in model.parameters():
        p.grad = p.value * 0
    with pytest.raises(ValueError, match="is now a numpy float64 array, but the optimizer's state was made for "
                                         r"numpy float32; build the optimizer after model.to"):
        opt.step()
    if backend.name != "numpy":
        model = minispectral.mlp((4, 3, 2), "spectral", seed=0)
        opt = Adamax(model)
        model.to(backend=backend.name)
        for p in model.parameters():
            p.grad = p.value * 0
        with pytest.raises(ValueError, match=f"is now a {backend.name} float32 array"):
            opt.step()


# ------------------------------------------------------------------ found by a review of 2026-12-01

@pytest.mark.parametrize("name", ["adam", "adamax"])
@pytest.mark.parametrize("pack_vectors", [True, False])
def test_a_parameter_that_skips_steps_is_corrected_by_its_own_count_as_in_pytorch(name, pack_vectors):
    torch = pytest.importorskip("torch")
    a, b = Parameter(np.ones(3)), Parameter(np.ones(3))
    opt = {"adam": Adam, "adamax": Adamax}[name]([("a", a), ("b", b)], lr=LR, pack_vectors=pack_vectors)
    ta, tb = (torch.nn.Parameter(torch.ones(3, dtype=torch.float64)) for _ in range(2))
    t_opt = {"adam": torch.optim.Adam, "adamax": torch.optim.Adamax}[name]([ta, tb], lr=LR)
    g = np.array([0.1, -0.2, 0.3])
    for step in range(4):
        a.grad, ta.grad = g.copy(), torch.tensor(g)
        b.grad, tb.grad = (g.copy(), torch.tensor(g)) if step >= 2 else (None, None)  # b joins at step 3
        opt.step()
        t_opt.step()
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.value, ta.detach().numpy(), rtol=1e-12)
    assert opt.counts == [4, 2] and opt.t == 4


def test_a_parameter_frozen_after_the_optimizer_was_built_stays_put():
    p = Parameter(np.ones(3))
    opt = Adamax([("p", p)], lr=LR)
    p.grad = np.full(3, 0.5)
    opt.step()
    p.trainable = False  # its last gradient is still there
    before = p.value.copy()
    opt.step()
    np.testing.assert_array_equal(p.value, before)


@pytest.mark.parametrize("build, message", [
    (lambda ps: SGD(ps, lr=True), "lr must be a real number, got True"),
    (lambda ps: SGD(ps, lr="0.1"), "lr must be a real number, got '0.1'"),
    (lambda ps: SGD(ps, lr=0.1, momentum="0.9"), "momentum must be a real number"),
    (lambda ps: Adam(ps, betas=("0.9", "0.99")), "beta1 must be a real number"),
    (lambda ps: Adam(ps, betas="ab"), r"betas must be a pair \(beta1, beta2\)"),
    (lambda ps: Adam(ps, eps=True), "eps must be a real number, got True"),
])
def test_hyperparameters_of_the_wrong_type_are_named(build, message):
    with pytest.raises(TypeError if "real number" in message else ValueError, match=message):
        build([("p", Parameter(np.ones(3)))])


def test_a_bad_gradient_leaves_the_whole_step_untaken():
    a, b = Parameter(np.ones(2)), Parameter(np.ones((2, 2)))
    opt = Adam([("a", a), ("b", b)], lr=LR)
    a.grad, b.grad = np.ones(2), np.ones((3, 3))
    with pytest.raises(ValueError, match="gradient of b has shape"):
        opt.step()
    assert opt.t == 0 and opt.counts == [0, 0]
    np.testing.assert_array_equal(a.value, 1.0)


def test_with_a_tiny_eps_the_flush_leaves_adams_state_alone():
    # v ~ g^2 = 1e-28 is steady, not decaying; zeroing it next to eps = 1e-20 would inflate every step
    runs = {}
    for flush in (True, False):
        p = Parameter(np.zeros(3, np.float32))
        opt = Adam([("p", p)], lr=1e-3, eps=1e-20, flush_subnormals=flush)
        for _ in range(300):  # two flushes (every 144 steps)
            p.grad = np.full(3, 1e-14, np.float32)
            opt.step()
        runs[flush] = p.value.copy()
    np.testing.assert_array_equal(runs[True], runs[False])
    assert Adam([("p", Parameter(np.ones(3, np.float32)))])._flush_limit("v", 1.3e-26) == 1.3e-26  # default eps


def test_a_pack_stays_one_update_after_a_member_skipped_a_step(monkeypatch):
    # each member then has its own step count; the pack used to fall back to one update per member for good
    params = [(n, Parameter(np.ones(k))) for n, k in (("a", 2), ("b", 3), ("c", 4))]
    opt = Adam(params, lr=LR)
    for step in range(3):
        for name, p in params:
            p.grad = None if (step == 1 and name == "b") else np.full(p.value.shape, 0.1)
        opt.step()
    calls = []
    rule = optim_fast._rule
    monkeypatch.setattr(optim_fast, "_rule", lambda opt, fast, grad, state, scratch, t: calls.append(t) or
                        rule(opt, fast, grad, state, scratch, t))
    opt.step()
    assert len(calls) == 1 and opt.counts == [4, 3, 4]


def test_an_optimizer_takes_bare_parameters_as_model_parameters_gives_them():
    model = mlp((4, 3, 2), "spectral")
    opt = Adam(model.parameters(), lr=0.01)  # what a PyTorch user writes; frozen ones are left out
    assert [p for _, p in opt.params] == [p for _, p in model.trainable_parameters()]
    assert opt.params[0][0] == "parameters[1]"  # named by position (parameters[0] is a frozen phi)
    for bad, message in [([1, 2], "item 0 is 1"), ("abc", "got str"), ([("a", 1)], r"item 0 is \('a', 1\)")]:
        with pytest.raises(TypeError, match=message):
            Adam(bad, lr=0.01)


@pytest.mark.parametrize("optimizer", [Adam, Adamax])
def test_an_eps_that_rounds_to_zero_in_the_parameters_dtype_is_refused(optimizer):
    # float32(1e-46) is 0: an entry whose gradient stayed 0 then stepped by 0/0 = NaN
    with pytest.raises(ValueError, match="eps must stay above 0 in 0.lam_in's dtype float32, got 1e-46"):
        optimizer(mlp((4, 3, 2), "spectral"), lr=0.01, eps=1e-46)
    optimizer(mlp((4, 3, 2), "spectral", dtype="float64"), lr=0.01, eps=1e-46)  # a float64 number
