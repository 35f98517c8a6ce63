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
        assert f"read at step {read_step}" in message and f"updated {read_step - first_step} times" in message
