"""Training on the bundled digits, reproducibility, clear failures, and save/load."""
import gc
import json
import os
import stat
import warnings
import zipfile

import numpy as np
import pytest

import minispectral
from minispectral import io, mlp
from minispectral.atomic import write_text
from minispectral.backend import backend_of
from minispectral.datasets import load_digits
from minispectral.optim import SGD
from minispectral.train import History, NonFiniteError, evaluate, find_nonfinite, fit

from conftest import dtype_name, host, make, make_labels, umask


@pytest.fixture(scope="module")
def digits():
    return load_digits(val_split=0.2, seed=0)


def small_data(n=40, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, size=n)


def without_seconds(history):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history.epochs]


# ------------------------------------------------------------------ learning

# The spectral variant trains only eigenvalues; an eigenvector block of order one (instead of the
# papers' tiny MNIST recipe, tuned for 784 inputs) lets it learn 64-pixel digits in a few epochs.
@pytest.mark.parametrize("model, kw, lr", [("dense", {}, 0.01), ("spectral", {"phi_init": (-0.3, 0.3)}, 0.03)])
def test_fit_learns_the_digits(digits, model, kw, lr):
    net = mlp((digits.n_features, 100, 10), model, seed=0, **kw)
    history = fit(net, digits.x_train, digits.y_train, epochs=8, batch_size=64, optimizer="adam", lr=lr,
                  x_val=digits.x_val, y_val=digits.y_val)
    assert all(s > 0 for s in history.epoch_seconds)  # speed itself is measured in benchmarks/, not here
    loss, accuracy = evaluate(net, digits.x_test, digits.y_test)
    assert accuracy > 0.85, f"{model}: test accuracy {accuracy:.3f}"
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert len(history.epochs) == 8 and [e["epoch"] for e in history.epochs] == list(range(1, 9))


