"""Layers and models: the transfer operator, parameter counts, flags, seeds, portability, bad input."""
import numpy as np
import pytest

import minispectral
from minispectral import Activation, Dense, Spectral, mlp
from minispectral import functional as F
from minispectral.backend import backend_of
from minispectral.nn import from_config
from minispectral.optim import Adam, make_optimizer
from minispectral.train import fit

from conftest import dtype_name, host, make, make_labels, randn, spectral_kwargs, unit_scale

VARIANTS = minispectral.VARIANTS


# ------------------------------------------------------------------ the transfer operator

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n_in, n_out", [(5, 3), (3, 5), (4, 4)])
def test_transfer_operator_has_the_eigenvalues_and_the_weights(variant, n_in, n_out):
    layer = Spectral(n_in, n_out, variant=variant, seed=2, dtype="float64", **spectral_kwargs(variant))
    unit_scale(layer)
    A = host(layer.transfer_operator())
    lam_in, lam_out = host(layer.params["lam_in"].value), host(layer.params["lam_out"].value)
    assert A.shape == (n_in + n_out, n_in + n_out)
    eig = np.linalg.eigvals(A)
    np.testing.assert_allclose(eig.imag, 0.0, atol=1e-8)
    np.testing.assert_allclose(np.sort(eig.real), np.sort(np.concatenate([lam_in, lam_out])), atol=1e-8)
    np.testing.assert_allclose(A[n_in:, :n_in], host(layer.weight()), rtol=1e-12, atol=1e-14)
    assert np.all(A[:n_in, n_in:] == 0)
    np.testing.assert_allclose(np.diag(A), np.concatenate([lam_in, lam_out]), rtol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_transfer_operator_is_phi_lambda_phi_inverse(variant):
    n_in, n_out = 4, 3
    layer = Spectral(n_in, n_out, variant=variant, seed=1, dtype="float64", **spectral_kwargs(variant))
    unit_scale(layer)
    phi = host(layer.phi())
    Phi = np.block([[np.eye(n_in), np.zeros((n_in, n_out))], [phi, np.eye(n_out)]])
    # The off-diagonal block squares to zero, so Φ⁻¹ = 2I − Φ.
    I = np.eye(n_in + n_out)
    np.testing.assert_allclose(Phi @ (2 * I - Phi), I, atol=1e-12)
    np.testing.assert_allclose(np.linalg.inv(Phi), 2 * I - Phi, atol=1e-12)
    Lam = np.diag(np.concatenate([host(layer.params["lam_in"].value), host(layer.params["lam_out"].value)]))
    np.testing.assert_allclose(host(layer.transfer_operator()), Phi @ Lam @ np.linalg.inv(Phi), atol=1e-12)


def test_transfer_operator_runs_on_strict():
    layer = Spectral(3, 2, variant="qr", seed=0, backend="strict")
    A = layer.transfer_operator()
    assert backend_of(A).name == "strict" and dtype_name(A) == "float32"
    np.testing.assert_allclose(host(A)[3:, :3], host(layer.weight()), rtol=1e-6, atol=1e-6)  # float32 sums


def test_phi_and_weight_follow_the_factorisations():
    s = Spectral(5, 3, variant="ssvd", seed=0, dtype="float64")
    U, sv, V = (host(s.params[k].value) for k in ("U", "s", "V"))
    np.testing.assert_allclose(host(s.phi()), U @ np.diag(sv) @ V, rtol=1e-12)
    q = Spectral(5, 3, variant="qr", seed=0, dtype="float64")
    R, Q = host(q.params["R"].value), host(q.params["Q"].value)
    np.testing.assert_allclose(host(q.phi()), R @ Q, rtol=1e-12)
    np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-12)  # orthonormal rows
    assert np.all(np.triu(R, k=1) == 0)
    for layer in (s, q):
        lam_in, lam_out = host(layer.params["lam_in"].value), host(layer.params["lam_out"].value)
        np.testing.assert_allclose(host(layer.weight()), host(layer.phi()) * (lam_in[None, :] - lam_out[:, None]),
                                   rtol=1e-12)


# ------------------------------------------------------------------ parameter counts and flags

FULL_R_QR = 784 + 2 * 100 + 10 + 100 * 100 + 10 * 10 + 110


