"""Tests for ``minispectral reproduce``: records, resuming, parallel runs, reports, pruning.

The studies run in quick mode on the bundled digits set with tiny grids, so the whole file
takes well under a minute and needs no downloaded data.
"""
import json
import os

import numpy as np
import pytest

from minispectral import mlp
from minispectral.cli import main
from minispectral.experiment import RunFailed
from minispectral.pruning import keep_globally, keep_indices, node_scores, prune, silence
from minispectral.reproduce import STUDIES, DeepPruningStudy, PruningStudy, load_records, run_study
from minispectral.reproduce.common import REQUIRED_KEYS, Study, positive_int
from minispectral.reproduce.pruning_study import (SR_RESULTS, SR_RESULTS_3, SR_RUNS_3, emptied_accuracy,
                                                  prune_hidden, retrainable)

TINY = {
    "params": ["--datasets", "digits", "--widths", "8,16", "--models", "dense,nc,qr", "--seeds", "2"],
    "sparse": ["--datasets", "digits", "--sparsities", "50,90", "--seeds", "2"],
    "pruning": ["--datasets", "digits", "--activations", "tanh", "--retrain-at", "50", "--seeds", "1"],
    "pruning3": ["--datasets", "digits", "--activations", "tanh", "--retrain-at", "50", "--seeds", "1"],
    "init": ["--datasets", "digits", "--widths", "8", "--models", "nc,qr", "--seeds", "2"],
}
FIGURES = {"params": "params.png", "sparse": "sparse.png", "pruning": "pruning.png", "pruning3": "pruning3.png",
           "init": "init.png"}
TIMING_KEYS = {"epoch_seconds", "wall_seconds", "seconds", "retrain_epoch_seconds"}


def reproduce(study, out, *extra):
    return main(["reproduce", study, "--quick", "--out", str(out), *TINY[study], *extra])


def lines(path):
    return path.read_text().splitlines()


def without_timings(obj):
    """The record with every wall-clock measurement removed (they differ between any two runs)."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Each study run once in quick mode: {study: output folder}."""
    root = tmp_path_factory.mktemp("reproduce")
    for study in STUDIES:
        assert reproduce(study, root / study) == 0
    return {study: root / study for study in STUDIES}


# ---------------------------------------------------------------------------------- records

GRID_SIZES = {"params": 2 * 3 * 2, "sparse": 2 * 2 * 2, "pruning": 3, "pruning3": 3, "init": 2 * 2 * 2}  # the grids that TINY asks for


@pytest.mark.parametrize("study", list(STUDIES))
def test_every_run_is_one_json_line_with_the_required_keys(finished, study):
    records = [json.loads(line) for line in lines(finished[study] / "runs.jsonl")]
    assert len(records) == len({r["run_id"] for r in records}) == GRID_SIZES[study]
    for r in records:
        assert set(REQUIRED_KEYS) <= set(r)
        assert r["study"] == study and r["dataset"] == "digits"
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert len(r["epoch_seconds"]) == len(r["history"]) >= 1
        assert isinstance(r["trainable_parameters"], int) and r["trainable_parameters"] > 0