def test_same_seed_same_history_and_weights():
    x, y = small_data()
    runs = []
    for _ in range(2):
        net = mlp((6, 8, 3), "qr", seed=4)
        h = fit(net, x, y, epochs=3, batch_size=16, seed=7, x_val=x, y_val=y)
        runs.append((without_seconds(h), [host(p.value) for p in net.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    other = fit(mlp((6, 8, 3), "qr", seed=4), x, y, epochs=3, batch_size=16, seed=8)
    assert [e["loss"] for e in without_seconds(other)] != [e["loss"] for e in runs[0][0]]


def test_history_shape_and_epoch_seconds():
    x, y = small_data()
    h = fit(mlp((6, 5, 3), "dense"), x, y, epochs=4, batch_size=10)
    assert isinstance(h, History) and not h.stopped_early
    assert len(h.epoch_seconds) == len(h.epochs) == 4
    assert all(s > 0 for s in h.epoch_seconds)
    assert h["val_accuracy"] == [None] * 4
    assert all(0.0 <= a <= 1.0 for a in h["train_accuracy"])
    assert h.to_dict()["epochs"] == h.epochs


def test_early_stopping_stops():
    x, y = small_data()
    # No epoch can beat the best by a whole 1.0 of accuracy, so patience 2 ends the run after 3 epochs.
    h = fit(mlp((6, 5, 3), "spectral"), x, y, epochs=20, batch_size=10, x_val=x, y_val=y,
            early_stopping=2, min_delta=1.0)
    assert h.stopped_early
    assert len(h.epochs) == 3
    assert len(h.epoch_seconds) == 3


def test_fit_accepts_an_optimizer_object_and_other_dtypes():
    x, y = small_data()
    net = mlp((6, 5, 3), "ssvd", dtype="float64")
    opt = SGD(net, lr=0.05, momentum=0.9)
    fit(net, x, y, epochs=2, batch_size=20, optimizer=opt)  # float32 data is cast to the model's float64
    assert opt.t == 4
    assert all(dtype_name(p.value) == "float64" for p in net.parameters())


def test_fit_on_strict_matches_numpy():
    x, y = small_data()
    h_np = fit(mlp((6, 5, 3), "full", seed=1), x, y, epochs=2, batch_size=16)
    net = mlp((6, 5, 3), "full", seed=1, backend="strict")
    h_st = fit(net, x, y, epochs=2, batch_size=16)
    assert backend_of(net.layers[0].params["phi"].value).name == "strict"
    np.testing.assert_allclose(h_st["loss"], h_np["loss"], rtol=1e-5)
    assert h_st["train_accuracy"] == h_np["train_accuracy"]


def test_evaluate_matches_a_direct_computation():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    loss, accuracy = evaluate(net, x, y, batch_size=7)
    logits = net.forward(x)
    direct_loss, _ = minispectral.functional.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(float(direct_loss), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(np.argmax(logits, axis=1) == y))


def test_the_epoch_loss_and_accuracy_weight_each_batch_by_its_size():
    """With a learning rate too small to move anything, an epoch's reported loss and accuracy are
    those of the model on the whole set, however unequal the batches (40 = 3 × 13 + 1)."""
    x, y = small_data()
    # no bias: a bias starts at exactly 0, where even lr = 1e-300 moves it, and breaks argmax ties differently
    net = mlp((6, 5, 3), "dense", bias=False, seed=0, dtype="float64")
    loss, accuracy = evaluate(net, x, y)
    history = fit(net, x, y, epochs=1, batch_size=13, optimizer=SGD(net, lr=1e-300), seed=0)
    assert history["loss"][0] == pytest.approx(loss, rel=1e-12)
    assert history["train_accuracy"][0] == pytest.approx(accuracy, rel=1e-12)


# ------------------------------------------------------------------ failures

def test_non_finite_loss_names_the_step_and_the_parameter():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    net.layers[2].params["lam_out"].value[1] = np.nan
    with pytest.raises(NonFiniteError) as info:
        fit(net, x, y, epochs=1, batch_size=10)
    message = str(info.value)
    assert "epoch 1, step 1" in message
    assert "layer 2 (Spectral 5→3)" in message and "lam_out" in message


def test_find_nonfinite():
    net = mlp((3, 2), "dense")
    assert find_nonfinite(net) is None
    net.layers[0].params["b"].value[0] = np.inf
    assert "parameter b (value)" in find_nonfinite(net)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
    ({"batch_size": 2.5}, ValueError, "batch_size"),
    ({"early_stopping": 2}, ValueError, "validation data"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
    ({"lr": -1.0}, ValueError, "lr must be"),
])
def test_fit_rejects_bad_arguments(kwargs, error, match):
    x, y = small_data()
    with pytest.raises(error, match=match):
        fit(mlp((6, 3), "dense"), x, y, **kwargs)


def test_fit_and_evaluate_refuse_non_finite_inputs_and_bad_settings():
    x, y = small_data()
    net = mlp((6, 3), "dense")
    bad = x.copy()
    bad[3, 1], bad[5, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match="x_train must hold finite numbers, got 2 NaN or infinite entries of 240"):
        fit(net, bad, y, epochs=1)
    nan = x.copy()
    nan[3, 1] = nan[5, 0] = np.nan  # (inf would also raise, after NumPy's warning about inf − inf)
    with pytest.raises(NonFiniteError, match="x_train, 2 NaN or infinite entries in this step's batch"):
        fit(net, nan, y, epochs=1, batch_size=40, check_finite=False)  # then found by the loss of the batch
    with pytest.raises(ValueError, match="x_val must hold finite numbers, got 2"):
        fit(net, x, y, epochs=1, x_val=bad, y_val=y)  # before any training, not after the first epoch
    with pytest.raises(ValueError, match="x must hold finite numbers"):
        evaluate(net, bad, y)
    for batch_size in (0, -5, 2.5):
        with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {batch_size}"):
            evaluate(net, x, y, batch_size=batch_size)
    for early_stopping in (0, -3):
        with pytest.raises(ValueError, match="early_stopping must be a positive integer"):
            fit(net, x, y, epochs=1, x_val=x, y_val=y, early_stopping=early_stopping)
    for min_delta in (float("nan"), -0.1, float("inf")):
        with pytest.raises(ValueError, match="min_delta must be a finite number >= 0"):
            fit(net, x, y, epochs=1, x_val=x, y_val=y, early_stopping=2, min_delta=min_delta)


def test_numpy_integers_and_floats_are_accepted_as_settings():
    x, y = small_data()
    net = mlp((6, 3), "dense")
    history = fit(net, x, y, epochs=np.int64(2), batch_size=np.int32(16), x_val=x, y_val=y,
                  early_stopping=np.int64(3), min_delta=np.float32(0.001))
    assert len(history.epochs) == 2
    assert 0.0 <= evaluate(net, x, y, batch_size=np.int64(7))[1] <= 1.0
    for bad in (True, 2.0):
        with pytest.raises(ValueError, match="epochs must be a positive integer"):
            fit(net, x, y, epochs=bad)


def test_fit_rejects_bad_labels_and_shapes():
    x, y = small_data()
    net = mlp((6, 3), "dense")
    with pytest.raises(TypeError, match=r"labels \(y_train\) must be integers"):
        fit(net, x, y.astype(np.float32), epochs=1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        fit(net, x, np.where(y == 0, 7, y), epochs=1)
    with pytest.raises(ValueError, match=r"y_train must have shape \(40,\) to match x_train"):
        fit(net, x, y[:-1], epochs=1)
    with pytest.raises(ValueError, match="x_train must hold at least one sample, got 0"):
        fit(net, x[:0], y[:0], epochs=1)
    with pytest.raises(ValueError, match="x must hold at least one sample to evaluate, got 0"):
        evaluate(net, x[:0], y[:0])
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 6\)"):
        fit(net, x[:, :4], y, epochs=1)
    with pytest.raises(ValueError, match="x_train must have shape"):
        fit(net, x[0], y, epochs=1)
    with pytest.raises(TypeError, match="x_train must be an array.*list"):
        fit(net, x.tolist(), y, epochs=1)
    with pytest.raises(ValueError, match="x_val and y_val"):
        fit(net, x, y, epochs=1, x_val=x)


# ------------------------------------------------------------------ save and load

SAVE_CONFIGS = [
    ("dense", {}), ("dense", {"sparsity": 0.2}), ("nc", {}), ("spectral", {}), ("full", {}), ("ssvd", {}),
    ("qr", {}), ("qr", {"triangular": False}), ("spectral", {"trainable": {"phi": True}, "sparsity": 0.3}),
    ("ssvd", {"trainable": {"s": False}}),
]


def trained(model, kw, seed=0):
    x, y = small_data(seed=seed)
    net = mlp((6, 5, 3), model, activation="tanh", seed=seed, **kw)
    fit(net, x, y, epochs=1, batch_size=20)
    return net, x


@pytest.mark.parametrize("model, kw", SAVE_CONFIGS)
def test_save_load_round_trip_is_exact(tmp_path, model, kw):
    net, x = trained(model, kw)
    path = io.save(net, tmp_path / "model.npz", metadata={"note": "digits", "epochs": 1})
    loaded = io.load(path)
    assert loaded.config() == net.config()
    assert repr(loaded) == repr(net)
    for (name, p), (name2, q) in zip(net.named_parameters(), loaded.named_parameters()):
        assert name == name2
        assert q.trainable is p.trainable, name
        assert host(q.value).tobytes() == host(p.value).tobytes(), name
        assert dtype_name(q.value) == dtype_name(p.value)
        assert (p.mask is None) == (q.mask is None), name
        if p.mask is not None:
            np.testing.assert_array_equal(host(q.mask), host(p.mask))
    np.testing.assert_array_equal(host(loaded.forward(x)), host(net.forward(x)))
    np.testing.assert_array_equal(host(loaded.predict(x)), host(net.predict(x)))
    meta = io.read_metadata(path)
    assert meta["metadata"] == {"note": "digits", "epochs": 1}
    assert meta["format"] == "minispectral-model"


def test_load_keeps_changed_trainable_flags(tmp_path):
    net = mlp((4, 3, 2), "spectral")
    net.layers[0].params["lam_in"].trainable = False
    loaded = io.load(io.save(net, tmp_path / "m.npz"))
    assert loaded.layers[0].params["lam_in"].trainable is False
    assert loaded.num_parameters() == net.num_parameters()


def test_load_onto_strict_and_as_float64(tmp_path):
    net, x = trained("qr", {})
    path = io.save(net, tmp_path / "m.npz")
    on_strict = io.load(path, backend="strict")
    for p in on_strict.parameters():
        assert backend_of(p.value).name == "strict"
        assert p.mask is None or backend_of(p.mask).name == "strict"
    np.testing.assert_allclose(host(on_strict.forward(make("strict", x, "float32"))), host(net.forward(x)),
                               rtol=1e-6, atol=1e-7)
    as64 = io.load(path, dtype="float64")
    assert as64.dtype == np.float64
    # Then it trains where it landed.
    fit(on_strict, x, np.arange(len(x)) % 3, epochs=1, batch_size=20)


def test_truncated_file_raises_value_error_naming_the_path(tmp_path):
    path = io.save(mlp((4, 3, 2), "spectral"), tmp_path / "m.npz")
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="truncated.npz"):
            io.load(bad)
        with pytest.raises(ValueError, match="truncated.npz"):
            io.read_metadata(bad)
        gc.collect()
    # The corrupt file's handle is closed, not left to the garbage collector.
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("content", [b"not a zip file at all\n", b""])
def test_non_zip_file_raises_value_error_naming_the_path(tmp_path, content):
    bad = tmp_path / "notes.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="notes.npz"):
        io.load(bad)


def test_npy_file_raises_value_error_naming_the_path(tmp_path):
    bad = tmp_path / "array.npy"
    np.save(bad, np.ones(3))
    with pytest.raises(ValueError, match="array.npy"):
        io.load(bad)


def test_zip_that_is_not_a_model_raises_value_error(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(ValueError, match="other.npz"):
        io.load(other)
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="plain.zip"):
        io.load(tmp_path / "plain.zip")


@pytest.mark.parametrize("meta, problem", [
    ([1, 2], "its metadata is a JSON list, expected an object"),
    ({"format": "minispectral-model", "format_version": "2"}, "format_version is '2', expected an integer"),
])
def test_model_file_with_malformed_metadata_raises_value_error(tmp_path, meta, problem):
    bad = tmp_path / "meta.npz"
    np.savez(bad, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    for read in (io.load, io.read_metadata):
        with pytest.raises(ValueError, match=f"meta.npz is not a valid minispectral model file: {problem}"):
            read(bad)


def test_saved_files_get_the_permissions_of_a_new_file(tmp_path):
    from minispectral.experiment import write_json

    with umask(0o022):
        paths = [io.save(mlp((4, 3, 2), "spectral"), tmp_path / "m.npz"), write_json(tmp_path / "r.json", {"a": 1})]
    with umask(0o077):
        paths.append(write_json(tmp_path / "private.json", {}))
    assert [stat.S_IMODE(p.stat().st_mode) for p in paths] == [0o644, 0o644, 0o600]


def test_an_atomic_rewrite_keeps_the_files_permissions_and_writes_through_a_link(tmp_path):

    private = tmp_path / "RUN.md"
    private.write_text("old")
    private.chmod(0o600)
    with umask(0o022):  # a new file would get 0644: the rewrite must keep the file's own 0600
        write_text(private, "new")
    assert private.read_text() == "new" and stat.S_IMODE(private.stat().st_mode) == 0o600
    target, link = tmp_path / "table.md", tmp_path / "link.md"
    target.write_text("old")
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RUN.md", "link.md", "table.md"]  # no temporaries


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        io.load(tmp_path / "nothing.npz")


def test_save_rejects_a_non_sequential(tmp_path):
    with pytest.raises(TypeError, match="Sequential"):
        io.save(minispectral.Dense(3, 2), tmp_path / "m.npz")


def test_crash_during_save_keeps_the_old_file_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = io.save(mlp((4, 3, 2), "spectral", seed=0), tmp_path / "model.npz")
    old = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save(mlp((4, 3, 2), "spectral", seed=1), path)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    monkeypatch.undo()
    io.load(path)  # still a valid model


def test_save_overwrites_atomically_and_creates_folders(tmp_path):
    path = tmp_path / "deep" / "er" / "model.npz"
    io.save(mlp((4, 3, 2), "spectral", seed=0), path)
    io.save(mlp((4, 3, 2), "spectral", seed=1), path)
    loaded = io.load(path)
    expected = mlp((4, 3, 2), "spectral", seed=1)
    np.testing.assert_array_equal(host(loaded.layers[0].params["phi"].value),
                                  host(expected.layers[0].params["phi"].value))
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_labels_must_be_int_for_evaluate():
    x, y = small_data()
    with pytest.raises(TypeError, match=r"labels \(y\) must be integers"):
        evaluate(mlp((6, 3), "dense"), x, y.astype(float))
    labels = make_labels("numpy", y)
    assert 0.0 <= evaluate(mlp((6, 3), "dense"), x, labels)[1] <= 1.0


def test_save_a_strict_model_and_load_it_on_numpy(tmp_path):
    net = mlp((4, 3, 2), "qr", seed=0, backend="strict")
    loaded = io.load(io.save(net, tmp_path / "m.npz"), backend="numpy")
    for (name, p), (_, q) in zip(net.named_parameters(), loaded.named_parameters()):
        assert isinstance(q.value, np.ndarray)
        assert host(p.value).tobytes() == host(q.value).tobytes(), name


@pytest.mark.gpu
def test_fit_save_and_load_on_cupy(cupy_backend, tmp_path):
    x, y = small_data()
    net = mlp((6, 5, 3), "qr", seed=1, backend="cupy")
    h_gpu = fit(net, x, y, epochs=2, batch_size=16)
    h_cpu = fit(mlp((6, 5, 3), "qr", seed=1), x, y, epochs=2, batch_size=16)
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], rtol=1e-4)
    assert len(h_gpu.epoch_seconds) == 2
    loaded = io.load(io.save(net, tmp_path / "m.npz"), backend="numpy")
    np.testing.assert_allclose(host(loaded.forward(x)), host(net.forward(make(cupy_backend, x, "float32"))),
                               rtol=1e-5, atol=1e-6)


