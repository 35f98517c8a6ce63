"""Parameter reduction (Phys. Rev. E 2021; paper.md §4, §5, §7).

784 → N2 → 10, ReLU hidden, softmax output, biases everywhere, N2 ∈ {50, 100, 150, 200, 300},
trained with Adamax at the authors' learning rates, batch 200, early stopping on a 20 %
validation split (patience 8, min_delta 0.005, as in the authors' code), 3 seeds.

One hidden layer: the authors' ρ formula assumes one (their notebook says two; paper.md §7).
QR keeps R lower-triangular, the paper's parameter count; ``--full-r`` trains the full m×m R
as the authors' code does (paper.md §5).  The epochs are capped at 50 (the authors: 90);
with min_delta 0.005 almost every run stops long before.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..atomic import write_text
from ..experiment import RunConfig, run
from ..train import improves
from ..nn import MODELS
from .common import DATASETS_OPTION, FULL_R_OPTION, Option, Study, csv_ints, csv_of, fmt_acc, mean_std, missing_note, network_label, positive_int, pyplot, save_figure

# Adamax learning rates (paper.md §7).  "dense" and "qr" depend on the dataset in the authors'
# notebook; "nc" and "full" come from the NC code comment (eigenvalues only: 0.03, with the
# eigenvectors: 0.01).  digits, which the papers do not use, takes the MNIST rates.
LEARNING_RATES = {
    "mnist": {"dense": 0.015, "nc": 0.03, "spectral": 0.015, "ssvd": 0.015, "qr": 0.005, "full": 0.01},
    "fashion-mnist": {"dense": 0.001, "nc": 0.03, "spectral": 0.015, "ssvd": 0.015, "qr": 0.001, "full": 0.01},
}
# CIFAR-10: dense and QR from the authors' notebook (0.002, 0.003); the others take the config's rates, which
# the notebook does not change for CIFAR-10 (paper.md §7).
LEARNING_RATES["cifar10"] = {**LEARNING_RATES["mnist"], "dense": 0.002, "qr": 0.003}
LEARNING_RATES["digits"] = LEARNING_RATES["mnist"]

LABELS = {"dense": "Dense", "nc": "NC (λ_out)", "spectral": "Spectral (λ_in, λ_out)", "ssvd": "S-SVD",
          "qr": "QR", "full": "Full (φ, λ_in, λ_out)"}
COLORS = {"dense": "black", "nc": "tab:gray", "spectral": "tab:blue", "ssvd": "tab:orange", "qr": "tab:green",
          "full": "tab:purple"}


def dense_parameters(n_in: int, width: int, n_out: int) -> int:
    """Parameters of the dense n_in → width → n_out network with biases (the denominator of ρ)."""
    return n_in * width + width + width * n_out + n_out


class ParamsStudy(Study):
    """Accuracy and trainable parameters against the hidden width N2, for every variant."""

    name = "params"
    FULL = {"datasets": ["mnist", "fashion-mnist"], "widths": [50, 100, 150, 200, 300], "models": list(MODELS),
            "seeds": 3, "max_epochs": 50, "patience": 8, "min_delta": 0.005, "val_split": 0.2,
            "batch_size": 200, "triangular": True, "train_size": None, "test_size": None}
    # 4,000 training images (800 of them for validation), 1,000 test images, 2 epochs.
    QUICK = {**FULL, "widths": [50, 100], "seeds": 2, "max_epochs": 2, "train_size": 4000, "test_size": 1000}
    OPTIONS = (
        DATASETS_OPTION,
        Option("widths", "--widths", csv_ints(1, 100000), "hidden widths N2 (default: 50,100,150,200,300)"),
        Option("models", "--models", csv_of(MODELS), f"comma-separated subset of {','.join(MODELS)} (default: all)"),
        Option("seeds", "--seeds", positive_int, "number of seeds, numbered 0, 1, ... (default: 3; quick: 2)"),
        Option("max_epochs", "--max-epochs", positive_int, "epoch cap (default: 50; quick: 2)"),
        FULL_R_OPTION,
    )
    GRID_KEYS = ("datasets", "widths", "models", "seeds")
    RECORD_KEYS = ("width", "dense_parameters", "rho")
    EPOCH_GROUP = ("dataset", "model")

    def runs(self) -> list[dict]:
        s = self.settings
        # Seed-major inside each dataset: a study cut short still has every point, with fewer seeds.
        return [{"run_id": f"{d}/{m}/N2={w}/seed={seed}", "dataset": d, "model": m, "width": w, "seed": seed}
                for d in s["datasets"] for seed in self.seeds() for w in s["widths"] for m in s["models"]]

    def _config(self, spec: dict) -> RunConfig:
        s = self.settings
        return RunConfig(model=spec["model"], dataset=spec["dataset"], hidden=(spec["width"],), activation="relu",
                         epochs=s["max_epochs"], batch_size=s["batch_size"], optimizer="adamax",
                         lr=LEARNING_RATES[spec["dataset"]][spec["model"]], seed=spec["seed"],
                         val_split=s["val_split"], early_stopping=s["patience"], min_delta=s["min_delta"],
                         layer_kw={"triangular": s["triangular"]} if spec["model"] == "qr" else {},
                         phi_init=None if spec["model"] == "dense" else "papers")  # the papers' recipe, whatever the default

    def train(self, spec: dict) -> dict:
        data = self.data(spec["dataset"])
        record, _ = run(self._config(spec), data, progress=False)
        dense = dense_parameters(data.n_features, spec["width"], data.n_classes)
        return {"study": self.name, "run_id": spec["run_id"], **record, "width": spec["width"],
                "dense_parameters": dense, "rho": record["trainable_parameters"] / dense}

    def cost(self, spec: dict, step_seconds) -> tuple[float, float]:
        s, data = self.settings, self.data(spec["dataset"])
        layer_kw = self._config(spec).layer_kw
        step = step_seconds((data.n_features, spec["width"], data.n_classes), spec["model"], layer_kw=layer_kw,
                            batch_size=s["batch_size"])
        # +10 % for the validation pass after each epoch.
        epoch = 1.1 * step * math.ceil(len(data.y_train) / s["batch_size"])
        # Before any run of this model has finished: a few gains above min_delta, then the patience.
        typical = self.typical_epochs(spec, min(s["max_epochs"], s["patience"] + 5))
        return epoch * typical, epoch * s["max_epochs"]

    def describe(self, record: dict) -> str:
        return f"{super().describe(record)}, ρ = {record['rho']:.4f}"

    # --- report ------------------------------------------------------------------------------
    def summarise(self, records: list[dict]) -> dict:
        """{(dataset, model, width): {"acc": [...], "params": n, "rho": ρ, "epochs": [...]}}."""
        cells: dict = {}
        for r in records:
            cell = cells.setdefault((r["dataset"], r["model"], r["width"]),
                                    {"acc": [], "params": r["trainable_parameters"], "rho": r["rho"],
                                     "dense": r["dense_parameters"], "epochs": [], "capped": 0})
            cell["acc"].append(r["test_accuracy"])
            cell["epochs"].append(r["epochs_run"])
            cell["capped"] += self.cut_by_cap(r)
        return cells

    def report(self, records: list[dict], out_dir: Path, missing: list[dict]) -> list[Path]:
        cells = self.summarise(records)
        datasets = [d for d in dict.fromkeys(r["dataset"] for r in records)]
        models = [m for m in MODELS if any(k[1] == m for k in cells)]
        widths = sorted({k[2] for k in cells})
        table = out_dir / "table.md"
        write_text(table, self.markdown(cells, datasets, models, widths, missing))
        return [table, self.figure(cells, datasets, models, widths, out_dir / "params.png")]

    def cut_by_cap(self, record: dict) -> bool:
        """Whether the epoch cap, not early stopping, ended this run: replayed from its validation
        accuracies, since patience may run out at the last epoch too (and ``stopped_early`` says so
        only in records made before 2026-12-01)."""
        s = self.settings
        if record["epochs_run"] < s["max_epochs"]:
            return False
        best, waited = -math.inf, 0
        for epoch in record["history"]:
            if improves(epoch["val_accuracy"], best, s["min_delta"]):  # fit's own test
                best, waited = epoch["val_accuracy"], 0
            else:
                waited += 1
        return waited < s["patience"]

    def relative(self, cells, dataset, model, width):
        """(mean, std) of acc(model) / mean acc(dense) at one point, or None without both."""
        cell, dense = cells.get((dataset, model, width)), cells.get((dataset, "dense", width))
        if cell is None or dense is None:
            return None
        base = mean_std(dense["acc"])[0]
        if base == 0:  # dense got nothing right (a tiny test set): no ratio to give
            return None
        mean, std = mean_std(cell["acc"])
        return mean / base, std / base

    def markdown(self, cells, datasets, models, widths, missing) -> str:
        s = self.settings
        qr = "full R (the authors' code)" if not s["triangular"] else "lower-triangular R (the paper's count)"
        lines = [f"# Parameter reduction: {network_label(datasets, ['N2'])} (Phys. Rev. E 2021)", "",
                 f"Adamax at the authors' learning rates, batch {s['batch_size']}, ReLU, biases; early stopping on "
                 f"a {s['val_split']:.0%} validation split (patience {s['patience']}, min_delta {s['min_delta']}), "
                 f"at most {s['max_epochs']} epochs; QR with {qr}."
                 + (" **Quick mode: subsets of the data and few epochs; not the paper's numbers.**"
                    if s["quick"] else ""),
                 "Accuracy relative to dense = mean acc(model) / mean acc(dense) at the same N2, ± std(model) / "
                 "mean acc(dense) (sample std over seeds). ρ = trainable parameters / dense parameters "
                 "(biases counted for every model).", ""]
        # Runs cut by the epoch cap, not by early stopping: their accuracy may still have been rising.
        capped = {k: c["capped"] for k, c in cells.items() if c["capped"]}
        if capped:
            runs = sum(len(c["epochs"]) for c in cells.values())
            where = ", ".join(f"{d} {LABELS[m]} N2={w} ({n})" for (d, m, w), n in sorted(capped.items()))
            lines += [f"{sum(capped.values())} of {runs} runs reached the {s['max_epochs']}-epoch cap before early "
                      f"stopping ended them, so their accuracy may still have been rising: {where}.", ""]
        header = "| model | " + " | ".join(f"N2={w}" for w in widths) + " | mean |"
        rule = "|---|" + "---|" * (len(widths) + 1)
        for d in datasets:
            lines += [f"## {d}: accuracy relative to dense", "", header, rule]
            for m in models:
                rel = [self.relative(cells, d, m, w) for w in widths]
                known = [r[0] for r in rel if r is not None]
                row = [f"{r[0]:.3f} ± {r[1]:.3f}" if r else "–" for r in rel]
                mean = f"{sum(known) / len(known):.3f}" if known else "–"
                lines.append(f"| {LABELS[m]} | " + " | ".join(row) + f" | {mean} |")
            lines.append("")
        # The counts depend only on the input width: one table for each width, named by its first dataset.
        by_inputs = {}
        for d in datasets:
            by_inputs.setdefault(network_label([d], []), d)
        for first in by_inputs.values():
            lines += [f"## ρ = trainable parameters / dense parameters ({first})", "",
                      "| model | " + " | ".join(f"N2={w}" for w in widths) + " |", "|---|" + "---|" * len(widths)]
            for m in models:
                rho = [cells[(first, m, w)]["rho"] if (first, m, w) in cells else None for w in widths]
                lines.append(f"| {LABELS[m]} | " + " | ".join("–" if r is None else f"{r:.4f}" for r in rho) + " |")
            dense = [next((c["dense"] for k, c in cells.items() if k[0] == first and k[2] == w), None) for w in widths]
            lines.append("| dense parameters | " + " | ".join("–" if n is None else f"{n:,}" for n in dense) + " |")
            lines.append("")
        lines.pop()
        lines += ["", "## Every point", "",
                  "| dataset | N2 | model | runs | test accuracy | rel. to dense | trainable params | ρ | epochs |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for d in datasets:
            for w in widths:
                for m in models:
                    cell = cells.get((d, m, w))
                    if cell is None:
                        continue
                    rel = self.relative(cells, d, m, w)
                    lines.append(f"| {d} | {w} | {m} | {len(cell['acc'])} | {fmt_acc(*mean_std(cell['acc']), len(cell['acc']))}"
                                 f" | {'–' if rel is None else f'{rel[0]:.4f}'} | {cell['params']:,} | {cell['rho']:.4f}"
                                 f" | {sum(cell['epochs']) / len(cell['epochs']):.1f} |")
        lines += ["", missing_note(missing, ("dataset", "model", "width")), ""]
        return "\n".join(lines)

    def figure(self, cells, datasets, models, widths, path: Path) -> Path:
        plt = pyplot()
        fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 7), squeeze=False, sharex=True)
        for col, d in enumerate(datasets):
            top, bottom = axes[0, col], axes[1, col]
            for m in models:
                points = [(w, self.relative(cells, d, m, w)) for w in widths]
                points = [(w, r) for w, r in points if r is not None]
                if points and m != "dense":
                    top.errorbar([w for w, _ in points], [r[0] for _, r in points], yerr=[r[1] for _, r in points],
                                 marker="o", ms=4, capsize=3, color=COLORS[m], label=LABELS[m])
                rho = [(w, cells[(d, m, w)]["rho"]) for w in widths if (d, m, w) in cells]
                if rho and m != "dense":
                    bottom.plot([w for w, _ in rho], [r for _, r in rho], marker="o", ms=4, color=COLORS[m],
                                label=LABELS[m])
            top.axhline(1.0, color="black", ls="--", lw=1)
            if not top.get_legend_handles_labels()[0]:  # e.g. --models nc: nothing to be relative to
                top.text(0.5, 0.5, "no dense runs to compare with", transform=top.transAxes, ha="center")
            top.set_title(f"{d}: accuracy relative to dense")
            top.set_ylabel("acc / acc(dense)")
            bottom.set_title(f"{d}: ρ = params / dense params")
            bottom.set_ylabel("ρ")
            bottom.set_yscale("log")
            for ax in (top, bottom):
                ax.set_xscale("log")
                ax.set_xticks(widths, [str(w) for w in widths])
                ax.minorticks_off()
                ax.grid(True, alpha=0.3)
            bottom.set_xlabel("hidden width N2")
        legend_axes = next((ax for ax in axes.flat if ax.get_legend_handles_labels()[0]), None)
        if legend_axes is not None:  # every model but dense has a curve in one panel or another
            legend_axes.legend(fontsize=8)
        fig.tight_layout()
        return save_figure(fig, path)
