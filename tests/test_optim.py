"""Optimizers: one or two steps against the update rules written out by hand in float64."""
import math

import numpy as np
import pytest

import minispectral
from minispectral import SGD, Adam, Adamax, make_optimizer
from minispectral.nn import Parameter

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
    if name != "sgd":  # plain SGD keeps no state, so there is nothing to pack
        assert len(packed.packs) == 2 and not single.packs
        assert sorted(len(p.indices) for p in packed.packs) == [2, 3]  # a, b, e (float32) and c, d
    for v, v1 in zip(values, values1):
        np.testing.assert_array_equal(v, v1)
    for s, s1 in zip(state, state1):
        for a, a1 in zip(s, s1):
            np.testing.assert_array_equal(a, a1)


def test_a_packed_vectors_state_is_a_view_of_the_pack():
    params = [(n, Parameter(np.zeros(k, dtype=np.float32))) for n, k in (("a", 2), ("b", 3))]
    opt = Adamax(params, lr=LR)
    for _, p in params:
        p.grad = np.ones_like(p.value)
    opt.step()
    (pack,) = opt.packs
    np.testing.assert_array_equal(pack.state[0], np.concatenate([opt.m[0], opt.m[1]]))
    assert np.all(opt.m[1] != 0) and np.shares_memory(opt.m[1], pack.state[0])