@pytest.mark.parametrize("model, kw, count", [
    ("dense", {}, 79_510),
    ("spectral", {}, 1_104),
    ("nc", {}, 220),
    ("ssvd", {}, 1_214),
    ("qr", {}, 6_209),
    ("qr", {"triangular": False}, FULL_R_QR),
])
def test_parameter_counts_of_the_papers(model, kw, count):
    net = mlp((784, 100, 10), model, **kw)
    assert net.num_parameters() == count


def test_counting_frozen_parameters_too():
    net = mlp((784, 100, 10), "spectral")
    assert net.num_parameters(trainable_only=False) == 1_104 + 784 * 100 + 100 * 10


@pytest.mark.parametrize("variant, trained", [
    ("nc", {"lam_out", "b"}),
    ("spectral", {"lam_in", "lam_out", "b"}),
    ("full", {"phi", "lam_in", "lam_out", "b"}),
    ("ssvd", {"s", "lam_in", "lam_out", "b"}),
    ("qr", {"R", "lam_in", "lam_out", "b"}),
])
def test_variants_train_what_the_papers_train(variant, trained):
    layer = Spectral(4, 3, variant=variant)
    assert {n for n, _ in layer.trainable_parameters()} == trained


@pytest.mark.parametrize("variant", VARIANTS)
def test_frozen_parameters_get_no_grad_and_no_optimizer_state(variant):
    net = mlp((5, 4, 3), variant, seed=0)
    x, y = randn("numpy", (6, 5), "float32"), np.array([0, 1, 2, 0, 1, 2])
    _, dlogits = F.softmax_cross_entropy(net.forward(x), y)
    net.backward(dlogits)
    for name, p in net.named_parameters():
        if p.trainable:
            assert p.grad is not None and p.grad.shape == p.value.shape, name
        else:
            assert p.grad is None, name
    opt = Adam(net, lr=0.01)
    trained = [p for _, p in net.trainable_parameters()]
    assert [id(p) for _, p in opt.params] == [id(p) for p in trained]
    assert len(opt.m) == len(opt.v) == len(trained)
    frozen = {n: host(p.value) for n, p in net.named_parameters() if not p.trainable}
    opt.step()
    for name, p in net.named_parameters():
        if not p.trainable:
            np.testing.assert_array_equal(host(p.value), frozen[name])


@pytest.mark.parametrize("variant, override", [
    ("nc", {"phi": True}),
    ("spectral", {"lam_in": False}),
    ("full", {"phi": False}),
    ("ssvd", {"s": False}),
    ("qr", {"R": False}),
])
def test_trainable_overrides(variant, override):
    layer = Spectral(4, 3, variant=variant, trainable=override)
    (name, flag), = override.items()
    assert layer.params[name].trainable is flag
    layer.backward(layer.forward(randn("numpy", (2, 4), "float32")))
    assert (layer.params[name].grad is not None) is flag
    assert layer.config()["trainable"] == override


def test_first_layer_gets_no_input_gradient_but_others_do():
    net = mlp((4, 3, 2), "spectral")
    dx = net.backward(net.forward(randn("numpy", (2, 4), "float32")))
    assert dx is None and net.input_grad is False
    assert all(layer.input_grad is True for layer in net.layers)  # decided per pass, not stored in the layers
    net.input_grad = True
    assert net.backward(net.forward(randn("numpy", (2, 4), "float32"))).shape == (2, 4)


def test_a_model_built_from_another_models_layers_leaves_it_working():
    # Sequential used to switch off its first layer's dx for good: slicing a model broke the model
    from minispectral import Dense, ReLU, Sequential

    x, y = randn("numpy", (6, 4), "float32"), np.array([0, 1, 0, 1, 1, 0])
    base = mlp((4, 3, 2), "spectral")
    head = Sequential(*base.layers[2:])
    stacked = Sequential(Dense(5, 4), ReLU(), base)  # a whole model as a layer
    fit(base, x, y, epochs=1, batch_size=3, progress=False)
    fit(stacked, np.ones((6, 5), np.float32), y, epochs=1, batch_size=3, progress=False)
    assert head.forward(randn("numpy", (2, 3), "float32")).shape == (2, 2)
    assert minispectral.check_model(stacked, np.ones((2, 5)), np.array([0, 1])).passed


