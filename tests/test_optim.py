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
    ("sgd", lambda ps: SGD(ps, lr=LR), lambda th, gs: sgd_by_hand(th, gs, LR, 0.0)),
    ("sgd-momentum", lambda ps: SGD(ps, lr=LR, momentum=0.9), lambda th, gs: sgd_by_hand(th, gs, LR, 0.9)),
    ("adam", lambda ps: Adam(ps, lr=LR), lambda th, gs: adam_by_hand(th, gs, LR)),
    ("adamax", lambda ps: Adamax(ps, lr=LR), lambda th, gs: adamax_by_hand(th, gs, LR)),
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


# ------------------------------------------------------------------ threaded updates of large parameters

THREADED = [("sgd", dict(momentum=0.9)), ("sgd", {}), ("adam", {}), ("adamax", {})]


@pytest.mark.parametrize("name, kw", THREADED, ids=["sgd-momentum", "sgd", "adam", "adamax"])
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_updates_are_bit_identical_to_one_thread(name, kw, threads):
    """A large parameter is cut into one slice per thread; the update is element-wise, so the result
    must be exactly the one-thread result (and the by-hand rule, checked above, for small ones)."""
    from minispectral.optim import PARALLEL_MIN_SIZE

    rng = np.random.default_rng(0)
    shape = (PARALLEL_MIN_SIZE // 100 + 7, 101)  # more entries than the threshold, not a multiple of threads
    theta = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    small = rng.standard_normal(5).astype(np.float32)  # below the threshold: one piece, in the same step
    results = []
    for n in (1, threads):
        big_p, small_p = Parameter(theta.copy()), Parameter(small.copy())
        opt = make_optimizer(name, [("big", big_p), ("small", small_p)], lr=0.01, threads=n, **kw)
        for g in grads:
            big_p.grad, small_p.grad = g, g[0, :5]
            opt.step()
        results.append((big_p.value, small_p.value))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])
    assert not np.array_equal(results[1][0], theta)  # it did move


def test_threaded_updates_fall_back_for_a_non_contiguous_parameter():
    """Flat slices of a non-contiguous array would be copies, and the update would be lost."""
    from minispectral.optim import PARALLEL_MIN_SIZE

    n = int(math.isqrt(PARALLEL_MIN_SIZE)) + 1
    rng = np.random.default_rng(1)
    theta, g = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    expected = Parameter(theta.T.copy())
    opt_ref = Adam([("w", expected)], lr=0.1, threads=1)
    expected.grad = g
    opt_ref.step()
    p = Parameter(theta.T)  # a transposed view: not C-contiguous
    opt = Adam([("w", p)], lr=0.1, threads=2)
    p.grad = g
    opt.step()
    np.testing.assert_array_equal(p.value, expected.value)
    np.testing.assert_array_equal(theta.T, expected.value)  # updated in place, through the view


def test_an_error_in_a_worker_thread_reaches_the_caller():
    from minispectral.optim import PARALLEL_MIN_SIZE

    class Exploding(SGD):
        def update(self, value, grad, v=None):
            if value.ctypes.data != self.first:  # only the worker threads' slices
                raise RuntimeError("boom in a worker")
            super().update(value, grad, v)

    p = Parameter(np.zeros(PARALLEL_MIN_SIZE * 2))
    opt = Exploding([("w", p)], lr=0.1, threads=2)
    opt.first = p.value.ctypes.data
    p.grad = np.ones_like(p.value)
    with pytest.raises(RuntimeError, match="boom in a worker"):
        opt.step()


def test_thread_count_settings(monkeypatch):
    from minispectral.optim import default_threads

    monkeypatch.setenv("MINISPECTRAL_THREADS", "3")
    assert default_threads() == 3 and Adamax([], lr=0.1).threads == 3
    monkeypatch.setenv("MINISPECTRAL_THREADS", "many")
    with pytest.raises(ValueError, match="MINISPECTRAL_THREADS must be a positive integer, got 'many'"):
        default_threads()
    monkeypatch.delenv("MINISPECTRAL_THREADS")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert default_threads() == 1
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        SGD([], lr=0.1, threads=0)
