"""The ``minispectral`` command: train one model, compare them all, reproduce the papers.

    minispectral train --model spectral --dataset mnist --hidden 100 --epochs 20 --save m.npz
    minispectral evaluate m.npz               # a saved model on its dataset's test set
    minispectral compare                      # every variant on the digits set, one table + figure
    minispectral reproduce params --quick     # the papers' studies (see minispectral.reproduce)

Bad arguments exit with status 2 and a usage message; runtime errors (a missing dataset,
an unavailable GPU) exit with status 1 and a one-line message (a data file's error keeps its
few lines, which say where to put the file by hand).
"""
from __future__ import annotations

import argparse
import math
from concurrent.futures.process import BrokenProcessPool
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .allocator import keep_freed_memory
from .backend import BACKENDS, BackendUnavailableError, get_backend
from .datasets import DATASETS, DatasetError
from .experiment import RunConfig, RunFailed, WorkerLost, run, save_figure, save_trained, write_json
from .nn import MODELS
from .nn.init import DEFAULT_PHI_INIT, PHI_INITS
from .optim import OPTIMIZERS
from .train import NonFiniteError

RUNTIME_ERRORS = (BackendUnavailableError, DatasetError, NonFiniteError, FileNotFoundError, OSError, ValueError,
                  RunFailed)
# What can stop a study's run without a bug in it: a worker killed from outside (the OOM killer), memory.
RUN_CONDITIONS = (BrokenProcessPool, MemoryError, WorkerLost)


def hidden_sizes(text: str) -> tuple:
    """'300' -> (300,), '500,500' -> (500, 500)."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 300 or 500,500, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return sizes


def number_type(convert, accept, expected: str):
    """An argparse type: ``convert`` the text and ``accept`` the value, else a usage error."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
non_negative_int = number_type(int, lambda v: v >= 0, "a non-negative integer")
positive_float = number_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
fraction = number_type(float, lambda v: 0.0 <= v < 1.0, "a fraction in [0, 1)")


def output_path(text: str) -> Path:
    """An argparse type: a file this run can write (checked before any training, whose results a bad
    path would otherwise lose): not empty, not a folder, under a writable folder (created if missing)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file path, got ''")
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a file, got the folder {text!r}")
    existing = next(q for q in (path.parent, *path.parent.parents) if q.exists() or q == q.parent)
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {existing} is not a folder")
    try:  # a real file, not os.access: that says yes to root everywhere, /proc and read-only mounts included
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {existing} does not accept new files "
                                         f"({exc.strerror or exc})") from None
    return path


def data_folder(text: str) -> Path:
    """An argparse type: an existing folder that holds (or will receive) mnist/ and fashion-mnist/."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder holding mnist/ or fashion-mnist/, got ''")
    path = Path(text).expanduser()
    if not path.is_dir():
        why = "a file" if path.exists() else "no such folder; create it to download the files into it"
        raise argparse.ArgumentTypeError(f"expected an existing folder, got {text!r} ({why})")
    return path


def output_folder(text: str) -> Path:
    """An argparse type: a folder to write into (it may not exist yet), not a file."""
    if not text:
        raise argparse.ArgumentTypeError("expected a folder, got ''")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a folder, got the file {text!r}")
    return path


