"""Datasets for the lessons: 8x8 digits, MNIST, Fashion-MNIST and toy 2-D sets.

Every loader returns a :class:`Dataset`: images flattened to float rows in
[0, 1] (``x``, shape ``(N, D)``) and int64 class labels (``y``, shape ``(N,)``).

* ``digits`` (1,797 samples, 64 features) ships inside the package, so it
  always works offline.
* ``mnist`` and ``fashion-mnist`` are the original gzipped IDX files. Each file
  is looked up as ``<dir>/<dataset>/<file>`` in every directory of
  :func:`data_dir_candidates`, checked against the size and SHA-256 in
  :data:`REGISTRY`, and downloaded from the mirrors only when missing.
  ``MINISPECTRAL_DATA`` names an extra data directory; ``MINISPECTRAL_MIRROR``
  replaces the mirror list with one base URL (``{dataset}`` in it is replaced
  by the dataset name).
* :func:`make_spirals` and :func:`make_blobs` generate small 2-D problems.

Parsed files are cached in-process as read-only arrays. Every loader returns
fresh, writable copies, so changing a Dataset's arrays never changes the cache
or another Dataset.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.resources
import io
import math
import os
import stat
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "DATASETS", "REGISTRY", "Dataset", "DatasetError", "FileSpec",
    "data_dir_candidates", "fetch", "load_dataset", "load_digits",
    "load_fashion_mnist", "load_mnist", "make_blobs", "make_spirals",
    "read_idx", "sha256_file", "synthetic_dataset",
]

DATASETS = ("digits", "mnist", "fashion-mnist")

TIMEOUT_S = 30.0
_CHUNK = 1 << 16


class FileSpec(NamedTuple):
    """Expected SHA-256 (hex) and size in bytes of one data file."""

    sha256: str
    size: int


REGISTRY: dict[str, dict] = {
    "mnist": {
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            # The original site is often down or refuses scripts: last resort.
            "http://yann.lecun.com/exdb/mnist/",
        ),
        "files": {
            "train-images-idx3-ubyte.gz": FileSpec(
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
            "train-labels-idx1-ubyte.gz": FileSpec(
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
            "t10k-images-idx3-ubyte.gz": FileSpec(
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
            "t10k-labels-idx1-ubyte.gz": FileSpec(
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
        },
    },
    "fashion-mnist": {
        "mirrors": (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        "files": {
            "train-images-idx3-ubyte.gz": FileSpec(
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26_421_880),
            "train-labels-idx1-ubyte.gz": FileSpec(
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29_515),
            "t10k-images-idx3-ubyte.gz": FileSpec(
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4_422_102),
            "t10k-labels-idx1-ubyte.gz": FileSpec(
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5_148),
        },
    },
}

_DIGITS_FILE = FileSpec("09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22", 57_523)
_DIGITS_TEST_FRACTION = 0.2
# Fixed, not the caller's seed: the digits test set must be the same for everyone.
_DIGITS_SPLIT_SEED = 1998


class DatasetError(RuntimeError):
    """A data file is missing, corrupt, or could not be downloaded."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field by field is ambiguous
class Dataset:
    """A classification dataset split into train, optional validation, and test.

    Attributes
    ----------
    name : str
    x_train, x_val, x_test : ndarray, shape (N, D)
        Float features, C-contiguous; images are scaled to [0, 1].
    y_train, y_val, y_test : ndarray, shape (N,)
        int64 labels in ``0..n_classes-1``. ``x_val``/``y_val`` are None
        when no validation split was asked for.
    n_classes : int
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    n_classes: int = 10

    def __post_init__(self):
        if (self.x_val is None) != (self.y_val is None):
            raise ValueError("x_val and y_val must both be arrays or both be None")
        n_features = self.x_train.shape[-1]
        for split, x, y in (("train", self.x_train, self.y_train),
                            ("val", self.x_val, self.y_val),
                            ("test", self.x_test, self.y_test)):
            if x is None:
                continue
            if x.ndim != 2 or x.shape[1] != n_features or y.shape != x.shape[:1]:
                raise ValueError(f"{split} split: expected x of shape (N, {n_features}) and y of "
                                 f"shape (N,), got {x.shape} and {y.shape}")

    @property
    def n_features(self) -> int:
        """Number of features D per sample."""
        return self.x_train.shape[1]

    def summary(self) -> str:
        """One line, e.g. ``digits: 1438 train, 359 test, 64 features, 10 classes``."""
        val = "" if self.y_val is None else f"{len(self.y_val)} val, "
        return (f"{self.name}: {len(self.y_train)} train, {val}{len(self.y_test)} test, "
                f"{self.n_features} features, {self.n_classes} classes")

    def __repr__(self) -> str:
        return f"<Dataset {self.summary()}>"


# ---------------------------------------------------------------- argument checks

def _float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as float32 or float64, or raise ValueError."""
    try:
        result = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would mean float64
    except TypeError:
        result = None
    if result not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return result