def test_sequential_refuses_what_is_not_a_layer():
    from minispectral import Dense, ReLU, Sequential

    for bad, message in [(ReLU, r"got <class .*ReLU'> at position 1; write ReLU\(\)"), ("relu", "got 'relu' at position 1"),
                         ([Dense(3, 2)], "got \\[Dense")]:
        with pytest.raises(TypeError, match=message):
            Sequential(Dense(4, 3), bad) if not isinstance(bad, list) else Sequential(bad)


def test_qr_triangular_r_stays_triangular_through_training():
    net = mlp((6, 5, 3), "qr", seed=0)
    opt = make_optimizer("adam", net, lr=0.05)
    x, y = randn("numpy", (8, 6), "float32"), np.arange(8) % 3
    for _ in range(5):
        _, dlogits = F.softmax_cross_entropy(net.forward(x), y)
        net.backward(dlogits)
        opt.step()
    for layer in (net.layers[0], net.layers[2]):
        R = host(layer.params["R"].value)
        assert np.all(np.triu(R, k=1) == 0)
        assert np.any(np.tril(R) != 0)


def test_sparse_layers_use_the_pruned_weights():
    for layer in (Dense(6, 5, sparsity=0.5, seed=0, dtype="float64"),
                  Spectral(6, 5, sparsity=0.5, seed=0, dtype="float64")):
        x = randn("numpy", (3, 6))
        W = host(layer.weight())
        mask = host(F.magnitude_mask(layer.weight(), 0.5))
        b = host(layer.params["b"].value)
        np.testing.assert_allclose(host(layer.forward(x)), x @ (W * mask).T + b, rtol=1e-12)


# ------------------------------------------------------------------ seeds and portability

