"""One training run, described by a config and summarised as a JSON-able record.

``minispectral train``, ``minispectral compare`` and the paper studies all go through ``run``,
so every number they report is produced the same way.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import atomic_write
from .backend import get_backend
from .datasets import Dataset, load_dataset
from .nn import mlp
from .nn.init import check_phi_init, default_phi_init
from .train import DEFAULT_LR as OPTIMIZER_LR
from .train import NonFiniteError, evaluate, fit

# Adamax learning rates from the authors' code (paper.md §7); "nc" and "full" from the NC code comment.
# Dense: 0.002, the authors' CIFAR-10 rate (their notebook falls back to 0.015 on MNIST).
DEFAULT_LR = {"dense": 0.002, "nc": 0.03, "spectral": 0.015, "full": 0.01, "ssvd": 0.015, "qr": 0.005}

# Defaults that depend on the dataset: the digits set is small, so it takes smaller batches.
DATASET_DEFAULTS = {"digits": {"epochs": 40, "batch_size": 32},
                    "mnist": {"epochs": 20, "batch_size": 200},
                    "fashion-mnist": {"epochs": 20, "batch_size": 200}}


@dataclass
class RunConfig:
    model: str = "spectral"
    dataset: str = "digits"
    hidden: tuple = (300,)
    activation: str = "relu"
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "adamax"
    lr: float | None = None
    seed: int = 0
    val_split: float = 0.0
    early_stopping: int | None = None
    min_delta: float = 0.0
    backend: str | None = None  # None: the current backend (MINISPECTRAL_BACKEND, else numpy)
    dtype: str = "float32"
    data_dir: str | None = None
    layer_kw: dict = field(default_factory=dict)
    # phi's initial recipe for the spectral models, "papers" or "glorot" (nn/init.py); None: the library's
    # default for the model (nn.init.DEFAULT_PHI_INIT).  A dense model has no phi: its record says None.
    phi_init: str | None = None

    def resolved(self) -> "RunConfig":
        """A copy with every None default filled in for the dataset, model, optimizer and backend.

        Only None is replaced: an invalid value (epochs=0, say) stays, for ``fit`` to refuse by name.
        The backend becomes the name of the one the run will use, so that the record says where it ran.
        """
        if self.model not in DEFAULT_LR:
            raise ValueError(f"model must be one of {tuple(DEFAULT_LR)}, got {self.model!r}")
        if self.optimizer not in OPTIMIZER_LR:
            raise ValueError(f"optimizer must be one of {tuple(OPTIMIZER_LR)}, got {self.optimizer!r}")
        defaults = DATASET_DEFAULTS.get(self.dataset, DATASET_DEFAULTS["mnist"])
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise TypeError(f"hidden must be a sequence of widths, e.g. (300,), got {self.hidden!r}")
        bad = [h for h in self.hidden if not isinstance(h, numbers.Integral) or isinstance(h, bool) or h < 1]
        if bad or not tuple(self.hidden):  # 8.9 would become 8, True 1 and "30" 30
            raise ValueError(f"hidden must hold positive integer widths, got {tuple(self.hidden)!r}")
        phi_init = self.phi_init
        if self.model == "dense":
            if phi_init is not None:
                raise ValueError(f"phi_init={phi_init!r} is given, but a dense model has no phi")
        elif "phi_init" in self.layer_kw:  # the user's own values, through the layers' options
            if phi_init is not None:
                raise ValueError("phi_init is given twice: as RunConfig.phi_init and in layer_kw; give one")
            value = self.layer_kw["phi_init"]
            phi_init = value if isinstance(value, str) else "custom"
        else:
            phi_init = check_phi_init(default_phi_init(self.model) if phi_init is None else phi_init)
        lr = self.lr
        if lr is None:
            lr = DEFAULT_LR[self.model] if self.optimizer == "adamax" else OPTIMIZER_LR[self.optimizer]
        return RunConfig(**{**asdict(self), "hidden": tuple(int(h) for h in self.hidden),
                            "epochs": defaults["epochs"] if self.epochs is None else self.epochs,
                            "batch_size": defaults["batch_size"] if self.batch_size is None else self.batch_size,
                            "lr": lr, "backend": get_backend(self.backend).name, "phi_init": phi_init})


class RunFailed(RuntimeError):
    """A run of a study raised; the message names the run. The runs finished before it are kept."""

    def __init__(self, run_id: str, error: BaseException):
        super().__init__(f"run {run_id} failed: {type(error).__name__}: {error}")
        self.run_id, self.error = run_id, error


class WorkerLost(RuntimeError):
    """The workers that ran a study's run died (killed, out of memory) more often than allowed."""