def _check_val_split(val_split: float) -> None:
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {val_split!r}")


# ---------------------------------------------------------------- files on disk

def data_dir_candidates(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for data files, in order.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory, searched first.

    Returns
    -------
    list of Path
        ``data_dir``, then ``$MINISPECTRAL_DATA``, then the user cache
        directory ``($XDG_CACHE_HOME or ~/.cache)/minispectral``; unset
        entries are left out.
    """
    dirs = [Path(d).expanduser() for d in (data_dir, os.environ.get("MINISPECTRAL_DATA")) if d]
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    dirs.append(Path(cache).expanduser() / "minispectral")
    return list(dict.fromkeys(dirs))


def _writable(path: Path) -> bool:
    """True if files can be created at ``path``, which may not exist yet."""
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    # root passes os.access everywhere; a directory marked read-only
    # (like a shared data folder) should still be left alone.
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)


def _download_root(dataset: str, data_dir) -> Path:
    """Where a missing file goes: ``data_dir``, else a writable env dir, else the cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("MINISPECTRAL_DATA")
    if env and _writable(Path(env).expanduser() / dataset):
        return Path(env).expanduser()
    return data_dir_candidates()[-1]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _cached_sha256(path: Path, mtime_ns: int, size: int) -> str:
    # mtime and size are part of the key so that a changed file is hashed again.
    return sha256_file(path)


def _verify(path: Path, spec: FileSpec) -> None:
    st = path.stat()
    if st.st_size != spec.size:
        problem = f"has {st.st_size} bytes, expected {spec.size}"
    elif (sha := _cached_sha256(path.resolve(), st.st_mtime_ns, st.st_size)) != spec.sha256:
        problem = f"has SHA-256 {sha}, expected {spec.sha256}"
    else:
        return
    raise DatasetError(f"{path} {problem}. The file is corrupt or incomplete: "
                       "delete it and load again to download a fresh copy.")


def _by_hand(dest: Path, spec: FileSpec) -> str:
    return (f"To install it by hand, download the file and save it as\n    {dest}\n"
            f"(directory {dest.parent}), or set MINISPECTRAL_DATA to a directory holding "
            f"{dest.parent.name}/{dest.name}.\n"
            f"Expected SHA-256 {spec.sha256}, {spec.size} bytes.")


def _mirror_urls(dataset: str, filename: str, mirrors) -> list[str]:
    if mirrors is None:
        env = os.environ.get("MINISPECTRAL_MIRROR")
        mirrors = [env] if env else REGISTRY[dataset]["mirrors"]
    elif isinstance(mirrors, str):  # one URL, not a sequence of characters
        mirrors = [mirrors]
    return [base.replace("{dataset}", dataset).rstrip("/") + "/" + filename for base in mirrors]


def fetch(dataset_name: str, filename: str, *, data_dir=None, download: bool = True,
          mirrors: Sequence[str] | str | None = None, progress: bool | None = None) -> Path:
    """Path of a verified data file, downloaded first if no directory has it.

    Parameters
    ----------
    dataset_name, filename : str
        A dataset and one of its files in :data:`REGISTRY`.
    data_dir : path-like, optional
        Searched first, and where a download goes (see :func:`data_dir_candidates`).
    download : bool
        If False, a missing file raises instead of being downloaded.
    mirrors : str or sequence of str, optional
        Base URLs to try in order; ``filename`` is appended and ``{dataset}``
        is replaced by ``dataset_name``. Defaults to ``$MINISPECTRAL_MIRROR``,
        else the registry's mirrors.
    progress : bool, optional
        Show a progress bar; by default only on a terminal.

    Returns
    -------
    Path

    Raises
    ------
    DatasetError
        The file is corrupt, missing with ``download=False``, or no mirror worked.
    """
    if dataset_name not in REGISTRY:
        raise ValueError(f"unknown dataset {dataset_name!r}; expected one of {', '.join(REGISTRY)}")
    files = REGISTRY[dataset_name]["files"]
    if filename not in files:
        raise ValueError(f"unknown file {filename!r}; {dataset_name} has {', '.join(files)}")
    spec = files[filename]
    for root in data_dir_candidates(data_dir):
        path = root / dataset_name / filename
        if path.is_file():
            _verify(path, spec)
            return path

    dest = _download_root(dataset_name, data_dir) / dataset_name / filename
    urls = _mirror_urls(dataset_name, filename, mirrors)
    if not download:
        searched = ", ".join(str(d / dataset_name) for d in data_dir_candidates(data_dir))
        raise DatasetError(f"{dataset_name}/{filename} not found (searched {searched}) and "
                           f"download=False. Mirrors: {', '.join(urls)}\n" + _by_hand(dest, spec))
    # The folders a download creates; if every mirror fails they are removed again, so that a
    # failed download leaves no empty data folder that looks like a dataset that is there.
    created = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]
    errors = []
    for url in urls:
        try:
            _download(url, dest, spec, progress)
            return dest
        except (OSError, ValueError, http.client.HTTPException, DatasetError) as exc:
            errors.append(f"  {url}: {exc}")
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived meanwhile) or already gone
            break
    raise DatasetError(f"could not download {dataset_name}/{filename}:\n" + "\n".join(errors)
                       + "\n" + _by_hand(dest, spec))