def test_params_records_count_parameters_like_the_papers(finished):
    records = {r["run_id"]: r for r in load_records(finished["params"] / "runs.jsonl")}
    dense = records["digits/dense/N2=16/seed=0"]
    assert dense["trainable_parameters"] == dense["dense_parameters"] == 64 * 16 + 16 + 16 * 10 + 10
    nc = records["digits/nc/N2=16/seed=0"]
    assert nc["trainable_parameters"] == 16 + 10 + 16 + 10  # lam_out of both layers, plus the biases
    assert nc["rho"] == pytest.approx(nc["trainable_parameters"] / dense["trainable_parameters"])
    qr = records["digits/qr/N2=16/seed=0"]
    # lam_in, lam_out, triangular R (m = min(n_in, n_out)), biases
    assert qr["trainable_parameters"] == (64 + 16 + 16 + 10) + (16 * 17 // 2 + 10 * 11 // 2) + (16 + 10)


def test_sparse_records_train_both_models_under_the_same_mask(finished):
    records = load_records(finished["sparse"] / "runs.jsonl")
    by_method = {r["method"]: r for r in records if r["sparsity"] == 90 and r["seed"] == 0}
    assert by_method["dense"]["model"] == "dense" and by_method["dense"]["layer_kw"]["bias"] is False
    assert by_method["spectral"]["model"] == "qr" and by_method["spectral"]["layer_kw"]["bias"] is True
    assert {r["layer_kw"]["sparsity"] for r in records} == {0.5, 0.9}
    assert all(r["activation"] == "tanh" and r["hidden"] == [500, 500] for r in records)


def test_pruning_records_hold_one_row_per_percentage(finished):
    records = {r["method"]: r for r in load_records(finished["pruning"] / "runs.jsonl")}
    for method, record in records.items():
        rows = record["pruning"]
        assert [row["removed"] for row in rows] == list(range(5, 100, 5))
        assert [row["nodes"] for row in rows] == [500 - 500 * p // 100 for p in range(5, 100, 5)]
        if method != "pre":  # no retraining: the pruned network itself, smaller at every step
            assert all(a["parameters"] > b["parameters"] for a, b in zip(rows, rows[1:]))
    pre = records["pre"]["pruning"]
    retrained = [row["removed"] for row in pre if row["test_accuracy"] is not None]
    assert retrained == [50]
    assert len(pre[9]["retrain_epoch_seconds"]) == 2  # quick mode retrains for 2 epochs
    assert all(row["test_accuracy_before_retrain"] is not None for row in pre)


def test_three_hidden_layers_are_pruned_with_one_global_threshold(finished):
    records = {r["method"]: r for r in load_records(finished["pruning3"] / "runs.jsonl")}
    for method, record in records.items():
        assert record["hidden"] == [500, 500, 500]
        for row in record["pruning"]:
            # one threshold over the 1,500 nodes: the layers together lose exactly p %, each its own share
            assert row["nodes"] == sum(row["nodes_per_layer"]) == 1500 - 1500 * row["removed"] // 100
    # the layers do not lose the same share under Σ|w| (784 inputs to the first layer, 500 to the others)
    assert len({tuple(row["nodes_per_layer"]) for row in records["direct"]["pruning"]
                if len(set(row["nodes_per_layer"])) > 1}) > 0
    pre = records["pre"]["pruning"]
    assert [row["removed"] for row in pre if row["test_accuracy"] is not None] == [50]


def test_keep_globally_applies_one_threshold_across_layers():
    # 5 nodes, 40 % removed: the two weakest overall, both in the first layer
    first, second = keep_globally([np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0])], 0.4)
    assert first.tolist() == [2] and second.tolist() == [0, 1]
    # a layer can lose every node; the network keeps at least one
    first, second = keep_globally([np.array([1.0, 2.0]), np.array([10.0, 20.0])], 0.5)
    assert first.tolist() == [] and second.tolist() == [0, 1]
    assert [k.tolist() for k in keep_globally([np.array([3.0, 1.0, 2.0])], 0.34)] == [[0, 2]]  # = keep_indices
    with pytest.raises(ValueError, match="one 1-D array per layer"):
        keep_globally([np.ones((2, 2))], 0.5)


def test_a_deep_network_pruned_layer_by_layer_computes_what_the_silenced_one_does():
    net = mlp((12, 9, 8, 7, 5), "nc", activation="tanh", bias=False, seed=3, dtype="float64")
    keeps = keep_globally([node_scores(net, k) for k in (0, 2, 4)], 0.4)
    small, silent = prune_hidden(net, keeps), net
    for k, keep in enumerate(keeps):
        silent = silence(silent, 2 * k, keep)
    x = np.random.default_rng(0).normal(size=(6, 12))
    np.testing.assert_allclose(small.forward(x), silent.forward(x), rtol=1e-12, atol=1e-12)
    assert [small.layers[2 * k].n_out for k in range(3)] == [len(k) for k in keeps]
    fresh = retrainable(small, "tanh")  # the pre-training method's network, phi trainable in every layer
    np.testing.assert_allclose(fresh.forward(x), small.forward(x), rtol=1e-12)
    assert all(layer.params["phi"].trainable for layer in fresh.layers[0::2])


def test_a_network_with_an_emptied_layer_predicts_class_0_as_emptied_accuracy_says():
    net = mlp((12, 9, 8, 5), "nc", activation="relu", bias=False, seed=3, dtype="float64")
    assert prune_hidden(net, [np.arange(9), np.array([], dtype=int)]) is None
    cut = net.copy()
    cut.layers[4].params["phi"].value[...] = 0.0  # the second hidden layer sends nothing on
    x = np.random.default_rng(0).normal(size=(50, 12))
    y = np.random.default_rng(1).integers(0, 5, 50)
    assert (cut.predict(x) == 0).all()
    assert emptied_accuracy(net, y) == pytest.approx(float((cut.predict(x) == y).mean()))
    with pytest.raises(ValueError, match="biases"):
        emptied_accuracy(mlp((12, 9, 5), "nc", seed=0), y)


def test_the_three_layer_table_compares_with_srs_three_layer_numbers(finished):
    assert (finished["pruning3"] / "table.md").read_text().startswith("# Spectral pruning: 64 → 500 → 500 → 500 → 10")
    record = {"dataset": "mnist", "activation": "tanh", "method": "pre", "test_accuracy": 0.9,
              "pruning": [{"removed": 50, "test_accuracy": 0.95, "test_accuracy_before_retrain": 0.8}]}
    tables = {}
    for cls in (PruningStudy, DeepPruningStudy):
        study = cls({**cls.QUICK, "quick": True, "percents": [50], "retrain_at": [50]})
        tables[cls] = study.markdown([record], study.curves([record]), ["mnist"], ["tanh"], [])
    sr_row = lambda text: next(line for line in text.splitlines() if line.startswith("| SR pre"))  # noqa: E731
    # SR's three-layer MNIST tanh pre row rests on 2 runs, .974 ± .001 at 50 % (paper.md §8); one layer: .978 ± .003
    assert sr_row(tables[DeepPruningStudy]) == "| SR pre | 2 | – | 0.974 ± 0.001 |"
    assert sr_row(tables[PruningStudy]) == "| SR pre | 5 | – | 0.978 ± 0.003 |"
    assert SR_RUNS_3 == {("mnist", "tanh", "pre"): 2, ("fashion-mnist", "tanh", "pre"): 4}
    assert len(SR_RESULTS_3) == 11 and SR_RESULTS_3[("fashion-mnist", "tanh", "direct")][95] == (0.1, 0.0)


