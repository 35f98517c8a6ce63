"""The pure kernels: values against the formulas, dtype, immutability, portability, bad input."""
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minispectral
from minispectral import functional as F
from minispectral.backend import backend_of

from conftest import KERNELS, dtype_name, host, kernel_case, make, make_labels, randn, run_kernel

PACKAGE = Path(minispectral.__file__).resolve().parent


# ------------------------------------------------------------------ values

def test_dense_forward_backward_match_the_formulas(backend):
    x, W, b, dy = (randn(backend, s, seed=i) for i, s in enumerate([(3, 4), (2, 4), (2,), (3, 2)]))
    y, cache = F.dense_forward(x, W, b)
    hx, hW, hb, hdy = map(host, (x, W, b, dy))
    np.testing.assert_allclose(host(y), hx @ hW.T + hb, rtol=1e-12, atol=1e-12)
    dx, dW, db = F.dense_backward(dy, cache)
    np.testing.assert_allclose(host(dx), hdy @ hW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(dW), hdy.T @ hx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(db), hdy.sum(axis=0), rtol=1e-12, atol=1e-12)
    assert F.dense_backward(dy, cache, need_dx=False)[0] is None


def test_dense_without_bias_has_no_bias_gradient(backend):
    x, W = randn(backend, (3, 4)), randn(backend, (2, 4), seed=1)
    y, cache = F.dense_forward(x, W)
    np.testing.assert_allclose(host(y), host(x) @ host(W).T, rtol=1e-12, atol=1e-12)
    assert F.dense_backward(randn(backend, (3, 2)), cache)[2] is None