def _download(url: str, dest: Path, spec: FileSpec, progress: bool | None) -> None:
    """Stream ``url`` into ``dest``; ``dest`` appears only once it is complete and verified."""
    from tqdm.auto import tqdm  # only downloads need it

    dest.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as dest, so that os.replace is an atomic rename.
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=dest.parent, prefix=f".{dest.name}.",
                                      suffix=".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "minispectral"})
        digest, size = hashlib.sha256(), 0
        # disable=None is tqdm's "show only on a terminal".
        with tmp, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, tqdm(
                total=spec.size, unit="B", unit_scale=True, desc=dest.name,
                disable=None if progress is None else not progress) as bar:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > spec.size:
                    raise DatasetError(f"server sent more than the expected {spec.size} bytes")
                tmp.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise DatasetError(f"got {size} bytes with SHA-256 {digest.hexdigest()}, "
                               f"expected {spec.size} bytes with SHA-256 {spec.sha256}")
        os.replace(tmp.name, dest)
    except BaseException:  # including KeyboardInterrupt: never leave a partial file
        Path(tmp.name).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- IDX format

# IDX magic = 0x0000 + type byte (0x08: unsigned byte) + number of dimensions.
_IDX_NDIM = {2049: 1, 2051: 3}  # labels (N,), images (N, rows, cols)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes (the MNIST format).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ndarray of uint8
        Shape ``(N,)`` for labels (magic 2049) or ``(N, rows, cols)`` for
        images (magic 2051). Read-only: it is a view of the decompressed bytes.

    Raises
    ------
    DatasetError
        Not gzip, truncated, wrong magic number, or wrong length for its header.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot decompress ({exc})") from exc
    magic = struct.unpack_from(">I", raw)[0] if len(raw) >= 4 else None
    if magic not in _IDX_NDIM:
        raise DatasetError(f"{path}: IDX magic number is {magic}, expected 2049 (labels) "
                           "or 2051 (images)")
    ndim = _IDX_NDIM[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    shape = struct.unpack_from(f">{ndim}I", raw, 4)
    expected = header + math.prod(shape)
    if len(raw) != expected:
        raise DatasetError(f"{path}: {len(raw)} bytes after decompression, expected {expected} "
                           f"for shape {shape} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


@functools.lru_cache(maxsize=8)  # the 4 files of both MNIST datasets
def _read_idx_cached(resolved_path: Path) -> np.ndarray:
    return read_idx(resolved_path)


# ---------------------------------------------------------------- building datasets

def _check_labels(y: np.ndarray, n_classes: int, source) -> None:
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DatasetError(f"{source}: labels span {y.min()}..{y.max()}, "
                           f"expected 0..{n_classes - 1}")


def _to_float(pixels: np.ndarray, max_value: float, dtype: np.dtype) -> np.ndarray:
    """Fresh, writable (N, D) array ``pixels / max_value``."""
    x = pixels.reshape(len(pixels), -1).astype(dtype, order="C")
    x /= max_value
    return x


def _stratified_test_mask(y: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask choosing ``test_fraction`` of each class at random."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        mask[members[: round(test_fraction * len(members))]] = True
    return mask


def _build(name, x, y, x_test, y_test, *, val_split, seed, n_classes=10) -> Dataset:
    """Dataset whose validation split is a random ``val_split`` of (x, y)."""
    if val_split == 0:
        return Dataset(name, x, y, x_test, y_test, n_classes=n_classes)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_val = round(val_split * len(y))
    # Sorted so that both parts keep the original sample order.
    train, val = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    return Dataset(name, x[train], y[train], x_test, y_test, x[val], y[val], n_classes=n_classes)


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    raw = (importlib.resources.files("minispectral") / "data" / "digits.csv.gz").read_bytes()
    if hashlib.sha256(raw).hexdigest() != _DIGITS_FILE.sha256:
        raise DatasetError("minispectral/data/digits.csv.gz is corrupt: reinstall minispectral "
                           f"(expected SHA-256 {_DIGITS_FILE.sha256}).")
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode("ascii")), delimiter=",",
                       dtype=np.int64)
    pixels, labels = table[:, :64], table[:, 64]
    _check_labels(labels, 10, "digits.csv.gz")
    for a in (pixels, labels):
        a.flags.writeable = False  # cached: callers get copies
    return pixels, labels


def load_digits(*, val_split: float = 0.0, seed: int = 0, dtype="float32") -> Dataset:
    """The 8x8 handwritten digits that ship with the package (UCI, CC BY 4.0).

    1,797 images with pixels 0..16, scaled to [0, 1]. The test set is a fixed
    stratified 20% (the same for every ``seed``); the validation split is
    taken from the remaining 80% with ``seed``.

    Parameters
    ----------
    val_split : float in [0, 1)
        Fraction of the training set held out for validation.
    seed : int
        Seed of the validation split.
    dtype : {"float32", "float64"}

    Returns
    -------
    Dataset
        x arrays of shape (N, 64).
    """
    dtype = _float_dtype(dtype)
    _check_val_split(val_split)
    pixels, labels = _digits_arrays()
    test = _stratified_test_mask(labels, _DIGITS_TEST_FRACTION, _DIGITS_SPLIT_SEED)
    return _build("digits", _to_float(pixels[~test], 16, dtype), labels[~test],
                  _to_float(pixels[test], 16, dtype), labels[test],
                  val_split=val_split, seed=seed)


def _read_pair(name: str, prefix: str, data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one split, from the read-only cache."""
    images_path, labels_path = (
        fetch(name, f"{prefix}-{kind}", data_dir=data_dir, download=download)
        for kind in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz"))
    images = _read_idx_cached(images_path.resolve())
    labels = _read_idx_cached(labels_path.resolve())
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise DatasetError(f"{images_path} and {labels_path}: expected images (N, 28, 28) and "
                           f"labels (N,), got {images.shape} and {labels.shape}")
    _check_labels(labels, 10, labels_path)
    return images, labels


def _load_idx_dataset(name, *, data_dir, val_split, seed, download, dtype) -> Dataset:
    dtype = _float_dtype(dtype)
    _check_val_split(val_split)
    (x, y), (x_test, y_test) = (_read_pair(name, prefix, data_dir, download)
                                for prefix in ("train", "t10k"))
    return _build(name, _to_float(x, 255, dtype), y.astype(np.int64),
                  _to_float(x_test, 255, dtype), y_test.astype(np.int64),
                  val_split=val_split, seed=seed)


def load_mnist(*, data_dir=None, val_split: float = 0.0, seed: int = 0, download: bool = True,
               dtype="float32") -> Dataset:
    """MNIST handwritten digits: 60,000 train and 10,000 test images of 28x28.

    Parameters
    ----------
    data_dir : path-like, optional
        Directory holding (or receiving) ``mnist/<file>``; see :func:`fetch`.
    val_split : float in [0, 1)
        Fraction of the training set held out for validation, chosen with ``seed``.
    seed : int
    download : bool
        If False, raise :class:`DatasetError` instead of downloading missing files.
    dtype : {"float32", "float64"}

    Returns
    -------
    Dataset
        x arrays of shape (N, 784) in [0, 1].
    """
    return _load_idx_dataset("mnist", data_dir=data_dir, val_split=val_split, seed=seed,
                             download=download, dtype=dtype)


def load_fashion_mnist(*, data_dir=None, val_split: float = 0.0, seed: int = 0,
                       download: bool = True, dtype="float32") -> Dataset:
    """Fashion-MNIST (Zalando, MIT): 60,000 train and 10,000 test images of 28x28.

    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
    6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot. Parameters as :func:`load_mnist`.

    Returns
    -------
    Dataset
        x arrays of shape (N, 784) in [0, 1].
    """
    return _load_idx_dataset("fashion-mnist", data_dir=data_dir, val_split=val_split, seed=seed,
                             download=download, dtype=dtype)


def load_dataset(name: str, *, data_dir=None, val_split: float = 0.0, seed: int = 0,
                 download: bool = True, dtype="float32") -> Dataset:
    """Load one of :data:`DATASETS` by name (``data_dir``/``download`` are ignored for digits).

    Returns
    -------
    Dataset
    """
    key = str(name).lower().replace("_", "-")
    if key == "digits":
        return load_digits(val_split=val_split, seed=seed, dtype=dtype)
    if key in DATASETS:
        return _load_idx_dataset(key, data_dir=data_dir, val_split=val_split, seed=seed,
                                 download=download, dtype=dtype)
    raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")


# ---------------------------------------------------------------- synthetic data

def _check_counts(**counts: int) -> None:
    for arg, value in counts.items():
        if value < 1:
            raise ValueError(f"{arg} must be at least 1, got {value!r}")


def make_spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0,
                 dtype="float32") -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Parameters
    ----------
    n_per_class, n_classes : int
    noise : float
        Standard deviation of the angle jitter, in radians.
    seed : int
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray, shape (n_per_class * n_classes, 2)
        Points in [-1, 1]^2, ordered by class.
    y : ndarray of int64, shape (n_per_class * n_classes,)
    """
    dtype = _float_dtype(dtype)
    _check_counts(n_per_class=n_per_class, n_classes=n_classes)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    # Each arm turns 4 radians from the centre outwards; arms are evenly rotated.
    angle = 4.0 * radius + 2.0 * np.pi * y / n_classes + noise * rng.standard_normal(len(y))
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return X.astype(dtype), y


def make_blobs(n_per_class: int = 100, n_classes: int = 3, n_features: int = 2,
               spread: float = 1.0, seed: int = 0,
               dtype="float32") -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, with centres drawn uniformly in [-5, 5]^D.

    Parameters
    ----------
    n_per_class, n_classes, n_features : int
    spread : float
        Standard deviation of each cluster.
    seed : int
    dtype : {"float32", "float64"}

    Returns
    -------
    X : ndarray, shape (n_per_class * n_classes, n_features)
        Ordered by class.
    y : ndarray of int64, shape (n_per_class * n_classes,)
    """
    dtype = _float_dtype(dtype)
    _check_counts(n_per_class=n_per_class, n_classes=n_classes, n_features=n_features)
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-5.0, 5.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    X = centres[y] + spread * rng.standard_normal((len(y), n_features))
    return X.astype(dtype), y


_GENERATORS = {"spirals": make_spirals, "blobs": make_blobs}


def synthetic_dataset(kind: str = "spirals", *, val_split: float = 0.0, seed: int = 0,
                      test_fraction: float = 0.25, **kw) -> Dataset:
    """A generated dataset split into train, optional validation, and test.

    Parameters
    ----------
    kind : {"spirals", "blobs"}
    val_split : float in [0, 1)
        Fraction of the training part held out for validation.
    seed : int
        Seeds the generator and both splits.
    test_fraction : float in (0, 1)
        Fraction of each class put in the test set.
    **kw
        Passed to :func:`make_spirals` or :func:`make_blobs` (e.g. ``n_per_class``, ``dtype``).

    Returns
    -------
    Dataset
    """
    if kind not in _GENERATORS:
        raise ValueError(f"unknown synthetic dataset {kind!r}; "
                         f"expected one of {', '.join(_GENERATORS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    _check_val_split(val_split)
    X, y = _GENERATORS[kind](seed=seed, **kw)
    test = _stratified_test_mask(y, test_fraction, seed)
    return _build(kind, X[~test], y[~test], X[test], y[test], val_split=val_split, seed=seed,
                  n_classes=int(y.max()) + 1)
