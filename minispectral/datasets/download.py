"""Data files on disk: where they are looked for, how they are verified, and how they are downloaded.

Each file of :data:`REGISTRY` is looked up as ``<dir>/<dataset>/<file>`` in every directory of
:func:`data_dir_candidates`, checked against its size and SHA-256, and downloaded from the mirrors
only when missing. An unpacked copy (``<file>`` without ``.gz``, as ``gunzip`` leaves it) is used
too, checked against the size and SHA-256 of the unpacked bytes. A download is streamed into a temporary file beside its destination, verified,
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
        "unpacked": {  # the same files after gunzip
            "train-images-idx3-ubyte.gz": FileSpec(
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
            "train-labels-idx1-ubyte.gz": FileSpec(
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
            "t10k-images-idx3-ubyte.gz": FileSpec(
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
            "t10k-labels-idx1-ubyte.gz": FileSpec(
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
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
        "unpacked": {
            "train-images-idx3-ubyte.gz": FileSpec(
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
            "train-labels-idx1-ubyte.gz": FileSpec(
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
            "t10k-images-idx3-ubyte.gz": FileSpec(
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
            "t10k-labels-idx1-ubyte.gz": FileSpec(
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
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
    found = locate(dataset_name, filename, data_dir=data_dir)  # which checks data_dir
    if found is not None:
        return found

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


def locate(dataset_name: str, filename: str, *, data_dir=None) -> Path | None:
    """The verified file on disk, packed (``.gz``) or unpacked, in the first directory that has it,
    else None. A ``data_dir`` that holds the files itself, one level too deep, is an error."""
    spec = REGISTRY[dataset_name]["files"][filename]
    unpacked = REGISTRY[dataset_name].get("unpacked", {}).get(filename)  # CIFAR-10's archive: packed only
    candidates = data_dir_candidates(data_dir)
    for root in candidates:
        for path, expected in ((root / dataset_name / filename, spec),
                               (root / dataset_name / filename.removesuffix(".gz"), unpacked)):
            if expected is not None and path.is_file():
                _verify(path, expected)
                return path
    if data_dir is not None:
        _check_not_too_deep(Path(data_dir).expanduser(), dataset_name, filename)
    return None


def _check_not_too_deep(folder: Path, dataset_name: str, filename: str) -> None:
    """``--data-dir data/mnist`` for ``data``: the files are in the folder itself, not in its mnist/."""
    here = [folder / name for name in (filename, filename.removesuffix(".gz")) if (folder / name).is_file()]
    if here:
        raise DatasetError(f"{folder} holds {here[0].name} itself, but data files are looked up as "
                           f"<data dir>/{dataset_name}/<file>: pass the folder above it, {folder.parent}, "
                           f"and keep the files in {folder.parent / dataset_name}")


def missing_files(dataset_name: str, *, data_dir=None) -> list[str]:
    """The files of ``dataset_name`` that no searched directory holds (verifying those that are there)."""
    return [f for f in REGISTRY[dataset_name]["files"] if locate(dataset_name, f, data_dir=data_dir) is None]


def missing_files_message(dataset_name: str, missing: list[str], *, data_dir=None) -> str:
    """Every missing file at once: where they were looked for, and where to put them by hand."""
    searched = ", ".join(str(d / dataset_name) for d in data_dir_candidates(data_dir))
    dest = _download_root(dataset_name, data_dir) / dataset_name
    specs = REGISTRY[dataset_name]["files"]
    listed = "\n".join(f"    {f}  (SHA-256 {specs[f].sha256}, {specs[f].size} bytes)" for f in missing)
    return (f"{dataset_name} needs {len(specs)} files and {len(missing)} of them are not on this machine "
            f"(searched {searched}):\n{listed}\n"
            f"Put them (gzipped as above, or unpacked) in {dest}, or set MINISPECTRAL_DATA to a directory "
            f"holding {dataset_name}/ with them.")


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