def test_run_config_fills_only_what_is_missing_and_names_unknown_choices():
    from minispectral.experiment import RunConfig

    cfg = RunConfig(dataset="digits").resolved()
    assert (cfg.epochs, cfg.batch_size) == (40, 32)  # the digits defaults
    assert (RunConfig(epochs=0, batch_size=0).resolved().epochs, RunConfig(batch_size=0).resolved().batch_size) == (0, 0)
    with pytest.raises(ValueError, match="model must be one of .*got 'bogus'"):
        RunConfig(model="bogus").resolved()
    with pytest.raises(ValueError, match="optimizer must be one of .*got 'rmsprop'"):
        RunConfig(optimizer="rmsprop").resolved()


def test_run_loads_the_data_in_the_run_dtype(monkeypatch):
    import minispectral.experiment as experiment

    seen, real = [], experiment.load_dataset
    monkeypatch.setattr(experiment, "load_dataset", lambda *a, **kw: seen.append(kw["dtype"]) or real(*a, **kw))
    record, model = experiment.run(experiment.RunConfig(model="dense", hidden=(4,), epochs=1, dtype="float64"))
    assert seen == ["float64"]
    assert model.dtype == np.float64 and 0.0 <= record["test_accuracy"] <= 1.0


@pytest.mark.parametrize("variant", ["qr", "ssvd", "spectral", "dense"])
def test_a_pruned_model_and_its_input_grad_survive_save_and_load(tmp_path, variant):
    from minispectral.pruning import prune

    pruned = prune(mlp((6, 9, 4), variant, seed=0, dtype="float64"), 0, [0, 1, 2, 3])  # S-SVD/QR keep rank 6
    pruned.input_grad = True
    loaded = io.load(io.save(pruned, tmp_path / "p.npz"))
    x = np.random.default_rng(0).random((3, 6))
    np.testing.assert_array_equal(loaded.forward(x), pruned.forward(x))
    assert loaded.num_parameters() == pruned.num_parameters() and loaded.input_grad is True