@pytest.mark.parametrize("model", minispectral.MODELS)
def test_same_seed_same_initial_weights_on_numpy_and_strict(model):
    a = mlp((5, 4, 3), model, seed=11, backend="numpy")
    b = mlp((5, 4, 3), model, seed=11, backend="strict")
    c = mlp((5, 4, 3), model, seed=12, backend="numpy")
    differs = False
    for (na, pa), (nb, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert na == nb and backend_of(pb.value).name == "strict"
        assert host(pa.value).tobytes() == host(pb.value).tobytes(), na
        differs |= not np.array_equal(host(pa.value), host(pc.value))
    assert differs, "a different seed must give different weights"


@pytest.mark.parametrize("model", minispectral.MODELS)
def test_layers_forward_backward_and_step_on_strict(model):
    net = mlp((5, 4, 3), model, seed=0, backend="strict", sparsity=0.2)
    ref = mlp((5, 4, 3), model, seed=0, backend="numpy", sparsity=0.2)
    x_host, y_host = np.random.default_rng(0).standard_normal((6, 5)), np.array([0, 1, 2, 2, 1, 0])
    for m, be in ((net, "strict"), (ref, "numpy")):
        opt = make_optimizer("adamax", m, lr=0.01)
        for _ in range(2):
            logits = m.forward(make(be, x_host, "float32"))
            assert dtype_name(logits) == "float32" and backend_of(logits).name == be
            _, dlogits = F.softmax_cross_entropy(logits, make_labels(be, y_host))
            m.backward(dlogits)
            for name, p in m.trainable_parameters():
                assert backend_of(p.grad).name == be and dtype_name(p.grad) == "float32", name
            opt.step()
    for (name, p_strict), (_, p_np) in zip(net.named_parameters(), ref.named_parameters()):
        assert dtype_name(p_strict.value) == "float32"
        np.testing.assert_allclose(host(p_strict.value), host(p_np.value), rtol=1e-5, atol=1e-6, err_msg=name)
    pred = net.predict(make("strict", x_host, "float32"))
    assert backend_of(pred).name == "strict"
    np.testing.assert_array_equal(host(pred), host(ref.predict(x_host.astype(np.float32))))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("model", minispectral.MODELS)
def test_layers_keep_dtype_and_do_not_mutate_inputs(backend, model, dtype):
    net = mlp((5, 4, 3), model, seed=0, dtype=dtype, backend=backend)
    x = randn(backend, (2, 5), dtype)
    dy = randn(backend, (2, 3), dtype, seed=1)
    x_before, dy_before = host(x).tobytes(), host(dy).tobytes()
    out = net.forward(x)
    net.input_grad = True
    dx = net.backward(dy)
    assert dtype_name(out) == dtype and dtype_name(dx) == dtype
    for name, p in net.trainable_parameters():
        assert dtype_name(p.grad) == dtype, name
    assert host(x).tobytes() == x_before and host(dy).tobytes() == dy_before


def test_copy_is_independent():
    net = mlp((4, 3, 2), "full", seed=0)
    twin = net.copy()
    twin.layers[0].params["phi"].value[...] = 0.0
    assert np.any(host(net.layers[0].params["phi"].value) != 0)
    assert twin.input_grad is False


def test_from_config_rebuilds_the_architecture():
    net = mlp((5, 4, 3), "qr", activation="tanh", triangular=False, sparsity=0.1, trainable={"lam_in": False})
    rebuilt = from_config(net.config())
    assert rebuilt.config() == net.config()
    assert [n for n, _ in rebuilt.trainable_parameters()] == [n for n, _ in net.trainable_parameters()]


@pytest.mark.parametrize("name, cls", [("relu", minispectral.ReLU), ("tanh", minispectral.Tanh),
                                       ("elu", minispectral.ELU), ("sigmoid", minispectral.Sigmoid)])
def test_activation_layers_wrap_the_kernels(name, cls):
    x = randn("numpy", (3, 4))
    for layer in (cls(), Activation(name)):
        out = layer.forward(x)
        np.testing.assert_array_equal(out, F.ACTIVATIONS[name][0](x)[0])
        np.testing.assert_array_equal(layer.backward(np.ones_like(x)),
                                      F.ACTIVATIONS[name][1](np.ones_like(x), F.ACTIVATIONS[name][0](x)[1]))


# ------------------------------------------------------------------ bad input

def test_width_mismatch_names_the_layer_and_the_shapes():
    net = mlp((5, 4, 3), "spectral")
    with pytest.raises(ValueError) as info:
        net.forward(np.ones((2, 7), dtype=np.float32))
    message = str(info.value)
    assert "Spectral" in message and "(N, 5)" in message and "(2, 7)" in message
    with pytest.raises(ValueError, match=r"Dense.*\(N, 5\).*\(5,\)"):
        Dense(5, 3).forward(np.ones(5, dtype=np.float32))


def test_dtype_and_backend_mismatch_name_the_layer():
    layer = Dense(3, 2)  # float32 on numpy
    with pytest.raises(TypeError, match=r"Dense.*float32.*float64"):
        layer.forward(np.ones((1, 3)))
    with pytest.raises(TypeError, match=r"Dense.*numpy.*strict"):
        layer.forward(make("strict", np.ones((1, 3)), "float32"))
    with pytest.raises(TypeError, match="Dense"):
        layer.forward([[1.0, 2.0, 3.0]])


def test_unknown_names_raise_value_errors():
    with pytest.raises(ValueError, match="variant must be one of"):
        Spectral(3, 2, variant="eigen")
    with pytest.raises(ValueError, match="activation must be one of"):
        Activation("swish")
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp((3, 4, 2), "dense", activation="swish")
    with pytest.raises(ValueError, match="model must be one of"):
        mlp((3, 2), "conv")
    with pytest.raises(ValueError, match="can train only"):
        Spectral(3, 2, variant="nc", trainable={"R": True})


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="phi_init takes only a recipe.s name"):
        Spectral(3, 2, variant="qr", phi_init=(-1, 1))
    with pytest.raises(ValueError, match=r"phi must have shape \(2, 3\)"):
        Spectral(3, 2, phi_init=np.ones((3, 2)))
    with pytest.raises(TypeError, match="seed"):
        Dense(3, 2, seed=1.5)
    with pytest.raises(ValueError, match="sizes"):
        mlp((3,), "dense")
    with pytest.raises(ValueError, match="dtype"):
        Dense(3, 2, dtype="int32")


