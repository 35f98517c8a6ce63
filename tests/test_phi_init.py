"""phi's initialisation as a named choice: the recipes, the layer, RunConfig, the CLI, the init study."""
import json
import math

import numpy as np
import pytest

import minispectral.nn.init as init_module
from minispectral.backend import to_numpy
from minispectral.cli import main
from minispectral.experiment import RunConfig, run
from minispectral.nn import Spectral, mlp
from minispectral.nn.init import DEFAULT_PHI_INIT, PHI_INITS
from minispectral.reproduce import InitStudy, ParamsStudy, PruningStudy
from minispectral.reproduce.sparse import SparseStudy

N_IN, N_OUT = 30, 12
GLOROT = math.sqrt(6 / (N_IN + N_OUT))


def host(layer, name):
    return to_numpy(layer.params[name].value).astype(np.float64)


def layer(variant, phi_init, seed=5):
    return Spectral(N_IN, N_OUT, variant=variant, phi_init=phi_init, seed=seed, dtype="float64")


# ------------------------------------------------------------------------------- the recipes

def test_the_papers_recipes_are_the_authors_draws():
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(host(layer("nc", "papers"), "phi"), rng.uniform(-0.2, 0.2, (N_OUT, N_IN)))
    rng = np.random.default_rng(5)
    U, V, s = rng.normal(0, 0.04, (N_OUT, N_OUT)), rng.normal(0, 0.04, (N_OUT, N_IN)), rng.uniform(0, 3, N_OUT)
    for variant in ("spectral", "full"):
        np.testing.assert_allclose(host(layer(variant, "papers"), "phi"), (U * s) @ V, rtol=1e-12)
    ssvd = layer("ssvd", "papers")
    np.testing.assert_array_equal(host(ssvd, "U"), U)
    np.testing.assert_array_equal(host(ssvd, "V"), V)
    np.testing.assert_array_equal(host(ssvd, "s"), s)
    B = np.random.default_rng(5).normal(0, 0.036, (N_OUT, N_IN))
    np.testing.assert_allclose(to_numpy(layer("qr", "papers").phi()), B, atol=1e-12)


def test_the_glorot_recipe_draws_glorot_uniform_for_every_variant():
    expected = np.random.default_rng(5).uniform(-GLOROT, GLOROT, (N_OUT, N_IN))
    for variant in ("nc", "spectral", "full"):
        np.testing.assert_array_equal(host(layer(variant, "glorot"), "phi"), expected)
    np.testing.assert_allclose(to_numpy(layer("qr", "glorot").phi()), expected, atol=1e-12)  # B = R Q
    rng = np.random.default_rng(5)
    lim_u, lim_v = math.sqrt(6 / (N_OUT + N_OUT)), math.sqrt(6 / (N_OUT + N_IN))
    U, V = rng.uniform(-lim_u, lim_u, (N_OUT, N_OUT)), rng.uniform(-lim_v, lim_v, (N_OUT, N_IN))
    ssvd = layer("ssvd", "glorot")
    np.testing.assert_array_equal(host(ssvd, "U"), U)
    np.testing.assert_array_equal(host(ssvd, "V"), V)
    np.testing.assert_array_equal(host(ssvd, "s"), rng.uniform(0, 3, N_OUT))


@pytest.mark.parametrize("variant", ["nc", "spectral", "full", "ssvd", "qr"])
def test_the_layer_names_its_recipe_and_the_default_is_the_documented_one(variant):
    assert layer(variant, "glorot").phi_init == "glorot"
    default = Spectral(N_IN, N_OUT, variant=variant, seed=5, dtype="float64")
    assert default.phi_init == DEFAULT_PHI_INIT[variant] in PHI_INITS
    np.testing.assert_array_equal(to_numpy(default.phi()), to_numpy(layer(variant, DEFAULT_PHI_INIT[variant]).phi()))
    assert RunConfig(model=variant).resolved().phi_init == DEFAULT_PHI_INIT[variant]


def test_bad_recipes_are_refused_by_name():
    with pytest.raises(ValueError, match="phi_init must name one of \\('papers', 'glorot'\\), got 'he'"):
        Spectral(3, 2, phi_init="he")
    with pytest.raises(ValueError, match="phi_init takes only a recipe's name"):
        Spectral(3, 2, variant="ssvd", phi_init=np.ones((2, 3)))
    assert Spectral(3, 2, phi_init=(-1, 1)).phi_init == "custom"


# ------------------------------------------------------------------------- RunConfig and run

