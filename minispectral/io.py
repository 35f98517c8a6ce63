"""Save and load models: one ``.npz`` of host arrays plus JSON metadata, never pickle.

The file holds ``param/<name>`` (and ``mask/<name>``) arrays and a ``__meta__`` entry, the
UTF-8 JSON of the architecture, trainable flags, dtype and library version.  The write goes
to a temporary file in the same folder and is renamed over the target only when complete,
so an interrupted save leaves the previous file intact.
"""
from __future__ import annotations

import contextlib
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .backend import get_backend, to_numpy
from .nn.sequential import Sequential, from_config

FORMAT = "minispectral-model"
FORMAT_VERSION = 1


def save(model: Sequential, path, metadata: dict | None = None) -> Path:
    """Write ``model`` (and optional JSON-able ``metadata``) to ``path`` atomically.

    Raises TypeError for anything but a Sequential, and ValueError ("cannot save this model") for one
    that ``load`` would refuse; both before anything is written.
    """
    from . import __version__

    path = Path(path).expanduser()
    if not isinstance(model, Sequential):
        raise TypeError(f"save expects a Sequential model, got {type(model).__name__}")
    _check_loadable(model)
    arrays, params = {}, {}
    for name, p in model.named_parameters():
        arrays[f"param/{name}"] = to_numpy(p.value)
        if p.mask is not None:
            arrays[f"mask/{name}"] = to_numpy(p.mask)
        params[name] = {"trainable": bool(p.trainable), "shape": list(p.shape)}  # 1 or np.True_ load as true
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
            "architecture": model.config(), "dtype": str(model.dtype), "parameters": params,
            "input_grad": bool(model.input_grad), "metadata": metadata or {}}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _check_loadable(model: Sequential) -> None:
    """Raise ValueError unless ``load`` can rebuild ``model`` from its description: checked before
    anything is written, so that a save never replaces a good file with one that cannot be read
    (a nested Sequential, a layer class of the user's own, widths that do not chain)."""
    try:
        rebuilt = from_config(model.config(), dtype=model.dtype or "float32", backend="numpy")
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot save this model: load could not rebuild it from its description ({exc})") from exc
    names = [name for name, _ in model.named_parameters()]
    rebuilt_names = [name for name, _ in rebuilt.named_parameters()]
    if names != rebuilt_names:
        raise ValueError(f"cannot save this model: its parameters {names} are not those its description "
                         f"rebuilds, {rebuilt_names}")
    try:  # every check load makes of the file's arrays, made of the arrays about to be written
        for (name, p), (_, expected) in zip(model.named_parameters(), rebuilt.named_parameters()):
            mask = None if p.mask is None else to_numpy(p.mask)
            _check_parameter(rebuilt, name, expected, to_numpy(p.value), mask, bool(p.trainable))
        _check_factor_ranks(model)
    except ValueError as exc:
        raise ValueError(f"cannot save this model: load would refuse it ({exc})") from exc


def read_metadata(path) -> dict:
    """The JSON metadata of a saved model, checked for format."""
    with _open(path) as data:
        return _meta(data, path)


def load(path, *, backend=None, dtype=None) -> Sequential:
    """Rebuild a saved model on ``backend`` (default: current) in ``dtype`` (default: as saved)."""
    with _open(path) as data:
        meta = _meta(data, path)
        try:
            model = from_config(meta["architecture"], dtype=meta["dtype"], backend="numpy")
            for name, p in model.named_parameters():
                value = data[f"param/{name}"]
                mask = data[f"mask/{name}"] if f"mask/{name}" in data.files else None
                trainable = _flag(meta["parameters"][name]["trainable"], f"parameter {name}'s trainable flag")
                _check_parameter(model, name, p, value, mask, trainable)
                p.value, p.mask, p.trainable = value, mask, trainable
            _check_factor_ranks(model)
            model.input_grad = _flag(meta.get("input_grad", False), "input_grad")  # absent in files of before 2026-12-01
        except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError, EOFError, zlib.error,
                NotImplementedError) as exc:  # the last three: a damaged archive member
            raise ValueError(f"{path} is not a valid minispectral model file: {exc}") from exc
    return model.to(backend=get_backend(backend), dtype=dtype)


