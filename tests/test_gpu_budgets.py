"""Host reads and library calls on the GPU path, pinned on the CuPy stand-in (tests/cupy_standin.py).

On a GPU each host read waits for every queued kernel, and each library call is a kernel launch of
~5-10 µs: a training step that reads nothing back and launches few kernels keeps the GPU busy.
``benchmarks/bench_host_reads.py`` prints the same counts for every model.
"""
import numpy as np
import pytest

import minispectral
from minispectral.train import evaluate, fit

pytestmark = pytest.mark.gpu

# (model, layer options, calls per step at most), measured on 64-48-32-10 with ReLU, batch 20, Adamax,
# with a margin of about 10 % for changes that add a call here or there.
MODELS = {
    "dense": ("dense", {}, 42),
    "spectral": ("spectral", {}, 61),
    "nc": ("nc", {}, 59),
    "full": ("full", {}, 68),
    "ssvd": ("ssvd", {}, 84),
    "qr": ("qr", {}, 78),
    "sparse": ("spectral", {"sparsity": 0.5}, 84),
}
N, BATCH = 800, 20  # 40 steps an epoch


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((N, 64), dtype=np.float32)
    y = rng.integers(0, 10, N)
    return minispectral.from_numpy(x, backend="cupy"), minispectral.from_numpy(y, backend="cupy")


def _net(label):
    model, kw, _ = MODELS[label]
    return minispectral.mlp((64, 48, 32, 10), model, seed=0, backend="cupy", **kw)


@pytest.mark.parametrize("label", list(MODELS))
def test_fit_reads_almost_nothing_back_and_stays_within_its_calls(standin, label):
    x, y = _data()
    net = _net(label)
    with standin.counting() as counts:
        fit(net, x, y, epochs=1, batch_size=BATCH, progress=False)
    steps = N // BATCH
    assert counts.reads / steps <= 0.2, f"{counts.reads} host reads in {steps} steps"
    assert counts.uploads <= 1  # the epoch's shuffling order; the data was sent once, before fit
    budget = MODELS[label][2]
    assert counts.calls / steps <= budget, f"{counts.calls / steps:.1f} calls per step, budget {budget}"
    # Past the checks of the data made once per call, an epoch reads once: its losses and hit count
    # (a read every few steps would still pass the 0.2 per step above).
    one_epoch = counts.reads
    with standin.counting() as counts:
        fit(net, x, y, epochs=3, batch_size=BATCH, progress=False)
    assert counts.reads - one_epoch <= 2, f"{counts.reads} host reads in 3 epochs, {one_epoch} in 1"


@pytest.mark.parametrize("label", list(MODELS))
def test_a_forward_pass_and_predict_read_nothing(standin, label):
    x, _ = _data()
    net = _net(label)
    net.forward(x[:5, :])  # the first pass may decide a host flag once (an nc layer's lam_in = 0)
    with standin.counting() as counts:
        net.forward(x[:BATCH, :])
        net.predict(x[:BATCH, :])
    assert counts.reads == 0


@pytest.mark.parametrize("label", ["dense", "nc", "qr"])
def test_evaluate_reads_once(standin, label):
    x, y = _data()
    net = _net(label)
    with standin.counting() as counts:
        loss, accuracy = evaluate(net, x, y, batch_size=100)
    assert counts.reads <= 1
    host_loss, host_accuracy = evaluate(net.copy().to("numpy"), minispectral.to_numpy(x), minispectral.to_numpy(y))
    assert loss == pytest.approx(host_loss, rel=1e-5) and accuracy == pytest.approx(host_accuracy, abs=1e-9)


def test_evaluate_on_the_gpu_still_refuses_bad_data_after_its_one_read(standin):
    x, y = _data()
    net = _net("dense")
    bad = minispectral.to_numpy(x).copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x must hold finite numbers, got 1 NaN or infinite entry"):
        evaluate(net, minispectral.from_numpy(bad, backend="cupy"), y)
    labels = minispectral.to_numpy(y).copy()
    labels[7] = 12
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        evaluate(net, x, minispectral.from_numpy(labels, backend="cupy"))