def test_initialiser_specs():
    layer = Spectral(3, 2, phi_init=0.5, lam_in_init=np.array([1.0, 2.0, 3.0]),
                     lam_out_init=lambda rng, shape: np.full(shape, -1.0), b_init=(2.0, 3.0), dtype="float64")
    assert np.all(host(layer.params["phi"].value) == 0.5)
    np.testing.assert_array_equal(host(layer.params["lam_in"].value), [1, 2, 3])
    assert np.all(host(layer.params["lam_out"].value) == -1)
    b = host(layer.params["b"].value)
    assert np.all((b >= 2) & (b < 3))
    np.testing.assert_allclose(host(layer.weight()), 0.5 * (np.array([1, 2, 3])[None, :] + 1) * np.ones((2, 1)))


def test_initial_arrays_are_copied_not_trained_in_place():
    W, phi = np.ones((2, 3)), np.full((2, 3), 0.5)
    dense = Dense(3, 2, W_init=W, dtype="float64")
    spectral = Spectral(3, 2, variant="full", phi_init=phi, dtype="float64")
    assert dense.params["W"].value is not W and spectral.params["phi"].value is not phi
    for layer in (dense, spectral):
        layer.backward(layer.forward(np.ones((1, 3))))
        make_optimizer("sgd", layer, lr=1.0).step()
    assert np.all(W == 1.0) and np.all(phi == 0.5)
    assert not np.all(host(dense.params["W"].value) == 1.0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_parameter_and_its_optimizer_state_is_c_ordered(variant):
    """QR's R comes from np.linalg.qr in F order; stored as it came, its Adamax update (mixing it with
    the C-ordered dR) ran 2x slower.  Parameters, and the state allocated like them, are C-ordered."""
    net = mlp((12, 7, 3), variant)
    opt = Adam(net, lr=0.01, pack_vectors=False)
    for name, p in net.named_parameters():
        assert p.value.flags.c_contiguous, name
    for state in opt.state:
        assert all(s.flags.c_contiguous for s in state)


@pytest.mark.parametrize("n_in, n_out", [(784, 100), (10, 10), (64, 100)])
def test_triangular_R_counts_its_free_entries(n_in, n_out):
    m = min(n_in, n_out)
    R = Spectral(n_in, n_out, variant="qr").params["R"]
    assert R.count == m * (m + 1) // 2 + (n_out - m) * m  # the paper's m(m+1)/2 when n_out <= n_in
    assert np.all(np.triu(host(R.value), k=1) == 0)


@pytest.mark.parametrize("cls", [Dense, Spectral])
@pytest.mark.parametrize("kw, message", [
    (dict(n_in=0, n_out=3), "n_in must be a positive integer, got 0"),
    (dict(n_in=3, n_out=2.5), "n_out must be a positive integer, got 2.5"),
    (dict(n_in=None, n_out=2), "n_in must be a positive integer, got None"),
    (dict(n_in=3, n_out=2, sparsity=1.0), r"sparsity must be in \[0, 1\), got 1.0"),
    (dict(n_in=3, n_out=2, sparsity=-0.1), r"sparsity must be in \[0, 1\), got -0.1"),
])
def test_layers_refuse_bad_widths_and_sparsity_when_built(cls, kw, message):
    with pytest.raises(ValueError, match=message):
        cls(**kw)


def test_layers_take_integer_valued_widths_and_refuse_booleans():
    assert Dense(3.0, 2).params["W"].shape == (2, 3)
    assert Spectral(np.float64(3.0), np.int64(2), variant="qr").params["R"].shape == (2, 2)
    for width in (True, np.True_):
        with pytest.raises(ValueError, match="n_in must be a positive integer"):
            Dense(width, 2)


def test_frozen_factors_cannot_be_switched_to_trainable():
    for variant, name in (("ssvd", "U"), ("ssvd", "V"), ("qr", "Q")):
        layer = Spectral(4, 3, variant=variant)
        layer.params[name].trainable = True
        layer.forward(np.ones((2, 4), dtype=np.float32))
        with pytest.raises(ValueError, match=f"{name} cannot be trained"):
            layer.backward(np.ones((2, 3), dtype=np.float32))


def test_to_drops_the_work_buffers_of_the_old_dtype():
    model = mlp((6, 9, 4), "spectral")
    model.backward(model.forward(np.ones((2, 6), dtype=np.float32)))
    assert model.layers[0]._buffers
    model.to(dtype="float64")
    assert not model.layers[0]._buffers and not model.layers[2]._buffers


def test_numpy_scalar_initialisers_are_constants():
    assert Dense(2, 2, b_init=np.float32(0.5)).params["b"].value.tolist() == [0.5, 0.5]
    assert Spectral(3, 2, lam_in_init=np.int64(1)).params["lam_in"].value.tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------ found by a review of 2026-12-01

@pytest.mark.parametrize("module", [Dense(3, 2), Spectral(3, 2), Activation("relu"), mlp((3, 2, 2))])
def test_backward_without_a_forward_pass_says_so(module):
    with pytest.raises(RuntimeError, match="needs a forward pass first"):
        module.backward(np.ones((1, 2), np.float32))


@pytest.mark.parametrize("trainable, message", [(["phi"], "trainable must be a mapping"),
                                                ({"phi": "no"}, r"trainable\['phi'\] must be True or False")])
def test_spectral_trainable_argument_is_checked(trainable, message):
    with pytest.raises(ValueError, match=message):
        Spectral(3, 2, trainable=trainable)


@pytest.mark.parametrize("sizes", [(4, 2.5, 2), (4, True, 2), (4, "3", 2)])
def test_mlp_refuses_widths_a_layer_would_refuse(sizes):
    with pytest.raises(ValueError, match="sizes must hold positive integer widths"):
        mlp(sizes)


# ------------------------------------------------------------------ found by mutation testing (2026-12-01)

@pytest.mark.parametrize("variant, lam_in_bound, lam_out_bound", [
    ("spectral", 0.97, 0.13), ("full", 0.97, 0.13), ("qr", 0.97, 0.13), ("nc", 0.0, 0.5)])
def test_initial_eigenvalues_span_the_papers_ranges(variant, lam_in_bound, lam_out_bound):
    layer = Spectral(300, 200, variant=variant, seed=0, dtype="float64")
    lam_in, lam_out = host(layer.params["lam_in"].value), host(layer.params["lam_out"].value)
    assert 0.93 * lam_in_bound <= np.max(np.abs(lam_in)) <= lam_in_bound
    assert 0.93 * lam_out_bound < np.max(np.abs(lam_out)) <= lam_out_bound


def test_copy_keeps_a_switched_on_input_grad():
    net = mlp((4, 3, 2), "spectral")
    net.input_grad = True
    assert net.copy().input_grad is True


@pytest.mark.parametrize("kind", [Dense, Spectral])
@pytest.mark.parametrize("flag", ["False", 2, None])
def test_a_bias_flag_that_is_not_a_boolean_is_refused(kind, flag):
    with pytest.raises(ValueError, match=f"bias must be True or False, got {flag!r}"):
        kind(3, 2, bias=flag)


def test_triangular_flag_is_checked_and_one_counts_as_true():
    with pytest.raises(ValueError, match="triangular must be True or False, got 'no'"):
        Spectral(3, 2, variant="qr", triangular="no")
    assert Spectral(3, 2, variant="qr", triangular=1, bias=0).triangular is True


@pytest.mark.parametrize("layer_class", [minispectral.Dense, minispectral.Spectral])
def test_a_layer_refuses_a_dtype_of_none(layer_class):
    # None kept the initial values' float64 where the documented default is float32
    with pytest.raises(ValueError, match=r"dtype must be one of \('float32', 'float64'\), got None"):
        layer_class(3, 2, dtype=None)
    assert layer_class(3, 2).params["lam_out" if layer_class is minispectral.Spectral else "W"].value.dtype == np.float32


@pytest.mark.parametrize("layer_class", [Dense, Spectral])
def test_layers_built_without_a_seed_differ_and_repeat_from_run_to_run(layer_class):
    # every unseeded layer used to draw with seed 0: two 30 -> 30 layers started identical
    from minispectral.nn.init import manual_seed

    name = "W" if layer_class is Dense else "phi"
    first, second = (host(layer_class(30, 30).params[name].value) for _ in range(2))
    assert not np.array_equal(first, second) and abs(np.corrcoef(first.ravel(), second.ravel())[0, 1]) < 0.1
    manual_seed(0)
    assert np.array_equal(host(layer_class(30, 30).params[name].value), first)  # the same order, the same values
    assert np.array_equal(host(layer_class(30, 30, seed=3).params[name].value),
                          host(layer_class(30, 30, seed=3).params[name].value))


@pytest.mark.parametrize("layer_class", [Dense, Spectral])
def test_layer_arguments_that_would_be_ignored_or_misread_are_refused(layer_class):
    with pytest.raises(ValueError, match="b_init is given, but bias=False"):
        layer_class(3, 2, bias=False, b_init=0.5)
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\), got '0.5'"):
        layer_class(3, 2, sparsity="0.5")
    init, n = ("W_init", 6) if layer_class is Dense else ("lam_out_init", 2)
    with pytest.raises(ValueError, match=f"initial value of .* must be finite, got {n} NaN or infinite entries of {n}"):
        layer_class(3, 2, **{init: float("nan")})