def figure_path(text: str) -> Path:
    """An argparse type: a writable path whose extension matplotlib can write (checked before any training)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(text).suffix.lstrip(".").lower()
    if suffix not in formats:
        raise argparse.ArgumentTypeError(f"expected a figure file ending in one of "
                                         f"{', '.join('.' + f for f in sorted(formats))}, got {text!r}")
    return output_path(text)


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits (ships with the package)")
    p.add_argument("--hidden", type=hidden_sizes, default=None,
                   help="hidden widths: 300, or 500,500 for two layers (default: 100 on digits, 300 otherwise)")
    p.add_argument("--activation", choices=("relu", "tanh", "elu"), default="relu", help="default: relu")
    p.add_argument("--epochs", type=positive_int, default=None, help="default: 40 on digits, 20 otherwise")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: 32 on digits, 200 otherwise")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adamax", help="default: adamax")
    p.add_argument("--lr", type=positive_float, default=None, help="default: the papers' rate for each model with adamax; 0.001 with adam, 0.05 with sgd")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the initial weights, the batches and the validation split (default: 0)")
    p.add_argument("--val-split", type=fraction, default=0.0,
                   help="fraction of the training set held out for validation (default: 0, none)")
    p.add_argument("--early-stopping", type=positive_int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a validation gain (needs --val-split)")
    p.add_argument("--phi-init", choices=PHI_INITS, default=None,
                   help="how the spectral models' phi starts: papers (each variant's recipe from the authors' "
                        "code) or glorot (Glorot-uniform, the authors' later layers); default: each variant's better "
                        "one in results/init, " + ", ".join(f"{m} {r}" for m, r in DEFAULT_PHI_INIT.items()))
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="array backend (default: $MINISPECTRAL_BACKEND, else numpy)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--data-dir", type=data_folder, default=None, metavar="DIR",
                   help="the folder holding mnist/, fashion-mnist/ and cifar10/ (default: $MINISPECTRAL_DATA, then the cache)")
    p.add_argument("--full-r", dest="triangular", action="store_false",
                   help="qr: train the full m×m R (the authors' code) instead of a lower-triangular R (the paper's count)")
    p.add_argument("--json", type=output_path, default=None, metavar="PATH", help="write the results as JSON")


MODEL_HELP = """models (every layer n_in -> n_out has W_ij = phi_ij (lam_in_j - lam_out_i)):
  dense     ordinary weights W and biases, the baseline
  nc        one eigenvalue set: lam_out trained; phi frozen, lam_in = 0 (Nat. Commun. 2021)
  spectral  two eigenvalue sets: lam_in and lam_out trained; phi frozen (Phys. Rev. E 2021)
  full      phi trained too, with both eigenvalue sets
  ssvd      phi = U diag(s) V with U, V frozen: s and both eigenvalue sets trained
  qr        phi = R Q with Q frozen: R (lower-triangular; --full-r for all of it) and both sets trained
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minispectral", description="Spectral learning of neural networks.",
                                     epilog=MODEL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minispectral {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one model and test it", epilog=MODEL_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.set_defaults(subparser=train)  # for errors found after parsing: they print this command's usage
    train.add_argument("--model", choices=MODELS, default="spectral", help="default: spectral (see below)")
    _add_training_options(train)
    train.add_argument("--save", type=output_path, default=None, metavar="PATH", help="save the trained model (.npz)")

    compare = sub.add_parser("compare", help="train several models on the same data and seed; table + figure",
                             epilog=MODEL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.set_defaults(subparser=compare)
    compare.add_argument("--models", type=model_list, default=list(MODELS),
                         help=f"comma-separated subset of {','.join(MODELS)} (default: all)")
    _add_training_options(compare)
    # a string default: argparse checks it with figure_path too, before any training
    compare.add_argument("--figure", type=figure_path, default="compare.png", metavar="PATH",
                         help="where to write the accuracy-vs-parameters plot (default: compare.png)")

    evaluate = sub.add_parser("evaluate", help="test a saved model (minispectral train --save) on a test set")
    evaluate.set_defaults(subparser=evaluate)
    evaluate.add_argument("model_path", type=Path, metavar="MODEL.npz", help="a model saved by train --save")
    evaluate.add_argument("--dataset", choices=DATASETS, default=None,
                          help="default: the dataset the model was trained on, as its file records")
    evaluate.add_argument("--data-dir", type=data_folder, default=None, metavar="DIR",
                          help="the folder holding mnist/ and fashion-mnist/ (default: $MINISPECTRAL_DATA, then the cache)")
    evaluate.add_argument("--backend", choices=BACKENDS, default=None,
                          help="array backend (default: $MINISPECTRAL_BACKEND, else numpy)")
    evaluate.add_argument("--json", type=output_path, default=None, metavar="PATH", help="write the results as JSON")

    from .reproduce.cli import add_reproduce_parser

    add_reproduce_parser(sub)
    return parser


def _config(args, model: str) -> RunConfig:
    hidden = args.hidden or ((100,) if args.dataset == "digits" else (300,))
    return RunConfig(model=model, dataset=args.dataset, hidden=hidden, activation=args.activation,
                     epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                     lr=args.lr, phi_init=None if model == "dense" else args.phi_init,
                     seed=args.seed, val_split=args.val_split, early_stopping=args.early_stopping,
                     backend=args.backend, dtype=args.dtype, data_dir=args.data_dir,
                     layer_kw={"triangular": False} if model == "qr" and not args.triangular else {})


def _load(args):
    from .datasets import load_dataset

    return load_dataset(args.dataset, data_dir=args.data_dir, val_split=args.val_split, seed=args.seed,
                        dtype=args.dtype)


def cmd_evaluate(args) -> int:
    from .datasets import load_dataset
    from .io import load, read_metadata
    from .train import evaluate

    saved = read_metadata(args.model_path)
    metadata = saved.get("metadata") or {}
    dataset = args.dataset or metadata.get("dataset")
    if dataset not in DATASETS:
        raise ValueError(f"{args.model_path} does not record its dataset: pass --dataset, one of {', '.join(DATASETS)}")
    model = load(args.model_path, backend=args.backend)
    data = load_dataset(dataset, data_dir=args.data_dir, dtype=saved.get("dtype", "float32"))
    if model.layers and data.n_features != _n_inputs(model):
        raise ValueError(f"{args.model_path} takes {_n_inputs(model)} inputs, but {dataset} has {data.n_features} "
                         "features: pass the --dataset it was trained on")
    loss, accuracy = evaluate(model, data.x_test, data.y_test)
    print(f"{args.model_path}: {dataset} test set ({data.x_test.shape[0]:,} samples): "
          f"loss {loss:.4f}, accuracy {accuracy:.4f}")
    if args.json:
        write_json(args.json, {"model_path": str(args.model_path), "dataset": dataset, "test_loss": loss,
                               "test_accuracy": accuracy})
    return 0


def _n_inputs(model) -> int:
    return next(layer.n_in for layer in model.layers if hasattr(layer, "n_in"))


def epoch_line(e: dict, indent: str = "") -> str:
    """One epoch of ``History.epochs`` as the line train and compare print when the epoch ends."""
    val = f"  val loss {e['val_loss']:.4f}  val acc {e['val_accuracy']:.4f}" if e["val_accuracy"] is not None else ""
    return (f"{indent}epoch {e['epoch']:3d}  loss {e['loss']:.4f}  train acc {e['train_accuracy']:.4f}{val}"
            f"  {e['seconds']:.2f} s")


def _print_epoch(indent: str = ""):
    """An ``on_epoch`` callback: each epoch's line as it ends, flushed, so that a pipe, a log file or
    Ctrl-C keeps the finished epochs."""
    return lambda e: print(epoch_line(e, indent), flush=True)


def cmd_train(args) -> int:
    data = _load(args)
    print(data.summary(), flush=True)
    record, model = run(_config(args, args.model), data, on_epoch=_print_epoch())
    print(f"{record['model']}: {record['trainable_parameters']:,} trainable parameters, "
          f"test accuracy {record['test_accuracy']:.4f}, "
          f"{sum(record['epoch_seconds']) / len(record['epoch_seconds']):.3f} s/epoch")
    if args.json:
        write_json(args.json, record)
    if args.save:  # after the results are out: a failed save loses the model, not the run's numbers
        save_trained(model, record, args.save)
        print(f"saved the model to {args.save}")
    return 0


def format_table(records) -> str:
    """model | phi from | trainable parameters | ratio to dense | test accuracy | s/epoch."""
    dense = next((r["trainable_parameters"] for r in records if r["model"] == "dense"), None)
    lines = [f"{'model':<10}{'phi from':<10}{'trainable params':>17}{'ratio to dense':>16}{'test accuracy':>15}"
             f"{'s/epoch':>10}"]
    for r in records:
        ratio = f"{r['trainable_parameters'] / dense:.4f}" if dense else "-"
        seconds = sum(r["epoch_seconds"]) / len(r["epoch_seconds"])
        lines.append(f"{r['model']:<10}{r.get('phi_init') or '-':<10}{r['trainable_parameters']:>17,}{ratio:>16}"
                     f"{r['test_accuracy']:>15.4f}{seconds:>10.3f}")
    return "\n".join(lines)


def plot_compare(records, path: Path, title: str) -> Path:
    """Test accuracy against trainable parameters (log scale), one point per model, named in a legend.

    A legend, not labels beside the points: dense and full have nearly the same count and accuracy,
    and their labels would print on top of each other.
    """
    import matplotlib

    matplotlib.use("Agg")  # headless-safe: the figure only goes to a file
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in records:
        ax.scatter(r["trainable_parameters"], r["test_accuracy"], s=40, label=r["model"])
    ax.set_xscale("log")
    # 1, 2 and 5 per decade, written short (500, 1k, 20k): the counts span one to two and a half
    # decades, where the default would label a single power of ten, and "50,000" would touch "100,000"
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: _short_count(value)))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9, frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def _short_count(value: float) -> str:
    """A parameter count as a tick label: 500, 2k, 50k, 1.2M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def model_list(text: str) -> list:
    """An argparse type: 'dense,spectral' -> ['dense', 'spectral'], each a known model, none twice."""
    models = [m.strip() for m in text.split(",")]
    unknown = [m for m in models if m not in MODELS]
    repeated = sorted({m for m in models if models.count(m) > 1})
    if unknown or repeated:
        problem = f"unknown {', '.join(map(repr, unknown))}" if unknown else f"{', '.join(repeated)} named twice"
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(MODELS)}, got {text!r} "
                                         f"({problem})")
    return models


def cmd_compare(args) -> int:
    models = args.models
    data = _load(args)
    print(data.summary(), flush=True)
    records = []
    for model in models:
        print(f"  {model}", flush=True)
        record, _ = run(_config(args, model), data, on_epoch=_print_epoch("    "))
        print(f"  {model:<9} test accuracy {record['test_accuracy']:.4f}  ({record['wall_seconds']:.1f} s)")
        records.append(record)
    print()
    print(format_table(records))
    if args.json:  # first: the results must not depend on the figure being written
        write_json(args.json, records)
    hidden = "→".join(str(h) for h in records[0]["hidden"])
    plot_compare(records, args.figure, f"{args.dataset}: {data.n_features}→{hidden}→{data.n_classes}, "
                                       f"seed {args.seed}")
    print(f"\nfigure: {args.figure}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    parser = getattr(args, "subparser", parser)  # errors below print the subcommand's usage
    outputs = [(f"--{name}", getattr(args, name, None)) for name in ("save", "json", "figure")]
    outputs = [(flag, path.resolve()) for flag, path in outputs if path is not None]
    for i, (flag, path) in enumerate(outputs):
        clash = [other for other, other_path in outputs[i + 1:] if other_path == path]
        if clash:
            parser.error(f"{flag} and {clash[0]} name the same file, {path}; one would overwrite the other")
    if args.command == "train" and args.model == "dense" and args.phi_init is not None:
        parser.error(f"--phi-init {args.phi_init} is given, but the dense model has no phi")
    if args.command == "train" and not args.triangular and args.model != "qr":
        parser.error(f"--full-r trains the full R of the qr model; --model is {args.model}")
    if getattr(args, "early_stopping", None) and not getattr(args, "val_split", 0):
        parser.error("--early-stopping needs a validation set: pass --val-split, e.g. --val-split 0.2")
    commands = {"train": cmd_train, "compare": cmd_compare, "evaluate": cmd_evaluate}
    handler = commands.get(args.command) or getattr(args, "handler", None)
    keep_freed_memory()  # a training process: freed arrays stay for the next step (allocator.py)
    advice = blas_thread_advice()
    if advice:
        print(f"minispectral: note: {advice}", file=sys.stderr)
    try:
        if hasattr(args, "backend"):
            get_backend(args.backend)  # an unusable backend fails now, before any data is loaded
        # Overflow on the way to a NaN loss is reported once, as a NonFiniteError naming the step,
        # not first as NumPy's RuntimeWarnings with source lines.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return handler(args)
    except RUNTIME_ERRORS as exc:
        if isinstance(exc, RunFailed) and not isinstance(exc.error, (*RUNTIME_ERRORS, *RUN_CONDITIONS)):
            raise  # a bug in a study's code, not a condition to report: keep its traceback
        # no traceback; one line, except a data file's error, whose lines say where to put the file by hand
        text = str(exc).strip() if isinstance(exc, DatasetError) else " ".join(_message(exc).split())
        print(f"minispectral: error: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minispectral: interrupted", file=sys.stderr)
        return 130


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_thread_advice() -> str | None:
    """What to say when other processes already keep a core busy and BLAS's threads are left unset.

    NumPy's BLAS starts one thread per core, and each matrix product waits for all of them: beside a
    busy process, a thread waits for the core that process holds, and training runs several times
    slower than on one thread (the README's *The command line* gives the numbers and the machine).
    """
    if any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES) or not hasattr(os, "getloadavg"):
        return None
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]  # processes running or waiting, over the last minute: others, not us yet
    if cores < 2 or load < 1.0:
        return None
    return (f"other processes keep this machine busy (load {load:.1f} on {cores} cores); set "
            "OPENBLAS_NUM_THREADS=1 before the command, or NumPy's matrix products may wait for a core "
            "they hold and run several times slower")


def _message(exc: BaseException) -> str:
    """An error's text for a user: an OSError without its "[Errno 13]" and without its path said
    twice ("cannot write X: Permission denied: 'X'")."""
    if isinstance(exc, OSError) and exc.strerror:
        named = exc.filename is not None and str(exc.filename) not in exc.strerror
        return f"{exc.strerror}: {exc.filename}" if named else exc.strerror
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
