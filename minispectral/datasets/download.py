"""Data files on disk: where they are looked for, how they are verified, and how they are downloaded.

Each file of :data:`REGISTRY` is looked up as ``<dir>/<dataset>/<file>`` in every directory of
:func:`data_dir_candidates`, checked against its size and SHA-256, and downloaded from the mirrors
only when missing. A download is streamed into a temporary file beside its destination, verified,
and renamed into place, so a file that appears is always complete.
"""
from __future__ import annotations

import functools
import hashlib
import http.client
import os
import stat
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ..atomic import atomic_write
from .dataset import DatasetError

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
    # The binary version (fixed-size records), never the pickled python version (datasets/cifar.py).
    "cifar10": {
        "mirrors": ("https://www.cs.toronto.edu/~kriz/",),
        "files": {
            "cifar-10-binary.tar.gz": FileSpec(
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170_052_171),
        },
    },
}

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
    _check_data_dir(data_dir)
    dirs = [Path(d).expanduser() for d in (data_dir, os.environ.get("MINISPECTRAL_DATA")) if d]
    cache = os.environ.get("XDG_CACHE_HOME")
    if not cache or not Path(cache).expanduser().is_absolute():  # the XDG spec: a relative value is ignored
        cache = Path.home() / ".cache"
    dirs.append(Path(cache).expanduser() / "minispectral")
    return list(dict.fromkeys(dirs))


def _check_data_dir(data_dir) -> None:
    # An empty string would be the working directory to Path, but is left out of the search:
    # files would be downloaded where they are never found again (an unset shell variable, say).
    if data_dir is not None and not (isinstance(data_dir, os.PathLike) or (isinstance(data_dir, str) and data_dir)):
        raise ValueError(f"data_dir must be a non-empty path or None, got {data_dir!r}")


def _writable(path: Path) -> bool:
    """True if files can be created at ``path``, which may not exist yet."""
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    # root passes os.access everywhere; a directory marked read-only
    # (like a shared data folder) should still be left alone. A file on the way (a data variable
    # naming a file) can hold no folder at all.
    return path.is_dir() and os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)


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
def _cached_sha256(path: Path, identity: tuple) -> str:
    # The file's identity is part of the key, so that a changed file is hashed again. The change
    # time is in it because a copy that keeps the old modification time (cp -p, rsync -t, tar)
    # can give other bytes the old mtime and size; no one can set ctime back.
    return sha256_file(path)


def _verify(path: Path, spec: FileSpec) -> None:
    st = path.stat()
    if st.st_size != spec.size:
        problem = f"has {st.st_size} bytes, expected {spec.size}"
    elif (sha := _cached_sha256(path.resolve(), _identity(st))) != spec.sha256:
        problem = f"has SHA-256 {sha}, expected {spec.sha256}"
    else:
        return
    raise DatasetError(f"{path} {problem}. The file is corrupt or incomplete: "
                       "delete it and load again to download a fresh copy.")


def _identity(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


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
    if (isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, Sequence) or not mirrors
            or not all(isinstance(m, str) and m for m in mirrors)):
        raise ValueError(f"mirrors must be a base URL or a non-empty sequence of them, got {mirrors!r}")
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
    for root in data_dir_candidates(data_dir):  # which checks data_dir
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
    try:  # a folder we cannot write in fails every mirror alike: say so once, as our own problem
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest.parent):
            pass
    except OSError as exc:
        _remove_empty(created)
        raise DatasetError(f"cannot write the download into {dest.parent}: {exc.strerror or exc}\n"
                           + _by_hand(dest, spec)) from exc
    errors = []
    for url in urls:
        try:
            _download(url, dest, spec, progress)
            return dest
        except (OSError, ValueError, http.client.HTTPException, DatasetError) as exc:
            errors.append(f"  {url}: {exc}")
    _remove_empty(created)
    raise DatasetError(f"could not download {dataset_name}/{filename}:\n" + "\n".join(errors)
                       + "\n" + _by_hand(dest, spec))


def _remove_empty(created: list) -> None:
    """Remove the folders a failed download created (deepest first), so that no empty data folder
    looks like a dataset that is there."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived meanwhile) or already gone
            break


def _download(url: str, dest: Path, spec: FileSpec, progress: bool | None) -> None:
    """Stream ``url`` into ``dest``; ``dest`` appears only once it is complete and verified."""
    from tqdm.auto import tqdm  # only downloads need it

    request = urllib.request.Request(url, headers={"User-Agent": "minispectral"})
    digest, size = hashlib.sha256(), 0
    # atomic_write: a temporary file beside dest, renamed over it only if the block ends without an
    # error (a failed check below raises inside it), and given the permissions of any new file.
    # disable=None is tqdm's "show only on a terminal".
    with atomic_write(dest, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, tqdm(
            total=spec.size, unit="B", unit_scale=True, desc=dest.name,
            disable=None if progress is None else not progress) as bar:
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > spec.size:
                raise DatasetError(f"server sent more than the expected {spec.size} bytes")
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise DatasetError(f"got {size} bytes with SHA-256 {digest.hexdigest()}, "
                               f"expected {spec.size} bytes with SHA-256 {spec.sha256}")