@pytest.mark.parametrize("model", minispectral.MODELS)
def test_weight_and_phi_are_snapshots_that_training_leaves_alone(model):
    # Dense.weight() and the phi() of nc/spectral/full were the live parameters, the rest copies
    net = mlp((6, 5, 3), model, **({"trainable": {"phi": True}} if model in ("nc", "spectral") else {}))
    layer = net.layers[0]
    before = {"weight": layer.weight()}
    if model != "dense":
        before["phi"] = layer.phi()
    saved = {k: host(v).copy() for k, v in before.items()}
    rng = np.random.default_rng(0)
    fit(net, rng.random((40, 6)).astype(np.float32), rng.integers(0, 3, 40), epochs=2, batch_size=10, lr=0.05,
        progress=False)
    for k, v in before.items():
        np.testing.assert_array_equal(host(v), saved[k], err_msg=k)
    assert not np.array_equal(host(layer.weight()), saved["weight"])  # the layer itself did train


def test_spectral_trainable_is_read_only():
    layer = Spectral(6, 4)
    with pytest.raises(TypeError):
        layer.trainable["phi"] = True  # used to be a fresh dict: the edit vanished without a word
    layer.params["phi"].trainable = True
    assert layer.trainable["phi"] is True


def test_from_config_rebuilds_activation_layers_as_their_own_class():
    from minispectral import ELU, ReLU, Sequential, Sigmoid, Tanh

    net = Sequential(Dense(4, 3), ReLU(), Dense(3, 3), Tanh(), Dense(3, 3), ELU(), Dense(3, 3), Sigmoid(),
                     Dense(3, 2), Activation("relu"))
    rebuilt = from_config(net.config())
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in net.layers]
    assert repr(rebuilt) == repr(net)


