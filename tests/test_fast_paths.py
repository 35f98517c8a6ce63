"""The optimised training path against the textbook one, and the performance properties it promises.

``functional/fast.py`` holds twins of the spectral kernels that the ``Spectral`` layer trains
with; the textbook kernels in ``functional/spectral.py`` are the reference here.  The optimizers
update in place without allocating, ``fit`` gathers one batch at a time, nothing is promoted to
float64, and memory does not grow from epoch to epoch.  The last tests run the training
benchmark on a tiny grid and check that its PyTorch twin computes the same network.
"""
import importlib.util
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minispectral
from minispectral import Spectral, functional as F, mlp
from minispectral.functional import fast
from minispectral.gradient_check import check_kernel
from minispectral.optim import Adam, Adamax, make_optimizer
from minispectral.train import fit

from conftest import dtype_name, host, make, make_labels, randn, spectral_kwargs, unit_scale

ROOT = Path(__file__).resolve().parents[1]
NEEDS = [dict(need_dx=dx, need_dphi=dphi, need_dlam_in=din, need_dlam_out=dout)
         for dx in (True, False) for dphi in (True, False) for din in (True, False) for dout in (True, False)]


def spectral_inputs(backend, shape, dtype="float64", seed=0, lam_in_zero=False, bias=True):
    n, n_in, n_out = shape
    rng = np.random.default_rng(seed)
    arrays = {"x": rng.standard_normal((n, n_in)), "phi": rng.standard_normal((n_out, n_in)),
              "lam_in": np.zeros(n_in) if lam_in_zero else rng.standard_normal(n_in),
              "lam_out": rng.standard_normal(n_out), "b": rng.standard_normal(n_out) if bias else None}
    return {k: None if v is None else make(backend, v, dtype) for k, v in arrays.items()}


def textbook(inputs, dy):
    """(y, (dx, dphi, dlam_in, dlam_out, db)) from the reference kernels."""
    y, cache = F.spectral_forward(*inputs.values())
    return y, F.spectral_backward(dy, cache)


def assert_close(actual, expected, dtype):
    tol = dict(rtol=1e-11, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(host(actual), host(expected), **tol)


# ------------------------------------------------------------------ fast kernels = textbook kernels

@pytest.mark.parametrize("lam_in_zero", [False, True], ids=["W-path", "lam_in=0-path"])
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(1, 7)), seed=st.integers(0, 10**6),
       bias=st.booleans())
def test_fast_spectral_kernels_agree_with_the_textbook(lam_in_zero, shape, seed, bias):
    inputs = spectral_inputs("numpy", shape, seed=seed, lam_in_zero=lam_in_zero, bias=bias)
    dy = randn("numpy", (shape[0], shape[2]), seed=seed + 1)
    y_ref, grads_ref = textbook(inputs, dy)
    y, cache = fast.spectral_forward(*inputs.values(), lam_in_zero=lam_in_zero)
    assert_close(y, y_ref, "float64")
    grads = fast.spectral_backward(dy, cache)
    for name, g, g_ref in zip(("dx", "dphi", "dlam_in", "dlam_out", "db"), grads, grads_ref):
        assert (g is None) == (g_ref is None), name
        if g is not None:
            assert_close(g, g_ref, "float64")