def test_load_refuses_masks_dtypes_and_descriptions_that_do_not_fit(tmp_path):
    path = io.save(mlp((6, 4, 3), "qr", seed=0), tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode())

    def write(name, changed_arrays=None, changed_meta=None):
        out = tmp_path / name
        new = {**arrays, **(changed_arrays or {})}
        new = {k: v for k, v in new.items() if v is not None}
        new["__meta__"] = np.frombuffer(json.dumps({**meta, **(changed_meta or {})}).encode(), dtype=np.uint8)
        np.savez(out, **new)
        return out

    cases = [
        (write("nomask.npz", {"mask/0.R": None}), "0.R: the mask does not fit"),
        (write("smallmask.npz", {"mask/0.R": np.ones((2, 2), np.float32)}), "0.R: the mask does not fit"),
        (write("int.npz", {"param/0.lam_in": arrays["param/0.lam_in"].astype(np.int64)}), "0.lam_in has dtype int64"),
        (write("chain.npz", changed_meta={"architecture": {"layers": [
            {**meta["architecture"]["layers"][0]}, {"type": "Activation", "name": "relu"},
            {**meta["architecture"]["layers"][2], "n_in": 5}]}}), "takes 5 inputs, but the layer before gives 4"),
        (write("flag.npz", changed_meta={"architecture": {"layers": [
            {**meta["architecture"]["layers"][0], "bias": "no"}, *meta["architecture"]["layers"][1:]]}}),
         "non-boolean flags"),
        (write("key.npz", changed_meta={"architecture": {"layers": [
            {**meta["architecture"]["layers"][0], "seed": 3}, *meta["architecture"]["layers"][1:]]}}),
         r"unknown keys \['seed'\]"),
        (write("trainable.npz", changed_meta={"architecture": {"layers": [
            {**meta["architecture"]["layers"][0], "trainable": {"R": "false"}}, *meta["architecture"]["layers"][1:]]}}),
         r"non-boolean flags \['trainable.R'\]"),
        (write("null.npz", changed_meta={"architecture": {"layers": [
            {**meta["architecture"]["layers"][0], "trainable": None}, *meta["architecture"]["layers"][1:]]}}),
         "trainable must be a mapping"),
        (write("label.npz", changed_meta={"architecture": {"layers": [
            meta["architecture"]["layers"][0], {"type": "ReLU", "name": "tanh"}, meta["architecture"]["layers"][2]]}}),
         "expected only its name, 'relu'"),
        (write("extramask.npz", {"mask/0.lam_in": np.ones(6, np.float32)}), "0.lam_in: the mask does not fit"),
        (write("rank.npz", {"param/0.Q": np.ones((3, 6), np.float32)}), r"factors disagree on their rank"),
        (write("outer.npz", {"param/0.Q": np.ones((4, 5), np.float32)}), r"0.Q has shape \(4, 5\)"),
        (write("mask64.npz", {"mask/0.R": arrays["mask/0.R"].astype(np.float64)}), "0.R: the mask does not fit"),
        (write("mask7.npz", {"mask/0.R": arrays["mask/0.R"] * 7}), "0.R: the mask does not fit"),
        (write("maskstr.npz", {"mask/0.R": np.full((4, 4), "a")}), "0.R: the mask does not fit"),
        (write("pflag.npz", changed_meta={"parameters": {**meta["parameters"], "0.R": {
            **meta["parameters"]["0.R"], "trainable": "false"}}}), "0.R's trainable flag is 'false'"),
        (write("qflag.npz", changed_meta={"parameters": {**meta["parameters"], "0.Q": {
            **meta["parameters"]["0.Q"], "trainable": True}}}), "0.Q is marked trainable"),
        (write("igrad.npz", changed_meta={"input_grad": "no"}), "input_grad is 'no'"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            io.load(bad)
    # a file written before input_grad was saved still loads, with the first layer's input needing no gradient
    old = write("old.npz", changed_meta={"input_grad": None})
    meta_old = json.loads(bytes(np.load(old)["__meta__"]).decode())
    del meta_old["input_grad"]
    np.savez(old, **{**{k: v for k, v in arrays.items() if k != "__meta__"},
                     "__meta__": np.frombuffer(json.dumps(meta_old).encode(), dtype=np.uint8)})
    assert io.load(old).input_grad is False
    # a layer built with bias=1 saves a boolean and loads again
    assert io.load(io.save(mlp((4, 3), "dense", bias=1), tmp_path / "one.npz")).layers[0].bias is True


def test_load_turns_damaged_archive_members_into_value_errors(tmp_path):
    """A flipped byte in the zip's directory (an unknown compression method) or in a compressed member
    used to escape as NotImplementedError or zlib.error."""
    model = mlp((6, 4, 3), "spectral", seed=0)
    plain = io.save(model, tmp_path / "m.npz")
    data = bytearray(plain.read_bytes())
    data[data.find(b"PK\x01\x02") + 10] = 99  # the first member's compression method
    (tmp_path / "method.npz").write_bytes(bytes(data))
    squeezed = tmp_path / "z.npz"
    with np.load(plain) as arrays:
        np.savez_compressed(squeezed, **{k: arrays[k] for k in arrays.files})
    data = bytearray(squeezed.read_bytes())
    start = data.find(b"param/0.phi")  # inside that member's compressed bytes
    data[start + 200:start + 240] = bytes(b ^ 0x5A for b in data[start + 200:start + 240])
    (tmp_path / "zlib.npz").write_bytes(bytes(data))
    for bad in ("method.npz", "zlib.npz"):
        with pytest.raises(ValueError, match="not a valid minispectral model file"):
            io.load(tmp_path / bad)


def test_save_and_load_expand_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    model = mlp((4, 3), "dense", seed=0)
    assert io.save(model, "~/models/m.npz") == tmp_path / "models" / "m.npz"
    assert (tmp_path / "models" / "m.npz").is_file() and not (tmp_path / "~").exists()
    np.testing.assert_array_equal(io.load("~/models/m.npz").layers[0].weight(), model.layers[0].weight())


def test_text_is_written_as_utf8_whatever_the_locale(tmp_path):
    # the studies' tables hold arrows and Greek letters; an ASCII locale must not break their writes
    import subprocess
    import sys
    path = tmp_path / "RUN.md"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    subprocess.run([sys.executable, "-c", "import sys; from minispectral.atomic import write_text; "
                    "write_text(sys.argv[1], 'Spectral 5\\u2192 3 \\u00b1 \\u03c1')", str(path)],
                   check=True, env=env, capture_output=True)
    assert path.read_bytes().decode("utf-8") == "Spectral 5\u2192 3 \u00b1 \u03c1"


# ------------------------------------------------------------------ found by mutation testing (2026-12-01)

def test_each_epoch_draws_a_new_order():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    seen, forward = [], net.forward
    net.forward = lambda xb: (seen.append(np.array(xb)), forward(xb))[1]
    fit(net, x, y, epochs=2, batch_size=len(x), optimizer=SGD(net, lr=1e-12))
    assert sorted(map(tuple, seen[0])) == sorted(map(tuple, seen[1]))  # the same samples ...
    assert not np.array_equal(seen[0], seen[1])  # ... in another order


def test_early_stopping_counts_a_tie_as_no_gain():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    h = fit(net, x, y, epochs=20, batch_size=10, optimizer=SGD(net, lr=1e-12), x_val=x, y_val=y, early_stopping=2)
    assert len(set(h["val_accuracy"])) == 1  # the weights did not move
    assert h.stopped_early and len(h.epochs) == 3


def test_load_restores_flags_the_architecture_does_not_record(tmp_path):
    net = mlp((4, 3, 2), "dense")
    net.layers[0].params["W"].trainable = False
    net.layers[2].params["b"].trainable = False
    loaded = io.load(io.save(net, tmp_path / "m.npz"))
    assert loaded.layers[0].params["W"].trainable is False and loaded.layers[2].params["b"].trainable is False


def test_load_refuses_a_newer_format_and_another_format(tmp_path):
    path = io.save(mlp((4, 2), "dense"), tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["__meta__"]).decode())
    for change, message in (({"format_version": io.FORMAT_VERSION + 1}, "newer minispectral"),
                            ({"format": "other"}, r"not a minispectral model file \(format 'other'\)")):
        arrays["__meta__"] = np.frombuffer(json.dumps({**meta, **change}).encode(), dtype=np.uint8)
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(ValueError, match=message):
            io.load(tmp_path / "bad.npz")


def test_a_pruned_qr_model_loads_with_its_own_mask_and_trains(tmp_path):
    from minispectral.pruning import prune

    pruned = prune(mlp((6, 9, 4), "qr", seed=0, dtype="float64"), 0, [3, 5, 7, 8])
    loaded = io.load(io.save(pruned, tmp_path / "p.npz"))
    np.testing.assert_array_equal(loaded.layers[0].params["R"].mask, pruned.layers[0].params["R"].mask)
    assert loaded.num_parameters() == pruned.num_parameters()
    x, y = small_data(d=6)
    fit(loaded, x.astype(np.float64), y % 4, epochs=1, batch_size=20)


# ------------------------------------------------------------------ found by a review of 2026-12-01

def test_fit_refuses_an_optimizer_of_another_model_or_of_no_kind():
    x, y = small_data()
    a = mlp((6, 5, 3), "dense")
    b = a.copy()
    with pytest.raises(ValueError, match="built on another model's parameters"):
        fit(b, x, y, epochs=1, optimizer=SGD(a, lr=0.1))
    with pytest.raises(ValueError, match="lr=-5.0 applies to an optimizer given by name"):
        fit(a, x, y, epochs=1, optimizer=SGD(a, lr=0.1), lr=-5.0)
    for bad in (None, SGD):
        with pytest.raises(TypeError, match="optimizer must be a name"):
            fit(a, x, y, epochs=1, optimizer=bad)


@pytest.mark.parametrize("seed, error, message", [(True, TypeError, "seed must be an int"),
                                                  (1.5, TypeError, "seed must be an int"),
                                                  (-1, ValueError, "seed must be a non-negative integer")])
def test_fit_checks_its_seed(seed, error, message):
    x, y = small_data()
    with pytest.raises(error, match=message):
        fit(mlp((6, 3), "dense"), x, y, epochs=1, seed=seed)


def test_seed_none_is_seed_zero():
    x, y = small_data()
    losses = [fit(mlp((6, 3), "dense", seed=0), x, y, epochs=2, batch_size=7, seed=s)["loss"] for s in (None, None, 0)]
    assert losses[0] == losses[1] == losses[2]


def test_validation_data_is_checked_before_any_training():
    x, y = small_data()
    net = mlp((6, 5, 3), "dense")
    before = host(net.layers[0].params["W"].value)
    with pytest.raises(ValueError, match=r"y_val: labels must lie in \[0, 2\]"):
        fit(net, x, y, epochs=1, batch_size=10, x_val=x[:10], y_val=np.full(10, 7))
    np.testing.assert_array_equal(host(net.layers[0].params["W"].value), before)  # not one step was taken
    with pytest.raises(ValueError, match="x_val must hold at least one sample"):
        fit(net, x, y, epochs=1, x_val=x[:0], y_val=y[:0])


def test_a_divergence_in_the_last_step_is_caught_by_the_validation_pass():
    x, y = small_data()
    net = mlp((6, 5, 3), "dense")
    with pytest.raises(NonFiniteError, match="validation loss is"), np.errstate(over="ignore", invalid="ignore"):
        fit(net, x, y, epochs=1, batch_size=40, optimizer=SGD(net, lr=1e38), x_val=x, y_val=y)


def test_stopped_early_only_when_epochs_were_left():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    h = fit(net, x, y, epochs=3, batch_size=10, x_val=x, y_val=y, early_stopping=2, min_delta=1.0)
    assert len(h.epochs) == 3 and h.stopped_early is False


def test_run_config_refuses_widths_it_would_have_truncated():
    from minispectral.experiment import RunConfig

    for hidden, error in (((8.9,), ValueError), ((True,), ValueError), (("30",), ValueError), (300, TypeError),
                          ((), ValueError)):
        with pytest.raises(error, match="hidden must"):
            RunConfig(model="dense", hidden=hidden).resolved()


def test_write_json_refuses_nan_instead_of_writing_invalid_json(tmp_path):
    from minispectral.experiment import write_json

    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json(tmp_path / "r.json", {"test_loss": float("nan")})
    assert not (tmp_path / "r.json").exists()


def test_keep_freed_memory_refuses_a_bool_and_takes_numpy_integers():
    from minispectral.allocator import keep_freed_memory

    with pytest.raises(ValueError, match="mmap_threshold must be an int"):
        keep_freed_memory(True)
    keep_freed_memory(np.int64(32 * 1024 * 1024))


def test_fit_keeps_its_optimizer_after_a_parameter_is_frozen():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    opt = SGD(net, lr=0.1)
    fit(net, x, y, epochs=1, batch_size=10, optimizer=opt)
    frozen = net.layers[0].params["lam_in"]
    frozen.trainable = False
    before = host(frozen.value)
    fit(net, x, y, epochs=1, batch_size=10, optimizer=opt)  # used to be refused as another model's optimizer
    np.testing.assert_array_equal(host(frozen.value), before)


def test_a_trainable_flag_set_to_1_or_a_numpy_bool_saves_a_file_that_loads(tmp_path):
    net = mlp((4, 3, 2), "nc", seed=0)
    net.layers[0].params["phi"].trainable = 1
    net.layers[2].params["phi"].trainable = np.True_
    loaded = io.load(io.save(net, tmp_path / "m.npz"))
    assert loaded.layers[0].params["phi"].trainable is True and loaded.layers[2].params["phi"].trainable is True


def test_fit_and_evaluate_refuse_complex_inputs(backend):
    # NumPy cast them to real with only a ComplexWarning, and training went on without the imaginary part
    model = mlp((4, 3, 2), "dense", backend=backend.name)
    x, y = np.ones((5, 4), dtype=complex), np.zeros(5, dtype=np.int64)
    with pytest.raises(TypeError, match="x_train must hold real numbers .*, got dtype .*complex128"):
        fit(model, x, y, epochs=1, progress=False)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        evaluate(model, x, y)


def test_fit_refuses_an_optimizer_that_misses_a_parameter_unfrozen_after_it_was_built():
    # phi's gradient was computed at every step and thrown away, and phi never moved
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    opt = SGD(net, lr=0.1)
    net.layers[0].params["phi"].trainable = True
    with pytest.raises(ValueError, match=r"the optimizer does not train 0\.phi, which is trainable: .* build the optimizer again"):
        fit(net, x, y, epochs=1, batch_size=10, optimizer=opt)
    fit(net, x, y, epochs=1, batch_size=10, optimizer=SGD(net, lr=0.1))  # built after the change: fine


def test_history_records_the_validation_loss():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    history = fit(net, x, y, epochs=2, batch_size=10, x_val=x[:20], y_val=y[:20])
    loss, accuracy = evaluate(net, x[:20], y[:20])
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-12)
    assert history["val_accuracy"][-1] == accuracy
    assert fit(net, x, y, epochs=1)["val_loss"] == [None]