def test_mlp_with_seed_none_draws_from_the_shared_generator_as_a_layer_does():
    a, b = mlp((6, 5, 3), seed=None), mlp((6, 5, 3), seed=None)
    assert not np.array_equal(host(a.layers[0].params["phi"].value), host(b.layers[0].params["phi"].value))
    assert np.array_equal(host(mlp((6, 5, 3)).layers[0].params["phi"].value),
                          host(mlp((6, 5, 3)).layers[0].params["phi"].value))  # the default, seed 0, repeats


def test_fit_names_both_ways_out_when_an_optimizer_trains_part_of_a_model():
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 6)).astype(np.float32), rng.integers(0, 3, 20)
    net = mlp((6, 5, 3), "dense")
    head_only = Adam(net.layers[2], lr=0.01)
    with pytest.raises(ValueError, match=r"does not train 0.W, 0.b, which are trainable: to train part of the model, "
                                         r"freeze the rest"):
        fit(net, x, y, epochs=1, optimizer=head_only, progress=False)
    for p in net.layers[0].params.values():
        p.trainable = False
    before = host(net.layers[0].params["W"].value).copy()
    fit(net, x, y, epochs=1, optimizer=head_only, progress=False)
    np.testing.assert_array_equal(host(net.layers[0].params["W"].value), before)


def test_infinite_initial_values_and_a_boolean_sparsity_are_refused():
    with pytest.raises(ValueError, match="must be finite"):
        Dense(2, 1, W_init=np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="sparsity must be a number in \\[0, 1\\), got False"):
        Dense(3, 2, sparsity=False)