@pytest.mark.parametrize("gemm_from", [10**9, 0], ids=["lam_diff-subtracted", "lam_diff-as-product"])
@pytest.mark.parametrize("lam_in_zero", [False, True], ids=["W-path", "lam_in=0-path"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_spectral_kernels_on_every_backend(backend, dtype, lam_in_zero, gemm_from, monkeypatch):
    monkeypatch.setattr(fast, "GEMM_LAM_DIFF_ENTRIES", gemm_from)  # 0: large layers' path, at a small size
    inputs = spectral_inputs(backend.name, (5, 6, 4), dtype, seed=3, lam_in_zero=lam_in_zero)
    dy = randn(backend.name, (5, 4), dtype, seed=4)
    y_ref, grads_ref = textbook(inputs, dy)
    y, cache = fast.spectral_forward(*inputs.values(), lam_in_zero=lam_in_zero)
    assert dtype_name(y) == dtype
    assert_close(y, y_ref, dtype)
    for g, g_ref in zip(fast.spectral_backward(dy, cache), grads_ref):
        assert dtype_name(g) == dtype
        assert_close(g, g_ref, dtype)


@pytest.mark.parametrize("lam_in_zero", [False, True], ids=["W-path", "lam_in=0-path"])
@pytest.mark.parametrize("needs", NEEDS, ids=lambda n: "-".join(k[5:] for k, v in n.items() if v) or "none")
def test_skipped_gradients_are_none_and_the_others_unchanged(needs, lam_in_zero):
    inputs = spectral_inputs("numpy", (3, 5, 4), seed=1, lam_in_zero=lam_in_zero)
    dy = randn("numpy", (3, 4), seed=2)
    _, grads_ref = textbook(inputs, dy)
    _, cache = fast.spectral_forward(*inputs.values(), lam_in_zero=lam_in_zero)
    grads = fast.spectral_backward(dy, cache, **needs)
    wanted = list(needs.values()) + [True]  # db is always returned for a biased layer
    for g, g_ref, want in zip(grads, grads_ref, wanted):
        if want:
            assert_close(g, g_ref, "float64")
        else:
            assert g is None


@pytest.mark.parametrize("lam_in_zero", [False, True], ids=["W-path", "lam_in=0-path"])
def test_fast_kernels_pass_the_gradient_check(lam_in_zero):
    inputs = spectral_inputs("numpy", (3, 5, 4), seed=7, lam_in_zero=lam_in_zero)
    if lam_in_zero:
        # lam_in is a constant on this path (frozen at zero): it is not an input of the check
        lam_in = inputs.pop("lam_in")
        forward = lambda x, phi, lam_out, b: fast.spectral_forward(x, phi, lam_in, lam_out, b,  # noqa: E731
                                                                   lam_in_zero=True)
        backward = lambda dy, cache: tuple(g for i, g in enumerate(fast.spectral_backward(dy, cache))  # noqa: E731
                                           if i != 2)
    else:
        forward, backward = fast.spectral_forward, fast.spectral_backward
    report = check_kernel(forward, backward, inputs)
    assert report.passed, "\n" + str(report)
    assert {r.name for r in report.rows} == set(inputs)


def test_fast_kernels_never_mutate_their_inputs(backend):
    for lam_in_zero in (False, True):
        inputs = spectral_inputs(backend.name, (4, 5, 3), "float32", seed=2, lam_in_zero=lam_in_zero)
        before = {k: host(v).tobytes() for k, v in inputs.items()}
        y, cache = fast.spectral_forward(*inputs.values(), lam_in_zero=lam_in_zero)
        dy = randn(backend.name, (4, 3), "float32", seed=5)
        dy_before, y_before = host(dy).tobytes(), host(y).tobytes()
        fast.spectral_backward(dy, cache)
        assert {k: host(v).tobytes() for k, v in inputs.items()} == before
        assert host(dy).tobytes() == dy_before and host(y).tobytes() == y_before


def test_the_forward_pass_caches_W_for_the_backward_pass():
    inputs = spectral_inputs("numpy", (3, 5, 4), seed=0)
    _, cache = fast.spectral_forward(*inputs.values())
    W_ref, _ = F.spectral_weight_forward(inputs["phi"], inputs["lam_in"], inputs["lam_out"])
    assert any(getattr(a, "shape", None) == (4, 5) and np.array_equal(a, W_ref) for a in cache)


def test_the_lam_in_zero_path_forms_no_weight_gradient(monkeypatch):
    """With lam_in = 0 and only lam_out trained, dlam_out comes from z = x phiᵀ: no dyᵀx product."""
    inputs = spectral_inputs("numpy", (6, 5, 4), seed=0, lam_in_zero=True)
    _, cache = fast.spectral_forward(*inputs.values(), lam_in_zero=True)
    x = inputs["x"]
    products = []

    class CountingArray(np.ndarray):
        def __matmul__(self, other):
            products.append((self.shape, other.shape))
            return np.ndarray.__matmul__(np.asarray(self), np.asarray(other))

    cache = (x.view(CountingArray),) + cache[1:]
    dy = randn("numpy", (6, 4), seed=1).view(CountingArray)
    fast.spectral_backward(dy, cache, need_dx=False, need_dphi=False, need_dlam_in=False)
    assert products == []
    dy.T @ x  # the counter works: this is the product the path avoids
    assert products == [((4, 6), (6, 5))]


def test_fast_kernels_reject_bad_input_like_the_textbook():
    inputs = spectral_inputs("numpy", (3, 5, 4), seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 5\)"):
        fast.spectral_forward(make("numpy", np.ones((3, 6))), *list(inputs.values())[1:])
    with pytest.raises(TypeError, match="lam_out has dtype float32"):
        fast.spectral_forward(inputs["x"], inputs["phi"], inputs["lam_in"], make("numpy", np.ones(4), "float32"))
    _, cache = fast.spectral_forward(*inputs.values())
    with pytest.raises(ValueError, match=r"dy must have shape \(3, 4\)"):
        fast.spectral_backward(make("numpy", np.ones((3, 5))), cache)
    with pytest.raises(TypeError, match="dy has dtype float32 but x has dtype float64"):
        fast.spectral_backward(make("numpy", np.ones((3, 4)), "float32"), cache)
    with pytest.raises(ValueError, match=r"W_out must have shape \(4, 5\)"):
        fast.spectral_forward(*inputs.values(), W_out=make("numpy", np.ones((5, 4))))
    with pytest.raises(TypeError, match="W_out has dtype float32"):
        fast.spectral_forward(*inputs.values(), W_out=make("numpy", np.ones((4, 5)), "float32"))
    with pytest.raises(TypeError, match="dW_out has dtype float32"):
        fast.spectral_backward(make("numpy", np.ones((3, 4))), cache, dW_out=make("numpy", np.ones((4, 5)), "float32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_writing_into_buffers_agree_and_return_no_buffer(backend, dtype):
    """W_out and dW_out (filled with garbage first) change where W and dW live, not any result."""
    inputs = spectral_inputs(backend.name, (5, 6, 4), dtype, seed=8)
    dy = randn(backend.name, (5, 4), dtype, seed=9)
    y_ref, grads_ref = textbook(inputs, dy)
    W_out, dW_out = make(backend.name, np.full((4, 6), 7.0), dtype), make(backend.name, np.full((4, 6), -3.0), dtype)
    y, cache = fast.spectral_forward(*inputs.values(), W_out=W_out)
    assert_close(y, y_ref, dtype)
    W_ref, _ = F.spectral_weight_forward(inputs["phi"], inputs["lam_in"], inputs["lam_out"])
    assert_close(W_out, W_ref, dtype)  # W was built in the buffer, and the cache holds it
    grads = fast.spectral_backward(dy, cache, dW_out=dW_out)
    snapshot = [host(g).copy() for g in grads]
    dW_out[...] = 0.0  # the next step reuses the buffer: no returned gradient may live in it
    W_out[...] = 0.0
    for g, g_before, g_ref in zip(grads, snapshot, grads_ref):
        assert_close(g_before, g_ref, dtype)
        np.testing.assert_array_equal(host(g), g_before)


@pytest.mark.parametrize("path", ["subtraction", "matrix product"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 40), seed=st.integers(0, 10**6),
       log_scale=st.floats(-30, 30))
def test_eigenvalue_differences_are_the_subtraction_to_the_last_bit(path, dtype, n_in, n_out, seed, log_scale):
    """Both ways of building lam_diff give lam_in_j − lam_out_i to the last bit (the product adds two
    exact products, rounded once), at any scale, into a buffer of NaNs too, without touching the inputs."""
    rng = np.random.default_rng(seed)
    lam_in = (rng.standard_normal(n_in) * 10.0 ** log_scale).astype(dtype)
    lam_out = (rng.standard_normal(n_out) * 10.0 ** log_scale).astype(dtype)
    lam_out[: n_out // 3] = lam_in[0]  # some differences are exactly zero
    before = lam_in.copy(), lam_out.copy()
    expected = lam_in[None, :] - lam_out[:, None]
    threshold = 0 if path == "matrix product" else 10**9
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "GEMM_LAM_DIFF_ENTRIES", threshold)
        np.testing.assert_array_equal(fast.eigenvalue_differences(lam_in, lam_out), expected)
        out = np.full((n_out, n_in), np.nan, dtype=dtype)
        assert fast.eigenvalue_differences(lam_in, lam_out, out=out) is out
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(lam_in, before[0])
    np.testing.assert_array_equal(lam_out, before[1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eigenvalue_differences_on_every_backend(backend, dtype, monkeypatch):
    lam_in, lam_out = randn(backend.name, (7,), dtype, seed=1), randn(backend.name, (3,), dtype, seed=2)
    subtraction = host(lam_in[None, :] - lam_out[:, None])  # on the backend, in the dtype
    for threshold in (0, 10**9):  # the matrix product (the CPU's path for large layers), the subtraction
        monkeypatch.setattr(fast, "GEMM_LAM_DIFF_ENTRIES", threshold)
        lam_diff = fast.eigenvalue_differences(lam_in, lam_out)
        assert dtype_name(lam_diff) == dtype and tuple(lam_diff.shape) == (3, 7)
        np.testing.assert_array_equal(host(lam_diff), subtraction)
        out = make(backend.name, np.zeros((3, 7)), dtype)
        assert fast.eigenvalue_differences(lam_in, lam_out, out=out) is out
        np.testing.assert_array_equal(host(out), subtraction)


def test_a_large_layer_builds_lam_diff_as_a_matrix_product(monkeypatch):
    """784 x 1000 (784,000 entries) takes the product, 784 x 100 the subtraction."""
    products = []
    real = fast.matmul_into
    monkeypatch.setattr(fast, "matmul_into", lambda a, b, *, out: products.append(a.shape) or real(a, b, out=out))
    for n_out in (100, 1000):
        lam_in, lam_out = randn("numpy", (784,), "float32"), randn("numpy", (n_out,), "float32", seed=1)
        fast.eigenvalue_differences(lam_in, lam_out, out=np.empty((n_out, 784), dtype=np.float32))
    assert products == [(1000, 2)]


def test_matmul_into_writes_the_product(backend):
    a, b = randn(backend.name, (3, 5), "float32", seed=1), randn(backend.name, (4, 5), "float32", seed=2)
    out = make(backend.name, np.zeros((3, 4)), "float32")
    assert fast.matmul_into(a, b.T, out=out) is out
    np.testing.assert_allclose(host(out), host(a) @ host(b).T, rtol=1e-6, atol=1e-6)


def test_a_training_step_of_the_layer_allocates_no_weight_sized_array():
    """After the first step, W and dW live in the layer's own buffers: a step allocates only
    batch-sized arrays (y, dx, the eigenvalue gradients) and NumPy's fixed 64 kB broadcasting
    buffer, nothing of W's (n_out, n_in) size."""
    layer = Spectral(600, 400, variant="spectral", seed=0)
    layer.input_grad = True
    x, dy = randn("numpy", (2, 600), "float32", seed=1), randn("numpy", (2, 400), "float32", seed=2)
    layer.forward(x)  # the first step makes the buffers
    layer.backward(dy)
    buffers = dict(layer._buffers)
    tracemalloc.start()
    try:
        layer.forward(x)
        layer.backward(dy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    weight_bytes = 600 * 400 * 4
    assert peak < weight_bytes // 4, f"a step allocated {peak} bytes; W has {weight_bytes}"
    assert all(layer._buffers[k] is v for k, v in buffers.items()) and set(buffers) == {"W", "dW"}
    layer.to(dtype="float64")  # a new dtype gets new buffers, never a float32 one
    layer.forward(x.astype(np.float64))
    layer.backward(dy.astype(np.float64))
    assert all(b.dtype == np.float64 for b in layer._buffers.values())


@pytest.mark.parametrize("variant, trainable, expected", [
    ("nc", {}, set()),                           # y = −(x phiᵀ) ⊙ lam_out: neither W nor dW is formed
    ("nc", {"phi": True}, {"dW"}),               # dphi needs dW = dyᵀx
    ("spectral", {}, {"W", "dW"}),
    ("spectral", {"lam_in": False, "lam_out": False}, {"W"}),  # only b trains: no dW
])
def test_the_layer_keeps_only_the_buffers_its_step_uses(variant, trainable, expected):
    layer = Spectral(30, 20, variant=variant, trainable=trainable, seed=0)
    x, dy = randn("numpy", (4, 30), "float32", seed=1), randn("numpy", (4, 20), "float32", seed=2)
    layer.forward(x)
    layer.backward(dy)
    assert set(layer._buffers) == expected


# ------------------------------------------------------------------ the Spectral layer on the fast path

VARIANT_CASES = [("nc", {}), ("nc", {"trainable": {"phi": True}}), ("nc", {"trainable": {"lam_in": True}}),
                 ("spectral", {}), ("full", {}), ("ssvd", {}), ("qr", {})]


@pytest.mark.parametrize("variant, kw", VARIANT_CASES, ids=[f"{v}{k.get('trainable', '')}" for v, k in VARIANT_CASES])
def test_layer_gradients_equal_the_textbook_kernels(variant, kw):
    layer = unit_scale(Spectral(5, 4, variant=variant, seed=1, dtype="float64", **kw, **spectral_kwargs(variant, kw.get("bias", True))))
    if variant == "nc":  # the nc recipe's lam_in is a frozen zero, whatever the unit-scale spec says
        layer.params["lam_in"].value[...] = 0.0
    x, dy = randn("numpy", (3, 5), seed=2), randn("numpy", (3, 4), seed=3)
    p = {k: v.value for k, v in layer.params.items()}
    phi = layer.phi()
    y_ref, cache = F.spectral_forward(x, phi, p["lam_in"], p["lam_out"], p["b"])
    dx_ref, dphi_ref, dlam_in_ref, dlam_out_ref, db_ref = F.spectral_backward(dy, cache)
    np.testing.assert_allclose(layer.forward(x), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), dx_ref, rtol=1e-12, atol=1e-12)
    expected = {"lam_in": dlam_in_ref, "lam_out": dlam_out_ref, "b": db_ref, "phi": dphi_ref}
    if variant == "ssvd":
        expected["s"] = F.ssvd_backward(dphi_ref, (p["U"], p["V"]))
    if variant == "qr":
        expected["R"] = F.qr_backward(dphi_ref, (p["Q"], p["R"].shape[0]), layer.params["R"].mask)
    for name, param in layer.trainable_parameters():
        np.testing.assert_allclose(param.grad, expected[name], rtol=1e-11, atol=1e-12, err_msg=name)
    for name, param in layer.params.items():
        if not param.trainable:
            assert param.grad is None, name


def test_only_a_frozen_zero_lam_in_takes_the_lam_in_zero_path():
    assert Spectral(4, 3, variant="nc")._lam_in_zero()
    assert not Spectral(4, 3, variant="nc", trainable={"lam_in": True})._lam_in_zero()
    assert not Spectral(4, 3, variant="nc", lam_in_init=0.5)._lam_in_zero()
    assert not Spectral(4, 3, variant="ssvd")._lam_in_zero()  # starts at zero, but trained
    assert not Spectral(4, 3, variant="spectral")._lam_in_zero()


# ------------------------------------------------------------------ optimizers: in place, no allocation

@pytest.mark.parametrize("name", ["adam", "adamax"])
def test_an_optimizer_step_allocates_no_arrays(name):
    net = mlp((300, 200, 10), "dense", seed=0)
    opt = make_optimizer(name, net, lr=0.01)
    rng = np.random.default_rng(0)
    for _, p in net.trainable_parameters():
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
    opt.step()  # the first step may build caches inside NumPy
    values = [p.value for _, p in net.trainable_parameters()]
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.value for _, p in net.trainable_parameters()] == values  # same arrays, updated in place
    largest = 300 * 200 * 4
    assert peak < largest // 10, f"a step allocated {peak} bytes; the largest parameter is {largest}"


@pytest.mark.parametrize("cls", [Adam, Adamax])
def test_the_preallocated_path_matches_the_rule_on_strict(cls):
    """On a backend without ``out=`` the update is the same number (the work buffer is assigned)."""
    from minispectral.nn import Parameter

    theta = np.array([[0.5, -1.25], [2.0, 0.0]])
    results = []
    for name in ("numpy", "strict"):
        p = Parameter(make(name, theta))
        opt = cls([("theta", p)], lr=0.1)
        for g in ([[0.1, -0.2], [0.3, -0.4]], [[-0.3, 0.2], [0.05, 1.5]]):
            p.grad = make(name, g)
            opt.step()
        results.append(host(p.value))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-15, atol=0)


def test_write_into_uses_out_or_assigns(backend):
    xp = backend.xp
    a, out = make(backend.name, [-1.0, 2.0], "float32"), make(backend.name, [0.0, 0.0], "float32")
    assert fast.write_into(xp.abs, a, out=out) is out
    np.testing.assert_array_equal(host(out), [1.0, 2.0])
    fast.write_into(xp.multiply, a, 3.0, out=out)
    np.testing.assert_array_equal(host(out), [-3.0, 6.0])


# ------------------------------------------------------------------ training: float32 throughout, flat memory

@pytest.mark.parametrize("model", ["dense", "nc", "spectral", "full", "ssvd", "qr"])
def test_float32_training_never_promotes_to_float64(model):
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 12), dtype=np.float32), rng.integers(0, 3, 64)
    net = mlp((12, 8, 3), model, seed=0)
    opt = make_optimizer("adamax", net, lr=0.01)
    fit(net, x, y, epochs=1, batch_size=16, optimizer=opt, progress=False)
    for name, p in net.named_parameters():
        assert dtype_name(p.value) == "float32", name
        if p.trainable:
            assert dtype_name(p.grad) == "float32", name
    for state in opt.m + opt.v + opt.scratch:
        assert dtype_name(state) == "float32"
    assert dtype_name(net.forward(x)) == "float32"


def test_fit_gathers_each_batch_from_the_permutation():
    """The batches are x[perm[lo:hi]] for numpy's permutation of the seed: what the PyTorch twin replays."""
    seen = []

    class Recorder(minispectral.nn.Module):
        n_in = 3

        def __init__(self):
            super().__init__()
            self.layer = minispectral.Dense(3, 2, seed=0)
            self.params = self.layer.params

        def forward(self, x):
            seen.append(np.array(x))
            return self.layer.forward(x)

        def backward(self, dy):
            return self.layer.backward(dy)

    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 2
    fit(Recorder(), x, y, epochs=1, batch_size=4, seed=3, progress=False)
    order = np.random.default_rng(3).permutation(10)
    assert [len(b) for b in seen] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(seen), x[order])


def test_fit_makes_no_copy_of_the_training_set():
    x = np.random.default_rng(0).random((20_000, 300), dtype=np.float32)  # 24 MB
    y = np.zeros(20_000, dtype=np.int64)
    net = mlp((300, 4, 2), "dense", seed=0)
    fit(net, x[:500], y[:500], epochs=1, batch_size=500, progress=False)
    tracemalloc.start()
    try:
        fit(net, x, y, epochs=1, batch_size=500, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 4, f"fit held {peak / 2**20:.1f} MiB at once for a {x.nbytes / 2**20:.0f} MiB set"


@pytest.mark.parametrize("model", ["dense", "nc", "ssvd"])
def test_peak_memory_is_flat_across_epochs(model):
    rng = np.random.default_rng(0)
    x, y = rng.random((3000, 100), dtype=np.float32), rng.integers(0, 10, 3000)
    net = mlp((100, 64, 10), model, seed=0)
    opt = make_optimizer("adamax", net, lr=0.002)
    fit(net, x, y, epochs=1, batch_size=200, optimizer=opt, progress=False)  # warm-up
    peaks = []
    for epoch in range(3):
        tracemalloc.start()
        try:
            fit(net, x, y, epochs=1, batch_size=200, optimizer=opt, seed=epoch, progress=False)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert max(peaks) - min(peaks) < 0.05 * max(peaks) + 4096, peaks


# ------------------------------------------------------------------ the benchmark

def load_bench():
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks" / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nominal_flops_counts_the_textbook_products():
    bench = load_bench()
    # 784→100→10, 600 samples in 3 steps: forward + dW on both layers, dx on the second only
    dense = bench.nominal_flops((784, 100, 10), "dense", 200, 600)
    assert dense == 2 * 600 * (784 * 100 * 2 + 100 * 10 * 3)
    assert bench.nominal_flops((784, 100, 10), "spectral", 200, 600) == dense
    # S-SVD adds phi = U diag(s) V and its backward each step: 2 products of n_out·m·n_in, m = min
    extra = 3 * 2 * 2 * (100 * 100 * 784 + 10 * 10 * 100)
    assert bench.nominal_flops((784, 100, 10), "ssvd", 200, 600) == dense + extra
    assert bench.nominal_flops((784, 100, 10), "qr", 250, 600) == dense + extra  # 3 steps, the last partial


@pytest.mark.parametrize("variant", ["dense", "nc", "spectral", "full", "ssvd", "qr"])
def test_the_pytorch_twin_computes_the_same_network(variant):
    torch = pytest.importorskip("torch")
    bench = load_bench()
    net = mlp((12, 8, 5, 3), variant, seed=0)
    twin = bench.torch_model(torch, net, "cpu")
    x = np.random.default_rng(1).random((6, 12), dtype=np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    logits = net.forward(x)
    t_logits = twin(torch.from_numpy(x))
    np.testing.assert_allclose(t_logits.detach().numpy(), logits, rtol=1e-5, atol=1e-6)
    # the same trainable split: PyTorch's gradients are ours
    _, dlogits = F.softmax_cross_entropy(logits, make_labels("numpy", labels))
    net.backward(dlogits)
    torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(labels)).backward()
    t_params = {name.replace("seq.", ""): p for name, p in twin.named_parameters()}
    assert sorted(t_params) == sorted(name for name, _ in net.trainable_parameters())
    for name, p in net.trainable_parameters():
        np.testing.assert_allclose(t_params[name].grad.numpy(), p.grad, rtol=1e-4, atol=1e-7, err_msg=name)


def test_the_benchmark_runs_a_tiny_grid_and_writes_json(tmp_path):
    bench = load_bench()
    out = tmp_path / "bench.json"
    args = ["--nets", "784-16-10", "--models", "dense,nc", "--batch-sizes", "200", "--epochs", "2",
            "--samples", "600", "--warmup-steps", "1", "--peak-size", "256", "--out", str(out)]
    has_torch = importlib.util.find_spec("torch") is not None
    result = bench.main(args + (["--torch"] if has_torch else []))
    saved = json.loads(out.read_text())
    assert saved["machine"]["matmul_peak_gflops"] > 0 and saved["machine"]["cores"] >= 1
    assert [(r["model"], r["batch_size"]) for r in saved["results"]] == [("dense", 200), ("nc", 200)]
    for row in result["results"]:
        assert len(row["seconds"]) == 2 and row["seconds_per_epoch"] > 0
        assert row["samples_per_second"] == pytest.approx(600 / row["seconds_per_epoch"])
        assert len(row["peak_rss_mib"]) == 2
        if has_torch:
            # the median over neighbouring epochs of ours / theirs
            pairs = np.array(row["seconds"]) / np.array(row["torch_seconds"])
            assert row["ratio"] == pytest.approx(np.median(pairs))
            # same start, same batches, same optimizer: the same first-epoch loss
            assert row["loss_rel_diff"] < 1e-5  # ~1e-7 measured; other batches or a missed warm-up give 5e-5 to 2e-3
    table = bench.markdown_table(result)
    assert table.count("\n") == 3 and "784→16→10" in table
    summary = bench.summary_tables(result)
    assert "| 784→16→10 | nc |" in summary and "| 784→16→10 | dense | 1.00 |" in summary


def test_a_ratio_is_the_median_over_neighbouring_epochs():
    bench = load_bench()
    # the machine slowed down 3x between our third epoch and theirs: the medians' ratio (1 / 4.5)
    # would report a 4.5x gap; the neighbours show 2/3 in four pairs out of five
    ours, theirs = [1.0, 1.0, 1.0, 3.0, 3.0], [1.5, 1.5, 4.5, 4.5, 4.5]
    assert bench.paired_ratio(ours, theirs) == pytest.approx(2 / 3)
    assert bench.paired_ratio([2.0], [4.0]) == 0.5
    with pytest.raises(ValueError, match="equally long"):
        bench.paired_ratio([1.0, 2.0], [1.0])


def test_the_interleaved_sides_take_turns_to_go_first_each_after_a_pause(monkeypatch):
    bench = load_bench()
    calls = []
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: calls.append(seconds))

    def epochs(name):
        while True:
            calls.append(name)
            yield 1.0, 0.0, 0.0

    args = bench.parse_args(["--epochs", "4", "--max-seconds", "100", "--settle-seconds", "0.25"])
    runs = bench.timed_epochs({"ours": epochs("ours"), "torch": epochs("torch")}, args)
    assert calls == [0.25, "ours", 0.25, "torch", 0.25, "torch", 0.25, "ours"] * 2
    assert runs["ours"]["seconds"] == runs["torch"]["seconds"] == [1.0] * 4
    assert bench.parse_args([]).settle_seconds == 0.3


@pytest.mark.parametrize("argv, message", [
    (["--batch-sizes", "0"], "argument --batch-sizes: expected a positive integer, got '0'"),
    (["--nets", "784-abc-10"], "argument --nets: expected networks like 784-300-10"),
    (["--nets", "100-10"], "argument --nets: expected networks like 784-300-10"),
    (["--peak-size", "0"], "argument --peak-size: expected a positive integer"),
    (["--threads", "-2"], "argument --threads: expected a non-negative integer"),
    (["--max-seconds", "nan"], "argument --max-seconds: expected a positive number of seconds"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer"),
    (["--out", "."], "--out must name a file, got the folder ."),
    (["--torch-device", "foo"], "argument --torch-device: expected cpu, cuda, cuda:N or auto, got 'foo'"),
    (["--torch-device", "cuda:x"], "argument --torch-device: expected cpu, cuda, cuda:N or auto, got 'cuda:x'"),
])
def test_bad_benchmark_arguments_are_usage_errors_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        load_bench().parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_the_benchmark_runs_on_the_strict_backend_with_warm_up_and_records_its_arguments(tmp_path):
    bench = load_bench()
    out = tmp_path / "strict.json"
    result = bench.main(["--nets", "784-8-10", "--models", "qr", "--batch-sizes", "100", "--epochs", "1",
                         "--samples", "200", "--warmup-steps", "1", "--peak-size", "64", "--backend", "strict",
                         "--markdown", "--out", str(out)])
    assert [r["model"] for r in result["results"]] == ["qr"]
    arguments = json.loads(out.read_text())["machine"]["arguments"]
    assert arguments["samples"] == 200 and arguments["backend"] == "strict" and arguments["warmup_steps"] == 1


def test_the_benchmark_leaves_out_tables_with_nothing_to_show():
    bench = load_bench()
    row = {"net": "784-8-10", "model": "nc", "batch_size": 100, "seconds_per_epoch": 1.0}
    assert bench.summary_tables({"results": [row]}) == ""  # no PyTorch ratio, no dense row


@pytest.mark.parametrize("argv, message", [
    (["--versus-dense", "--torch"], "it runs no PyTorch"),
    (["--versus-dense", "--models", "dense"], "needs a model other than dense")])
def test_versus_dense_refuses_options_it_would_ignore(argv, message, capsys):
    with pytest.raises(SystemExit):
        load_bench().parse_args(argv)
    assert message in capsys.readouterr().err


def test_the_benchmark_without_its_dataset_is_a_one_line_error(tmp_path, monkeypatch):
    bench = load_bench()
    monkeypatch.delenv("MINISPECTRAL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(bench, "matmul_peak", lambda *a, **k: pytest.fail("measured the peak before loading the data"))
    with pytest.raises(SystemExit, match="bench_train.py: error: mnist needs 4 files and 4 of them are not on this machine"):
        bench.main(["--data", "mnist", "--out", str(tmp_path / "b.json")])


def test_the_benchmark_keeps_the_rows_it_timed_when_a_later_cell_fails(tmp_path, monkeypatch):
    bench = load_bench()
    real, calls = bench.run_minispectral, []

    def second_cell_fails(sizes, *args, **kwargs):
        calls.append(sizes)
        if len(calls) == 2:
            raise MemoryError("the second cell ran out of memory")
        return real(sizes, *args, **kwargs)

    monkeypatch.setattr(bench, "run_minispectral", second_cell_fails)
    out = tmp_path / "grid.json"
    with pytest.raises(MemoryError):
        bench.main(["--nets", "784-8-10,784-9-10", "--models", "dense", "--batch-sizes", "200", "--epochs", "1",
                    "--samples", "400", "--warmup-steps", "0", "--peak-size", "64", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert [r["net"] for r in saved["results"]] == ["784-8-10"] and saved["finished"] is False


@pytest.mark.parametrize("value", ["-1", "61", "nan"])
def test_a_bad_settle_time_is_refused(value, capsys):
    with pytest.raises(SystemExit):
        load_bench().parse_args(["--settle-seconds", value])
    assert "--settle-seconds must be between 0 and 60" in capsys.readouterr().err


def test_the_benchmark_times_models_against_dense_interleaved(tmp_path, capsys):
    bench = load_bench()
    out = tmp_path / "versus.json"
    result = bench.main(["--versus-dense", "--nets", "784-16-10", "--models", "dense,nc,spectral", "--batch-sizes",
                         "200", "--epochs", "2", "--samples", "600", "--warmup-steps", "1", "--peak-size", "256",
                         "--markdown", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert [r["model"] for r in saved["versus_dense"]] == ["nc", "spectral"]  # dense is the reference, not a row
    for row in result["versus_dense"]:
        assert len(row["seconds"]) == len(row["dense_seconds"]) == 2  # both sides timed alike
        pairs = np.array(row["seconds"]) / np.array(row["dense_seconds"])
        assert row["ratio_to_dense"] == pytest.approx(np.median(pairs))
    assert "| 784→16→10 | spectral |" in capsys.readouterr().out


def test_the_benchmark_passes_the_flush_settings_on_and_records_them(tmp_path, monkeypatch):
    bench = load_bench()
    seen, real = [], bench.Adamax
    monkeypatch.setattr(bench, "Adamax", lambda *a, **kw: seen.append(kw["flush_subnormals"]) or real(*a, **kw))
    tiny = ["--nets", "784-8-10", "--models", "dense", "--batch-sizes", "200", "--epochs", "1", "--samples", "400",
            "--warmup-steps", "0", "--peak-size", "64", "--out", str(tmp_path / "b.json")]
    assert bench.main(tiny)["machine"]["flush_subnormals"] is True
    assert bench.main(tiny + ["--no-flush-subnormals"])["machine"]["flush_subnormals"] is False
    assert seen == [True, False]
    if importlib.util.find_spec("torch") is not None:
        import torch

        machine = bench.main(tiny + ["--torch", "--torch-flush-denormal"])["machine"]
        supported = torch.set_flush_denormal(True)  # True on x86 with SSE3: what main() must have recorded
        torch.set_flush_denormal(False)
        assert machine["torch_flush_denormal"] is supported
    # the CPU's flush-to-zero mode is off again once main() returns: half the smallest normal survives
    half = np.array(np.finfo(np.float32).smallest_normal, dtype=np.float32) * np.float32(0.5)
    assert half != 0


def test_the_hot_path_benchmark_runs_every_section_and_restores_the_switches(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_hot_paths", ROOT / "benchmarks" / "bench_hot_paths.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = minispectral.optim.Optimizer.block_entries, fast.GEMM_LAM_DIFF_ENTRIES
    out = tmp_path / "hot.json"
    result = bench.main(["--rows", "64", "--narrow-rows", "8", "--batch", "16", "--calls", "2", "--repeats", "1",
                         "--samples", "400", "--epochs", "2", "--out", str(out)])
    assert (minispectral.optim.Optimizer.block_entries, fast.GEMM_LAM_DIFF_ENTRIES) == before
    saved = json.loads(out.read_text())
    assert set(bench.SECTIONS) <= set(saved)
    assert set(saved["adamax"]) == {"blocks", "whole"} and set(saved["layout"]) == {"C-ordered", "Fortran-ordered"}
    assert len(saved["transposes"]) == 6 and all(us > 0 for us in saved["transposes"].values())
    assert set(saved["lam_diff"]) == {"8x784", "64x784"}
    assert set(saved["lam_diff"]["64x784"]) == {"product", "subtraction"}
    assert len(result["epochs"]) == 6 and {case["net"] for case in result["epochs"].values()} == {"784-8-10", "784-64-10"}
    assert all(len(times) == 1 for times in saved["matmul"]["numpy"].values())
    assert {"h @ W2.T", "h + b", "relu backward"} <= set(saved["step_ops"]["numpy"])
    assert all(len(times) == 1 and times[0] > 0 for times in saved["step_ops"]["numpy"].values())
    assert set(saved["spin"]["numpy"]) == {"run 0", "run 1"}
    # CPU milliseconds burned in the 0.6 s after a product: at most all cores for the whole window
    assert all(len(ms) == 1 and 0 <= ms[0] <= 600 * (os.cpu_count() or 1) for ms in saved["spin"]["numpy"].values())
    assert saved["machine"]["numpy"] == np.__version__ and "blas_threads_env" in saved["machine"]
    assert set(saved["threads"]) == {"OpenBLAS default", "OPENBLAS_THREAD_TIMEOUT=4"}
    for variant in saved["threads"].values():
        assert set(variant) == {"one thread", "two threads"}
        assert all(len(us) == 1 and us[0] > 0 for us in variant.values())
    for case in result["epochs"].values():
        assert len(case["seconds"]["on"]) == len(case["seconds"]["off"]) == 2 and case["ratio_on_to_off"] > 0
    with pytest.raises(SystemExit):
        bench.main(["--only", "nonsense"])
    for bad in (["--calls", "0"], ["--repeats", "0"], ["--rows", "-5"]):
        with pytest.raises(SystemExit):
            bench.main(bad)


def test_the_fast_kernels_refuse_a_buffer_that_shares_memory_with_an_input(backend):
    from minispectral.functional import fast

    x, phi = make(backend, np.ones((4, 4)), "float32"), make(backend, np.ones((4, 4)), "float32")
    lam_in, lam_out = make(backend, np.ones(4), "float32"), make(backend, np.zeros(4), "float32")
    overlapping = {"phi": phi} if backend.name == "strict" else {"phi": phi, "x": x}  # strict cannot tell views
    if backend.name != "strict":
        overlapping["phi"] = phi[...]  # a view of phi, not phi itself
    for name, buffer in overlapping.items():
        with pytest.raises(ValueError, match=f"W_out must be a buffer of its own, got one that shares memory with {name}"):
            fast.spectral_forward(x, phi, lam_in, lam_out, W_out=buffer)
    _, cache = fast.spectral_forward(x, phi, lam_in, lam_out)
    dy = make(backend, np.ones((4, 4)), "float32")
    with pytest.raises(ValueError, match="dW_out must be a buffer of its own, got one that shares memory with dy"):
        fast.spectral_backward(dy, cache, dW_out=dy)
    np.testing.assert_array_equal(host(phi), 1.0)
    np.testing.assert_array_equal(host(x), 1.0)
    np.testing.assert_array_equal(host(dy), 1.0)


def test_every_input_a_fast_kernel_reads_is_guarded_against_its_buffers():
    from minispectral.functional import fast

    rng = np.random.default_rng(0)
    x, phi = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    buf = np.zeros((4, 4))
    with pytest.raises(ValueError, match="shares memory with b"):
        fast.spectral_forward(x, phi, np.ones(4), np.zeros(4), buf[0], W_out=buf)
    lam_in = buf[0]  # read by dphi after dW is written
    _, cache = fast.spectral_forward(x, phi, lam_in, np.zeros(4))
    with pytest.raises(ValueError, match="shares memory with lam_in"):
        fast.spectral_backward(np.ones((4, 4)), cache, dW_out=buf)
    _, cache = fast.spectral_forward(x, phi, np.zeros(4), np.ones(4), lam_in_zero=True)  # keeps z = x phiᵀ (4, 4)
    z = cache[5]
    with pytest.raises(ValueError, match="shares memory with z"):
        fast.spectral_backward(np.ones((4, 4)), cache, need_dlam_in=False, dW_out=z.T)
    a = rng.standard_normal((4, 4))
    _, cache = fast.spectral_forward(a, phi, np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="shares memory with dy, x"):  # every overlap named
        fast.spectral_backward(a, cache, dW_out=a)


def test_the_benchmark_takes_every_torch_device_it_names():
    bench = load_bench()
    assert [bench.parse_args(["--torch-device", d]).torch_device for d in ("auto", "cpu", "cuda", "cuda:1")] == \
        ["auto", "cpu", "cuda", "cuda:1"]
