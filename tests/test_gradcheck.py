"""Every hand-written backward pass against central differences, in float64, to a relative error of 1e-7."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import minispectral
from minispectral import Dense, Spectral, functional as F, gradcheck, mlp
from minispectral.gradient_check import (DEFAULT_TOL, check_kernel, check_layer, check_model,
                                         numerical_gradient, rel_error)

from conftest import (KERNELS, dtype_name, host, kernel_case, make_labels, randn, spectral_kwargs,
                      unit_scale)

assert DEFAULT_TOL <= 1e-7

# (batch, n_in, n_out): batch 1 and both non-square orientations are always among the examples.
shapes = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5))
SHAPE_EXAMPLES = [(1, 3, 2), (2, 5, 2), (3, 2, 5), (1, 1, 1)]


def with_shape_examples(test):
    for shape in SHAPE_EXAMPLES:
        test = example(shape=shape, seed=0)(test)
    return test


def assert_passed(report):
    assert report.passed, "\n" + str(report)
    assert report.max_rel_error <= 1e-7


FROZEN = {"ssvd": ("U", "V"), "qr": ("Q",), "qr_masked": ("Q",)}  # factors the kernels give no gradient


def trained_only(name, backward, inputs):
    """(backward, wrt): a decomposition's backward returns only its trained factor's gradient, and
    ``wrt`` says so; every other input must get a gradient, or the check fails."""
    if name not in FROZEN:
        return backward, None
    keep = [i for i, k in enumerate(inputs) if k not in FROZEN[name]]
    return (lambda dy, cache: tuple(backward(dy, cache)[i] for i in keep)), [k for k in inputs if k not in FROZEN[name]]


# ------------------------------------------------------------------ kernels

@pytest.mark.parametrize("name", KERNELS)
@with_shape_examples
@given(shape=shapes, seed=st.integers(0, 10**6))
def test_kernel_gradients(name, shape, seed):
    forward, backward, inputs, kwargs = kernel_case(name, "numpy", "float64", shape, seed)
    backward, wrt = trained_only(name, backward, inputs)
    report = check_kernel(forward, backward, inputs, wrt=wrt, seed=seed, **kwargs)
    assert_passed(report)
    expected = {k for k, v in inputs.items() if v is not None and k not in FROZEN.get(name, ())}
    assert {r.name for r in report.rows} == expected


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_gradients_on_every_backend(backend, name):
    forward, backward, inputs, kwargs = kernel_case(name, backend, "float32", (2, 4, 3), seed=5)
    backward, wrt = trained_only(name, backward, inputs)
    assert_passed(gradcheck(forward, backward, inputs, wrt=wrt, **kwargs))
    # The check ran on float64 copies: the caller's float32 inputs are untouched.
    assert all(v is None or dtype_name(v) == "float32" for v in inputs.values())


@settings(max_examples=15)
@given(n=st.integers(1, 5), n_classes=st.integers(2, 6), seed=st.integers(0, 10**6))
def test_softmax_cross_entropy_gradient(n, n_classes, seed):
    rng = np.random.default_rng(seed)
    logits = 3 * rng.standard_normal((n, n_classes))
    labels = rng.integers(0, n_classes, size=n)
    _, dlogits = F.softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: F.softmax_cross_entropy(logits, labels)[0], logits)
    assert rel_error(dlogits, numeric) <= 1e-7


def test_softmax_cross_entropy_gradient_on_strict():
    logits = randn("strict", (3, 4), scale=2.0)
    labels = make_labels("strict", [3, 0, 1])
    _, dlogits = F.softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: F.softmax_cross_entropy(logits, labels)[0], logits)
    assert rel_error(dlogits, numeric) <= 1e-7


# ------------------------------------------------------------------ layers

LAYER_CONFIGS = [
    ("nc", {}),
    ("spectral", {}),
    ("full", {}),
    ("ssvd", {}),
    ("qr", {}),
    ("qr", {"triangular": False}),
    ("spectral", {"sparsity": 0.3}),
    ("qr", {"sparsity": 0.3}),
    ("nc", {"trainable": {"phi": True, "lam_in": True}}),
    ("spectral", {"trainable": {"lam_out": False, "phi": True}}),
    ("ssvd", {"trainable": {"s": False}}),
    ("qr", {"trainable": {"lam_in": False}, "bias": False}),
]
LAYER_IDS = [f"{v}-{'-'.join(f'{k}={val}' for k, val in kw.items()) or 'default'}" for v, kw in LAYER_CONFIGS]


def spectral_layer(variant, kw, n_in, n_out, seed, backend="numpy"):
    layer = Spectral(n_in, n_out, variant=variant, seed=seed, backend=backend,
                     **spectral_kwargs(variant, kw.get("bias", True)), **kw)
    return unit_scale(layer)


@pytest.mark.parametrize("variant, kw", LAYER_CONFIGS, ids=LAYER_IDS)
@settings(max_examples=12)
@with_shape_examples
@given(shape=shapes, seed=st.integers(0, 10**6))
def test_spectral_layer_gradients(variant, kw, shape, seed):
    n, n_in, n_out = shape
    layer = spectral_layer(variant, kw, n_in, n_out, seed)
    report = check_layer(layer, randn("numpy", (n, n_in), seed=seed))
    assert_passed(report)
    # Exactly the input and the trainable parameters are checked: no frozen one, none missed.
    assert [r.name for r in report.rows] == ["x"] + [name for name, _ in layer.trainable_parameters()]


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"sparsity": 0.4}], ids=["bias", "no-bias", "sparse"])
@with_shape_examples
@given(shape=shapes, seed=st.integers(0, 10**6))
def test_dense_layer_gradients(kw, shape, seed):
    n, n_in, n_out = shape
    b_init = (-0.5, 0.5) if kw.get("bias", True) else None
    layer = Dense(n_in, n_out, seed=seed, W_init=(-1.0, 1.0), b_init=b_init, **kw)
    report = check_layer(layer, randn("numpy", (n, n_in), seed=seed))
    assert_passed(report)
    assert [r.name for r in report.rows] == ["x", "W"] + (["b"] if kw.get("bias", True) else [])


@pytest.mark.parametrize("variant, kw", LAYER_CONFIGS[:6], ids=LAYER_IDS[:6])
def test_layer_gradients_on_every_backend(backend, variant, kw):
    layer = spectral_layer(variant, kw, 4, 3, seed=1, backend=backend.name)
    x = randn(backend, (2, 4), "float32")
    params_before = {n: host(p.value).tobytes() for n, p in layer.named_parameters()}
    assert_passed(gradcheck(layer, x))
    # The check works on a float64 copy: the caller's float32 layer is untouched.
    for name, p in layer.named_parameters():
        assert dtype_name(p.value) == "float32" and host(p.value).tobytes() == params_before[name]


@pytest.mark.parametrize("model", minispectral.MODELS)
@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "sigmoid"])
def test_whole_model_gradients(model, activation):
    kw = {"W_init": (-1.0, 1.0), "b_init": (-0.5, 0.5)} if model == "dense" else spectral_kwargs(model)
    net = unit_scale(mlp((5, 4, 4, 3), model, activation=activation, seed=3, **kw))
    x = randn("numpy", (3, 5), "float32", seed=4)
    report = gradcheck(net, x, make_labels("numpy", [0, 2, 1]))
    assert_passed(report)
    assert [r.name for r in report.rows] == [name for name, _ in net.trainable_parameters()]


def test_whole_model_gradients_on_strict():
    net = unit_scale(mlp((4, 3, 3, 2), "qr", seed=0, backend="strict", **spectral_kwargs("qr")))
    report = check_model(net, randn("strict", (2, 4), "float32"), make_labels("strict", [1, 0]))
    assert_passed(report)


# ------------------------------------------------------------------ the check itself must fail on a wrong backward

def _flip_dlam_out(monkeypatch):
    """Patch the spectral layer's kernel with one whose dlam_out has the wrong sign."""
    import minispectral.nn.spectral as spectral_module

    right = spectral_module.spectral_backward

    def wrong(dy, cache, **kw):
        dx, dphi, dlam_in, dlam_out, db = right(dy, cache, **kw)
        return dx, dphi, dlam_in, -dlam_out, db

    monkeypatch.setattr(spectral_module, "spectral_backward", wrong)