def test_an_overflow_before_any_update_blames_the_inputs_not_the_learning_rate():
    x, y = small_data()
    net = mlp((6, 5, 3), "dense")
    with pytest.raises(NonFiniteError, match="before any update: the inputs or the initial weights are too large"), \
            np.errstate(over="ignore", invalid="ignore"):
        fit(net, x * 1e38, y, epochs=1, batch_size=10)


def test_a_non_finite_loss_read_late_blames_its_own_batch_not_the_parameters_it_spoiled():
    """Read every 4 steps: the NaN in step 1's batch made the gradients, then the parameters, NaN by the
    read at step 4; the message names the batch, and says that the parameters moved since."""
    x, y = small_data()
    x[3, 1] = np.nan  # row 3 lands in step 1's batch with seed 0
    position = np.argsort(np.random.default_rng(0).permutation(len(x)))[3]
    step = position // 10 + 1
    net = mlp((6, 5, 3), "dense")
    with pytest.raises(NonFiniteError) as info:
        fit(net, x, y, epochs=1, batch_size=10, check_every=4, check_finite=False)
    message = str(info.value)
    assert f"at epoch 1, step {step}" in message and "x_train, 1 NaN or infinite entry in this step's batch" in message
    if step < 4:
        assert f"updated {4 - step} times since" in message