def run(config: RunConfig, data: Dataset | None = None, *, progress=None, save_path=None, on_epoch=None):
    """Train and test one model; returns (record, model).

    ``on_epoch`` is passed to ``fit``: called with each epoch's dict as the epoch ends.

    The record holds the config (``phi_init`` among it: the recipe phi started from, None for dense),
    ``trainable_parameters``, ``test_accuracy`` and ``test_loss``,
    ``epochs_run``, ``epoch_seconds`` (training time only, one per epoch), ``wall_seconds`` (the
    whole run), ``stopped_early`` and the per-epoch ``history``.
    """
    cfg = config.resolved()
    backend = get_backend(cfg.backend)
    if data is None:
        data = load_dataset(cfg.dataset, data_dir=cfg.data_dir, val_split=cfg.val_split, seed=cfg.seed,
                            dtype=cfg.dtype)
    layer_kw = dict(cfg.layer_kw)
    if cfg.model != "dense":
        layer_kw.setdefault("phi_init", cfg.phi_init)  # layer_kw's own values win (the record says "custom")
    model = mlp((data.n_features, *cfg.hidden, data.n_classes), cfg.model, activation=cfg.activation,
                seed=cfg.seed, dtype=cfg.dtype, backend=backend, **layer_kw)
    start = time.perf_counter()
    history = fit(model, data.x_train, data.y_train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                  optimizer=cfg.optimizer, lr=cfg.lr, seed=cfg.seed, x_val=data.x_val, y_val=data.y_val,
                  early_stopping=cfg.early_stopping, min_delta=cfg.min_delta, progress=progress,
                  on_epoch=on_epoch)
    test_loss, test_accuracy = evaluate(model, data.x_test, data.y_test)
    if not math.isfinite(test_loss):  # a divergence in the last step, with no validation pass to see it
        raise NonFiniteError(f"test loss is {test_loss} after training {cfg.model}: the run diverged "
                             "(try a smaller learning rate)")
    record = {**asdict(cfg), "hidden": list(cfg.hidden),
              "trainable_parameters": model.num_parameters(),
              "test_accuracy": test_accuracy, "test_loss": test_loss,
              "epochs_run": len(history.epochs), "epoch_seconds": history.epoch_seconds,
              "wall_seconds": time.perf_counter() - start, "history": history.epochs,
              "stopped_early": history.stopped_early}
    if save_path is not None:
        save_trained(model, record, save_path)
    return record, model


def save_trained(model, record: dict, path) -> Path:
    """Save a trained model with its run's record (all but the per-epoch history) as metadata."""
    from .io import save

    return save(model, path, metadata={k: v for k, v in record.items() if k != "history"})


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Write a matplotlib figure atomically, in the format its extension names, and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".").lower() or None, dpi=dpi)
    finally:
        plt.close(fig)
    return path


def machine_info() -> dict:
    """Where a result was measured: machine, Python and library versions."""
    import numpy

    from . import __version__

    return {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "system": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "minispectral": __version__, "commit": source_commit()}


def source_commit(paths=("minispectral",)) -> str:
    """The git commit of the checkout this package runs from, '+uncommitted changes in ...' when ``paths``
    (relative to the checkout) differ from it; '' when the package is not in a git checkout.

    The version number alone does not tell which code produced a result: it changes at releases,
    the code at every commit.
    """
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    try:
        top = subprocess.run([*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10)
        if top.returncode or Path(top.stdout.strip()).resolve() != root:  # an installed copy, not a checkout
            return ""
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run([*git, "status", "--porcelain", "--", *paths], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):  # no git on the machine
        return ""
    return head.stdout.strip() + (f"+uncommitted changes in {', '.join(paths)}" if dirty else "")


def write_json(path, obj) -> Path:
    """Write JSON atomically (``atomic.atomic_write``)."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=1, allow_nan=False)  # NaN is no JSON: refuse it rather than write a bad file
    return Path(path)