def test_a_wrong_backward_fails_the_layer_check_and_is_named(monkeypatch):
    layer = spectral_layer("spectral", {}, 4, 3, seed=0)
    x = randn("numpy", (2, 4))
    assert_passed(check_layer(layer, x))
    _flip_dlam_out(monkeypatch)
    report = check_layer(layer, x)
    assert not report.passed
    assert not report["lam_out"].passed
    assert report["lam_out"].rel_error > 0.5
    assert all(r.passed for r in report.rows if r.name != "lam_out")
    text = str(report)
    assert "FAILED" in text
    failed_lines = [line for line in text.splitlines() if line.rstrip().endswith("NO")]
    assert len(failed_lines) == 1 and failed_lines[0].startswith("lam_out")
    with pytest.raises(AssertionError, match="lam_out"):
        report.raise_if_failed()


def test_a_wrong_backward_fails_the_model_check(monkeypatch):
    net = unit_scale(mlp((4, 3, 2), "spectral", seed=0, **spectral_kwargs("spectral")))
    x, y = randn("numpy", (3, 4)), make_labels("numpy", [0, 1, 1])
    _flip_dlam_out(monkeypatch)
    report = check_model(net, x, y)
    assert {r.name for r in report.rows if not r.passed} == {"0.lam_out", "2.lam_out"}
    assert "0.lam_out" in str(report)