def test_an_on_epoch_that_is_not_a_function_is_refused_before_training():
    x, y = small_data()
    net = mlp((6, 3), "dense")
    before = [p.value.copy() for p in net.parameters()]
    with pytest.raises(TypeError, match=r"on_epoch must be a function of the epoch's dict, or None, got 'print'"):
        fit(net, x, y, epochs=1, on_epoch="print")
    assert all(np.array_equal(a, p.value) for a, p in zip(before, net.parameters()))  # no epoch was trained


def test_an_overflow_at_the_first_step_read_late_still_blames_the_inputs():
    x, y = small_data()
    net = mlp((6, 3), "dense")
    with pytest.raises(NonFiniteError, match="step 1 .*before any update: the inputs or the initial weights are too "
                                             "large"), np.errstate(over="ignore", invalid="ignore"):
        fit(net, x * np.float32(1e38), y, epochs=1, batch_size=10, check_every=3, check_finite=False)


def test_save_refuses_a_model_load_could_not_rebuild_and_keeps_the_old_file(tmp_path):
    from minispectral import Dense, ReLU, Sequential

    path = tmp_path / "model.npz"
    io.save(mlp((6, 5, 3)), path)
    good = path.read_bytes()
    for model, problem in [(Sequential(Sequential(Dense(6, 5), ReLU()), Dense(5, 3)), "unknown layer type 'Sequential'"),
                           (Sequential(Dense(6, 5), Dense(4, 3)), "takes 4 inputs, but the layer before gives 5"),
                           (Sequential(), "non-empty list of layers")]:
        with pytest.raises(ValueError, match=f"cannot save this model: .*{problem}"):
            io.save(model, path)
    assert path.read_bytes() == good and io.load(path).layers[0].n_in == 6