def test_run_builds_the_recipe_it_records():
    record, model = run(RunConfig(model="spectral", hidden=(8,), epochs=1, phi_init="glorot"))
    assert record["phi_init"] == "glorot"
    first = model.layers[0]
    assert first.phi_init == "glorot"
    limit = math.sqrt(6 / (64 + 8))
    assert np.abs(to_numpy(first.params["phi"].value)).max() > 0.5 * limit  # the papers' phi is ~30x smaller


def test_dense_records_no_recipe_and_refuses_one():
    assert RunConfig(model="dense").resolved().phi_init is None
    with pytest.raises(ValueError, match="dense model has no phi"):
        RunConfig(model="dense", phi_init="glorot").resolved()
    with pytest.raises(ValueError, match="phi_init is given twice"):
        RunConfig(model="nc", phi_init="glorot", layer_kw={"phi_init": (-1, 1)}).resolved()
    assert RunConfig(model="nc", layer_kw={"phi_init": (-1, 1)}).resolved().phi_init == "custom"
    with pytest.raises(ValueError, match="phi_init must name one of"):
        RunConfig(model="nc", phi_init="Glorot").resolved()


def test_the_cli_takes_and_records_the_recipe(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--model", "nc", "--hidden", "8", "--epochs", "1", "--phi-init", "glorot",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["phi_init"] == "glorot"
    assert main(["compare", "--models", "dense,qr", "--hidden", "8", "--epochs", "1", "--phi-init", "glorot",
                 "--json", str(out), "--figure", str(tmp_path / "c.png")]) == 0
    assert [r["phi_init"] for r in json.loads(out.read_text())] == [None, "glorot"]
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.split()[:1] in (["dense"], ["qr"])]
    assert [row[:2] for row in rows[-2:]] == [["dense", "-"], ["qr", "glorot"]]  # the table says which phi
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", "dense", "--phi-init", "glorot"])
    assert exit_info.value.code == 2 and "the dense model has no phi" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--phi-init", "he"])
    assert "invalid choice: 'he'" in capsys.readouterr().err


# ------------------------------------------------------------------------------- the studies

def test_the_fidelity_studies_keep_the_papers_recipe_whatever_the_default(monkeypatch):
    monkeypatch.setattr(init_module, "DEFAULT_PHI_INIT", dict.fromkeys(init_module.DEFAULT_PHI_INIT, "glorot"))
    assert RunConfig(model="nc").resolved().phi_init == "glorot"  # the patch reaches the default
    assert Spectral(3, 2, variant="nc").phi_init == "glorot"
    params = ParamsStudy(ParamsStudy.QUICK)
    for model in ("nc", "spectral", "ssvd", "qr", "full"):
        spec = {"dataset": "mnist", "model": model, "width": 8, "seed": 0}
        assert params._config(spec).resolved().phi_init == "papers"
    sparse = SparseStudy(SparseStudy.QUICK)
    assert sparse._config({"dataset": "mnist", "method": "spectral", "sparsity": 50, "seed": 0}).resolved() \
        .phi_init == "papers"
    pruning = PruningStudy(PruningStudy.QUICK)
    for method in ("post", "pre"):
        spec = {"dataset": "mnist", "activation": "tanh", "method": method, "seed": 0}
        assert pruning._config(spec).resolved().phi_init == "papers"


def test_the_init_study_trains_each_variant_from_each_recipe():
    study = InitStudy(InitStudy.FULL)
    specs = study.runs()
    assert len(specs) == 2 * 2 * 4 * 2 * 3  # datasets × widths × frozen-phi variants × recipes × seeds
    assert {s["model"] for s in specs} == {"nc", "spectral", "ssvd", "qr"}
    assert {s["phi_init"] for s in specs} == set(PHI_INITS)
    # seed-major: the first third of the runs covers every cell once
    assert len({(s["dataset"], s["model"], s["width"], s["phi_init"]) for s in specs[:32]}) == 32
    for spec in specs[:16]:
        assert study._config(spec).resolved().phi_init == spec["phi_init"]


def test_the_init_table_gives_both_recipes_and_their_difference(tmp_path):
    study = InitStudy({**InitStudy.QUICK, "quick": True, "datasets": ["digits"], "widths": [8], "models": ["nc"],
                       "seeds": 2})
    records = [{"dataset": "digits", "model": "nc", "width": 8, "phi_init": init, "test_accuracy": acc,
                "epochs_run": 3} for init, acc in [("papers", 0.5), ("papers", 0.6), ("glorot", 0.8), ("glorot", 0.9)]]
    text = study.markdown(study.cells(records), ["digits"], ["nc"], [8], list(PHI_INITS), [])
    row = next(line for line in text.splitlines() if line.startswith("| NC"))
    assert row == "| NC (λ_out) | 0.5500 ± 0.0707 | 0.8500 ± 0.0707 | +0.3000 |"
