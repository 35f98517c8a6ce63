"""Softmax cross-entropy with its fused gradient.  See lesson 03."""
from __future__ import annotations

import math
import numbers

from array_api_compat import device

from ..backend import namespace, resolve_dtype
from ._checks import check_matrix, is_integer_dtype


def one_hot(labels, n_classes, dtype="float32"):
    """(N,) integer labels in [0, n_classes) -> (N, n_classes) float one-hot matrix ``[c = y_n]``.

    Built by comparison (no scatter, so it ports to every backend).  ``dtype``: "float32" or
    "float64", or a library's float dtype.
    """
    if not hasattr(labels, "ndim") or labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices, got {_describe_shape(labels)}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}")
    check_labels(labels, labels.shape[0], int(n_classes))  # integers (a float would truncate), in range
    xp = namespace(labels)
    return xp.astype(_hits(labels, int(n_classes)), getattr(xp, resolve_dtype(dtype).name))


def _hits(labels, n_classes):
    """The boolean (N, C) matrix ``[c = y_n]`` of labels already checked."""
    xp = namespace(labels)
    # int64 on both sides: class indices in a narrow label dtype (uint8) would wrap past its range
    classes = xp.arange(n_classes, dtype=xp.int64, device=device(labels))
    return xp.astype(labels, xp.int64)[:, None] == classes[None, :]


def _describe_shape(labels) -> str:
    return f"shape {tuple(labels.shape)}" if hasattr(labels, "shape") else type(labels).__name__


def check_labels(labels, n, n_classes, *, check_range=True) -> None:
    """Raise TypeError/ValueError unless labels are (n,) integers in [0, n_classes).

    ``check_range=False`` checks only the type and shape, which needs no value from the device.
    """
    if not hasattr(labels, "dtype"):
        raise TypeError(f"labels must be an integer array, got {type(labels).__name__}")
    if not is_integer_dtype(labels.dtype):
        raise TypeError(f"labels must be integers (class indices), got dtype {labels.dtype}")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    if not check_range:
        return
    xp = namespace(labels)
    wide = xp.astype(labels, xp.int64)  # a narrow dtype (uint8) cannot hold n_classes, and strict refuses it
    if n and bool(xp.any((wide < 0) | (wide >= n_classes))):
        lo, hi = int(xp.min(labels)), int(xp.max(labels))
        raise ValueError(f"labels must lie in [0, {n_classes - 1}] for {n_classes} classes, "
                         f"got values in [{lo}, {hi}]")


def softmax_cross_entropy(logits, labels, *, check_labels_range=True):
    """Mean cross-entropy of a softmax classifier, and its gradient.

    Parameters
    ----------
    logits : (N, C) float array, z
    labels : (N,) integer array, y_n in [0, C)
    check_labels_range : verify 0 <= y_n < C; the training loop checks its labels once and
        turns this off, because the check reads a value back from the device at every step
        (the labels' type and shape are checked either way)

    Returns
    -------
    loss : 0-d array, ``L = −(1/N) Σ_n log softmax(z_n)[y_n]``
    dlogits : (N, C) array, ``∂L/∂z = (softmax(z) − onehot(y)) / N``

    Notes
    -----
    Stable through log-sum-exp: with m_n = max_c z_nc,

    .. math::
        \\log p_{nc} = (z_{nc} - m_n) - \\log\\sum_{c'} e^{z_{nc'} - m_n}, \\qquad
        \\frac{\\partial L}{\\partial z_{nc}} = \\frac{p_{nc} - [c = y_n]}{N}
    """
    check_matrix(logits, "logits")
    n, n_classes = logits.shape
    if n == 0:
        raise ValueError("logits must hold at least one sample, got shape (0, C)")
    check_labels(labels, n, n_classes, check_range=check_labels_range)
    xp = namespace(logits, labels)
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    log_sum_exp = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    log_probs = shifted - log_sum_exp
    hits = _hits(labels, n_classes)
    # picked by where, not by a product with the one-hot: a logit far below the row's maximum gives a
    # log-probability of −inf (in float32 from a gap of 3.4e38), and −inf · 0 would make the loss NaN
    picked = xp.where(hits, log_probs, xp.zeros_like(log_probs))
    loss = xp.asarray(-xp.sum(picked) / n)  # NumPy reductions return scalars; keep a 0-d array
    dlogits = (xp.exp(log_probs) - xp.astype(hits, logits.dtype)) / n
    return loss, dlogits


def accuracy(logits, labels) -> float:
    """Fraction of rows whose arg-max equals the label; logits (N, C), labels (N,) integers in [0, C)."""
    check_matrix(logits, "logits")
    check_labels(labels, logits.shape[0], logits.shape[1])  # a label out of range would count as a miss
    xp = namespace(logits, labels)
    hits = xp.argmax(logits, axis=1) == xp.astype(labels, xp.int64)  # strict does not compare int64 with uint64
    return float(xp.mean(xp.astype(hits, logits.dtype))) if math.prod(labels.shape) else 0.0