def test_a_non_finite_loss_read_late_on_the_gpu_names_its_step(standin):
    x, y = _data()
    net = _net("dense")
    bad = minispectral.to_numpy(x).copy()
    bad[140:160] = np.nan
    position = np.argsort(np.random.default_rng(0).permutation(N))  # where fit's first epoch puts each row
    first_step = int(position[140:160].min()) // BATCH + 1
    read_step = min(-(-first_step // 25) * 25, N // BATCH)  # read every 25 steps, and at the epoch's end
    with pytest.raises(minispectral.train.NonFiniteError) as info:
        fit(net, minispectral.from_numpy(bad, backend="cupy"), y, epochs=1, batch_size=BATCH, progress=False,
            check_finite=False, check_every=25)
    message = str(info.value)
    assert f"at epoch 1, step {first_step}" in message
    if first_step != read_step:
        assert f"read at step {read_step}: the loss is read every 25 steps (check_every)" in message
        assert f"updated {read_step - first_step} times" in message
    assert "NaN or infinite entries in this step's batch" in message  # the batch, not the parameters it spoiled


# --- an nc layer's lam_in = 0 flag is a host flag on a GPU: it must follow every new lam_in

def _nc_layer():
    from minispectral.nn.spectral import Spectral
    return Spectral(6, 4, variant="nc", seed=0, backend="cupy")


def _x6():
    return minispectral.from_numpy(np.random.default_rng(1).random((5, 6), dtype=np.float32), backend="cupy")


def _host_forward(layer, x):
    return minispectral.to_numpy(layer.copy().to("numpy").forward(minispectral.to_numpy(x)))


LAM_IN = np.linspace(0.1, 0.6, 6, dtype=np.float32)


def _changes(layer):
    """Ways a user gives a frozen lam_in new values on the device."""
    p = layer.params["lam_in"]
    return {
        "assigned": lambda: setattr(p, "value", minispectral.from_numpy(LAM_IN, backend="cupy")),
        "in place, then forget_lam_in": lambda: (p.value.__setitem__(Ellipsis, minispectral.from_numpy(
            LAM_IN, backend="cupy")), layer.forget_lam_in()),
        "moved with to()": lambda: (setattr(p, "value", minispectral.from_numpy(LAM_IN, backend="numpy")),
                                    layer.to("cupy")),
    }


@pytest.mark.parametrize("how", ["assigned", "in place, then forget_lam_in", "moved with to()"])
def test_an_nc_layer_sees_a_new_lam_in(how):
    layer, x = _nc_layer(), _x6()
    layer.forward(x)  # the flag is decided: lam_in = 0
    _changes(layer)[how]()
    np.testing.assert_allclose(minispectral.to_numpy(layer.forward(x)), _host_forward(layer, x), rtol=1e-6)
    assert not layer._lam_in_zero()


def test_an_nc_lam_in_trained_then_frozen_is_used():
    layer, x = _nc_layer(), _x6()
    p = layer.params["lam_in"]
    p.trainable = True  # trained for a while (the optimizer updates it in place) ...
    layer.forward(x)
    p.value -= minispectral.from_numpy(LAM_IN, backend="cupy")
    layer.forward(x)
    p.trainable = False  # ... then frozen
    np.testing.assert_allclose(minispectral.to_numpy(layer.forward(x)), _host_forward(layer, x), rtol=1e-6)


def test_an_nc_model_loaded_from_a_file_uses_its_lam_in(tmp_path):
    net = minispectral.mlp((6, 4, 3), "nc", seed=0, backend="numpy")
    net.layers[0].params["lam_in"].value[...] = LAM_IN
    path = minispectral.io.save(net, tmp_path / "nc.npz")
    loaded = minispectral.io.load(path, backend="cupy")
    x = _x6()
    np.testing.assert_allclose(minispectral.to_numpy(loaded.forward(x)), net.forward(minispectral.to_numpy(x)),
                               rtol=1e-6)