def test_spectral_weight_is_phi_times_eigenvalue_differences(backend):
    rng = np.random.default_rng(0)
    phi, lam_in, lam_out = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(2)
    W, cache = F.spectral_weight_forward(make(backend, phi), make(backend, lam_in), make(backend, lam_out))
    expected = np.array([[phi[i, j] * (lam_in[j] - lam_out[i]) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(host(W), expected, rtol=1e-12, atol=1e-12)
    dW = rng.standard_normal((2, 3))
    dphi, dlam_in, dlam_out = F.spectral_weight_backward(make(backend, dW), cache)
    np.testing.assert_allclose(host(dphi), dW * (lam_in[None, :] - lam_out[:, None]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(dlam_in), (dW * phi).sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(dlam_out), -(dW * phi).sum(axis=1), rtol=1e-12, atol=1e-12)
    skipped = F.spectral_weight_backward(make(backend, dW), cache, need_dphi=False, need_dlam=False)
    assert skipped == (None, None, None)


def test_spectral_forward_equals_dense_with_the_spectral_weight(backend):
    inputs, out, dout, grads = run_kernel("spectral", backend)
    x, phi, lam_in, lam_out, b = map(host, inputs.values())
    W = phi * (lam_in[None, :] - lam_out[:, None])
    np.testing.assert_allclose(host(out), x @ W.T + b, rtol=1e-12, atol=1e-12)
    dx, dphi, dlam_in, dlam_out, db = map(host, grads)
    dW = host(dout).T @ x
    np.testing.assert_allclose(dx, host(dout) @ W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dphi, dW * (lam_in[None, :] - lam_out[:, None]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dlam_in, (dW * phi).sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dlam_out, -(dW * phi).sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, host(dout).sum(axis=0), rtol=1e-12, atol=1e-12)


def test_ssvd_and_qr_rebuild_phi(backend):
    inputs, phi, dphi, (_, ds, _) = run_kernel("ssvd", backend, shape=(1, 4, 3))
    U, s, V = map(host, inputs.values())
    np.testing.assert_allclose(host(phi), U @ np.diag(s) @ V, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(ds), np.diag(U.T @ host(dphi) @ V.T), rtol=1e-12, atol=1e-12)
    inputs, phi, dphi, (dR, _) = run_kernel("qr", backend, shape=(1, 4, 3))
    R, Q = map(host, inputs.values())
    np.testing.assert_allclose(host(phi), R @ Q, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(dR), host(dphi) @ Q.T, rtol=1e-12, atol=1e-12)


def test_qr_backward_mask_zeroes_the_fixed_entries(backend):
    inputs, _, dphi, (dR, _) = run_kernel("qr_masked", backend, shape=(1, 5, 3))
    dR = host(dR)
    assert np.all(np.triu(dR, k=1) == 0)
    np.testing.assert_allclose(np.tril(dR), np.tril(host(dphi) @ host(inputs["Q"]).T), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, f, df", [
    ("relu", lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    ("tanh", np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.where(x > 0, 1.0, np.exp(x))),
])
def test_activations_match_their_formulas(backend, name, f, df):
    inputs, out, dout, (dx,) = run_kernel(name, backend, shape=(4, 5, 1))
    x = host(inputs["x"])
    np.testing.assert_allclose(host(out), f(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(dx), host(dout) * df(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "relu"])
def test_activations_stay_finite_for_huge_inputs(name):
    x = np.array([-1e4, -50.0, 50.0, 1e4], dtype=np.float32)  # RuntimeWarnings are errors in this suite
    out, cache = F.ACTIVATIONS[name][0](x)
    dx = F.ACTIVATIONS[name][1](np.ones_like(x), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))


def test_softmax_cross_entropy_matches_the_formula(backend):
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, dlogits = F.softmax_cross_entropy(make(backend, z), make_labels(backend, y))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert float(loss) == pytest.approx(-np.mean(np.log(p[np.arange(5), y])), rel=1e-12)
    np.testing.assert_allclose(host(dlogits), (p - np.eye(4)[y]) / 5, rtol=1e-10, atol=1e-15)
    assert loss.shape == ()


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]], dtype=np.float32)
    loss, dlogits = F.softmax_cross_entropy(z, np.array([0, 1]))
    assert float(loss) == pytest.approx(np.log(2) / 2, rel=1e-6)
    assert np.all(np.isfinite(dlogits))
    # Each row of dlogits sums to zero: softmax sums to one, and so does the one-hot row.
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-7)


def test_one_hot_and_accuracy(backend):
    labels = make_labels(backend, [2, 0, 1])
    np.testing.assert_array_equal(host(F.one_hot(labels, 4, backend.dtype("float32"))),
                                  np.eye(4)[[2, 0, 1]])
    logits = make(backend, [[0.0, 1.0, 2.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert F.accuracy(logits, labels) == pytest.approx(2 / 3)


def test_softmax_cross_entropy_is_finite_where_a_log_probability_is_minus_infinity(backend):
    # a gap of 6e38 between two float32 logits overflows to -inf; -inf * 0 (the one-hot) made the loss NaN
    big = float(np.finfo(np.float32).max)
    for rows, labels, expected in [([[3e38, -3e38]], [0], 0.0), ([[big, -big, 0.0]], [2], big)]:
        z = make(backend, np.array(rows), "float32")
        with np.errstate(over="ignore"):  # the gap itself overflows, as it should
            loss, dlogits = F.softmax_cross_entropy(z, make_labels(backend, labels))
        assert float(loss) == pytest.approx(expected, rel=1e-6)
        assert np.all(np.isfinite(host(dlogits)))


def test_one_hot_and_accuracy_check_the_label_range_and_the_class_count(backend):
    labels = make_labels(backend, [0, 5, -1])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\] for 3 classes, got values in \[-1, 5\]"):
        F.one_hot(labels, 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        F.accuracy(make(backend, np.zeros((3, 3))), labels)
    for n_classes in (2.5, -1, 0, True):
        with pytest.raises(ValueError, match=f"n_classes must be an integer >= 1, got {n_classes!r}"):
            F.one_hot(make_labels(backend, [0]), n_classes)
    targets = F.one_hot(make_labels(backend, [1]), 2, "float64")  # a dtype by name works on every backend
    assert dtype_name(targets) == "float64" and host(targets).tolist() == [[0.0, 1.0]]
    assert dtype_name(F.one_hot(make_labels(backend, [1]), 2)) == "float32"
    with pytest.raises(ValueError, match="dtype must be one of"):
        F.one_hot(make_labels(backend, [1]), 2, "int64")


def test_one_hot_of_narrow_labels_does_not_wrap(backend):
    # class indices past 255 in a uint8 label array's own dtype would wrap: 300 classes, label 3
    labels = minispectral.from_numpy(np.array([3, 255], dtype=np.uint8), backend=backend)
    targets = host(F.one_hot(labels, 300, backend.dtype("float32")))
    assert targets.sum(axis=1).tolist() == [1.0, 1.0] and targets[0, 3] == 1 and targets[1, 255] == 1


@pytest.mark.parametrize("labels", [np.zeros((4, 1), dtype=np.int64), np.zeros(3, dtype=np.int64),
                                    np.zeros(4, dtype=np.float64)])
def test_labels_are_checked_even_without_the_range_check(labels):
    logits = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises((ValueError, TypeError), match="labels must"):
        F.softmax_cross_entropy(logits, labels, check_labels_range=False)
    with pytest.raises((ValueError, TypeError), match="labels must"):
        F.accuracy(logits, labels)


# ------------------------------------------------------------------ dtype, immutability, portability

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", KERNELS)
def test_kernels_keep_the_dtype_of_their_inputs(backend, dtype, name):
    inputs, out, dout, grads = run_kernel(name, backend, dtype)
    assert dtype_name(out) == dtype
    assert backend_of(out) is backend
    given_grads = [g for g in grads if g is not None]
    assert given_grads, "every kernel returns at least one gradient"
    for g in given_grads:
        assert dtype_name(g) == dtype, name
        assert backend_of(g) is backend


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_keeps_dtype(backend, dtype):
    loss, dlogits = F.softmax_cross_entropy(randn(backend, (3, 4), dtype), make_labels(backend, [0, 1, 3]))
    assert dtype_name(loss) == dtype and dtype_name(dlogits) == dtype


@pytest.mark.parametrize("name", KERNELS)
def test_kernels_never_mutate_their_inputs(backend, name):
    forward, backward, inputs, kwargs = kernel_case(name, backend, "float32", shape=(3, 4, 5))
    before = {k: None if v is None else host(v).tobytes() for k, v in inputs.items()}
    out, cache = forward(*inputs.values(), **kwargs)
    dout = randn(backend, tuple(out.shape), "float32", seed=9)
    dout_before = host(dout).tobytes()
    out_before = host(out).tobytes()
    backward(dout, cache)
    for k, v in inputs.items():
        if v is not None:
            assert host(v).tobytes() == before[k], f"{name} changed its input {k}"
    assert host(dout).tobytes() == dout_before, f"{name} changed dout"
    assert host(out).tobytes() == out_before, f"{name}'s backward changed its own forward output"


def test_softmax_cross_entropy_never_mutates_logits(backend):
    z = randn(backend, (3, 4))
    before = host(z).tobytes()
    F.softmax_cross_entropy(z, make_labels(backend, [0, 1, 2]))
    assert host(z).tobytes() == before


@pytest.mark.parametrize("name", KERNELS)
def test_strict_backend_gives_numpy_results(name):
    _, out_np, _, grads_np = run_kernel(name, "numpy", shape=(2, 5, 3))
    _, out_st, _, grads_st = run_kernel(name, "strict", shape=(2, 5, 3))
    np.testing.assert_allclose(host(out_st), host(out_np), rtol=1e-12, atol=1e-14)
    for g_st, g_np in zip(grads_st, grads_np):
        assert (g_st is None) == (g_np is None)
        if g_np is not None:
            np.testing.assert_allclose(host(g_st), host(g_np), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernel, arrays", [
    (F.dense_forward, lambda: (np.ones((2, 3)), make("strict", np.ones((4, 3))))),
    (F.spectral_weight_forward, lambda: (np.ones((2, 3)), make("strict", np.ones(3)), np.ones(2))),
    (F.spectral_forward, lambda: (make("strict", np.ones((2, 3))), np.ones((4, 3)), np.ones(3), np.ones(4))),
    (F.relu_backward, lambda: (np.ones(3), make("strict", np.ones(3)))),
    (F.qr_forward, lambda: (np.ones((2, 2)), make("strict", np.ones((2, 3))))),
])
def test_mixing_backends_raises_a_clear_type_error(kernel, arrays):
    with pytest.raises(TypeError, match="different backends") as info:
        kernel(*arrays())
    assert "to_numpy" in str(info.value) or "Module.to" in str(info.value)


def _code_lines(path):
    """Source lines with their comments stripped."""
    return [line.split("#", 1)[0] for line in path.read_text().splitlines()]


def test_kernels_never_import_numpy():
    offenders = []
    for path in sorted((PACKAGE / "functional").glob("*.py")):
        for i, line in enumerate(_code_lines(path), 1):
            if re.search(r"\bimport numpy\b|\bfrom numpy\b|\bnp\.", line):
                offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert not offenders, "kernels must take their namespace from the inputs:\n" + "\n".join(offenders)


def test_layer_forward_and_backward_never_call_numpy():
    import inspect

    from minispectral import nn

    uses = []
    for cls in (nn.Dense, nn.Spectral, nn.Activation, nn.Sequential):
        for method in ("forward", "backward", "predict", "weight", "phi", "transfer_operator", "_phi_forward"):
            if hasattr(cls, method):
                source = inspect.getsource(getattr(cls, method))
                if re.search(r"\bnp\.|\bnumpy\.", source):
                    uses.append(f"{cls.__name__}.{method}")
    # numpy is allowed in nn/ only on the host side: initialisers and parameter bookkeeping.
    assert not uses, f"numpy on the compute path of {uses}"


# ------------------------------------------------------------------ masked kernels

@given(n_in=st.integers(2, 7), n_out=st.integers(2, 7), sparsity=st.sampled_from([0.1, 0.3, 0.5, 0.9]),
       seed=st.integers(0, 10**6))
def test_magnitude_mask_removes_the_smallest_entries(n_in, n_out, sparsity, seed):
    W = np.random.default_rng(seed).standard_normal((n_out, n_in))
    mask = F.magnitude_mask(W, sparsity)
    k = int(round(sparsity * W.size))
    assert mask.dtype == W.dtype
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert int((mask == 0).sum()) == k
    if 0 < k < W.size:
        assert np.abs(W[mask == 0]).max() < np.abs(W[mask == 1]).min()


@given(n_in=st.integers(2, 7), n_out=st.integers(2, 7), sparsity=st.sampled_from([0.1, 0.3, 0.5, 0.9]),
       seed=st.integers(0, 10**6))
def test_magnitude_mask_prunes_every_entry_tied_at_the_threshold(n_in, n_out, sparsity, seed):
    W = np.random.default_rng(seed).integers(-2, 3, (n_out, n_in)).astype(np.float64)  # many ties
    mask = F.magnitude_mask(W, sparsity)
    k = int(round(sparsity * W.size))
    tau = np.sort(np.abs(W).ravel())[k - 1] if k else -1.0
    np.testing.assert_array_equal(mask, (np.abs(W) > tau).astype(W.dtype))  # the papers' rule
    assert int((mask == 0).sum()) >= k


def test_magnitude_mask_of_a_constant_matrix_prunes_everything(backend):
    W = make(backend, np.full((4, 5), 0.5), "float32")
    mask = F.magnitude_mask(W, 0.25)
    assert dtype_name(mask) == "float32"
    assert np.all(host(mask) == 0)  # every |W| ties at tau, and only |W| > tau survives


def test_magnitude_mask_without_sparsity_keeps_everything(backend):
    W = randn(backend, (3, 4), "float32")
    assert np.all(host(F.magnitude_mask(W, 0.0)) == 1)


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5])
def test_magnitude_mask_rejects_bad_sparsity(sparsity):
    with pytest.raises(ValueError, match="sparsity"):
        F.magnitude_mask(np.ones((2, 2)), sparsity)


def test_masked_dense_passes_no_gradient_into_pruned_weights(backend):
    inputs, y, dy, (dx, dW, db) = run_kernel("masked_dense", backend, shape=(4, 6, 5))
    x, W, b = map(host, inputs.values())
    mask = host(F.magnitude_mask(inputs["W"], 0.4))
    assert 0 < (mask == 0).sum() < mask.size
    np.testing.assert_allclose(host(y), x @ (W * mask).T + b, rtol=1e-12, atol=1e-12)
    dW = host(dW)
    assert np.all(dW[mask == 0] == 0)
    np.testing.assert_allclose(dW, (host(dy).T @ x) * mask, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(dx), host(dy) @ (W * mask), rtol=1e-12, atol=1e-12)


def test_masked_spectral_gradients_come_from_the_surviving_entries(backend):
    inputs, y, dy, (dx, dphi, dlam_in, dlam_out, db) = run_kernel("masked_spectral", backend, shape=(4, 6, 5))
    x, phi, lam_in, lam_out, b = inputs.values()
    W_full, weight_cache = F.spectral_weight_forward(phi, lam_in, lam_out)
    mask = F.magnitude_mask(W_full, 0.4)
    assert 0 < (host(mask) == 0).sum() < host(mask).size
    np.testing.assert_allclose(host(y), host(x) @ (host(W_full) * host(mask)).T + host(b), rtol=1e-12, atol=1e-12)
    dW = dy.T @ x
    expected = F.spectral_weight_backward(dW * mask, weight_cache)
    for got, want in zip((dphi, dlam_in, dlam_out), expected):
        np.testing.assert_allclose(host(got), host(want), rtol=1e-12, atol=1e-14)
    # The pruned entries get no phi gradient, yet every eigenvalue still learns from the survivors.
    assert np.all(host(dphi)[host(mask) == 0] == 0)
    assert np.any(host(dlam_in) != 0) and np.any(host(dlam_out) != 0)


# ------------------------------------------------------------------ bad input

def test_kernels_reject_wrong_shapes_naming_the_argument():
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 3\), got \(2, 4\)"):
        F.dense_forward(np.ones((2, 4)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="b must have shape"):
        F.dense_forward(np.ones((2, 3)), np.ones((5, 3)), np.ones(4))
    with pytest.raises(ValueError, match="lam_in"):
        F.spectral_weight_forward(np.ones((2, 3)), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="lam_out"):
        F.spectral_weight_forward(np.ones((2, 3)), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="W must be 2-D"):
        F.dense_forward(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="dy must have shape"):
        _, cache = F.dense_forward(np.ones((2, 3)), np.ones((5, 3)))
        F.dense_backward(np.ones((2, 4)), cache)


def test_kernels_reject_non_float_and_mixed_dtypes():
    with pytest.raises(TypeError, match="float32 or float64"):
        F.dense_forward(np.ones((2, 3), dtype=np.int64), np.ones((5, 3)))
    with pytest.raises(TypeError, match="W has dtype float32 but x has dtype float64"):
        F.dense_forward(np.ones((2, 3)), np.ones((5, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        F.relu_forward(np.ones(3, dtype=np.int32))
    with pytest.raises(TypeError, match="must be an array"):
        F.tanh_forward([1.0, 2.0])


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "elu"])
def test_activation_backward_rejects_a_gradient_unlike_its_input(name):
    forward, backward = F.ACTIVATIONS[name]
    _, cache = forward(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dout must have the shape of .*\(4, 3\), got \(1, 3\)"):
        backward(np.ones((1, 3), dtype=np.float32), cache)  # would broadcast to (4, 3)
    with pytest.raises(TypeError, match="dout has dtype float64"):
        backward(np.ones((4, 3)), cache)  # would promote the gradient to float64


def test_backward_kernels_reject_an_upstream_gradient_of_another_dtype():
    _, cache = F.dense_forward(np.ones((2, 3), dtype=np.float32), np.ones((5, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="dy has dtype float64 but x has dtype float32"):
        F.dense_backward(np.ones((2, 5)), cache)
    _, cache = F.spectral_weight_forward(*(np.ones(s, dtype=np.float32) for s in ((2, 3), 3, 2)))
    with pytest.raises(TypeError, match="dW has dtype float64"):
        F.spectral_weight_backward(np.ones((2, 3)), cache)
    _, cache = F.ssvd_forward(*(np.ones(s, dtype=np.float32) for s in ((2, 2), 2, (2, 3))))
    with pytest.raises(TypeError, match="dphi has dtype float64"):
        F.ssvd_backward(np.ones((2, 3)), cache)
    _, cache = F.qr_forward(*(np.ones(s, dtype=np.float32) for s in ((2, 2), (2, 3))))
    with pytest.raises(TypeError, match="dphi has dtype float64"):
        F.qr_backward(np.ones((2, 3)), cache)


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), -1.0])
def test_elu_rejects_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        F.elu_forward(np.ones(3, dtype=np.float32), alpha)


def test_elu_keeps_float32_with_a_numpy_scalar_alpha():
    out, cache = F.elu_forward(np.array([-1.0, 1.0], dtype=np.float32), np.float64(0.5))
    assert out.dtype == np.float32 and F.elu_backward(np.ones(2, dtype=np.float32), cache).dtype == np.float32


def test_softmax_cross_entropy_rejects_bad_labels(backend):
    z = randn(backend, (3, 4))
    with pytest.raises(ValueError, match=r"\[0, 3\].*got values in \[0, 4\]"):
        F.softmax_cross_entropy(z, make_labels(backend, [0, 4, 1]))
    with pytest.raises(ValueError, match="got values in"):
        F.softmax_cross_entropy(z, make_labels(backend, [0, -1, 1]))
    with pytest.raises(TypeError, match="labels must be integers"):
        F.softmax_cross_entropy(z, make(backend, [0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        F.softmax_cross_entropy(z, make_labels(backend, [0, 1]))
    with pytest.raises(ValueError, match="at least one sample"):
        F.softmax_cross_entropy(randn(backend, (0, 4)), make_labels(backend, np.zeros(0)))


# ------------------------------------------------------------------ GPU

@pytest.mark.gpu
@pytest.mark.parametrize("name", KERNELS)
def test_cupy_kernels_agree_with_numpy(cupy_backend, name):
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-4)):
        _, out_np, _, grads_np = run_kernel(name, "numpy", dtype, shape=(8, 16, 12))
        _, out_gpu, _, grads_gpu = run_kernel(name, cupy_backend, dtype, shape=(8, 16, 12))
        assert dtype_name(out_gpu) == dtype and backend_of(out_gpu) is cupy_backend
        np.testing.assert_allclose(host(out_gpu), host(out_np), rtol=rtol, atol=rtol)
        for g_gpu, g_np in zip(grads_gpu, grads_np):
            if g_np is not None:
                assert dtype_name(g_gpu) == dtype
                np.testing.assert_allclose(host(g_gpu), host(g_np), rtol=rtol, atol=rtol)


@pytest.mark.gpu
@pytest.mark.parametrize("name, alpha", [("relu", None), ("tanh", None), ("sigmoid", None), ("elu", 1.0), ("elu", 0.3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_activation_backward_gives_the_plain_numbers(cupy_backend, name, alpha, dtype):
    """functional/fused.py's one-kernel backward passes against activations.py's, on the same device arrays,
    over both signs, 0, the tails (where a careless form loses the slope), a NaN in x and ±inf in dout."""
    from minispectral.functional import fused
    forward, plain = F.ACTIVATIONS[name]
    x = np.concatenate([np.random.default_rng(0).standard_normal(40) * 4, [0.0, -0.0, 30.0, -30.0, 1e-3, -90.0]])
    dout = np.random.default_rng(1).standard_normal(x.shape)
    dout[:2] = [np.inf, -np.inf]
    x[5] = np.nan  # a NaN input gives a NaN slope in the plain form: so must the kernel (CUDA's min drops a NaN)
    x, dout = make(cupy_backend, x.reshape(2, -1), dtype), make(cupy_backend, dout.reshape(2, -1), dtype)
    _, cache = forward(x) if alpha is None else forward(x, alpha=alpha)
    want = host(plain(dout, cache))
    got = fused.backward(name)(dout, cache)
    assert dtype_name(got) == dtype and backend_of(got) is cupy_backend
    np.testing.assert_allclose(host(got), want, rtol=2e-7 if dtype == "float32" else 1e-15, atol=0)
    assert np.array_equal(np.isnan(host(got)), np.isnan(want))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_softmax_cross_entropy_gives_the_plain_numbers(cupy_backend, dtype):
    """functional/fused.py's loss against losses.py's on the same device arrays: ordinary rows, a row far
    from its maximum (a log-probability that underflows to -inf off the label), uint8 labels; then a label
    whose log-probability is -inf (the loss is inf, not NaN), and the range check."""
    from minispectral.functional import fused
    z = np.random.default_rng(0).standard_normal((6, 5)) * 3
    big = 3e38 if dtype == "float32" else 1.7e308
    z[1] = [big, -big, 2.0, 1.0, -1.0]  # z - max overflows to -inf at column 1
    labels = np.array([0, 2, 4, 1, 3, 3], dtype=np.uint8)
    logits, y = make(cupy_backend, z, dtype), minispectral.from_numpy(labels, backend=cupy_backend)
    loss, dz = fused.softmax_cross_entropy(logits, y)
    want_loss, want_dz = F.softmax_cross_entropy(logits, y)
    assert dtype_name(dz) == dtype and dtype_name(loss) == dtype and loss.shape == ()
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(host(loss), host(want_loss), rtol=rtol)
    np.testing.assert_allclose(host(dz), host(want_dz), rtol=rtol, atol=1e-300)
    labels[1] = 1  # the label sits on the row's -inf log-probability
    y = minispectral.from_numpy(labels, backend=cupy_backend)
    assert host(fused.softmax_cross_entropy(logits, y)[0]) == host(F.softmax_cross_entropy(logits, y)[0]) == np.inf
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\]"):
        fused.softmax_cross_entropy(logits, make_labels(cupy_backend, [0, 1, 2, 3, 4, 5]))


def test_fused_activation_backward_is_the_plain_kernel_off_cupy():
    from minispectral.functional import fused
    for name, (forward, plain) in F.ACTIVATIONS.items():
        x = randn("numpy", (3, 4))
        _, cache = forward(x)
        np.testing.assert_array_equal(fused.backward(name)(x, cache), plain(x, cache))


# ------------------------------------------------------------------ found by a review of 2026-12-01

def test_qr_backward_checks_its_mask(backend):
    dphi, Q = randn(backend, (5, 4)), randn(backend, (3, 4), seed=1)
    cache = (Q, 5)  # qr_forward's cache for an R of 5 rows
    with pytest.raises(ValueError, match=r"R_mask must have shape \(5, 3\), got \(1, 3\)"):
        F.qr_backward(dphi, cache, randn(backend, (1, 3)))  # would broadcast over every row
    with pytest.raises(ValueError, match="R_mask must be 2-D"):
        F.qr_backward(dphi, cache, randn(backend, (3,)))
    with pytest.raises(TypeError, match="R_mask has dtype .*float32 but Q has dtype .*float64"):
        F.qr_backward(dphi, cache, randn(backend, (5, 3), dtype="float32"))


def test_qr_backward_checks_dphi_against_R_without_a_mask(backend):
    _, cache = F.qr_forward(randn(backend, (3, 2)), randn(backend, (2, 4), seed=1))
    with pytest.raises(ValueError, match=r"dphi must have shape \(3, 4\), got \(5, 4\)"):
        F.qr_backward(randn(backend, (5, 4)), cache)  # would return a (5, 2) dR for a (3, 2) R


def test_magnitude_mask_checks_W_and_always_leaves_a_weight(backend):
    with pytest.raises(ValueError, match="W must be 2-D"):
        F.magnitude_mask(randn(backend, (6,)), 0.5)
    with pytest.raises(TypeError, match="W must be float32 or float64, got dtype"):
        F.magnitude_mask(minispectral.from_numpy(np.ones((2, 3), dtype=np.int32), backend=backend), 0.5)
    # 0.95 of 10 entries rounds to 10: one must survive, or the layer could never train again
    mask = host(F.magnitude_mask(randn(backend, (2, 5)), 0.95))
    assert mask.sum() == 1


def test_one_hot_refuses_float_and_2d_labels(backend):
    with pytest.raises(TypeError, match="labels must be integers"):
        F.one_hot(make(backend, np.array([0.7, 1.2])), 3)
    with pytest.raises(ValueError, match=r"labels must be a 1-D array of class indices, got shape \(2, 1\)"):
        F.one_hot(make_labels(backend, np.array([[0], [1]])), 3)


@pytest.mark.parametrize("label_dtype", [np.uint8, np.uint64, np.int16])
def test_loss_and_accuracy_take_narrow_and_unsigned_labels(backend, label_dtype):
    logits = randn(backend, (2, 300))
    labels = minispectral.from_numpy(np.array([3, 255], dtype=label_dtype), backend=backend)
    expected = F.softmax_cross_entropy(host(logits), np.array([3, 255]))[0]
    np.testing.assert_allclose(host(F.softmax_cross_entropy(logits, labels)[0]), host(expected), rtol=1e-6)
    hits = np.argmax(host(logits), axis=1) == np.array([3, 255])
    assert F.accuracy(logits, labels) == pytest.approx(hits.mean())
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        F.softmax_cross_entropy(randn(backend, (2, 10)), labels)


def test_namespace_names_a_non_array():
    from minispectral.backend import namespace
    with pytest.raises(TypeError, match="expected arrays, got list"):
        namespace([1.0])
    with pytest.raises(TypeError, match="needs at least one array"):
        namespace()
    with pytest.raises(TypeError, match=r"expects an array of shape \(N, 3\), got list"):
        minispectral.mlp((3, 2, 2)).predict([[0.0, 1.0, 2.0]])


# ------------------------------------------------------------------ found by mutation testing (2026-12-01)

def test_relu_backward_gives_the_kink_at_zero_slope_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = F.relu_forward(x)
    np.testing.assert_array_equal(F.relu_backward(np.ones_like(x), cache), [[0.0, 0.0, 1.0]])


def test_elu_backward_uses_its_alpha():
    x = np.array([[-1.5, -0.2, 0.7]])
    out, cache = F.elu_forward(x, alpha=2.5)
    np.testing.assert_allclose(out, np.where(x > 0, x, 2.5 * np.expm1(x)), rtol=1e-12)
    np.testing.assert_allclose(F.elu_backward(np.ones_like(x), cache), np.where(x > 0, 1.0, 2.5 * np.exp(x)),
                               rtol=1e-12)


def test_softmax_cross_entropy_shifts_each_row_by_its_own_max():
    # one global max (1000) would underflow the second row's exponentials to 0 and its loss to inf
    z = np.array([[1000.0, 0.0], [0.0, 1.0]])
    loss, dlogits = F.softmax_cross_entropy(z, np.array([0, 1]))
    assert float(loss) == pytest.approx(np.log1p(np.exp(-1.0)) / 2, rel=1e-12)
    assert np.all(np.isfinite(dlogits))


EXACT_SLOPES = {  # float64 references that need no cancelling subtraction
    "sigmoid": (lambda v: np.exp(np.minimum(v, 0)) / (1 + np.exp(-np.abs(v))),
                lambda v: np.exp(-np.abs(v)) / (1 + np.exp(-np.abs(v))) ** 2),
    "tanh": (np.tanh, lambda v: 1 / np.cosh(v) ** 2),
    "elu": (lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0))), lambda v: np.where(v > 0, 1.0, np.exp(v))),
}


@pytest.mark.parametrize("name", sorted(EXACT_SLOPES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_their_relative_precision_in_the_tails(name, dtype):
    # 1 - tanh(x)^2, sigma(x)(1 - sigma(x)) and elu's out + alpha cancel there: the slope rounded to 0
    # (float32: tanh from |x| = 10, elu from x = -17.5, sigma from 17.5), and sigma itself did from -20
    x = np.array([-80.0, -40.0, -20.0, -16.0, -1e-3, 0.0, 1e-3, 16.0, 20.0, 40.0, 80.0], dtype=dtype)
    forward, backward = F.ACTIVATIONS[name]
    out, cache = forward(x)
    dx = backward(np.ones_like(x), cache)
    f, slope = EXACT_SLOPES[name]
    x64 = x.astype(np.float64)
    assert out.dtype == dx.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    tiny = np.finfo(dtype).tiny  # below it a float has fewer digits, and tanh's slope at 80 is 1e-69
    np.testing.assert_allclose(out, f(x64), rtol=rtol, atol=tiny)
    np.testing.assert_allclose(dx, slope(x64), rtol=rtol, atol=tiny)
    assert np.all(dx[np.abs(x) <= 20] > 0)


# ------------------------------------------------------------------ mutants that survived a review of 2026-12-01

def test_elu_with_an_alpha_below_one():
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    out, cache = F.elu_forward(x, alpha=0.5)
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-15)
    np.testing.assert_allclose(F.elu_backward(np.ones_like(x), cache), np.where(x > 0, 1.0, 0.5 * np.exp(x)), rtol=1e-15)


def test_a_given_sparsity_mask_is_checked_against_W():
    x, W = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match=r"mask must have shape \(4, 3\)"):
        F.masked_dense_forward(x, W, None, 0.5, mask=np.ones((1, 3)))  # would broadcast over every row
    with pytest.raises(TypeError, match="mask has dtype float32"):
        F.masked_dense_forward(x, W, None, 0.5, mask=np.ones((4, 3), dtype=np.float32))