def test_a_missing_gradient_fails_the_check_and_is_named(monkeypatch):
    from minispectral.nn import Module

    set_grad = Module._set_grad

    def forgets_lam_in(self, name, grad):
        if name != "lam_in":
            set_grad(self, name, grad)

    monkeypatch.setattr(Spectral, "_set_grad", forgets_lam_in)
    report = check_layer(spectral_layer("spectral", {}, 3, 2, seed=0), randn("numpy", (2, 3)))
    assert not report.passed and not report["lam_in"].passed
    assert [r.name for r in report.rows if not r.passed] == ["lam_in"]
    assert "lam_in" in str(report) and "FAILED" in str(report)


def test_a_missing_or_misshapen_kernel_gradient_fails_the_check():
    forward, backward, inputs, _ = kernel_case("dense", "numpy", shape=(3, 4, 2))
    forgets_db = lambda dy, cache: backward(dy, cache)[:2] + (None,)  # noqa: E731
    broadcast_db = lambda dy, cache: backward(dy, cache)[:2] + (backward(dy, cache)[2][None, :],)  # noqa: E731
    for wrong in (forgets_db, broadcast_db):
        report = check_kernel(forward, wrong, inputs)
        assert [r.name for r in report.rows if not r.passed] == ["b"]
    with pytest.raises(ValueError, match=r"backward returned 2 gradients, expected 3: one for each of \['x', 'W', 'b'\]"):
        check_kernel(forward, lambda dy, cache: backward(dy, cache)[:2], inputs)
    with pytest.raises(KeyError, match=r"no gradient named 'db' was checked; the report has \['x', 'W', 'b'\]"):
        check_kernel(forward, backward, inputs)["db"]


def test_a_wrong_kernel_backward_fails_the_kernel_check():
    forward, backward, inputs, _ = kernel_case("dense", "numpy", shape=(3, 4, 2))

    def scaled_by_mistake(dy, cache):
        dx, dW, db = backward(dy, cache)
        return dx, 1.001 * dW, db  # a 0.1% error is far above the 1e-7 tolerance

    report = check_kernel(forward, scaled_by_mistake, inputs)
    assert not report["W"].passed and report["x"].passed and report["b"].passed
    assert "W" in str(report) and "FAILED" in str(report)


def test_an_empty_report_does_not_pass():
    assert not minispectral.GradcheckReport().passed


