"""phi's initialisation: the papers' recipes against Glorot-uniform (paper.md §4, §5, §7, §10).

phi is frozen in the "nc", "spectral", "ssvd" (U and V) and "qr" (Q) variants, so where it
starts is where it stays.  The papers' code draws it small (NC: U(±0.2); PRE: U diag(s) V with
N(0, 0.04²) factors, or a N(0, 0.036²) block for QR); the authors' later layers draw it
Glorot-uniform (paper.md §10).  This study trains every frozen-phi variant from both, with the
params study's recipe: 784 → N2 → 10, ReLU, Adamax at the authors' learning rates, batch 200,
early stopping on a 20 % validation split (patience 8, min_delta 0.005, at most 50 epochs),
N2 ∈ {100, 300}, 3 seeds.  The recipes are listed in ``minispectral.nn.init``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..atomic import write_text
from ..experiment import RunConfig
from ..nn.init import PHI_INITS
from ..nn.spectral import VARIANTS
from .common import DATASETS_OPTION, FULL_R_OPTION, Option, csv_ints, csv_of, fmt_acc, mean_std, missing_note, network_label, positive_int, pyplot, save_figure
from .params import COLORS, LABELS, ParamsStudy

FROZEN_PHI = ("nc", "spectral", "ssvd", "qr")  # "full" trains phi: its start matters less (--models adds it)
MARKERS = {"papers": "o", "glorot": "s"}


class InitStudy(ParamsStudy):
    """Test accuracy of each frozen-phi variant from the papers' phi and from a Glorot-uniform phi."""

    name = "init"
    FULL = {**ParamsStudy.FULL, "widths": [100, 300], "models": list(FROZEN_PHI), "phi_inits": list(PHI_INITS)}
    QUICK = {**FULL, "widths": [20], "seeds": 2, "max_epochs": 2, "train_size": 4000, "test_size": 1000}
    OPTIONS = (
        DATASETS_OPTION,
        Option("widths", "--widths", csv_ints(1, 100000), "hidden widths N2 (default: 100,300; quick: 20)"),
        Option("models", "--models", csv_of(VARIANTS),
               f"comma-separated subset of {','.join(VARIANTS)} (default: {','.join(FROZEN_PHI)})"),
        Option("phi_inits", "--phi-inits", csv_of(PHI_INITS), f"comma-separated (default: {','.join(PHI_INITS)})"),
        Option("seeds", "--seeds", positive_int, "number of seeds, numbered 0, 1, ... (default: 3; quick: 2)"),
        Option("max_epochs", "--max-epochs", positive_int, "epoch cap (default: 50; quick: 2)"),
        FULL_R_OPTION,
    )
    GRID_KEYS = ("datasets", "widths", "models", "phi_inits", "seeds")
    RECORD_KEYS = ("width", "phi_init")
    EPOCH_GROUP = ("dataset", "model", "phi_init")

    def runs(self) -> list[dict]:
        s = self.settings
        # Seed-major over everything: a study cut short still has every cell, with fewer seeds.
        return [{"run_id": f"{d}/{m}/N2={w}/{init}/seed={seed}", "dataset": d, "model": m, "width": w,
                 "phi_init": init, "seed": seed}
                for seed in self.seeds() for d in s["datasets"] for w in s["widths"] for m in s["models"]
                for init in s["phi_inits"]]

    def _config(self, spec: dict) -> RunConfig:
        return dataclasses.replace(super()._config(spec), phi_init=spec["phi_init"])

    def describe(self, record: dict) -> str:
        return f"{super().describe(record)}, phi from {record['phi_init']}"

    # --- report ------------------------------------------------------------------------------
    @staticmethod
    def cells(records: list[dict]) -> dict:
        """{(dataset, model, width, phi_init): {"acc": [...], "epochs": [...]}}."""
        cells: dict = {}
        for r in records:
            cell = cells.setdefault((r["dataset"], r["model"], r["width"], r["phi_init"]), {"acc": [], "epochs": []})
            cell["acc"].append(r["test_accuracy"])
            cell["epochs"].append(r["epochs_run"])
        return cells

    def report(self, records: list[dict], out_dir: Path, missing: list[dict]) -> list[Path]:
        cells = self.cells(records)
        datasets = list(dict.fromkeys(r["dataset"] for r in records))
        models = [m for m in VARIANTS if any(k[1] == m for k in cells)]
        widths = sorted({k[2] for k in cells})
        inits = [i for i in PHI_INITS if any(k[3] == i for k in cells)]
        table = out_dir / "table.md"
        write_text(table, self.markdown(cells, datasets, models, widths, inits, missing))
        return [table, self.figure(cells, datasets, models, widths, inits, out_dir / "init.png")]

    @staticmethod
    def gain(cells, dataset, model, width):
        """mean acc(glorot) − mean acc(papers) at one point, or None without both."""
        a, b = cells.get((dataset, model, width, "glorot")), cells.get((dataset, model, width, "papers"))
        if a is None or b is None:
            return None
        return mean_std(a["acc"])[0] - mean_std(b["acc"])[0]

    def markdown(self, cells, datasets, models, widths, inits, missing) -> str:
        s = self.settings
        lines = [f"# phi's initialisation: {network_label(datasets, ['N2'])}, papers' recipe against Glorot-uniform", "",
                 f"The params study's recipe: Adamax at the authors' learning rates, batch {s['batch_size']}, ReLU, "
                 f"biases; early stopping on a {s['val_split']:.0%} validation split (patience {s['patience']}, "
                 f"min_delta {s['min_delta']}), at most {s['max_epochs']} epochs. Test accuracy, mean ± sample std "
                 "over seeds (runs in brackets when fewer than the others). *papers*: each variant's phi from the "
                 "authors' code (nc U(±0.2); spectral U diag(s) V with N(0, 0.04²) factors; ssvd U, V ~ N(0, 0.04²); "
                 "qr B = R Q ~ N(0, 0.036²)); *glorot*: Glorot-uniform phi (for ssvd U and V, for qr B), as in the "
                 "authors' later layers (paper.md §10). Δ = glorot − papers."
                 + (" **Quick mode: subsets of the data and few epochs; not the paper's numbers.**"
                    if s["quick"] else ""), ""]
        n_max = max((len(c["acc"]) for c in cells.values()), default=0)

        def cell_text(cell):
            if cell is None:
                return "–"
            n = len(cell["acc"])
            return fmt_acc(*mean_std(cell["acc"]), n) + (f" ({n})" if n < n_max else "")

        header = "| model | " + " | ".join(f"N2={w} {i}" for w in widths for i in inits) + \
                 ("".join(f" | Δ N2={w}" for w in widths) if len(inits) == 2 else "") + " |"
        rule = "|---|" + "---|" * (len(widths) * len(inits) + (len(widths) if len(inits) == 2 else 0))
        for d in datasets:
            lines += [f"## {d}", "", header, rule]
            for m in models:
                row = [cell_text(cells.get((d, m, w, i))) for w in widths for i in inits]
                if len(inits) == 2:
                    gains = [self.gain(cells, d, m, w) for w in widths]
                    row += ["–" if g is None else f"{g:+.4f}" for g in gains]
                lines.append(f"| {LABELS[m]} | " + " | ".join(row) + " |")
            lines.append("")
        lines += ["## Every point", "", "| dataset | N2 | model | phi_init | runs | test accuracy | epochs |",
                  "|---|---|---|---|---|---|---|"]
        for d in datasets:
            for w in widths:
                for m in models:
                    for i in inits:
                        cell = cells.get((d, m, w, i))
                        if cell is not None:
                            lines.append(f"| {d} | {w} | {m} | {i} | {len(cell['acc'])} | "
                                         f"{fmt_acc(*mean_std(cell['acc']), len(cell['acc']))} | "
                                         f"{sum(cell['epochs']) / len(cell['epochs']):.1f} |")
        lines += ["", missing_note(missing, ("dataset", "model", "width", "phi_init")), ""]
        return "\n".join(lines)

    def figure(self, cells, datasets, models, widths, inits, path: Path) -> Path:
        plt = pyplot()
        fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
        for col, d in enumerate(datasets):
            ax = axes[0, col]
            slots = [(m, w) for m in models for w in widths]
            for x, (m, w) in enumerate(slots):
                for k, i in enumerate(inits):
                    cell = cells.get((d, m, w, i))
                    if cell is None:
                        continue
                    mean, std = mean_std(cell["acc"])
                    ax.errorbar(x + (k - (len(inits) - 1) / 2) * 0.25, mean, yerr=std, color=COLORS[m],
                                marker=MARKERS[i], mfc="white" if i == "papers" else COLORS[m], capsize=3, ls="none")
            ax.set_xticks(range(len(slots)), [f"{m}\nN2={w}" for m, w in slots], fontsize=8)
            ax.set_title(f"{d}: test accuracy (○ papers' phi, ■ Glorot phi)", fontsize=10)
            ax.set_ylabel("test accuracy")
            ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        return save_figure(fig, path)