def test_load_names_a_folder_and_a_file_that_is_no_archive(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a model file"):
        io.load(tmp_path)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"not an .npz archive \(it starts with b'hello'\)") as info:
        io.load(text)
    assert "pickle" not in str(info.value)  # np.load's advice to unpickle, for a library that never pickles


def test_a_write_into_a_folder_that_refuses_it_names_the_target_not_the_temporary(tmp_path, monkeypatch):
    import errno
    import tempfile

    def read_only(**kw):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".m.npz.x1y2.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OSError, match=r"cannot write .*m\.npz: Read-only file system") as info:
        io.save(mlp((4, 3, 2)), tmp_path / "m.npz")
    assert info.value.errno == errno.EROFS and ".tmp" not in str(info.value)


def test_save_and_load_leave_the_generator_of_unseeded_layers_alone(tmp_path):
    from minispectral import Dense
    from minispectral.nn.init import manual_seed

    manual_seed(0)
    expected = host(Dense(5, 4).params["W"].value)
    manual_seed(0)
    io.load(io.save(mlp((4, 3, 2)), tmp_path / "m.npz"))
    np.testing.assert_array_equal(host(Dense(5, 4).params["W"].value), expected)


def test_fit_refuses_a_model_with_nothing_to_train():
    x, y = small_data()
    net = mlp((6, 5, 3), "spectral")
    for _, p in net.named_parameters():
        p.trainable = False
    with pytest.raises(ValueError, match="no trainable parameters: nothing to train"):
        fit(net, x, y, epochs=1)


