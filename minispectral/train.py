"""Training and evaluation: mini-batches, shuffled by seed, with a per-epoch history."""
from __future__ import annotations

import math
import numbers
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from array_api_compat import device

from .backend import from_numpy, namespace, to_backend, to_numpy
from .functional.fused import softmax_cross_entropy  # the plain one off CuPy (functional/fused.py)
from .functional._checks import is_integer_dtype
from .functional.losses import check_labels
from .nn.init import as_rng
from .nn.shapes import check_flag
from .optim import Optimizer, make_optimizer

DEFAULT_LR = {"sgd": 0.05, "adam": 0.001, "adamax": 0.002}


class NonFiniteError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and the first bad parameter."""


@dataclass
class History:
    """One dict per epoch: epoch, loss, train_accuracy, val_loss and val_accuracy (None without
    validation data), seconds."""

    epochs: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None  # with restore_best: the epoch whose parameters the model ends with

    def __getitem__(self, key: str) -> list:
        return [e[key] for e in self.epochs]

    @property
    def epoch_seconds(self) -> list[float]:
        return self["seconds"]

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}


def find_nonfinite(model) -> str | None:
    """Where NaN/inf first appears, in layer order: values before gradients. None if all finite."""
    for kind in ("value", "grad"):
        for name, p in model.named_parameters():
            a = p.value if kind == "value" else p.grad
            if a is not None and not bool(namespace(a).all(namespace(a).isfinite(a))):
                where = model.layer_of(name) if hasattr(model, "layer_of") else "the model"
                return f"{where}, parameter {name.split('.', 1)[-1]} ({kind})"
    return None


def _check_positive_int(name: str, value) -> int:
    """``value`` as an int if it is a positive integer (Python's or NumPy's; not a bool or a float)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


GPU_LOSS_READ_EVERY = 50  # fit's default check_every on a GPU: a divergence costs at most 49 wasted steps

_OVERFLOW = "an overflow: try a smaller learning rate"  # what a non-finite loss with finite inputs means


def improves(val_accuracy: float, best: float, min_delta: float) -> bool:
    """Early stopping's test: a validation accuracy above the best so far by more than ``min_delta``."""
    return val_accuracy > best + min_delta


def _count_nonfinite(x) -> int:
    """How many entries of x are NaN or infinite (an error path only: it allocates a mask of x's size)."""
    xp = namespace(x)
    return int(xp.sum(xp.astype(xp.logical_not(xp.isfinite(x)), xp.int64)))


def _nonfinite_input(xb, updated: bool) -> str:
    """Why a step's loss is non-finite when every parameter is finite: the batch, or the arithmetic
    (``updated``: whether the optimizer has moved the parameters yet; if not, no learning rate is to blame)."""
    n_bad = _count_nonfinite(xb)
    if n_bad:
        return f"x_train, {n_bad} NaN or infinite entr{'y' if n_bad == 1 else 'ies'} in this step's batch"
    return f"none in the parameters or the batch ({_overflow(updated)})"


def _overflow(updated: bool) -> str:
    if not updated:
        return ("an overflow before any update: the inputs or the initial weights are too large; scale x to "
                "about [0, 1]")
    return _OVERFLOW


def _all_finite(x):
    """0-d boolean array: whether every entry of x is finite.  min and max propagate NaN and show
    ±inf, and unlike isfinite(x) allocate nothing the size of x."""
    xp = namespace(x)
    if not x.shape[0] * x.shape[1]:
        return xp.asarray(True)
    return xp.logical_and(xp.isfinite(xp.min(x)), xp.isfinite(xp.max(x)))


def _refuse_nonfinite(name: str, x) -> None:
    n_bad = _count_nonfinite(x)
    raise ValueError(f"{name} must hold finite numbers, got {n_bad} NaN or infinite "
                     f"entr{'y' if n_bad == 1 else 'ies'} of {x.shape[0] * x.shape[1]}")