def test_rel_error_is_symmetric_and_zero_for_zeros():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.2])
    assert rel_error(a, b) == rel_error(b, a) == pytest.approx(0.2 / (np.linalg.norm(a) + np.linalg.norm(b)))
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_numerical_gradient_restores_its_argument():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: np.sum(x ** 3), x)
    np.testing.assert_allclose(grad, 3 * before ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


# ------------------------------------------------------------------ GPU

@pytest.mark.gpu
@pytest.mark.parametrize("name", KERNELS)
def test_cupy_kernel_gradients(cupy_backend, name):
    forward, backward, inputs, kwargs = kernel_case(name, cupy_backend, "float64", (3, 5, 4), seed=2)
    backward, wrt = trained_only(name, backward, inputs)
    assert_passed(check_kernel(forward, backward, inputs, wrt=wrt, **kwargs))


@pytest.mark.gpu
@pytest.mark.parametrize("variant, kw", LAYER_CONFIGS, ids=LAYER_IDS)
def test_cupy_layer_and_model_gradients(cupy_backend, variant, kw):
    layer = spectral_layer(variant, kw, 4, 3, seed=1, backend="cupy")
    assert_passed(check_layer(layer, randn(cupy_backend, (2, 4), "float32")))
    net = unit_scale(mlp((4, 3, 3, 2), variant, seed=0, backend="cupy", **spectral_kwargs(variant, kw.get("bias", True)),
                         **kw))
    assert_passed(check_model(net, randn(cupy_backend, (2, 4), "float32"), make_labels(cupy_backend, [1, 0])))


def test_a_wrong_scalar_gradient_shows_its_difference_and_empty_inputs_do_not_crash():
    ones = np.ones(3)
    forward = lambda a: (a * ones, None)  # noqa: E731
    row = check_kernel(forward, lambda dy, cache: (np.asarray(1.2 * np.sum(dy)),), {"a": np.array(0.5)})["a"]
    assert row.shape == () and not row.passed and row.max_abs_diff > 0.1  # the 0-d row used to print 0
    report = check_kernel(F.dense_forward, lambda dy, cache: F.dense_backward(dy, cache)[:2],
                          {"x": np.zeros((0, 3)), "W": np.ones((2, 3))})
    assert report["W"].max_abs_diff == 0.0 and report["x"].shape == (0, 3)


@pytest.mark.parametrize("model", ["spectral", "full", "ssvd"])
def test_a_correct_model_passes_on_inputs_in_0_1_whose_gradients_are_tiny(model):
    # Pixels in [0, 1) give eigenvalue gradients of ~1e-4, where the difference quotient's own rounding
    # (~eps |L| / h) exceeds 1e-7 of them: the check used to report FAILED for a correct model.
    rng = np.random.default_rng(0)
    # the papers' small phi: the eigenvalue gradients are the tiny ones this test needs
    net, x, labels = mlp((8, 5, 3), model, seed=0, phi_init="papers"), rng.random((4, 8)), rng.integers(0, 3, 4)
    report = gradcheck(net, x, labels)
    assert report.passed and report.max_rel_error > DEFAULT_TOL  # passed on the round-off ground
    assert "yes, round-off" in str(report) and "the numerical gradient's own rounding error" in str(report)
    assert all(r.max_abs_diff <= r.roundoff < 1e-8 for r in report.rows)


def test_the_roundoff_bound_does_not_pass_a_gradient_wrong_by_one_part_in_ten_thousand(monkeypatch):
    # the eigenvalue gradients here are ~1e-4: an error of 1e-4 of them (~1e-8) is still above the bound (~1e-9)
    import minispectral.nn.spectral as spectral_module

    right = spectral_module.spectral_backward

    def slightly_wrong(dy, cache, **kw):
        dx, dphi, dlam_in, dlam_out, db = right(dy, cache, **kw)
        return dx, dphi, dlam_in, None if dlam_out is None else dlam_out * 1.0001, db

    monkeypatch.setattr(spectral_module, "spectral_backward", slightly_wrong)
    rng = np.random.default_rng(0)
    net, x, labels = mlp((8, 5, 3), "spectral", seed=0, phi_init="papers"), rng.random((4, 8)), rng.integers(0, 3, 4)
    report = gradcheck(net, x, labels)
    assert not report["0.lam_out"].passed and report["0.lam_out"].max_abs_diff > report["0.lam_out"].roundoff


def test_a_wrong_gradient_of_a_tiny_function_fails():
    # sigma(x) near x = -25 is ~1e-11: the round-off bound had a floor of 1, ~7e-9, and passed a zero gradient
    x = {"x": np.array([[-25.0, -30.0, -22.0]])}
    assert not check_kernel(F.sigmoid_forward, lambda dout, cache: 0 * dout, x).passed
    assert check_kernel(F.sigmoid_forward, F.sigmoid_backward, x).passed


def test_large_inputs_are_nudged_in_proportion_and_a_wrong_gradient_fails():
    # 1e10 + 1e-6 is 1e10 in float64: with a fixed step the quotient was noise, and a round-off pass
    x = {"x": np.random.default_rng(0).standard_normal((3, 2)) + 1e10}
    report = check_kernel(F.relu_forward, F.relu_backward, x)
    assert report.passed and report.max_rel_error < DEFAULT_TOL
    assert not check_kernel(F.relu_forward, lambda dout, cache: 0.5 * dout, x).passed


def test_numerical_gradient_steps_in_proportion_and_divides_by_the_step_actually_taken():
    big = np.array([1e10])  # a fixed step of 1e-6 left it where it was: gradient 0
    np.testing.assert_allclose(numerical_gradient(lambda: float(big[0]) ** 2 / 2, big), big, rtol=1e-9)
    x32 = np.array([0.1], dtype=np.float32)  # 0.1 ± 1e-3 rounds in float32: dividing by 2h was off by ~4e-6
    grad = numerical_gradient(lambda: float(x32[0]) ** 2 / 2, x32, h=1e-3)
    np.testing.assert_allclose(grad, float(x32[0]), rtol=1e-12)


def test_a_sparse_layer_is_checked_with_its_mask_held_fixed():
    # two weights 1e-6 apart straddle the magnitude threshold: a nudge moved the mask, and the check
    # reported a correct backward pass as wrong (max |a - n| 3e3)
    layer = Dense(4, 1, sparsity=0.5, dtype="float64", W_init=np.array([[0.5, -0.5000005, 0.1, 0.9]]))
    report = check_layer(layer, np.ones((2, 4)))
    assert report.passed, str(report)
    assert layer.held_mask is None  # the check held the mask of its own copy
    net = minispectral.Sequential(layer, minispectral.ReLU(), Dense(1, 2, dtype="float64"))
    assert check_model(net, np.ones((2, 4)), np.array([0, 1])).passed


def test_check_model_takes_numpy_labels_for_a_model_on_another_backend_and_says_when_nothing_was_checked():
    net = mlp((4, 3, 2), "spectral", backend="strict")
    assert check_model(net, np.ones((2, 4)), np.array([0, 1])).passed  # fit and evaluate take them too
    for _, p in net.named_parameters():
        p.trainable = False
    report = check_model(net, np.ones((2, 4)), np.array([0, 1]))
    assert not report.passed and str(report) == "FAILED: nothing was checked (no trainable parameters)"


def test_check_layer_takes_x_from_another_backend():
    assert check_layer(Dense(4, 3, backend="strict"), np.ones((2, 4))).passed  # fit and evaluate take it too


def test_gradcheck_of_a_model_without_inputs_says_how_to_call_it():
    with pytest.raises(TypeError, match=r"needs its inputs: gradcheck\(layer, x\) or gradcheck\(model, x, labels\)"):
        gradcheck(mlp((4, 3, 2)))


def test_the_roundoff_bound_is_32_eps_times_the_size_over_h():
    from minispectral.gradient_check import ROUNDOFF_FACTOR

    x = np.array([[0.3, -0.7, 0.5]])
    row = check_kernel(F.relu_forward, F.relu_backward, {"x": x}, h=1e-6)["x"]
    dout = np.random.default_rng(0).standard_normal(x.shape)  # the check's own draw, seed 0
    size = np.sum(np.abs(F.relu_forward(x)[0] * dout))
    assert row.roundoff == pytest.approx(ROUNDOFF_FACTOR * np.finfo(np.float64).eps * size / 1e-6, rel=1e-6)


def _straddling(layer_class, **kw):
    """A sparse layer whose two largest-but-one |W| entries sit 5e-7 apart, across the threshold."""
    W = np.array([[0.5, -0.5000005, 0.1, 0.9]])
    if layer_class is Dense:
        return Dense(4, 1, sparsity=0.5, dtype="float64", W_init=W, **kw)
    # full variant, lam_in = 1, lam_out = 0: W = phi
    return Spectral(4, 1, variant="full", sparsity=0.5, dtype="float64", phi_init=W, lam_in_init=1.0,
                    lam_out_init=0.0, **kw)


@pytest.mark.parametrize("layer_class", [Dense, Spectral])
def test_sparse_layers_of_both_kinds_are_checked_with_their_masks_held(layer_class):
    from minispectral.functional import magnitude_mask
    from minispectral.gradient_check import _hold_masks

    layer = _straddling(layer_class)
    assert check_layer(layer, np.ones((2, 4))).passed
    held = _hold_masks(layer.copy()).held_mask
    np.testing.assert_array_equal(held, magnitude_mask(layer.weight(), 0.5))
    assert np.count_nonzero(held == 0) == 2
    nested = minispectral.Sequential(minispectral.Sequential(_straddling(layer_class)), minispectral.ReLU(),
                                     Dense(1, 2, dtype="float64"))
    assert check_model(nested, np.ones((2, 4)), np.array([0, 1])).passed  # masks held inside a nested model
