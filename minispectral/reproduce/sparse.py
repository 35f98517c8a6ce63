"""Sparse networks by dynamic magnitude pruning (Phys. Rev. E 2021; paper.md §6).

784 → 500 → 500 → 10, tanh hidden, softmax output.  At every forward pass each layer (the
output layer too) zeroes the fraction p of its direct-space weights with the smallest |W|;
the masked entries get no gradient.  Two models under the same rule, as in the authors' code:

* dense: W trained directly, no bias;
* spectral: QR (phi = R Q, Q frozen), lam_in = 1 and lam_out = 0 at the start, with bias.
  A masked weight still moves here, because the eigenvalues and R it depends on are shared.

Adam (MNIST 5e-3, Fashion-MNIST 1e-3, both models), batch 200, early stopping on a 30 %
validation split (patience 5, min_delta 0.005), 3 seeds.  The epochs are capped at 10 (the
authors: 90) to fit the budget: the spectral model's phi = R Q costs a 500×500 by 500×784
product per step.  Patience 5 makes every run last at least 6 epochs.  R is lower-triangular
(``--full-r`` for the full R of the authors' code).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..atomic import write_text
from ..experiment import RunConfig, run
from .common import DATASETS_OPTION, FULL_R_OPTION, Option, Study, csv_ints, csv_of, fmt_acc, mean_std, missing_note, network_label, positive_int, pyplot, save_figure

# Adam, per dataset; CIFAR-10 per model too (paper.md §6).
LEARNING_RATES = {"mnist": 5e-3, "fashion-mnist": 1e-3, "digits": 5e-3, "cifar10": {"dense": 1e-4, "spectral": 3e-3}}
METHODS = ("dense", "spectral")
LABELS = {"dense": "Dense (no bias)", "spectral": "Spectral QR (bias)"}
COLORS = {"dense": "tab:orange", "spectral": "tab:blue"}


def learning_rate(dataset: str, method: str) -> float:
    rate = LEARNING_RATES[dataset]
    return rate[method] if isinstance(rate, dict) else rate


class SparseStudy(Study):
    """Test accuracy against the fraction of zeroed weights, dense against spectral (QR)."""

    name = "sparse"
    FULL = {"datasets": ["mnist", "fashion-mnist"], "sparsities": [50, 70, 80, 85, 90, 95, 98],
            "methods": list(METHODS), "seeds": 3, "hidden": [500, 500], "max_epochs": 10, "patience": 5,
            "min_delta": 0.005, "val_split": 0.3, "batch_size": 200, "triangular": True,
            "train_size": None, "test_size": None}
    QUICK = {**FULL, "sparsities": [50, 90, 98], "seeds": 1, "max_epochs": 2, "train_size": 2000,
             "test_size": 1000}
    OPTIONS = (
        DATASETS_OPTION,
        Option("sparsities", "--sparsities", csv_ints(0, 99),
               "percentages of zeroed weights (default: 50,70,80,85,90,95,98; quick: 50,90,98)"),
        Option("methods", "--methods", csv_of(METHODS), "dense,spectral (default: both)"),
        Option("seeds", "--seeds", positive_int, "number of seeds, numbered 0, 1, ... (default: 3; quick: 1)"),
        Option("max_epochs", "--max-epochs", positive_int, "epoch cap (default: 10; quick: 2)"),
        FULL_R_OPTION,
    )
    GRID_KEYS = ("datasets", "sparsities", "methods", "seeds")
    RECORD_KEYS = ("method", "sparsity")
    EPOCH_GROUP = ("dataset", "method")

    def runs(self) -> list[dict]:
        s = self.settings
        return [{"run_id": f"{d}/{m}/sparsity={p}/seed={seed}", "dataset": d, "method": m, "sparsity": p,
                 "seed": seed}
                for d in s["datasets"] for seed in self.seeds() for p in s["sparsities"] for m in s["methods"]]

    def _config(self, spec: dict) -> RunConfig:
        s = self.settings
        if spec["method"] == "dense":
            model, layer_kw = "dense", {"bias": False, "sparsity": spec["sparsity"] / 100}
        else:
            model, layer_kw = "qr", {"bias": True, "sparsity": spec["sparsity"] / 100, "lam_in_init": 1.0,
                                     "lam_out_init": 0.0, "triangular": s["triangular"]}
        return RunConfig(model=model, dataset=spec["dataset"], hidden=tuple(s["hidden"]), activation="tanh",
                         epochs=s["max_epochs"], batch_size=s["batch_size"], optimizer="adam",
                         lr=learning_rate(spec["dataset"], spec["method"]), seed=spec["seed"], val_split=s["val_split"],
                         early_stopping=s["patience"], min_delta=s["min_delta"], layer_kw=layer_kw,
                         phi_init=None if model == "dense" else "papers")  # the papers' recipe, whatever the default

    def train(self, spec: dict) -> dict:
        record, _ = run(self._config(spec), self.data(spec["dataset"]), progress=False)
        return {"study": self.name, "run_id": spec["run_id"], **record, "method": spec["method"],
                "sparsity": spec["sparsity"]}

    def cost(self, spec: dict, step_seconds) -> tuple[float, float]:
        s, data, cfg = self.settings, self.data(spec["dataset"]), self._config(spec)
        step = step_seconds((data.n_features, *s["hidden"], data.n_classes), cfg.model, activation="tanh",
                            layer_kw=cfg.layer_kw, batch_size=s["batch_size"], optimizer="adam")
        epoch = 1.15 * step * math.ceil(len(data.y_train) / s["batch_size"])
        typical = self.typical_epochs(spec, min(s["max_epochs"], s["patience"] + 4))
        return epoch * typical, epoch * s["max_epochs"]

    # --- report ------------------------------------------------------------------------------
    def report(self, records: list[dict], out_dir: Path, missing: list[dict]) -> list[Path]:
        cells: dict = {}
        for r in records:
            cells.setdefault((r["dataset"], r["method"], r["sparsity"]), []).append(r)
        datasets = list(dict.fromkeys(r["dataset"] for r in records))
        methods = [m for m in METHODS if any(k[1] == m for k in cells)]
        sparsities = sorted({k[2] for k in cells})
        table = out_dir / "table.md"
        write_text(table, self.markdown(cells, datasets, methods, sparsities, missing))
        return [table, self.figure(cells, datasets, methods, sparsities, out_dir / "sparse.png")]

    def markdown(self, cells, datasets, methods, sparsities, missing) -> str:
        s = self.settings
        r_kind = "lower-triangular" if s["triangular"] else "full"
        lines = [f"# Sparse networks: dynamic magnitude pruning, {network_label(datasets, s['hidden'])} tanh (Phys. Rev. E 2021)", "",
                 f"Each layer zeroes the given percentage of its smallest |W| at every forward pass. Adam, batch "
                 f"{s['batch_size']}, early stopping on a {s['val_split']:.0%} validation split (patience "
                 f"{s['patience']}, min_delta {s['min_delta']}), at most {s['max_epochs']} epochs. Spectral = QR "
                 f"({r_kind} R), lam_in = 1, lam_out = 0 at the start, with bias; dense without bias. "
                 "Test accuracy, mean ± sample std over seeds."
                 + (" **Quick mode: subsets of the data and few epochs; not the paper's numbers.**"
                    if s["quick"] else ""), ""]
        columns = [(d, m) for d in datasets for m in methods]
        lines += ["| sparsity | " + " | ".join(f"{d} {m}" for d, m in columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for p in sparsities:
            row = []
            for d, m in columns:
                rs = cells.get((d, m, p), [])
                accs = [r["test_accuracy"] for r in rs]
                epochs = sum(len(r["epoch_seconds"]) for r in rs) / max(1, len(rs))
                row.append(f"{fmt_acc(*mean_std(accs), len(accs))} ({len(accs)} runs, {epochs:.0f} ep.)"
                           if accs else "–")
            lines.append(f"| {p} % | " + " | ".join(row) + " |")
        lines += ["", "Trainable parameters (the same at every sparsity; the mask decides which weights are used): "
                  + ", ".join(f"{m} {next(r['trainable_parameters'] for k, rs in cells.items() if k[1] == m for r in rs):,}"
                              for m in methods) + ". \"ep.\" = mean epochs run.", "",
                  missing_note(missing, ("dataset", "method", "sparsity")), ""]
        return "\n".join(lines)

    def figure(self, cells, datasets, methods, sparsities, path: Path) -> Path:
        plt = pyplot()
        fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
        for ax, d in zip(axes[0], datasets):
            for m in methods:
                points = [(p, [r["test_accuracy"] for r in cells[(d, m, p)]]) for p in sparsities if (d, m, p) in cells]
                if not points:
                    continue
                xs = [p for p, _ in points]
                stats = [mean_std(a) for _, a in points]
                means = [mu for mu, _ in stats]
                ax.plot(xs, means, marker="o", ms=4, color=COLORS[m], label=LABELS[m])
                ax.fill_between(xs, [mu - sd for mu, sd in stats], [mu + sd for mu, sd in stats], color=COLORS[m],
                                alpha=0.2, lw=0)
                for p, accs in points:  # every seed, so that the spread is visible even with 3 runs
                    ax.scatter([p] * len(accs), accs, s=8, color=COLORS[m], alpha=0.6)
            ax.set_title(f"{d}: {network_label([d], self.settings['hidden']).replace(' ', '')} tanh")
            ax.set_xlabel("sparsity (% of weights zeroed in every layer)")
            ax.set_ylabel("test accuracy")
            ax.grid(True, alpha=0.3)
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        return save_figure(fig, path)