def _to_model(model, x, y, name: str = "x", *, check_finite: bool = True):
    """Host arrays -> the model's backend and dtype (labels as int64), checked; ``name`` is x's in errors.

    ``check_finite`` refuses NaN and infinite inputs: two reductions over x (min and max, which NaN and
    ±inf reach), without a temporary the size of x.
    """
    y_name = "y" + name[1:]  # x_val -> y_val
    for arg, a in ((name, x), (y_name, y)):
        if not hasattr(a, "shape"):
            raise TypeError(f"{arg} must be an array (NumPy or the model's backend), got {type(a).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, features), got {tuple(x.shape)}")
    if tuple(y.shape) != (x.shape[0],):
        raise ValueError(f"{y_name} must have shape ({x.shape[0]},) to match {name}, got {tuple(y.shape)}")
    backend, dtype = model.backend, model.dtype
    x = to_backend(x, backend)
    xp = namespace(x)
    if not xp.isdtype(x.dtype, ("bool", "integral", "real floating")):  # NumPy would drop an imaginary part
        raise TypeError(f"{name} must hold real numbers (integers or floats), got dtype {x.dtype}")
    if x.dtype != getattr(xp, dtype.name):
        x = xp.astype(x, getattr(xp, dtype.name))
    if check_finite and not bool(_all_finite(x)):  # one read from the device
        _refuse_nonfinite(name, x)
    y = to_backend(y, backend)
    if not is_integer_dtype(y.dtype):
        raise TypeError(f"labels ({y_name}) must be integers, got dtype {y.dtype}")
    return x, xp.astype(y, xp.int64)