def test_restore_best_ends_with_the_parameters_of_the_best_validation_epoch():
    x, y = small_data()
    rng = np.random.default_rng(1)
    x_val, y_val = rng.random((30, 6)).astype(np.float32), rng.integers(0, 3, 30)
    net = mlp((6, 5, 3), "dense", seed=0)
    history = fit(net, x, y, epochs=8, batch_size=10, lr=0.05, x_val=x_val, y_val=y_val, restore_best=True)
    accuracies = history["val_accuracy"]
    assert history.best_epoch == 1 + accuracies.index(max(accuracies))
    assert history.best_epoch < len(accuracies)  # not the last epoch: the model was really rolled back
    assert evaluate(net, x_val, y_val)[1] == max(accuracies)
    assert history.to_dict()["best_epoch"] == history.best_epoch
    with pytest.raises(ValueError, match="restore_best needs validation data"):
        fit(net, x, y, epochs=1, restore_best=True)
    with pytest.raises(ValueError, match="restore_best must be True or False"):
        fit(net, x, y, epochs=1, x_val=x_val, y_val=y_val, restore_best="yes")


def test_save_makes_every_check_load_makes_before_it_writes(tmp_path):
    path = tmp_path / "model.npz"
    io.save(mlp((6, 5, 3)), path)
    good = path.read_bytes()
    mixed = mlp((6, 5, 3))
    mixed.layers[2].to(dtype="float64")
    qr = mlp((6, 5, 3), "qr")
    qr.layers[0].params["Q"].trainable = True
    reshaped = mlp((4, 3, 2), "dense")
    reshaped.layers[0].params["W"].value = np.zeros((3, 5), np.float32)
    for model, problem in [(mixed, "parameter 2.phi has dtype float64, expected float32"),
                           (qr, "parameter 0.Q is marked trainable"),
                           (reshaped, r"parameter 0.W has shape \(3, 5\), expected \(3, 4\)")]:
        with pytest.raises(ValueError, match=f"cannot save this model: load would refuse it \\({problem}"):
            io.save(model, path)
    assert path.read_bytes() == good


def test_to_converts_a_held_mask_with_the_parameters():
    from minispectral import Dense
    from minispectral.functional import magnitude_mask

    layer = Dense(6, 4, sparsity=0.5)
    layer.held_mask = magnitude_mask(layer.weight(), 0.5)
    twin = layer.copy().to(dtype="float64")
    assert twin.held_mask.dtype == np.float64
    assert twin.forward(np.ones((2, 6))).dtype == np.float64


def test_save_refuses_parameters_its_description_does_not_rebuild_and_factors_of_mixed_rank(tmp_path):
    from minispectral.nn import Parameter

    extra = mlp((4, 3, 2))
    extra.layers[-1].params["extra"] = Parameter(np.zeros(2, np.float32))  # load would drop it, silently
    with pytest.raises(ValueError, match="cannot save this model: its parameters"):
        io.save(extra, tmp_path / "extra.npz")
    ranks = mlp((4, 3, 2), "ssvd")
    U = ranks.layers[0].params["U"]
    U.value = U.value[:, :-1]
    with pytest.raises(ValueError, match="disagree on their rank"):
        io.save(ranks, tmp_path / "ranks.npz")
    odd = mlp((4, 3, 2))
    odd.layers[1].name = ["relu"]  # a description load cannot rebuild (an unhashable name)
    with pytest.raises(ValueError, match="cannot save this model"):
        io.save(odd, tmp_path / "odd.npz")
    assert not list(tmp_path.iterdir())


def test_restore_best_writes_into_the_parameters_own_arrays():
    x, y = small_data()
    net = mlp((6, 5, 3), "dense", seed=0)
    arrays = [p.value for _, p in net.named_parameters()]
    fit(net, x, y, epochs=3, batch_size=10, x_val=x[:20], y_val=y[:20], restore_best=True)
    assert all(p.value is a for (_, p), a in zip(net.named_parameters(), arrays))  # the optimizer's, the layers'
