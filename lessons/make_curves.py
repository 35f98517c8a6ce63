"""Full-run learning curves for lessons 07 and 09, computed once and committed as data.

    python lessons/make_curves.py                      # writes lessons/data/curves.json
    python lessons/make_curves.py --out other.json --models dense,spectral

Lessons 07 and 09 train for a few epochs to stay inside their time budgets; their claims rest on these
curves instead, which run each model to convergence with the recipe of the params study
(``minispectral reproduce params``, paper.md §4, §5, §7): MNIST, 784 → 100 → 10, ReLU, biases, Adamax at
the study's MNIST learning rates, batch 200, seed 0, early stopping on a 20 % validation split (patience 8,
min_delta 0.005; paper.md §7), at most 50 epochs.  ``fit`` is called one epoch at a time with one
shuffling Generator and one optimizer, so the order of the batches and the optimizer's state run on as in
a single call of ``fit``; the test set is evaluated after every epoch and never used for stopping.

The file holds, per model: trainable parameters, learning rate, per-epoch validation and test accuracy,
the epoch early stopping ended at, and the run's wall time; plus the recipe and the machine.  About two
minutes on a 2-core x86-64 machine with one BLAS thread.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "curves.json"
MODELS = ("dense", "nc", "spectral", "ssvd", "qr")


def train_curve(model_name: str, data, settings: dict) -> dict:
    """One run of the params study's recipe, with the test accuracy after every epoch."""
    import numpy as np

    import minispectral as ms
    from minispectral.optim import make_optimizer
    from minispectral.reproduce.params import LEARNING_RATES
    from minispectral.train import evaluate, fit, improves

    lr = LEARNING_RATES["mnist"][model_name]
    layer_kw = {"triangular": True} if model_name == "qr" else {}
    model = ms.mlp((data.n_features, settings["hidden"], data.n_classes), model_name, activation="relu",
                   seed=settings["seed"], **layer_kw)
    optimizer = make_optimizer("adamax", model, lr)
    shuffle = np.random.default_rng(settings["seed"])  # one Generator for all epochs: fit's own order
    val_accuracy, test_accuracy = [], []
    best, waited, start = -float("inf"), 0, time.perf_counter()
    for epoch in range(1, settings["max_epochs"] + 1):
        history = fit(model, data.x_train, data.y_train, epochs=1, batch_size=settings["batch_size"],
                      optimizer=optimizer, seed=shuffle, x_val=data.x_val, y_val=data.y_val,
                      progress=False, check_finite=epoch == 1)
        val_accuracy.append(history["val_accuracy"][0])
        test_accuracy.append(evaluate(model, data.x_test, data.y_test)[1])
        print(f"  {model_name:>8} epoch {epoch:>2}: val {val_accuracy[-1]:.4f}  test {test_accuracy[-1]:.4f}",
              flush=True)
        if improves(val_accuracy[-1], best, settings["min_delta"]):  # fit's early-stopping rule
            best, waited = val_accuracy[-1], 0
        else:
            waited += 1
            if waited >= settings["patience"]:
                break
    return {"trainable_parameters": model.num_parameters(), "lr": lr, "epochs_run": len(test_accuracy),
            "stopped_early": len(test_accuracy) < settings["max_epochs"],
            "val_accuracy": val_accuracy, "test_accuracy": test_accuracy,
            "wall_seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON file to write (default: {OUT})")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)} (default: all)")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        parser.error(f"--models must name some of {','.join(MODELS)}, got {args.models!r}")

    from minispectral.experiment import machine_info, write_json
    from minispectral.reproduce.common import SPLIT_SEED
    from minispectral.reproduce.params import ParamsStudy
    from minispectral.datasets import load_dataset

    study = ParamsStudy.FULL
    settings = {"dataset": "mnist", "hidden": 100, "seed": 0, "split_seed": SPLIT_SEED,
                **{k: study[k] for k in ("max_epochs", "patience", "min_delta", "val_split", "batch_size")}}
    data = load_dataset("mnist", val_split=settings["val_split"], seed=SPLIT_SEED)
    print(data.summary(), flush=True)
    start = time.perf_counter()
    curves = {}
    for name in models:
        curves[name] = train_curve(name, data, settings)
        print(f"{name}: test accuracy {curves[name]['test_accuracy'][-1]:.4f} after {curves[name]['epochs_run']} "
              f"epochs, {curves[name]['wall_seconds']:.0f} s", flush=True)
    blas = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    write_json(args.out, {"command": "python lessons/make_curves.py", "settings": settings,
                          "machine": {**machine_info(), "blas_threads": blas},
                          "wall_seconds": round(time.perf_counter() - start, 1), "curves": curves})
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
