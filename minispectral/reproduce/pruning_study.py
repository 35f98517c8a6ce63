"""Spectral pruning of hidden nodes (Sci. Rep. 2022; paper.md §8–§9).

784 → 500 → 10, no bias (as in SR), tanh, ReLU or ELU hidden; Adam lr 1e-3, batch 200, no
validation split.  Three ways to choose which p % of the 500 hidden nodes to remove:

* direct: train a dense network; rank the nodes by incoming connectivity Σ_j |W_ij|;
* post: train phi and lam_out of an NC-style network (one eigenvalue set, lam_in = 0);
  rank the nodes by |lam_out|;
* pre: train lam_out only (phi frozen, cheap); rank by |lam_out|; build the smaller network
  from the surviving nodes' phi and lam and train it, phi included (SR: 20 epochs).

direct and post are evaluated after removing the nodes, without retraining, at p = 5, 10, …, 95;
pre is retrained at p = 50, 70, 80, 90, 95 (retraining at all 19 would cost 9.5 full trainings
per run) and evaluated without retraining at every p as well.  SR trained for 100 epochs and
retrained for 20; to fit its budget this study trains for 10 epochs and retrains for 10 (no
more than the others train phi), ``--epochs`` and ``--retrain-epochs`` to change them.
Removing nodes builds a smaller network (``minispectral.pruning.prune``): fewer parameters,
less compute, the same outputs as silencing the nodes (tests/test_reproduce.py checks it).

``pruning3`` is the same study on SR's deeper network, 784 → 500 → 500 → 500 → 10, with one
global threshold over all 1,500 hidden nodes (``minispectral.pruning.keep_globally``), as in SR's
code: a layer may lose more than its share, or every node (nothing then reaches the output, and the
network predicts class 0 for every image).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..backend import to_numpy
from ..atomic import write_text
from ..experiment import RunConfig, run
from ..nn import Activation, Sequential, Spectral
from ..pruning import keep_globally, node_scores, prune
from ..train import evaluate, fit
from .common import DATASETS_OPTION, Option, Study, csv_ints, csv_of, fmt_acc, mean_std, missing_note, network_label, positive_int, pyplot, save_figure

ACTIVATIONS = ("tanh", "relu", "elu")
METHODS = ("direct", "post", "pre")
LABELS = {"direct": "direct (dense, Σ|w|)", "post": "post-training (|λ|)", "pre": "pre-training (|λ|, retrained)",
          "pre-raw": "pre-training, not retrained"}
COLORS = {"direct": "tab:orange", "post": "tab:blue", "pre": "tab:green", "pre-raw": "tab:green"}
# (library model, extra layer options) for each method; no bias anywhere, as in SR.
MODELS = {"direct": ("dense", {}), "post": ("nc", {"trainable": {"phi": True}}), "pre": ("nc", {})}

# SR's committed one-hidden-layer results (paper.md §8, from the authors' result files): mean ± std over
# 5 runs, 100 epochs.  The hidden width of that file may be 2000, not 500 (paper.md §7).
SR_PERCENTS = (5, 50, 70, 80, 90, 95)
_SR_TABLE = """
| MNIST | tanh | direct | .984±.001 | .981±.001 | .925±.017 | .806±.046 | .603±.043 | .473±.039 |
| MNIST | tanh | post | .982±.001 | .979±.002 | .945±.007 | .883±.012 | .733±.049 | .592±.065 |
| MNIST | tanh | pre | .978±.002 | .978±.003 | .980±.001 | .980±.000 | .977±.000 | .972±.001 |
| MNIST | relu | direct | .986±.001 | .985±.001 | .975±.002 | .948±.015 | .832±.036 | .660±.062 |
| MNIST | relu | post | .984±.001 | .975±.003 | .937±.017 | .866±.038 | .676±.070 | .529±.047 |
| MNIST | relu | pre | .983±.001 | .981±.003 | .981±.002 | .979±.003 | .979±.000 | .974±.001 |
| MNIST | elu | direct | .981±.004 | .982±.002 | .972±.005 | .943±.014 | .831±.039 | .661±.056 |
| MNIST | elu | post | .982±.001 | .982±.001 | .980±.001 | .973±.002 | .948±.004 | .852±.010 |
| MNIST | elu | pre | .977±.001 | .978±.002 | .978±.002 | .978±.002 | .978±.002 | .975±.002 |
| F-MNIST | tanh | direct | .896±.003 | .878±.007 | .609±.047 | .426±.019 | .248±.017 | .215±.007 |
| F-MNIST | tanh | post | .891±.002 | .874±.024 | .794±.011 | .748±.008 | .648±.019 | .485±.054 |
| F-MNIST | tanh | pre | .876±.010 | .883±.008 | .885±.004 | .886±.002 | .886±.002 | .878±.002 |
| F-MNIST | relu | direct | .898±.002 | .898±.002 | .895±.001 | .874±.003 | .730±.024 | .558±.040 |
| F-MNIST | relu | post | .896±.002 | .894±.002 | .862±.008 | .802±.018 | .657±.038 | .473±.026 |
| F-MNIST | relu | pre | .888±.005 | .892±.001 | .890±.002 | .887±.002 | .885±.003 | .881±.003 |
| F-MNIST | elu | direct | .893±.004 | .894±.004 | .715±.020 | .536±.013 | .372±.031 | .320±.026 |
| F-MNIST | elu | post | .893±.002 | .893±.002 | .868±.012 | .824±.020 | .693±.031 | .563±.053 |
| F-MNIST | elu | pre | .886±.004 | .883±.004 | .885±.002 | .888±.004 | .884±.006 | .885±.003 |
"""


def _parse_sr(text: str) -> dict:
    """{(dataset, activation, method): {percent: (mean, std)}} from the Markdown rows above
    (a method's "(n=...)", the runs behind it, is read by ``_sr_runs``)."""
    table = {}
    for line in text.strip().splitlines():
        data, act, method, *cells = [c.strip() for c in line.strip("|").split("|")]
        method = method.split()[0]
        dataset = {"MNIST": "mnist", "F-MNIST": "fashion-mnist"}[data]
        table[(dataset, act, method)] = {p: tuple(float(v) for v in c.split("±")) for p, c in zip(SR_PERCENTS, cells)}
    return table


SR_RESULTS = _parse_sr(_SR_TABLE)


def retrainable(pruned: Sequential, activation: str) -> Sequential:
    """A fresh NC-style network holding the pruned network's phi and lam, with phi trainable (SR's pre-training).

    For this study's networks only: two bias-free, dense-masked spectral layers that hold phi itself
    (not S-SVD or QR factors); anything else is refused rather than rebuilt incompletely.
    """
    chain = pruned.layers
    layers = chain[0::2]
    if (len(chain) < 3 or len(chain) % 2 == 0 or not all(isinstance(l, Spectral) for l in layers)
            or not all(isinstance(l, Activation) for l in chain[1::2])
            or any(l.bias or l.sparsity or "phi" not in l.params for l in layers)):
        raise ValueError("retrainable expects the pruning study's network: Spectral, activation, Spectral (, "
                         f"activation, Spectral ...), without bias or sparsity and holding phi; got {pruned!r}")
    copies = [Spectral(layer.n_in, layer.n_out, variant="nc", bias=False, trainable={"phi": True},
                       phi_init=to_numpy(layer.params["phi"].value), lam_in_init=to_numpy(layer.params["lam_in"].value),
                       lam_out_init=to_numpy(layer.params["lam_out"].value), dtype=layer.dtype.name,
                       backend=layer.backend)
              for layer in layers]
    rebuilt = [copies[0]]
    for layer in copies[1:]:
        rebuilt += [Activation(activation), layer]
    return Sequential(*rebuilt)


def prune_hidden(model: Sequential, keeps: list) -> Sequential | None:
    """``model`` with only the ``keeps[k]`` nodes of its k-th hidden layer (weight layers 0, 2, 4, ...),
    or None when a layer keeps no node: nothing then reaches the output."""
    if any(len(keep) == 0 for keep in keeps):
        return None
    for k, keep in enumerate(keeps):
        model = prune(model, 2 * k, keep)
    return model


def emptied_accuracy(model: Sequential, y_test) -> float:
    """Test accuracy of ``model`` once a whole hidden layer is removed: the layers after it, without
    biases, send zeros on, every logit is 0 and the prediction (the first largest logit) is class 0."""
    if any(getattr(layer, "bias", False) for layer in model.layers):
        raise ValueError("a network with biases still computes something after a layer is emptied; "
                         "this study's networks have none")
    return float((to_numpy(y_test) == 0).mean())


class PruningStudy(Study):
    """Accuracy against the percentage of hidden nodes removed: direct, post- and pre-training ranking."""

    name = "pruning"
    # 3 seeds where SR averaged 5 runs, as the other studies do: the spread between seeds is in the
    # table, and --seeds 5 trains the other two (resuming adds only the missing runs).
    FULL = {"datasets": ["mnist", "fashion-mnist"], "activations": list(ACTIVATIONS), "methods": list(METHODS),
            "seeds": 3, "hidden": 500, "epochs": 10, "retrain_epochs": 10, "percents": list(range(5, 100, 5)),
            "retrain_at": [50, 70, 80, 90, 95], "lr": 1e-3, "batch_size": 200, "train_size": None,
            "test_size": None}
    QUICK = {**FULL, "seeds": 1, "epochs": 2, "retrain_epochs": 2, "retrain_at": [50, 90], "train_size": 4000,
             "test_size": 1000}
    OPTIONS = (
        DATASETS_OPTION,
        Option("activations", "--activations", csv_of(ACTIVATIONS), "comma-separated (default: tanh,relu,elu)"),
        Option("methods", "--methods", csv_of(METHODS), "comma-separated subset of direct,post,pre (default: all)"),
        Option("seeds", "--seeds", positive_int, "number of seeds, numbered 0, 1, ... (default: 3; quick: 1)"),
        Option("epochs", "--epochs", positive_int, "epochs of the first training (default: 10; SR: 100; quick: 2)"),
        Option("retrain_epochs", "--retrain-epochs", positive_int,
               "epochs of the pre-training method's retraining (default: 10; SR: 20; quick: 2)"),
        Option("retrain_at", "--retrain-at", csv_ints(5, 95, step=5),  # the percentages the study prunes to
               "percentages at which pre-training retrains, multiples of 5 (default: 50,70,80,90,95; quick: 50,90)"),
    )
    GRID_KEYS = ("datasets", "activations", "methods", "seeds")
    RECORD_KEYS = ("method", "pruning")
    # What the SR rows of the table and the figure's open squares hold.
    SR_RESULTS = SR_RESULTS
    SR_RUNS: dict = {}  # runs behind an SR row when not 5
    SR_NOTE = "the authors' committed results (5 runs, 100 epochs, paper.md §8; that file's hidden width may be 2000)"

    def runs(self) -> list[dict]:
        s = self.settings
        return [{"run_id": f"{d}/{a}/{m}/seed={seed}", "dataset": d, "activation": a, "method": m, "seed": seed}
                for d in s["datasets"] for seed in self.seeds() for a in s["activations"] for m in s["methods"]]

    def _config(self, spec: dict) -> RunConfig:
        s = self.settings
        model, layer_kw = MODELS[spec["method"]]
        return RunConfig(model=model, dataset=spec["dataset"], hidden=tuple(self.widths()), activation=spec["activation"],
                         epochs=s["epochs"], batch_size=s["batch_size"], optimizer="adam", lr=s["lr"],
                         seed=spec["seed"], layer_kw={"bias": False, **layer_kw},
                         phi_init=None if model == "dense" else "papers")  # SR's phi ~ U(±0.2), whatever the default

    def widths(self) -> list[int]:
        """The hidden widths: ``hidden`` is one width (the one-layer study) or a list of them."""
        hidden = self.settings["hidden"]
        return [hidden] if isinstance(hidden, int) else list(hidden)

    def train(self, spec: dict) -> dict:
        s, data = self.settings, self.data(spec["dataset"])
        record, model = run(self._config(spec), data, progress=False)
        # one global threshold over every hidden node (SR's multilayer pruning; one layer: the usual one)
        scores = [node_scores(model, 2 * k) for k in range(len(self.widths()))]
        rows = []
        for percent in s["percents"]:
            keeps = keep_globally(scores, percent / 100)
            small = prune_hidden(model, keeps)
            row = {"removed": percent, "nodes": int(sum(len(k) for k in keeps))}
            if len(keeps) > 1:
                row["nodes_per_layer"] = [int(len(k)) for k in keeps]
            if small is None:  # a layer lost every node: nothing left to evaluate or retrain
                row.update(parameters=0, test_accuracy=emptied_accuracy(model, data.y_test), emptied=True)
            else:
                row.update(parameters=small.num_parameters(), test_accuracy=evaluate(small, data.x_test, data.y_test)[1])
            if spec["method"] == "pre":
                row["test_accuracy_before_retrain"] = row["test_accuracy"]
                row["test_accuracy"] = row["test_accuracy"] if small is None and percent in s["retrain_at"] else None
                if small is not None and percent in s["retrain_at"]:
                    net = retrainable(small, spec["activation"])
                    history = fit(net, data.x_train, data.y_train, epochs=s["retrain_epochs"],
                                  batch_size=s["batch_size"], optimizer="adam", lr=s["lr"], seed=spec["seed"],
                                  progress=False)
                    row.update(test_accuracy=evaluate(net, data.x_test, data.y_test)[1],
                               parameters=net.num_parameters(), retrain_epoch_seconds=history.epoch_seconds,
                               retrain_history=history.epochs)
            rows.append(row)
        return {"study": self.name, "run_id": spec["run_id"], **record, "method": spec["method"], "pruning": rows}

    def cost(self, spec: dict, step_seconds) -> tuple[float, float]:
        s, data, cfg = self.settings, self.data(spec["dataset"]), self._config(spec)
        steps = math.ceil(len(data.y_train) / s["batch_size"])
        sizes = lambda fraction: (data.n_features, *(w - math.floor(fraction * w + 1e-9) for w in self.widths()),  # noqa: E731
                                  data.n_classes)
        total = s["epochs"] * steps * step_seconds(sizes(0.0), cfg.model, activation=spec["activation"],
                                                   layer_kw=cfg.layer_kw, optimizer="adam")
        if spec["method"] == "pre":
            for percent in s["retrain_at"]:  # as if each layer lost its share (the global threshold decides)
                total += s["retrain_epochs"] * steps * step_seconds(
                    sizes(percent / 100), "nc", activation=spec["activation"],
                    layer_kw={"bias": False, "trainable": {"phi": True}}, optimizer="adam")
        return total, total  # fixed epochs: no early stopping

    def describe(self, record: dict) -> str:
        last = record["pruning"][-1]
        acc = last["test_accuracy"] if last["test_accuracy"] is not None else last["test_accuracy_before_retrain"]
        return f"{super().describe(record)}; {last['removed']} % of nodes removed: {acc:.4f}"

    # --- report ------------------------------------------------------------------------------
    @staticmethod
    def curves(records: list[dict]) -> dict:
        """{(dataset, activation, curve): {percent: [accuracies]}}; curve is a method or "pre-raw".

        Percent 0 is the unpruned network (for "pre", the lam-only network before pruning).
        """
        curves: dict = {}
        for r in records:
            keys = [r["method"]] + (["pre-raw"] if r["method"] == "pre" else [])
            for curve in keys:
                points = curves.setdefault((r["dataset"], r["activation"], curve), {})
                if curve != "pre":
                    points.setdefault(0, []).append(r["test_accuracy"])
                for row in r["pruning"]:
                    acc = row["test_accuracy_before_retrain"] if curve == "pre-raw" else row["test_accuracy"]
                    if acc is not None:
                        points.setdefault(row["removed"], []).append(acc)
        return curves

    def report(self, records: list[dict], out_dir: Path, missing: list[dict]) -> list[Path]:
        curves = self.curves(records)
        datasets = list(dict.fromkeys(r["dataset"] for r in records))
        activations = [a for a in ACTIVATIONS if any(r["activation"] == a for r in records)]
        table = out_dir / "table.md"
        write_text(table, self.markdown(records, curves, datasets, activations, missing))
        return [table, self.figure(curves, datasets, activations, out_dir / f"{self.name}.png")]

    def markdown(self, records, curves, datasets, activations, missing) -> str:
        s = self.settings
        # the SR columns, and every percentage the pre-training method retrained at (else its row is empty)
        percents = sorted({0, *(p for p in [*SR_PERCENTS, *s["retrain_at"]] if p in s["percents"])})
        widths = self.widths()
        nodes = (f"the {widths[0]} hidden nodes" if len(widths) == 1 else
                 f"the {sum(widths)} hidden nodes of the {len(widths)} hidden layers, one threshold over all of them "
                 "(a layer may lose more than its share)")
        lines = [f"# Spectral pruning: {network_label(datasets, widths)}, hidden nodes removed (Sci. Rep. 2022)", "",
                 f"First training: {s['epochs']} epochs of Adam (lr {s['lr']}, batch {s['batch_size']}), no bias "
                 f"(SR: 100 epochs). pre-training retrains the pruned network for {s['retrain_epochs']} epochs at "
                 f"{', '.join(map(str, s['retrain_at']))} % removed. Test accuracy after removing the given "
                 f"percentage of {nodes}, mean ± sample std over seeds; 0 % = the unpruned network. "
                 f"**SR** rows: {self.SR_NOTE}."
                 + (" **Quick mode: subsets of the data and few epochs; not the paper's numbers.**"
                    if s["quick"] else ""), ""]
        header = "| method | runs | " + " | ".join(f"{p} %" for p in percents) + " |"
        rule = "|---|---|" + "---|" * len(percents)
        for d in datasets:
            for a in activations:
                lines += [f"## {d}, {a}", "", header, rule]
                for method in METHODS + ("pre-raw",):
                    points = curves.get((d, a, method))
                    if points:
                        n = max(len(v) for v in points.values())
                        cells = [fmt_acc(*mean_std(points[p]), len(points[p])) if p in points else "–"
                                 for p in percents]
                        label = LABELS[method].replace("|", "\\|")  # a bare | would end the table cell
                        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
                    sr = self.SR_RESULTS.get((d, a, method))
                    if sr:
                        lines.append(f"| SR {method} | {self.SR_RUNS.get((d, a, method), 5)} | – | " + " | ".join(
                            f"{sr[p][0]:.3f} ± {sr[p][1]:.3f}" if p in sr else "–" for p in percents[1:]) + " |")
                lines.append("")
        emptied = sorted({(r["dataset"], r["activation"], r["method"], row["removed"])
                          for r in records for row in r["pruning"] if row.get("emptied")})
        if emptied:
            lines += ["**A hidden layer lost every node** (the global threshold took all of it; nothing reaches the "
                      "output, every prediction is class 0, and pre-training has nothing to retrain) in: "
                      + "; ".join(f"{d} {a} {m} at {p} %" for d, a, m, p in emptied) + ".", ""]
        lines += [missing_note(missing, ("dataset", "activation", "method")), ""]
        return "\n".join(lines)

    def figure(self, curves, datasets, activations, path: Path) -> Path:
        plt = pyplot()
        fig, axes = plt.subplots(len(datasets), len(activations), figsize=(4.2 * len(activations),
                                 3.6 * len(datasets)), squeeze=False, sharex=True)
        for i, d in enumerate(datasets):
            for j, a in enumerate(activations):
                ax = axes[i, j]
                for method in METHODS + ("pre-raw",):
                    points = curves.get((d, a, method))
                    if points:
                        xs = sorted(p for p in points if p > 0)
                        stats = [mean_std(points[p]) for p in xs]
                        style = dict(ls=":", marker=None, alpha=0.7) if method == "pre-raw" else dict(marker="o", ms=3)
                        ax.plot(xs, [m for m, _ in stats], color=COLORS[method], label=f"ours: {LABELS[method]}",
                                **style)
                        if method != "pre-raw":
                            ax.fill_between(xs, [m - sd for m, sd in stats], [m + sd for m, sd in stats],
                                            color=COLORS[method], alpha=0.2, lw=0)
                    sr = self.SR_RESULTS.get((d, a, method))
                    if sr:
                        ax.errorbar(list(sr), [v[0] for v in sr.values()], yerr=[v[1] for v in sr.values()],
                                    color=COLORS[method], marker="s", mfc="none", ls="none", capsize=2,
                                    label=f"SR: {method}")
                ax.set_title(f"{d}, {a}", fontsize=10)
                ax.grid(True, alpha=0.3)
                if i == len(datasets) - 1:
                    ax.set_xlabel("% of hidden nodes removed")
                if j == 0:
                    ax.set_ylabel("test accuracy")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        return save_figure(fig, path)


# SR's committed three-hidden-layer results (paper.md §8, the excerpt of the authors' result files):
# mean ± std over 5 runs (fewer where "n=" says), 100 epochs, 3 × 500 hidden nodes.
_SR_TABLE_3 = """
| MNIST | relu | direct | .986±.001 | .984±.001 | .977±.001 | .951±.011 | .587±.094 | .278±.119 |
| MNIST | relu | post | .986±.000 | .978±.002 | .914±.023 | .775±.066 | .384±.127 | .294±.051 |
| MNIST | relu | pre | .978±.001 | .975±.001 | .974±.002 | .972±.004 | .968±.001 | .959±.004 |
| MNIST | tanh | direct | .984±.001 | .825±.049 | .630±.045 | .463±.058 | .317±.027 | .199±.036 |
| MNIST | tanh | post | .984±.000 | .959±.004 | .772±.062 | .590±.067 | .389±.076 | .220±.039 |
| MNIST | tanh | pre (n=2) | .977±.000 | .974±.001 | .971±.000 | .961±.001 | .727±.000 | .501±.026 |
| F-MNIST | tanh | direct | .880±.006 | .412±.030 | .207±.040 | .106±.012 | .100±.000 | .100±.000 |
| F-MNIST | tanh | post | .902±.001 | .845±.009 | .635±.017 | .515±.041 | .338±.018 | .231±.060 |
| F-MNIST | tanh | pre (n=4) | .888±.004 | .885±.005 | .884±.001 | .871±.004 | .841±.008 | .695±.087 |
| F-MNIST | relu | pre | .887±.002 | .883±.007 | .883±.001 | .882±.002 | .877±.003 | .867±.002 |
| F-MNIST | elu | pre | .883±.006 | .888±.003 | .885±.004 | .886±.004 | .878±.001 | .863±.003 |
"""


def _sr_runs(text: str) -> dict:
    """{(dataset, activation, method): runs} for the rows whose method says "(n=...)"."""
    runs = {}
    for line in text.strip().splitlines():
        data, act, method = [c.strip() for c in line.strip("|").split("|")][:3]
        if "(n=" in method:
            dataset = {"MNIST": "mnist", "F-MNIST": "fashion-mnist"}[data]
            runs[(dataset, act, method.split()[0])] = int(method.split("n=")[1].rstrip(")"))
    return runs


SR_RESULTS_3 = _parse_sr(_SR_TABLE_3)
SR_RUNS_3 = _sr_runs(_SR_TABLE_3)


class DeepPruningStudy(PruningStudy):
    """The pruning study on three hidden layers of 500, one global threshold over their 1,500 nodes."""

    name = "pruning3"
    FULL = {**PruningStudy.FULL, "hidden": [500, 500, 500]}
    QUICK = {**PruningStudy.QUICK, "hidden": [500, 500, 500]}
    SR_RESULTS = SR_RESULTS_3
    SR_RUNS = SR_RUNS_3
    SR_NOTE = ("the authors' committed three-hidden-layer results (3 × 500, 5 runs unless the runs column says "
               "fewer, 100 epochs; paper.md §8 gives only these rows)")

    def runs(self) -> list[dict]:
        # Seed-major: a study cut short still has every panel, with fewer seeds.
        s = self.settings
        return [{"run_id": f"{d}/{a}/{m}/seed={seed}", "dataset": d, "activation": a, "method": m, "seed": seed}
                for seed in self.seeds() for d in s["datasets"] for a in s["activations"] for m in s["methods"]]