# ----------------------------------------------------------------------------------- resume

def test_a_second_invocation_trains_nothing(finished, capsys):
    path = finished["params"] / "runs.jsonl"
    before = path.read_text()
    assert reproduce("params", finished["params"]) == 0
    assert path.read_text() == before
    assert "0 to train" in capsys.readouterr().out
    log = json.loads((finished["params"] / "run.json").read_text())
    assert len(log["invocations"]) == 1  # nothing trained: the log is unchanged


def test_the_log_names_the_commit_of_a_checkout(finished):
    import subprocess
    from pathlib import Path

    import minispectral

    root = Path(minispectral.__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    commit = json.loads((finished["sparse"] / "run.json").read_text())["invocations"][0]["machine"]["commit"]
    if head.returncode == 0 and (root / ".git").exists():  # CI and the README's commands run in a checkout
        assert commit.startswith(head.stdout.strip()) and commit in (finished["sparse"] / "RUN.md").read_text()
    else:
        assert commit == ""


def test_only_the_missing_runs_are_trained(tmp_path, finished):
    out = tmp_path / "params"
    out.mkdir()
    kept = lines(finished["params"] / "runs.jsonl")
    (out / "run.json").write_text((finished["params"] / "run.json").read_text())
    # Two runs removed, and the last line cut short as by a crash while writing it.
    (out / "runs.jsonl").write_text("\n".join(kept[:-3]) + "\n" + kept[-3][:40])
    study = STUDIES["params"].from_args(_args("params", out))
    assert run_study(study, out, echo=lambda _: None) == 3
    again = sorted(json.loads(line)["run_id"] for line in lines(out / "runs.jsonl"))
    assert again == sorted(json.loads(line)["run_id"] for line in kept)


def test_damaged_run_files_are_errors_that_name_the_line(tmp_path, finished):
    from minispectral.reproduce.common import read_log

    good = lines(finished["params"] / "runs.jsonl")
    path = tmp_path / "runs.jsonl"
    path.write_text(good[0] + "\n" + json.dumps({"study": "params"}) + "\n" + good[1] + "\n")
    with pytest.raises(ValueError, match=r"runs.jsonl, line 2: run None lacks the keys \['run_id'"):
        load_records(path)
    path.write_text(good[0] + "\n[1, 2]\n" + good[1] + "\n")
    with pytest.raises(ValueError, match="line 2: a JSON list, expected a run record"):
        load_records(path)
    # a last line cut short but followed by its newline is dropped, and the file repaired for the next append
    path.write_text(good[0] + "\n" + good[1][:30] + "\n")
    assert len(load_records(path, repair=False)) == 1 and len(lines(path)) == 2  # --plan, --report-only
    assert [r["run_id"] for r in load_records(path)] == [json.loads(good[0])["run_id"]]
    assert lines(path) == [good[0]]
    # a valid last record without its newline gets one, so that the next append starts a new line
    path.write_text(good[0] + "\n" + good[1])
    assert len(load_records(path)) == 2 and path.read_text().endswith("\n")
    log = tmp_path / "run.json"
    for text, message in (('{"study": "par', "not a valid run log"), ("[]", "expected a JSON object")):
        log.write_text(text)
        with pytest.raises(ValueError, match=f"run.json is .*{message}"):
            read_log(log)


class EnvironmentProbe(Study):
    """A study of two instant runs that report the BLAS thread count their worker process was started with."""

    name = "probe"
    FULL = QUICK = {"seeds": 2}

    def runs(self):
        return [{"run_id": f"probe/{seed}", "seed": seed} for seed in range(self.settings["seeds"])]

    def train(self, spec):
        return {"study": self.name, "run_id": spec["run_id"], "seed": spec["seed"], "model": "-", "dataset": "-",
                "hidden": [], "trainable_parameters": 0, "test_accuracy": 0.0, "epoch_seconds": [0.0],
                "history": [], "blas": os.environ.get("OPENBLAS_NUM_THREADS"), "pid": os.getpid()}

    def cost(self, spec, step_seconds):
        return 0.0, 0.0

    def report(self, records, out_dir, missing):
        return []


def test_parallel_workers_get_their_share_of_the_cores_and_any_study_runs_in_them(tmp_path, monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    study = EnvironmentProbe({"seeds": 2, "quick": True, "data_dir": None})
    assert run_study(study, tmp_path, jobs=2, echo=lambda _: None) == 2
    share = str(max(1, (os.cpu_count() or 1) // 2))
    records = load_records(tmp_path / "runs.jsonl")
    assert {r["blas"] for r in records} == {share} and all(r["pid"] != os.getpid() for r in records)
    log = json.loads((tmp_path / "run.json").read_text())
    assert log["invocations"][0]["blas_threads"] == dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                                   "MKL_NUM_THREADS"), share)


def _args(study, out, *extra):
    from minispectral.cli import build_parser

    return build_parser().parse_args(["reproduce", study, "--quick", "--out", str(out), *TINY[study], *extra])


def test_changing_the_protocol_in_the_same_folder_is_refused(finished, capsys):
    assert reproduce("params", finished["params"], "--max-epochs", "3") == 1
    assert "other settings (max_epochs differ)" in capsys.readouterr().err


def test_jobs_2_gives_the_same_records_as_jobs_1(tmp_path, finished):
    assert reproduce("params", tmp_path / "params", "--jobs", "2") == 0
    serial = {r["run_id"]: without_timings(r) for r in load_records(finished["params"] / "runs.jsonl")}
    parallel = {r["run_id"]: without_timings(r) for r in load_records(tmp_path / "params" / "runs.jsonl")}
    assert parallel == serial


# ---------------------------------------------------------------------------------- reports

@pytest.mark.parametrize("study", list(STUDIES))
def test_the_table_and_figure_are_written(finished, study):
    table = (finished[study] / "table.md").read_text()
    assert table.startswith("# ") and "| " in table and "All runs of the grid are present." in table
    assert (finished[study] / FIGURES[study]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = json.loads((finished[study] / "run.json").read_text())
    invocation = log["invocations"][0]
    assert invocation["command"].startswith(f"minispectral reproduce {study} --quick")
    assert invocation["runs_trained"] == len(lines(finished[study] / "runs.jsonl"))
    assert {"python", "numpy", "minispectral", "cpus"} <= set(invocation["machine"])
    assert invocation["wall_seconds"] > 0
    assert "## Invocation 1" in (finished[study] / "RUN.md").read_text()


def test_an_incomplete_grid_names_the_missing_runs(finished, capsys):
    # --seeds is a grid setting: asking for a third seed leaves its runs missing, nothing retrained.
    assert reproduce("params", finished["params"], "--seeds", "3", "--report-only") == 0
    table = (finished["params"] / "table.md").read_text()
    assert "**Incomplete: 6 runs are missing:**" in table
    assert "model=qr, width=16 (seeds 2)" in table
    assert "6 of 18 runs of the grid are missing" in capsys.readouterr().out
    assert reproduce("params", finished["params"], "--report-only") == 0  # restore the complete table


def test_plan_trains_nothing(tmp_path, capsys):
    assert reproduce("sparse", tmp_path / "sparse", "--plan") == 0
    assert not (tmp_path / "sparse" / "runs.jsonl").exists()
    out = capsys.readouterr().out
    assert "8 to train" in out and "estimated wall time" in out


@pytest.mark.parametrize("argv", [
    ["reproduce"],
    ["reproduce", "everything"],
    ["reproduce", "params", "--jobs", "0"],
    ["reproduce", "params", "--models", "dense,bogus"],
    ["reproduce", "params", "--widths", "fifty"],
    ["reproduce", "sparse", "--sparsities", "50,100"],
    ["reproduce", "pruning", "--activations", "sigmoid"],
    ["reproduce", "pruning", "--retrain-at", "33"],        # only the pruned percentages, multiples of 5
    ["reproduce", "pruning", "--plan", "--report-only"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_sr_results_are_the_digest_table():
    assert len(SR_RESULTS) == 18
    assert SR_RESULTS[("mnist", "tanh", "pre")][95] == (0.972, 0.001)
    assert SR_RESULTS[("fashion-mnist", "elu", "direct")][5] == (0.893, 0.004)


# ---------------------------------------------------------------------------------- pruning

@pytest.mark.parametrize("model,activation", [("dense", "relu"), ("dense", "tanh"), ("nc", "tanh"),
                                              ("nc", "elu"), ("spectral", "relu"), ("ssvd", "relu"), ("qr", "tanh")])
def test_the_pruned_network_computes_what_the_silenced_one_does(model, activation):
    kw = {} if model == "dense" else {"lam_out_init": (-2, 2)}
    if model in ("nc", "spectral"):
        kw["phi_init"] = (-1, 1)  # S-SVD and QR build phi from their factors, which prune cuts too
    net = mlp((20, 30, 7), model, activation=activation, bias=model != "nc", seed=3, dtype="float64", **kw)
    keep = keep_indices(node_scores(net, 0), 0.6)
    pruned, silenced = prune(net, 0, keep), silence(net, 0, keep)
    x = np.random.default_rng(0).normal(size=(11, 20))
    np.testing.assert_allclose(pruned.forward(x), silenced.forward(x), rtol=1e-12, atol=1e-12)
    assert pruned.layers[0].n_out == len(keep) == 12
    assert pruned.num_parameters() < net.num_parameters()
    # and the removed nodes did matter: the full network computes something else
    assert not np.allclose(net.forward(x), pruned.forward(x))


@pytest.mark.parametrize("keep, error, message", [
    ([1, 1, 1], ValueError, r"must not repeat a node .*\[1, 1, 1\]"),
    ([0.7, 2.9], TypeError, "integer node indices, got dtype float64"),
    ([], ValueError, "non-empty 1-D list of node indices"),
    ([0, 30], ValueError, r"node indices in \[0, 29\], got values in \[0, 30\]"),
    ([-1, 2], ValueError, r"node indices in \[0, 29\]"),
])
def test_prune_and_silence_refuse_a_bad_keep(keep, error, message):
    net = mlp((20, 30, 7), "spectral", seed=0)
    for cut in (prune, silence):
        with pytest.raises(error, match=message):
            cut(net, 0, keep)


def test_keep_indices_removes_the_lowest_scores():
    scores = np.array([0.5, 0.1, 0.9, 0.3, 0.7, 0.2])
    assert keep_indices(scores, 0.5).tolist() == [0, 2, 4]  # 0.1, 0.2 and 0.3 go
    assert keep_indices(scores, 0.0).tolist() == list(range(6))
    assert keep_indices(scores, 0.99).tolist() == [2]  # floor(0.99 * 6) = 5 removed: the best survives
    with pytest.raises(ValueError, match=r"fraction_removed must be in \[0, 1\)"):
        keep_indices(scores, 1.0)


def test_prune_keeps_the_nodes_in_order_whatever_the_order_given():
    net = mlp((20, 30, 7), "dense", seed=0, dtype="float64")
    x = np.random.default_rng(0).normal(size=(4, 20))
    np.testing.assert_array_equal(prune(net, 0, [9, 2, 5]).forward(x), prune(net, 0, [2, 5, 9]).forward(x))


def test_retrainable_refuses_networks_it_would_rebuild_incompletely():
    for net in (mlp((20, 30, 7), "nc", activation="tanh", seed=1),  # with bias
                mlp((20, 30, 7), "qr", activation="tanh", bias=False, seed=1),  # no phi
                mlp((20, 30, 7), "dense", activation="tanh", bias=False, seed=1),  # not spectral
                mlp((20, 30, 7), "nc", activation="tanh", bias=False, sparsity=0.5, seed=1)):  # sparse
        with pytest.raises(ValueError, match="retrainable expects the pruning study's network"):
            retrainable(net, "tanh")


def test_retrainable_copies_the_survivors_and_trains_phi():
    net = mlp((20, 30, 7), "nc", activation="tanh", bias=False, seed=1, dtype="float64")
    pruned = prune(net, 0, keep_indices(node_scores(net, 0), 0.5))
    fresh = retrainable(pruned, "tanh")
    x = np.random.default_rng(1).normal(size=(5, 20))
    np.testing.assert_allclose(fresh.forward(x), pruned.forward(x), rtol=1e-12)
    assert all(layer.params["phi"].trainable for layer in (fresh.layers[0], fresh.layers[2]))
    assert fresh.num_parameters() == 15 * 20 + 15 + 7 * 15 + 7  # phi and lam_out of both layers


# ------------------------------------------------------------------ found by mutation testing (2026-12-01)

def test_keep_indices_is_not_fooled_by_rounding():
    # 0.29 * 100 = 28.999999999999996 in floating point: 29 nodes go, not 28
    assert len(keep_indices(np.arange(100.0), 0.29)) == 71


def test_spectral_nodes_are_ranked_by_the_magnitude_of_lam_out():
    net = mlp((4, 3, 2), "spectral", seed=0, dtype="float64")
    net.layers[0].params["lam_out"].value[...] = [-0.9, 0.1, 0.5]
    np.testing.assert_array_equal(node_scores(net, 0), [0.9, 0.1, 0.5])


def test_silence_keeps_a_float32_model_float32():
    net = mlp((4, 3, 2), "spectral", seed=0)
    silenced = silence(net, 0, [0, 2])
    assert all(p.value.dtype == np.float32 for p in silenced.parameters())
    assert silenced.forward(np.ones((2, 4), np.float32)).dtype == np.float32


def test_a_params_study_without_dense_draws_its_figure_without_warnings(tmp_path, recwarn):
    assert main(["reproduce", "params", "--quick", "--out", str(tmp_path), "--datasets", "digits",
                 "--widths", "8", "--models", "nc", "--seeds", "1"]) == 0
    assert (tmp_path / "params.png").is_file()
    assert not [w for w in recwarn if "legend" in str(w.message)]  # "No artists with labels"


# ------------------------------------------------------------------ found by a review of 2026-12-01

class FailingProbe(EnvironmentProbe):
    """Three instant runs; the second one raises."""

    FULL = QUICK = {"seeds": 3}

    def train(self, spec):
        if spec["seed"] == 1:
            raise FloatingPointError("diverged")
        return super().train(spec)


def test_a_failing_run_is_named_and_the_runs_before_it_are_kept(tmp_path):
    with pytest.raises(RunFailed, match="run probe/1 failed: FloatingPointError: diverged"):
        run_study(FailingProbe({"seeds": 3}), tmp_path, echo=lambda _: None)  # settings without "quick" too
    assert [r["run_id"] for r in load_records(tmp_path / "runs.jsonl")] == ["probe/0"]
    assert json.loads((tmp_path / "run.json").read_text())["invocations"][0]["runs_trained"] == 1


def test_a_run_recorded_twice_is_refused_not_counted_twice(tmp_path):
    run_study(EnvironmentProbe({"seeds": 2, "quick": True, "data_dir": None}), tmp_path, echo=lambda _: None)
    path = tmp_path / "runs.jsonl"
    path.write_text(path.read_text() + path.read_text().splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"line 3: run 'probe/0' is already at line 1"):
        load_records(path)


def test_runs_without_their_run_log_are_refused(tmp_path):
    study = EnvironmentProbe({"seeds": 2, "quick": True, "data_dir": None})
    run_study(study, tmp_path, echo=lambda _: None)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ValueError, match="holds runs but .*run.json, which records their settings, is missing"):
        run_study(study, tmp_path, echo=lambda _: None)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("rho"), r"lacks the keys \['rho'\]"),
    (lambda r: r.update(test_accuracy=None), "test_accuracy None, expected a number in"),
    (lambda r: r.update(study="sparse"), "belongs to the study 'sparse', not 'params'")])
def test_records_are_checked_against_their_study(finished, tmp_path, change, message):
    lines = (finished["params"] / "runs.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    change(record)
    (tmp_path / "runs.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    (tmp_path / "run.json").write_text((finished["params"] / "run.json").read_text())
    with pytest.raises(ValueError, match=message):
        run_study(STUDIES["params"](json.loads((finished["params"] / "run.json").read_text())["protocol"]
                                    | {"datasets": ["digits"], "widths": [8, 16], "models": ["dense", "nc", "qr"],
                                       "seeds": 2}), tmp_path, report_only=True, echo=lambda _: None)


def test_another_invocation_training_into_the_folder_is_refused(tmp_path):
    from minispectral.reproduce.common import _folder_lock

    with _folder_lock(tmp_path):
        with pytest.raises(ValueError, match="another minispectral reproduce is training into"):
            run_study(EnvironmentProbe({"seeds": 1, "quick": True, "data_dir": None}), tmp_path, echo=lambda _: None)
    assert run_study(EnvironmentProbe({"seeds": 1, "quick": True, "data_dir": None}), tmp_path,
                     echo=lambda _: None) == 1  # released


@pytest.mark.parametrize("study", list(STUDIES))
def test_a_finished_study_leaves_no_lock_file(finished, study):
    assert sorted(p.name for p in finished[study].iterdir() if p.name.startswith(".")) == []


def test_a_lock_file_removed_by_the_holder_before_is_not_trusted(tmp_path):
    from minispectral.reproduce.common import _folder_lock

    stale = open(tmp_path / ".lock", "a")  # opened by a waiting invocation before the holder removed it
    (tmp_path / ".lock").unlink()
    with _folder_lock(tmp_path):
        import fcntl

        fcntl.flock(stale.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # the stale file is free to lock ...
        with pytest.raises(ValueError, match="another minispectral reproduce"):  # ... but the folder is not
            run_study(EnvironmentProbe({"seeds": 1, "quick": True, "data_dir": None}), tmp_path, echo=lambda _: None)
    stale.close()
    assert not (tmp_path / ".lock").exists()


@pytest.mark.parametrize("why", ["no data", "cupy"])
def test_a_start_that_fails_leaves_no_output_folder(tmp_path, monkeypatch, capsys, request, why):
    out = tmp_path / "new" / "params"
    if why == "no data":  # nowhere to find MNIST, and a download refused at once by a local port
        monkeypatch.delenv("MINISPECTRAL_DATA", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        monkeypatch.setenv("MINISPECTRAL_MIRROR", "http://127.0.0.1:9/{dataset}/")
        extra = ["--datasets", "mnist"]
    else:
        import sys

        import minispectral.backend as backend_module

        # CuPy (or the tests' stand-in) may work here: make it missing for this test, whatever the machine
        monkeypatch.setitem(sys.modules, "cupy", None)
        backend_module._make.cache_clear()
        request.addfinalizer(backend_module._make.cache_clear)
        monkeypatch.setattr(backend_module, "_base", None)  # the program's backend, read from the environment
        monkeypatch.setenv("MINISPECTRAL_BACKEND", "cupy")
        extra = ["--datasets", "digits"]
    args = ["reproduce", "params", "--quick", "--out", str(out), "--models", "nc", "--widths", "8", *extra]
    assert main(args) == 1
    assert "error" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before is left, empty as it was
    assert main([*args[:4], str(tmp_path / "kept"), *args[5:]]) == 1
    assert list((tmp_path / "kept").iterdir()) == []


def test_report_only_counts_the_missing_runs(tmp_path, capsys):
    assert reproduce("params", tmp_path, "--report-only") == 0
    out = capsys.readouterr().out
    assert "12 run" in out and "12 missing (--report-only trains none)" in out and "0 to train" not in out
    assert list(tmp_path.iterdir()) == []


def test_parallel_runs_of_a_study_defined_in_an_interactive_session_are_refused(tmp_path, monkeypatch):
    import sys

    Interactive = type("Interactive", (EnvironmentProbe,), {"__module__": "__main__"})
    for main_file in (None, "<stdin>"):  # a notebook; a script read from stdin (`python - <<EOF`)
        if main_file is None:
            monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
        else:
            monkeypatch.setattr(sys.modules["__main__"], "__file__", main_file, raising=False)
        with pytest.raises(ValueError, match="cannot import a Study class defined in an interactive session"):
            run_study(Interactive({"seeds": 2, "quick": True, "data_dir": None}), tmp_path, jobs=2,
                      echo=lambda _: None)
        assert not (tmp_path / "run.json").exists()  # refused before anything was written


def test_the_pruning_table_shows_every_retraining_percentage(tmp_path):
    # 60 % is no SR column: the retrained row used to show only dashes
    assert reproduce("pruning", tmp_path, "--methods", "pre", "--retrain-at", "60") == 0
    rows = [line.split(" | ") for line in (tmp_path / "table.md").read_text().splitlines() if line.startswith("| ")]
    header = rows[0]
    retrained = next(r for r in rows if "retrained)" in r[0])
    assert "60 %" in header and retrained[header.index("60 %")] != "–"


def test_the_params_report_names_its_datasets_network(finished):
    assert (finished["params"] / "table.md").read_text().startswith("# Parameter reduction: 64 → N2 → 10")


class LogProbe(EnvironmentProbe):
    """Its second run looks for the run log: an invocation killed outright must leave its protocol."""

    out_dir = None

    def train(self, spec):
        if spec["seed"] == 1:
            log = json.loads((self.out_dir / "run.json").read_text())
            assert log["protocol"] == self.protocol and log["invocations"][-1]["finished"] is False
            assert log["invocations"][-1]["runs_trained"] == 1  # the log follows each run
        return super().train(spec)


def test_the_run_log_is_written_before_the_first_run(tmp_path):
    study = LogProbe({"seeds": 2, "quick": True, "data_dir": None})
    study.out_dir = tmp_path
    assert run_study(study, tmp_path, echo=lambda _: None) == 2
    assert json.loads((tmp_path / "run.json").read_text())["invocations"][-1]["finished"] is True


def test_a_bug_in_a_study_keeps_its_traceback_on_the_command_line(monkeypatch, tmp_path):
    def typo(self, spec):
        raise KeyError("typo_in_a_key")

    monkeypatch.setattr(STUDIES["params"], "train", typo)
    with pytest.raises(RunFailed) as raised:  # raised through main, not turned into "error: ..." and exit 1
        reproduce("params", tmp_path)
    assert isinstance(raised.value.error, KeyError) and raised.value.__cause__ is raised.value.error


def test_an_invocation_that_trained_nothing_does_not_bind_the_folder(tmp_path):
    class FailsFirst(EnvironmentProbe):
        OPTIONS = ()

        def train(self, spec):
            if self.settings["lr"] == 1:
                raise FloatingPointError("diverged")
            return super().train(spec)

    with pytest.raises(RunFailed):
        run_study(FailsFirst({"seeds": 1, "lr": 1}), tmp_path, echo=lambda _: None)
    assert run_study(FailsFirst({"seeds": 1, "lr": 2}), tmp_path, echo=lambda _: None) == 1  # other settings: fine


def test_the_command_line_of_a_study_whose_settings_lack_an_option():
    from minispectral.reproduce.common import Option

    class WithOption(EnvironmentProbe):
        FULL = QUICK = {"seeds": 2, "epochs": 2}
        OPTIONS = (Option("epochs", "--epochs", positive_int, "epochs"),)

    assert WithOption({"seeds": 1}).command() == "minispectral reproduce probe --jobs 1"


def test_a_run_stopped_by_memory_or_a_killed_worker_is_one_error_line(monkeypatch, tmp_path, capsys):
    def out_of_memory(self, spec):
        raise MemoryError("cannot allocate")

    monkeypatch.setattr(STUDIES["params"], "train", out_of_memory)
    assert reproduce("params", tmp_path) == 1
    assert "run digits/dense/N2=8/seed=0 failed: MemoryError: cannot allocate" in capsys.readouterr().err


# ------------------------------------------------------------------ pruning, found by a review of 2026-12-01

def test_a_negative_or_out_of_range_layer_index_is_the_layer_it_names():
    net = mlp((5, 7, 3), "spectral", seed=1, dtype="float64")
    for bad in (-1, 2):  # the output layer, counted from either end
        with pytest.raises(ValueError, match="layer 2 is the output layer"):
            prune(net, bad, [0, 1])
    np.testing.assert_array_equal(node_scores(net, -3), node_scores(net, 0))
    with pytest.raises(ValueError, match=r"layer_index must be an integer in \[-3, 2\], got 3"):
        prune(net, 3, [0])


def test_pruned_and_silenced_models_start_without_gradients():
    net = mlp((4, 6, 2), "spectral", seed=0)
    _, dlogits = __import__("minispectral").functional.softmax_cross_entropy(
        net.forward(np.ones((3, 4), np.float32)), np.array([0, 1, 0]))
    net.backward(dlogits)
    for smaller in (prune(net, 0, [0, 1, 2]), silence(net, 0, [0, 1, 2])):
        assert all(p.grad is None for p in smaller.parameters())


def test_dense_nodes_are_ranked_by_their_incoming_connectivity():
    net = mlp((3, 2, 2), "dense", seed=0, dtype="float64")
    net.layers[0].params["W"].value[...] = [[1.0, -2.0, 0.5], [-4.0, 0.0, 0.0]]
    np.testing.assert_array_equal(node_scores(net, 0), [3.5, 4.0])  # sum of |W_ij|, not of W_ij


def test_keep_indices_keeps_a_node_and_refuses_bad_scores():
    assert keep_indices(np.arange(3.0), 1 - 1e-10).tolist() == [2]
    for bad in (np.arange(6.0).reshape(2, 3), np.array([np.nan, 1.0, 2.0, 3.0]), np.array([])):
        with pytest.raises(ValueError, match="scores must be a non-empty 1-D array of finite numbers"):
            keep_indices(bad, 0.5)


def test_the_params_table_counts_the_runs_the_epoch_cap_cut(finished):
    study = STUDIES["params"](json.loads((finished["params"] / "run.json").read_text())["protocol"]
                              | {"datasets": ["digits"], "widths": [8, 16], "models": ["dense", "nc", "qr"], "seeds": 2})
    records = load_records(finished["params"] / "runs.jsonl")
    capped = sum(study.cut_by_cap(r) for r in records)
    assert capped  # two quick epochs, patience 8: every run is cut by the cap, so the line is tested
    assert f"{capped} of {len(records)} runs reached the {study.settings['max_epochs']}-epoch cap" in \
        (finished["params"] / "table.md").read_text()


def test_a_run_whose_patience_ran_out_at_the_last_epoch_was_not_cut_by_the_cap():
    study = STUDIES["params"]({**STUDIES["params"].FULL, "max_epochs": 4, "patience": 2, "min_delta": 0.01})
    record = lambda accs: {"epochs_run": len(accs), "history": [{"val_accuracy": a} for a in accs]}  # noqa: E731
    assert study.cut_by_cap(record([0.5, 0.6, 0.7, 0.8]))  # still improving at the cap
    assert not study.cut_by_cap(record([0.5, 0.8, 0.8, 0.805]))  # two epochs without a gain: stopped there anyway
    assert not study.cut_by_cap(record([0.5, 0.6, 0.7]))  # stopped before the cap


def test_pruning_refuses_a_nested_sequential_between_the_weight_layers():
    # it pruned the next top-level layer instead of the nested one: silence gave wrong outputs, silently
    from minispectral import Dense, ReLU, Sequential

    nested = Sequential(Dense(4, 5), ReLU(), Sequential(Dense(5, 6), ReLU()), Dense(6, 3))
    for operation in (prune, silence):
        with pytest.raises(ValueError, match="layer 2 \\(Sequential\\) sits between layer 0 and the next weight layer"):
            operation(nested, 0, [0, 1, 2])
    with pytest.raises(ValueError, match="sits between"):  # it said "the output layer"
        prune(Sequential(Dense(4, 5), ReLU(), Sequential(Dense(5, 3))), 0, [0, 1])


def test_pruning_refuses_any_layer_with_parameters_or_layers_between_and_widths_that_do_not_chain():
    from minispectral import Dense, Module, Parameter, ReLU, Sequential

    class Scale(Module):  # a layer of the user's own, holding a parameter
        def __init__(self):
            super().__init__()
            self.params["a"] = Parameter(np.ones(5, np.float32))

    for between in (Scale(), Sequential(ReLU())):
        with pytest.raises(ValueError, match="sits between layer 0 and the next weight layer"):
            prune(Sequential(Dense(4, 5), between, Dense(5, 3)), 0, [0, 1])
    with pytest.raises(ValueError, match="layer 2 takes 6 inputs, but layer 0 gives 5"):
        prune(Sequential(Dense(4, 5), ReLU(), Dense(6, 3)), 0, [0, 1])


def test_cifar10_takes_the_authors_rates_in_every_study():
    from minispectral.reproduce.sparse import SparseStudy

    sparse = SparseStudy(SparseStudy.FULL)
    rates = {m: sparse._config({"dataset": "cifar10", "method": m, "sparsity": 50, "seed": 0}).lr
             for m in ("dense", "spectral")}
    assert rates == {"dense": 1e-4, "spectral": 3e-3}  # paper.md §6
    params = STUDIES["params"](STUDIES["params"].FULL)
    spec = {"dataset": "cifar10", "width": 100, "seed": 0}
    assert [params._config({**spec, "model": m}).lr for m in ("dense", "qr")] == [0.002, 0.003]  # paper.md §7