def _check_parameter(model, name: str, expected, value, mask, trainable: bool) -> None:
    """Raise ValueError unless a parameter's host ``value``, ``mask`` and flag fit ``expected``, the
    same parameter of ``model`` rebuilt from the saved architecture."""
    if tuple(value.shape) != expected.shape and not _rank_changed(model, name, expected.shape, value.shape):
        raise ValueError(f"parameter {name} has shape {value.shape}, expected {expected.shape}")
    if value.dtype != expected.value.dtype:
        raise ValueError(f"parameter {name} has dtype {value.dtype}, expected {expected.value.dtype}")
    if (mask is None) != (expected.mask is None) or (mask is not None and (
            mask.shape != value.shape or mask.dtype != value.dtype or not np.isin(mask, (0, 1)).all())):
        raise ValueError(f"parameter {name}: the mask does not fit the architecture (expected "
                         f"{'none' if expected.mask is None else f'0s and 1s of shape {value.shape}, {value.dtype}'})")
    if trainable and name.split(".", 1)[1] in ("U", "V", "Q"):
        raise ValueError(f"parameter {name} is marked trainable, but S-SVD's U, V and QR's Q are frozen")


def _flag(value, what: str) -> bool:
    if not isinstance(value, bool):  # "false" would be a true string
        raise ValueError(f"{what} is {value!r}, expected true or false")
    return value


def _rank_changed(model, name: str, expected: tuple, saved: tuple) -> bool:
    """Whether a saved S-SVD or QR factor differs from a fresh one only in its rank m: ``prune`` removes
    nodes (rows of U and R, columns of V and Q) and keeps the factors' inner dimension."""
    layer = model.layers[int(name.split(".", 1)[0])]
    short = name.split(".", 1)[1]
    outer_axis = {"U": 0, "R": 0, "V": 1, "Q": 1}.get(short)
    if short == "s":
        return len(saved) == 1
    if outer_axis is None or len(saved) != 2 or getattr(layer, "variant", None) not in ("ssvd", "qr"):
        return False
    return saved[outer_axis] == expected[outer_axis]


def _check_factor_ranks(model) -> None:
    """The factors of each S-SVD or QR layer must agree on their rank: U (n_out, m), s (m,), V (m, n_in);
    R (n_out, m), Q (m, n_in)."""
    for i, layer in enumerate(model.layers):
        p = getattr(layer, "params", {})
        if "s" in p:
            ranks = {"U": p["U"].shape[1], "s": p["s"].shape[0], "V": p["V"].shape[0]}
        elif "R" in p:
            ranks = {"R": p["R"].shape[1], "Q": p["Q"].shape[0]}
        else:
            continue
        if len(set(ranks.values())) != 1:
            raise ValueError(f"layer {i}: its factors disagree on their rank {ranks}")


@contextlib.contextmanager
def _open(path):
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    # We open the file ourselves: np.load leaves its own handle open when the zip is corrupt.
    with open(path, "rb") as f:
        start = f.read(6)
        f.seek(0)
        if start[:4] not in (b"PK\x03\x04", b"PK\x05\x06") and start != b"\x93NUMPY":
            # np.load would read it as a pickle and say so, suggesting allow_pickle: no advice for a model file
            raise ValueError(f"{path} is not a valid minispectral model file: not an .npz archive "
                             f"(it starts with {start!r})")
        try:
            data = np.load(f, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
            raise ValueError(f"{path} is not a valid minispectral model file (corrupt or truncated): {exc}") from exc
        if not isinstance(data, np.lib.npyio.NpzFile):  # a lone .npy array loads fine but is no model
            raise ValueError(f"{path} is not a valid minispectral model file: "
                             "it holds a single array, not an .npz archive")
        with data:
            yield data


def _meta(data, path) -> dict:
    try:
        meta = json.loads(bytes(data["__meta__"]).decode())
    except (KeyError, ValueError, zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ValueError(f"{path} is not a valid minispectral model file (no readable metadata): {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not a valid minispectral model file: its metadata is a JSON "
                         f"{type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a minispectral model file (format {meta.get('format')!r})")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{path} is not a valid minispectral model file: format_version is {version!r}, "
                         "expected an integer")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer minispectral (format {meta['format_version']}); upgrade")
    return meta