def evaluate(model, x, y, batch_size: int = 1000) -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of ``model`` on (x, y), ``batch_size`` rows at a time.

    The sums stay on the device and come back in one read.  On a GPU the checks of x (finite) and y
    (in range) come back in that same read, and their errors are raised after the pass; on the host,
    where a read costs nothing, they run first.
    """
    batch_size = _check_positive_int("batch_size", batch_size)
    on_device = model.backend.on_device
    x, y = _to_model(model, x, y, check_finite=not on_device)
    if not on_device and x.shape[0]:
        check_labels(y, x.shape[0], model.forward(x[0:1, :]).shape[1])
    return _evaluate(model, x, y, batch_size, check=on_device)


def _evaluate(model, x, y, batch_size: int = 1000, *, check: bool = False) -> tuple[float, float]:
    """``evaluate`` on arrays already on the model's backend (``_to_model``); ``check``: also check that x
    is finite and y in range, in the same read (fit checks its validation data once, before training)."""
    xp = namespace(x)
    n = x.shape[0]
    if n == 0:
        raise ValueError("x must hold at least one sample to evaluate, got 0")
    sums = None  # [loss sum, hits], float64 on the device
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)  # the Array API forbids a slice stop past the end
        logits = model.forward(x[start:stop, :])
        labels = y[start:stop]
        loss, _ = softmax_cross_entropy(logits, labels, check_labels_range=False)
        batch = [xp.astype(loss, xp.float64) * (stop - start),
                 xp.sum(xp.astype(xp.argmax(logits, axis=1) == labels, xp.float64))]
        sums = batch if sums is None else [a + b for a, b in zip(sums, batch)]
    n_classes = logits.shape[1]
    if check:
        sums += [xp.astype(_all_finite(x), xp.float64),
                 xp.astype(xp.all((y >= 0) & (y < n_classes)), xp.float64)]
    values = [float(v) for v in to_numpy(xp.stack(sums))]  # the one read
    if check and not values[2]:
        _refuse_nonfinite("x", x)
    if check and not values[3]:
        check_labels(y, n, n_classes)  # raises, naming the range of the labels
    return values[0] / n, values[1] / n


def fit(model, x_train, y_train, *, epochs: int = 10, batch_size: int = 200,
        optimizer: str | Optimizer = "adamax", lr: float | None = None, seed: int = 0,
        x_val=None, y_val=None, early_stopping: int | None = None, min_delta: float = 0.0,
        restore_best: bool = False, progress: bool | None = None, check_finite: bool = True,
        check_every: int | None = None, on_epoch=None) -> History:
    """Train ``model`` with mini-batch gradient descent on the softmax cross-entropy.

    Parameters
    ----------
    x_train : (N, D) array (any backend; moved to the model's), y_train : (N,) integer labels
    epochs, batch_size : passes over the data, samples per step
    optimizer : "sgd", "adam", "adamax" or an Optimizer built on ``model``
    lr : learning rate of an optimizer given by name (default: ``DEFAULT_LR[optimizer]``); an Optimizer
        object carries its own, and an ``lr`` beside one is a ValueError. The Optimizer must be built
        on this ``model``: one built on ``model.copy()``, a pruned or a loaded model is refused, and
        so is one that leaves a trainable parameter out (freeze what it should not train)
    seed : the shuffling order (an int >= 0, a NumPy Generator, or None for 0); the same seed on the
        same backend gives the same numbers. Calling fit one epoch at a time with one seed repeats
        the same order every epoch: pass ``seed=epoch``
    x_val, y_val : validation data, evaluated after each epoch
    early_stopping : stop after this many (>= 1) epochs without a val-accuracy gain above ``min_delta``
    restore_best : at the end, put back the parameters of the epoch with the best validation accuracy
        (the first, on a tie; needs validation data). Off by default: the PRE recipe stops early
        without restoring the best weights (paper.md §6)
    progress : show a progress bar (default: only on a terminal)
    check_finite : refuse NaN and infinite values in x_train before training (its min and max: two
        passes over 188 MB for MNIST's 60,000 × 784 float32); False skips them, e.g. when calling fit one epoch at a time
        on data checked once. A bad value then surfaces only if it makes the loss non-finite: a
        bounded activation such as tanh can hide an inf until the weights have turned NaN.
    check_every : steps between two reads of the loss, whose finiteness is checked there (default: 1 on
        the host, where a read costs nothing, and ``GPU_LOSS_READ_EVERY`` on a GPU, where each read
        waits for the GPU). A non-finite loss still names its epoch and step; found after later steps,
        the message says that the parameters were updated since
    on_epoch : a function called with each epoch's dict (as in ``History.epochs``) as soon as the epoch
        ends, e.g. to print a line per epoch while training runs

    Host arrays are sent to the model's backend at every call: to train on a GPU one epoch at a
    time, send the data once (``from_numpy``) and pass the device arrays.

    Returns
    -------
    History, with per-epoch loss, train_accuracy, val_loss, val_accuracy and seconds (training only).
    """
    epochs, batch_size = _check_positive_int("epochs", epochs), _check_positive_int("batch_size", batch_size)
    if early_stopping is not None:
        early_stopping = _check_positive_int("early_stopping", early_stopping)
    if not (isinstance(min_delta, numbers.Real) and not isinstance(min_delta, (bool, np.bool_))
            and math.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    min_delta = float(min_delta)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    if early_stopping is not None and x_val is None:
        raise ValueError("early_stopping needs validation data (x_val, y_val)")
    restore_best = check_flag("restore_best", restore_best)
    if restore_best and x_val is None:
        raise ValueError("restore_best needs validation data (x_val, y_val)")
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model, DEFAULT_LR.get(optimizer, 0.001) if lr is None else lr)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a name ('sgd', 'adam', 'adamax') or an Optimizer built on the model, "
                        f"got {optimizer!r}")
    else:
        if lr is not None:
            raise ValueError(f"lr={lr!r} applies to an optimizer given by name; this Optimizer has lr={optimizer.lr}")
        ours = {id(p) for _, p in model.named_parameters()}  # all of them: one may have been frozen since
        if any(id(p) not in ours for _, p in optimizer.params):  # it would step another model, silently
            raise ValueError("the optimizer was built on another model's parameters (model.copy(), prune() and "
                             "io.load make new ones): build it on this model")
        stepped = {id(p) for _, p in optimizer.params}
        missing = [name for name, p in model.trainable_parameters() if id(p) not in stepped]
        if missing:  # their gradients would be computed at every step, and thrown away
            raise ValueError(f"the optimizer does not train {', '.join(missing)}, which "
                             f"{'is' if len(missing) == 1 else 'are'} trainable: to train part "
                             f"of the model, freeze the rest (p.trainable = False); after unfreezing a parameter, "
                             f"build the optimizer again")
    if not model.trainable_parameters():
        raise ValueError("the model has no trainable parameters: nothing to train")
    rng = as_rng(seed)  # checked like mlp's seed: an int, a Generator, or None for 0
    x, y = _to_model(model, x_train, y_train, "x_train", check_finite=check_finite)
    if x_val is not None:
        x_val, y_val = _to_model(model, x_val, y_val, "x_val")  # moved and checked once, before the first epoch
        if x_val.shape[0] == 0:
            raise ValueError("x_val must hold at least one sample, got 0")
    labels_checked = False
    xp = namespace(x)
    backend = model.backend
    n = x.shape[0]
    if n == 0:
        raise ValueError("x_train must hold at least one sample, got 0")
    steps = math.ceil(n / batch_size)
    if check_every is None:
        check_every = GPU_LOSS_READ_EVERY if backend.on_device else 1
    check_every = _check_positive_int("check_every", check_every)
    if on_epoch is not None and not callable(on_epoch):  # found before an epoch's work, not after it
        raise TypeError(f"on_epoch must be a function of the epoch's dict, or None, got {on_epoch!r}")
    history = History()
    best, waited = -math.inf, 0
    best_accuracy, best_values = -math.inf, None  # for restore_best: the best epoch's parameters
    show = sys.stderr.isatty() if progress is None else progress
    bar = _progress_bar(epochs * steps, show)
    for epoch in range(1, epochs + 1):
        backend.synchronize()
        start = time.perf_counter()
        # Each batch is gathered when its step starts: the copy stays in cache for the forward
        # pass, and no shuffled copy of the whole training set is made (60,000×784 float32 would
        # be 188 MB written, and as much extra peak memory, every epoch).
        order = from_numpy(rng.permutation(n), backend=backend)
        # The step losses and the hit count stay on the device; the losses are read every
        # ``check_every`` steps (on a GPU each read waits for all queued work), the hits once.
        losses, hits, read_from, loss_sum = None, None, 0, 0.0
        for step in range(steps):
            # The Array API wants every axis indexed and forbids a stop past the end.
            lo, hi = step * batch_size, min((step + 1) * batch_size, n)
            xb, yb = xp.take(x, order[lo:hi], axis=0), xp.take(y, order[lo:hi], axis=0)
            logits = model.forward(xb)
            if not labels_checked:  # all labels once, against the model's width, not at every step
                check_labels(y, n, logits.shape[1])
                if y_val is not None:  # before any training, not after the first epoch
                    _check_labels_named("y_val", y_val, logits.shape[1])
                labels_checked = True
            loss, dlogits = softmax_cross_entropy(logits, yb, check_labels_range=False)
            if losses is None:
                losses = xp.zeros(steps, dtype=loss.dtype, device=device(loss))
            losses[step] = loss
            hit = xp.count_nonzero(xp.argmax(logits, axis=1) == yb)  # an integer count: exact at any size
            hits = hit if hits is None else hits + hit
            last = step == steps - 1
            if last or (step + 1) % check_every == 0:  # before this step's update, so that it is not taken
                read = losses[read_from:step + 1]
                if last:  # the hits come back in the same read
                    values = to_numpy(xp.concat([xp.astype(read, xp.float64),
                                                  xp.reshape(xp.astype(hits, xp.float64), (1,))]))
                    read_values, hits_value = values[:-1], float(values[-1])
                else:
                    read_values = to_numpy(read)
                for k, value in enumerate(read_values.tolist()):
                    if not math.isfinite(value):
                        raise NonFiniteError(_nonfinite_loss_message(
                            model, optimizer, value, epoch, read_from + k, step, x, order, batch_size, n, check_every))
                    loss_sum += value * (min((read_from + k + 1) * batch_size, n) - (read_from + k) * batch_size)
                read_from = step + 1
            model.backward(dlogits)
            optimizer.step()
            bar.update(1)
        backend.synchronize()
        seconds = time.perf_counter() - start
        val_loss, val_acc = _evaluate(model, x_val, y_val) if x_val is not None else (None, None)
        if val_loss is not None and not math.isfinite(val_loss):  # a divergence in the epoch's last step
            raise NonFiniteError(f"validation loss is {val_loss} after epoch {epoch}; first non-finite: "
                                 f"{find_nonfinite(model) or f'none in the parameters ({_OVERFLOW})'}")
        history.epochs.append({"epoch": epoch, "loss": loss_sum / n, "train_accuracy": hits_value / n,
                               "val_loss": val_loss, "val_accuracy": val_acc, "seconds": seconds})
        if on_epoch is not None:
            on_epoch(dict(history.epochs[-1]))
        bar.set_postfix(loss=f"{loss_sum / n:.4f}", val=f"{val_acc:.4f}" if val_acc is not None else "-")
        if restore_best and val_acc > best_accuracy:
            best_accuracy, history.best_epoch = val_acc, epoch
            best_values = [namespace(p.value).asarray(p.value, copy=True) for _, p in model.named_parameters()]
        if early_stopping is not None:
            if improves(val_acc, best, min_delta):
                best, waited = val_acc, 0
            else:
                waited += 1
                if waited >= early_stopping:
                    history.stopped_early = epoch < epochs  # not when the last epoch ran anyway
                    break
    bar.close()
    if restore_best:
        for (_, p), value in zip(model.named_parameters(), best_values):
            p.value[...] = value  # in place: the optimizer and the layers keep the same arrays
    return history


def _nonfinite_loss_message(model, optimizer, value, epoch, bad_step, step, x, order, batch_size, n,
                            check_every) -> str:
    """Why the loss of step ``bad_step`` (0-based) is non-finite, read at step ``step``."""
    where = f"loss is {value} at epoch {epoch}, step {bad_step + 1}"
    if bad_step < step:
        where += (f" (read at step {step + 1}: the loss is read every {check_every} steps (check_every), and the "
                  f"parameters have been updated {step - bad_step} times since)")
    xp = namespace(x)
    xb = xp.take(x, order[bad_step * batch_size:min((bad_step + 1) * batch_size, n)], axis=0)
    updated = optimizer.t - (step - bad_step) > 0  # whether the parameters had moved before that step
    if bad_step == step:
        return f"{where}; first non-finite: {find_nonfinite(model) or _nonfinite_input(xb, updated)}"
    # Read late, the parameters are those of later steps, which the non-finite loss may have spoiled;
    # the batch is the one that step saw.
    if _count_nonfinite(xb):
        return f"{where}; first non-finite: {_nonfinite_input(xb, updated)}"
    now = find_nonfinite(model)
    if now is None:
        return f"{where}; first non-finite: {_nonfinite_input(xb, updated)}"
    return (f"{where}; first non-finite: none in that step's batch; {now} is non-finite now, which the updates "
            f"since may have made it (else {_overflow(updated)})")


def _check_labels_named(name: str, labels, n_classes: int) -> None:
    try:
        check_labels(labels, labels.shape[0], n_classes)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


class _NoBar:
    """Stands in for tqdm when no bar is shown, so tqdm (and its notebook warnings) stay unloaded."""

    def update(self, n=1): ...
    def set_postfix(self, **kw): ...
    def close(self): ...


def _progress_bar(total: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", leave=False)


__all__ = ["DEFAULT_LR", "GPU_LOSS_READ_EVERY", "History", "NonFiniteError", "evaluate", "find_nonfinite", "fit",
           "improves", "to_numpy"]
