"""Tests for minispectral.datasets. Nothing here touches the internet: downloads
go to a loopback HTTP server, and MNIST is read from the shared offline copy."""
import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import skip_without_data, umask
import minispectral
from minispectral import datasets
from minispectral.datasets import (
    DATASETS, REGISTRY, Dataset, DatasetError, data_dir_candidates, fetch, load_dataset,
    load_digits, load_fashion_mnist, load_mnist, make_blobs, make_spirals, read_idx,
    sha256_file, synthetic_dataset,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# where the library itself puts downloads; read now, before isolated_env points XDG_CACHE_HOME elsewhere
USER_CACHE = data_dir_candidates()[-1]
LABELS = "t10k-labels-idx1-ubyte.gz"
LABELS_SPEC = REGISTRY["mnist"]["files"][LABELS]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No user data dir, cache, mirror or proxy leaks into a test."""
    for var in ("MINISPECTRAL_DATA", "MINISPECTRAL_MIRROR", "http_proxy", "HTTP_PROXY",
                "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def shared_data():
    """The offline MNIST/Fashion-MNIST copies: ../shared/data, $MINISPECTRAL_DATA, or the user cache
    (where the library downloads them, and where the lesson tests find them too)."""
    found = offline_data_dir((SHARED_DATA, os.environ.get("MINISPECTRAL_DATA"), USER_CACHE))
    if found is None:
        skip_without_data(f"MNIST files not found in {SHARED_DATA}, $MINISPECTRAL_DATA nor {USER_CACHE}")
    return found


def _needs(folder: Path, name: str) -> None:
    """Skip (fail under MINISPECTRAL_REQUIRE_DATA) when ``folder`` holds MNIST but not ``name``."""
    if not (folder / name / LABELS).is_file():
        skip_without_data(f"{name} not found in {folder}")


def offline_data_dir(candidates):
    """The first folder that holds mnist/ (None if none does)."""
    return next((Path(c) for c in candidates if c and (Path(c) / "mnist" / LABELS).is_file()), None)


# ---------------------------------------------------------------- loopback server

class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def copyfile(self, source, outputfile):
        data = source.read()
        # Content-Length announces the full size; the connection then closes early.
        outputfile.write(data[: len(data) // 2] if self.truncate else data)

    def log_message(self, *args):
        pass


class _TruncatingHandler(_Handler):
    truncate = True


@pytest.fixture
def serve():
    """Start ``serve(directory, handler=_Handler)`` -> (base_url, server); stopped at teardown."""
    running = []

    def start(directory, handler=_Handler):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
        server.requests = []
        # A short poll interval keeps shutdown() at teardown fast.
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}/", server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def site(tmp_path, shared_data):
    """A directory holding the real MNIST test labels, to be served."""
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(shared_data / "mnist" / LABELS, root / LABELS)
    return root


def _only_entries(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------- digits

def test_digits_shapes_dtype_range():
    ds = load_digits()
    assert ds.name == "digits" and ds.n_classes == 10 and ds.n_features == 64
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert ds.x_val is None and ds.y_val is None
    assert abs(len(ds.y_test) - 0.2 * 1797) <= 10
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.flags.c_contiguous and x.shape == (len(y), 64)
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y)) == set(range(10))
    assert np.bincount(ds.y_test).min() >= 30  # stratified: every class well represented


def test_digits_test_split_fixed_and_val_split_seeded():
    a, b = load_digits(val_split=0.25, seed=0), load_digits(val_split=0.25, seed=1)
    plain = load_digits()
    for ds in (a, b):
        np.testing.assert_array_equal(ds.x_test, plain.x_test)
        np.testing.assert_array_equal(ds.y_test, plain.y_test)
        assert len(ds.y_train) + len(ds.y_val) == len(plain.y_train)
        assert len(ds.y_val) == round(0.25 * len(plain.y_train))
    again = load_digits(val_split=0.25, seed=0)
    np.testing.assert_array_equal(a.x_val, again.x_val)
    np.testing.assert_array_equal(a.y_train, again.y_train)
    assert not np.array_equal(a.x_val, b.x_val)


def test_digits_float64_and_caller_cannot_corrupt_cache():
    ds = load_digits(dtype="float64")
    assert ds.x_train.dtype == np.float64 and ds.x_test.dtype == np.float64
    np.testing.assert_allclose(ds.x_train, load_digits().x_train, rtol=1e-7)
    assert ds.x_train.flags.writeable
    ds.x_train[:] = -1.0
    ds.y_train[:] = -1
    fresh = load_digits(dtype=np.float64)
    assert fresh.x_train.min() == 0.0 and fresh.y_train.min() == 0


@pytest.mark.parametrize("dtype", ["float16", "int32", None, "banana"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match=r"float32.*float64.*got"):
        load_digits(dtype=dtype)


def test_dataset_summary_and_checks():
    x, y = np.zeros((6, 3), np.float32), np.zeros(6, np.int64)
    ds = Dataset("toy", x, y, x[:2], y[:2], x[:1], y[:1], n_classes=2)
    assert ds.summary() == "toy: 6 train, 1 val, 2 test, 3 features, 2 classes"
    assert "toy: 6 train" in repr(ds)
    with pytest.raises(ValueError, match="test split"):
        Dataset("bad", x, y, x[:, :2], y)
    with pytest.raises(ValueError, match="both"):
        Dataset("bad", x, y, x, y, x_val=x)


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

@pytest.mark.parametrize("name, mean", [("mnist", 0.1307), ("fashion-mnist", 0.2860)])
def test_idx_datasets_load(shared_data, name, mean):
    _needs(shared_data, name)
    ds = load_dataset(name, data_dir=shared_data, download=False)
    assert ds.summary() == f"{name}: 60000 train, 10000 test, 784 features, 10 classes"
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.flags.c_contiguous and ds.x_train.flags.writeable
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert ds.x_train.mean(dtype=np.float64) == pytest.approx(mean, abs=1e-4)
    assert np.bincount(ds.y_test, minlength=10).sum() == 10000 and ds.y_train.max() == 9

    split = load_dataset(name, data_dir=shared_data, download=False, val_split=0.2, seed=3)
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (48000, 12000, 10000)
    np.testing.assert_array_equal(split.x_test, ds.x_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([split.y_train, split.y_val])),
                                  np.sort(ds.y_train))


def test_fashion_mnist_from_env_dir(shared_data, monkeypatch):
    _needs(shared_data, "fashion-mnist")
    monkeypatch.setenv("MINISPECTRAL_DATA", str(shared_data))
    ds = load_fashion_mnist(download=False, dtype="float64")
    assert ds.x_test.dtype == np.float64
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 6000))


def test_mnist_returns_fresh_arrays(shared_data):
    a = load_mnist(data_dir=shared_data, download=False)
    a.x_test[:] = 7.0
    b = load_mnist(data_dir=shared_data, download=False)
    assert b.x_test.max() == 1.0


# ---------------------------------------------------------------- read_idx

def _write_idx(path, magic, dims, payload, compress=True):
    raw = struct.pack(f">I{len(dims)}I", magic, *dims) + bytes(payload)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_read_idx_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(_write_idx(tmp_path / "img.gz", 2051, images.shape, images.tobytes()))
    np.testing.assert_array_equal(got, images)
    labels = read_idx(_write_idx(tmp_path / "lab.gz", 2049, (3,), [1, 2, 9]))
    np.testing.assert_array_equal(labels, [1, 2, 9])
    assert labels.dtype == np.uint8 and not labels.flags.writeable


@pytest.mark.parametrize("case", ["short payload", "long payload", "wrong magic", "not gzip",
                                  "cut gzip stream", "empty"])
def test_read_idx_corrupt(tmp_path, case):
    path = tmp_path / f"{case.replace(' ', '-')}.gz"
    if case == "short payload":
        _write_idx(path, 2051, (2, 3, 4), range(20))
    elif case == "long payload":
        _write_idx(path, 2049, (3,), range(4))
    elif case == "wrong magic":
        _write_idx(path, 2050, (3,), range(3))
    elif case == "not gzip":
        _write_idx(path, 2049, (3,), range(3), compress=False)
    elif case == "cut gzip stream":
        _write_idx(path, 2049, (1000,), np.random.default_rng(0).integers(0, 10, 1000))
        path.write_bytes(path.read_bytes()[:-30])
    else:
        path.write_bytes(gzip.compress(b""))
    with pytest.raises(DatasetError, match=path.name):
        read_idx(path)


# ---------------------------------------------------------------- data dirs and fetch

def test_data_dir_candidates_order(monkeypatch, tmp_path):
    monkeypatch.setenv("MINISPECTRAL_DATA", str(tmp_path / "env"))
    assert data_dir_candidates(tmp_path / "explicit") == [
        tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg-cache" / "minispectral"]
    monkeypatch.delenv("MINISPECTRAL_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir_candidates() == [Path.home() / ".cache" / "minispectral"]


def test_fetch_finds_file_in_any_candidate_dir(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("MINISPECTRAL_DATA", str(shared_data))
    path = fetch("mnist", LABELS, data_dir=tmp_path / "empty", download=False)
    assert path == shared_data / "mnist" / LABELS


def test_fetch_downloads(serve, site, tmp_path):
    url, server = serve(site)
    path = fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[url], progress=False)
    assert path == tmp_path / "data" / "mnist" / LABELS
    assert path.read_bytes() == (site / LABELS).read_bytes()
    assert sha256_file(path) == LABELS_SPEC.sha256
    assert _only_entries(path.parent) == [LABELS]  # no temp file left behind
    assert server.requests == [f"/{LABELS}"]


def test_fetch_skips_download_of_valid_file(serve, site, tmp_path):
    url, server = serve(site)
    dest = tmp_path / "data" / "mnist" / LABELS
    dest.parent.mkdir(parents=True)
    shutil.copy(site / LABELS, dest)
    assert fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=url) == dest
    assert server.requests == []


def test_fetch_tries_next_mirror(serve, site, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_url, _ = serve(empty)
    good_url, _ = serve(site)
    path = fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[bad_url, good_url],
                 progress=False)
    assert sha256_file(path) == LABELS_SPEC.sha256


def test_fetch_uses_mirror_env_with_dataset_placeholder(serve, site, tmp_path, monkeypatch):
    (site / "mnist").mkdir()
    shutil.move(site / LABELS, site / "mnist" / LABELS)
    url, server = serve(site)
    monkeypatch.setenv("MINISPECTRAL_MIRROR", url + "{dataset}/")
    fetch("mnist", LABELS, data_dir=tmp_path / "data", progress=False)
    assert server.requests == [f"/mnist/{LABELS}"]


def test_fetch_rejects_corrupt_download(serve, site, tmp_path):
    data = bytearray((site / LABELS).read_bytes())
    data[100:110] = bytes(b ^ 0xFF for b in data[100:110])  # same size, different bytes
    (site / LABELS).write_bytes(bytes(data))
    url, _ = serve(site)
    with pytest.raises(DatasetError) as err:
        fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[url], progress=False)
    message = str(err.value)
    assert url + LABELS in message and LABELS_SPEC.sha256 in message
    assert hashlib.sha256(data).hexdigest() in message  # the bytes were hashed and rejected
    assert not (tmp_path / "data").exists()  # the folders the download made are gone with it


def test_fetch_interrupted_download_leaves_nothing(serve, site, tmp_path):
    url, _ = serve(site, handler=_TruncatingHandler)
    with pytest.raises(DatasetError, match=f"got {LABELS_SPEC.size // 2} bytes"):
        fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[url], progress=False)
    assert not (tmp_path / "data").exists()


def test_failed_download_keeps_folders_that_were_there(serve, site, tmp_path):
    url, _ = serve(site, handler=_TruncatingHandler)
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError):
        fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[url], progress=False)
    assert _only_entries(tmp_path / "data" / "mnist") == ["notes.txt"]


def test_fetch_404_and_unreachable_list_urls(serve, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    url_404, _ = serve(empty)
    with socket.socket() as s:  # a port nobody listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with pytest.raises(DatasetError) as err:
        fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=[url_404, dead_url],
              progress=False)
    message = str(err.value)
    assert url_404 + LABELS in message and "404" in message
    assert dead_url + LABELS in message
    assert str(tmp_path / "data" / "mnist") in message and LABELS_SPEC.sha256 in message
    assert _only_entries(tmp_path / "data" / "mnist") == []


def test_fetch_offline_missing_file(tmp_path):
    with pytest.raises(DatasetError) as err:
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "mnist") in message and LABELS_SPEC.sha256 in message
    assert "download=False" in message
    with pytest.raises(DatasetError, match="download=False"):
        load_mnist(data_dir=tmp_path, download=False)


def test_fetch_rejects_corrupt_file_on_disk(tmp_path):
    dest = tmp_path / "mnist" / LABELS
    dest.parent.mkdir()
    dest.write_bytes(b"x" * LABELS_SPEC.size)
    with pytest.raises(DatasetError, match=r"SHA-256.*delete it"):
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)
    dest.write_bytes(b"short")
    with pytest.raises(DatasetError, match=f"expected {LABELS_SPEC.size}"):
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)


def test_verification_cached_until_file_changes(site, tmp_path, monkeypatch):
    dest = tmp_path / "mnist" / LABELS
    dest.parent.mkdir()
    shutil.copy(site / LABELS, dest)
    calls = []
    monkeypatch.setattr(datasets.download, "sha256_file", lambda p: calls.append(p) or LABELS_SPEC.sha256)
    for _ in range(3):
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)
    assert len(calls) == 1
    os.utime(dest, ns=(0, 0))
    fetch("mnist", LABELS, data_dir=tmp_path, download=False)
    assert len(calls) == 2


def test_download_goes_to_cache_when_env_dir_read_only(serve, site, tmp_path, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    monkeypatch.setenv("MINISPECTRAL_DATA", str(read_only))
    url, _ = serve(site)
    try:
        path = fetch("mnist", LABELS, mirrors=url, progress=False)
    finally:
        read_only.chmod(0o755)
    assert path == tmp_path / "xdg-cache" / "minispectral" / "mnist" / LABELS
    assert _only_entries(read_only) == []


def test_download_goes_to_cache_when_the_env_variable_names_a_file(serve, site, tmp_path, monkeypatch):
    # the file passed as a writable folder: the download failed, and the hint named an impossible path
    not_a_folder = tmp_path / "afile"
    not_a_folder.write_text("x")
    monkeypatch.setenv("MINISPECTRAL_DATA", str(not_a_folder))
    url, _ = serve(site)
    path = fetch("mnist", LABELS, mirrors=url, progress=False)
    assert path == tmp_path / "xdg-cache" / "minispectral" / "mnist" / LABELS


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch):
    # downloads landed under the working directory and were not found from another one
    monkeypatch.delenv("MINISPECTRAL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    assert data_dir_candidates() == [Path.home() / ".cache" / "minispectral"]


def test_fetch_unknown_names():
    with pytest.raises(ValueError, match="mnist"):
        fetch("cifar", LABELS)
    with pytest.raises(ValueError, match="train-images"):
        fetch("mnist", "nope.gz")


# ---------------------------------------------------------------- synthetic data

@settings(max_examples=25, deadline=None)
@given(n_per_class=st.integers(1, 40), n_classes=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_generators_shapes_balance_determinism(n_per_class, n_classes, seed):
    for make, n_features in ((make_spirals, 2), (make_blobs, 2)):
        X, y = make(n_per_class=n_per_class, n_classes=n_classes, seed=seed)
        assert X.shape == (n_per_class * n_classes, n_features) and X.dtype == np.float32
        assert y.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(y, minlength=n_classes),
                                      np.full(n_classes, n_per_class))
        X2, y2 = make(n_per_class=n_per_class, n_classes=n_classes, seed=seed)
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(y, y2)


def test_generators_options():
    X, _ = make_spirals(seed=0, dtype="float64")
    assert X.dtype == np.float64 and np.abs(X).max() <= 1.0
    assert not np.array_equal(X, make_spirals(seed=1, dtype="float64")[0])
    X, y = make_blobs(n_per_class=5, n_classes=4, n_features=7, dtype=np.float64)
    assert X.shape == (20, 7) and X.dtype == np.float64 and y.max() == 3
    with pytest.raises(ValueError, match="n_per_class"):
        make_spirals(n_per_class=0)


def test_synthetic_dataset():
    ds = synthetic_dataset("spirals", val_split=0.2, seed=4, n_per_class=40)
    assert ds.summary() == "spirals: 72 train, 18 val, 30 test, 2 features, 3 classes"
    np.testing.assert_array_equal(np.bincount(ds.y_test), [10, 10, 10])
    again = synthetic_dataset("spirals", val_split=0.2, seed=4, n_per_class=40)
    np.testing.assert_array_equal(ds.x_val, again.x_val)
    blobs = synthetic_dataset("blobs", n_classes=5, n_features=3, dtype="float64")
    assert blobs.n_classes == 5 and blobs.n_features == 3 and blobs.x_train.dtype == np.float64
    with pytest.raises(ValueError, match="spirals"):
        synthetic_dataset("moons")
    with pytest.raises(ValueError, match="test_fraction"):
        synthetic_dataset(test_fraction=1.0)


# ---------------------------------------------------------------- bad arguments

def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError) as err:
        load_dataset("cifar100")
    assert all(name in str(err.value) for name in DATASETS)


@pytest.mark.parametrize("val_split", [1.5, 1.0, -0.1, float("nan")])
def test_bad_val_split(val_split, tmp_path):
    with pytest.raises(ValueError, match="val_split"):
        load_dataset("digits", val_split=val_split)
    with pytest.raises(ValueError, match="val_split"):  # checked before any file is looked up
        load_mnist(data_dir=tmp_path, download=False, val_split=val_split)


def test_load_dataset_names():
    assert load_dataset("digits", val_split=0.1).summary().startswith("digits: ")
    with pytest.raises(DatasetError):  # fashion_mnist is accepted as a spelling
        load_dataset("fashion_mnist", data_dir=Path("/nonexistent"), download=False)


def test_shipped_digits_file_matches_license_checksum():
    # against the checksum its attribution file publishes, not the code's own constant
    data = Path(minispectral.__file__).parent / "data"
    published = re.search(r"SHA-256: ([0-9a-f]{64})", (data / "DIGITS_LICENSE.txt").read_text()).group(1)
    assert hashlib.sha256((data / "digits.csv.gz").read_bytes()).hexdigest() == published
    assert datasets.loaders._DIGITS_FILE.sha256 == published


@pytest.mark.parametrize("val_split", [1e-4, 0.9999])
def test_val_split_that_empties_a_split_is_refused(val_split):
    with pytest.raises(ValueError, match=f"val_split={val_split} leaves no sample"):
        load_digits(val_split=val_split)


@pytest.mark.parametrize("val_split", ["0.2", None, True])
def test_val_split_of_wrong_type(val_split):
    with pytest.raises(ValueError, match=r"val_split must be a number in \[0, 1\), got"):
        load_digits(val_split=val_split)


@pytest.mark.parametrize("kw, name", [({"n_per_class": 2.5}, "n_per_class"), ({"n_per_class": "3"}, "n_per_class"),
                                      ({"n_per_class": True}, "n_per_class"), ({"noise": float("nan")}, "noise"),
                                      ({"noise": -1.0}, "noise")])
def test_spirals_arguments_checked(kw, name):
    with pytest.raises(ValueError, match=name):
        make_spirals(**kw)


def test_blobs_spread_checked_and_synthetic_splits_never_empty():
    with pytest.raises(ValueError, match="spread"):
        make_blobs(spread=float("inf"))
    with pytest.raises(ValueError, match="no test sample"):
        synthetic_dataset(n_per_class=1)
    with pytest.raises(ValueError, match="no training sample"):
        synthetic_dataset(n_per_class=1, test_fraction=0.6)
    with pytest.raises(ValueError, match="test_fraction"):
        synthetic_dataset(test_fraction="0.2")


def test_dataset_constructor_checks_its_contract():
    x, y = np.zeros((3, 2), np.float32), np.array([0, 1, 2])
    with pytest.raises(TypeError, match="NumPy arrays, got list"):
        Dataset("t", [[1.0, 2.0]], [0], x, y)
    with pytest.raises(ValueError, match=r"expected x of shape \(N, D\)"):
        Dataset("t", np.zeros(6, np.float32), np.zeros(6, np.int64), x, y)
    with pytest.raises(TypeError, match="integer labels, got dtypes float32 and float64"):
        Dataset("t", x, y.astype(np.float64), x, y)
    with pytest.raises(ValueError, match=r"labels span 0..12, expected 0..9"):
        Dataset("t", x, np.array([0, 1, 12]), x, y)


def test_downloaded_file_gets_ordinary_permissions(serve, site, tmp_path):
    with umask(0o022):
        url, _ = serve(site)
        path = fetch("mnist", LABELS, data_dir=tmp_path / "shared", mirrors=url, progress=False)
    assert path.stat().st_mode & 0o777 == 0o644  # not a temporary file's private 0600


def test_changed_file_with_restored_mtime_is_hashed_again(site, tmp_path):
    # cp -p, rsync -t and tar keep the old modification time: other bytes of the same size must not pass
    dest = tmp_path / "mnist" / LABELS
    dest.parent.mkdir()
    shutil.copy(site / LABELS, dest)
    fetch("mnist", LABELS, data_dir=tmp_path, download=False)  # verified, and its hash cached
    st = dest.stat()
    data = bytearray(dest.read_bytes())
    data[100] ^= 0xFF
    dest.write_bytes(bytes(data))
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(DatasetError, match="SHA-256"):
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)


def test_data_dir_with_tilde_and_empty_data_dir(site, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    dest = tmp_path / "d" / "mnist" / LABELS
    dest.parent.mkdir(parents=True)
    shutil.copy(site / LABELS, dest)
    assert fetch("mnist", LABELS, data_dir="~/d", download=False) == dest
    monkeypatch.setenv("MINISPECTRAL_DATA", "~/d")
    assert fetch("mnist", LABELS, download=False) == dest
    with pytest.raises(ValueError, match="data_dir must be a non-empty path"):
        fetch("mnist", LABELS, data_dir="")


@pytest.mark.parametrize("mirrors", [[None], [], Path("/x"), [""]])
def test_bad_mirrors(mirrors, tmp_path):
    with pytest.raises(ValueError, match="mirrors must be"):
        fetch("mnist", LABELS, data_dir=tmp_path, mirrors=mirrors)


class _OversendingHandler(_Handler):
    """Serves each file with bytes appended, and a Content-Length that announces them."""

    def do_GET(self):
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes() + b"extra bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_server_sending_too_much_is_refused(serve, site, tmp_path):
    url, _ = serve(site, _OversendingHandler)
    with pytest.raises(DatasetError, match="more than the expected"):
        fetch("mnist", LABELS, data_dir=tmp_path / "data", mirrors=url, progress=False)
    assert not (tmp_path / "data").exists()


def test_dataset_labels_out_of_range_are_refused():
    from minispectral.datasets.dataset import _check_labels

    with pytest.raises(DatasetError, match=r"labels span 0\.\.10, expected 0\.\.9"):
        _check_labels(np.array([0, 10]), 10, "labels.gz")


@pytest.mark.parametrize("seed", [None, True, [1, 2], -1, 1.5])
def test_a_dataset_seed_is_an_integer(seed):
    # None gave a new validation split at every call; True and [1, 2] passed as seeds
    from minispectral.datasets import load_digits, make_spirals, synthetic_dataset

    for load in (lambda: load_digits(val_split=0.2, seed=seed), lambda: make_spirals(seed=seed),
                 lambda: synthetic_dataset("spirals", val_split=0.2, seed=seed)):
        with pytest.raises(ValueError, match=f"seed must be an integer >= 0, got {re.escape(repr(seed))}"):
            load()


def test_a_hand_built_dataset_keeps_the_documented_contract():
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 4)).astype(np.float32), np.array([0, 1, 2, 0, 1, 2])
    data = Dataset("t", np.asfortranarray(x), y.astype(np.uint8), x, y)
    assert data.x_train.flags.c_contiguous and data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.x_train, x)
    for bad in (dict(x_train=x.astype(np.float16), x_test=x.astype(np.float16)), dict(x_test=x.astype(np.float64))):
        args = {"x_train": x, "x_test": x, **bad}
        with pytest.raises(TypeError, match="expected float32 or float64 features, the same in every split"):
            Dataset("t", args["x_train"], y, args["x_test"], y)


def test_read_idx_tells_a_missing_file_and_an_empty_one_from_a_corrupt_one(tmp_path):
    from minispectral.datasets.idx import read_idx

    with pytest.raises(DatasetError, match="nope.gz: cannot read it \\(No such file or directory\\)"):
        read_idx(tmp_path / "nope.gz")
    with pytest.raises(DatasetError, match="cannot read it \\(Is a directory\\)"):
        read_idx(tmp_path)
    empty = tmp_path / "empty.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(DatasetError, match="empty after decompression"):  # it said "IDX magic number is None"
        read_idx(empty)


def test_a_download_folder_that_cannot_be_made_is_reported_once_not_per_mirror(serve, site, tmp_path):
    # the same local error was listed under every mirror URL, as if the servers had failed
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    url, _ = serve(site)
    with pytest.raises(DatasetError) as info:
        fetch("mnist", LABELS, data_dir=blocker / "data", mirrors=[url, url], progress=False)
    message = str(info.value)
    assert message.startswith(f"cannot write the download into {blocker / 'data' / 'mnist'}: Not a directory")
    assert url not in message and "To install it by hand" in message


def test_an_xdg_cache_home_under_the_home_folder_counts_as_absolute(monkeypatch):
    monkeypatch.delenv("MINISPECTRAL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "~/xc")
    assert data_dir_candidates()[-1] == Path.home() / "xc" / "minispectral"


def test_a_folder_that_refuses_files_is_reported_before_any_mirror_and_left_as_found(tmp_path, monkeypatch):
    import tempfile

    def refuse(**kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(datasets.download, "_download", lambda *a, **k: pytest.fail("tried a mirror"))
    with pytest.raises(DatasetError, match="cannot write the download into .*: Permission denied"):
        fetch("mnist", LABELS, data_dir=tmp_path / "new", mirrors="http://127.0.0.1:9/", progress=False)
    assert not (tmp_path / "new").exists()  # the folders the attempt made are gone again


def test_make_blobs_checks_its_seed():
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got True"):
        make_blobs(seed=True)


# ---------------------------------------------------------------- CIFAR-10 (binary archive)

def _cifar_batch(rng, n, label_offset=0):
    """n records: a label byte, then the red, green and blue planes (32x32 each)."""
    labels = (np.arange(n) + label_offset) % 10
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return np.concatenate([labels[:, None].astype(np.uint8), pixels], axis=1), labels, pixels


def _cifar_archive(path, rng, per_batch=4, files=None, extra=None):
    """A small cifar-10-binary.tar.gz in the official layout; returns (x_train, y_train, x_test, y_test)."""
    import io
    import tarfile

    names = files or [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    parts = {}
    with tarfile.open(path, "w:gz") as archive:
        for i, name in enumerate(names):
            records, labels, pixels = _cifar_batch(rng, per_batch, label_offset=i)
            data = records.tobytes() + (extra or {}).get(name, b"")
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            parts[name] = (pixels, labels)
        meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.size = len(meta)
        archive.addfile(info, io.BytesIO(meta))
    train = [parts[f"data_batch_{i}.bin"] for i in range(1, 6) if f"data_batch_{i}.bin" in parts]
    test = parts.get("test_batch.bin")
    return (np.concatenate([p for p, _ in train]) if train else None,
            np.concatenate([l for _, l in train]) if train else None, *(test or (None, None)))


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """A data folder holding a small CIFAR-10 archive, registered with its own checksum."""
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    path = folder / "cifar-10-binary.tar.gz"
    arrays = _cifar_archive(path, np.random.default_rng(0))
    spec = datasets.FileSpec(sha256_file(path), path.stat().st_size)
    monkeypatch.setitem(REGISTRY, "cifar10", {**REGISTRY["cifar10"], "files": {path.name: spec}})
    return tmp_path / "data", arrays


def test_cifar10_loads_the_binary_archive_as_float32_rows_of_3072(cifar_dir):
    data_dir, (x_train, y_train, x_test, y_test) = cifar_dir
    ds = load_dataset("cifar10", data_dir=data_dir, download=False)
    assert ds.x_train.shape == (20, 3072) and ds.x_test.shape == (4, 3072)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.n_features == 3072
    np.testing.assert_array_equal(ds.x_train, (x_train / np.float32(255)).astype(np.float32))
    np.testing.assert_array_equal(ds.x_test * 255, x_test.astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    ds.x_train[:] = 0  # a copy: the next load is unchanged
    np.testing.assert_array_equal(load_dataset("cifar10", data_dir=data_dir).x_train * 255, x_train.astype(np.float32))
    split = load_dataset("cifar10", data_dir=data_dir, val_split=0.25, seed=1)
    assert len(split.y_train) == 15 and len(split.y_val) == 5


def test_cifar10_keeps_the_files_order_of_label_and_colour_planes(tmp_path):
    from minispectral.datasets import read_cifar_archive

    path = tmp_path / "c.tar.gz"
    x_train, y_train, _, _ = _cifar_archive(path, np.random.default_rng(1), per_batch=2)
    x, y, _, _ = read_cifar_archive(path)
    raw = x_train[0]  # the first record's red plane starts at byte 1, green at 1025, blue at 2049
    np.testing.assert_array_equal(x[0, :1024], raw[:1024])
    np.testing.assert_array_equal(x[0, 2048:], raw[2048:])
    assert y.tolist() == y_train.tolist() and not x.flags.writeable


@pytest.mark.parametrize("damage, message", [
    ({"files": ["data_batch_1.bin", "test_batch.bin"]}, "data_batch_2.bin is missing"),
    ({"extra": {"data_batch_3.bin": b"\x00" * 10}}, "expected a positive multiple of 3073"),
])
def test_cifar10_refuses_an_incomplete_or_damaged_archive(tmp_path, damage, message):
    from minispectral.datasets import read_cifar_archive

    path = tmp_path / "c.tar.gz"
    _cifar_archive(path, np.random.default_rng(2), **damage)
    with pytest.raises(DatasetError, match=message):
        read_cifar_archive(path)


def test_cifar10_refuses_a_label_outside_0_to_9_and_a_file_that_is_not_a_tar(tmp_path):
    import io
    import tarfile

    from minispectral.datasets import read_cifar_archive

    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            data = bytes([12]) + bytes(3072)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="label 12 found, expected labels 0..9"):
        read_cifar_archive(path)
    path.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(DatasetError, match="cannot read it as a gzipped tar"):
        read_cifar_archive(path)


def test_cifar10_never_reads_the_pickled_python_version(tmp_path, monkeypatch):
    import io
    import pickle
    import tarfile

    from minispectral.datasets import read_cifar_archive

    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        data = pickle.dumps({"data": [1, 2, 3]})
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="binary version of CIFAR-10, cifar-10-binary.tar.gz"):
        read_cifar_archive(path)


def test_cifar10_is_downloaded_and_verified_like_mnist(serve, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    _cifar_archive(site / "cifar-10-binary.tar.gz", np.random.default_rng(3))
    good = datasets.FileSpec(sha256_file(site / "cifar-10-binary.tar.gz"),
                             (site / "cifar-10-binary.tar.gz").stat().st_size)
    url, server = serve(site)
    monkeypatch.setenv("MINISPECTRAL_MIRROR", url)
    monkeypatch.setitem(REGISTRY, "cifar10", {**REGISTRY["cifar10"], "files": {"cifar-10-binary.tar.gz": good}})
    ds = load_dataset("cifar10", data_dir=tmp_path / "data")
    assert ds.x_train.shape == (20, 3072)
    assert server.requests == ["/cifar-10-binary.tar.gz"]
    assert (tmp_path / "data" / "cifar10" / "cifar-10-binary.tar.gz").is_file()
    # another archive of the same size under the registered checksum is refused, and not kept
    bad = datasets.FileSpec("0" * 64, good.size)
    monkeypatch.setitem(REGISTRY, "cifar10", {**REGISTRY["cifar10"], "files": {"cifar-10-binary.tar.gz": bad}})
    with pytest.raises(DatasetError, match="expected 170|expected .* with SHA-256 0000"):
        load_dataset("cifar10", data_dir=tmp_path / "other")
    assert not (tmp_path / "other" / "cifar10" / "cifar-10-binary.tar.gz").exists()


def test_cifar10_offline_says_where_to_put_the_archive(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    text = str(err.value)
    assert "cifar10/cifar-10-binary.tar.gz not found" in text
    assert "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd" in text and "170052171 bytes" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in text


def test_the_params_study_runs_on_cifar10(cifar_dir, tmp_path, monkeypatch):
    from minispectral.cli import main

    data_dir, _ = cifar_dir
    out = tmp_path / "params"
    assert main(["reproduce", "params", "--quick", "--datasets", "cifar10", "--widths", "4", "--models", "dense,qr",
                 "--seeds", "1", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    records = [__import__("json").loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert {r["dataset"] for r in records} == {"cifar10"}
    dense = next(r for r in records if r["model"] == "dense")
    assert dense["trainable_parameters"] == 3072 * 4 + 4 + 4 * 10 + 10 and dense["lr"] == 0.002
    assert next(r for r in records if r["model"] == "qr")["lr"] == 0.003
    assert (out / "table.md").read_text().startswith("# Parameter reduction: 3072 → N2 → 10")


# ---------------------------------------------------------------- finding the files as a user has them

def test_the_offline_data_includes_the_user_cache(tmp_path):
    """MNIST where the library itself puts it (the user cache) runs these tests, as it runs the lessons."""
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / LABELS).write_bytes(b"")
    assert offline_data_dir((tmp_path / "no-shared", None, cache)) == cache
    assert USER_CACHE.name == "minispectral" and USER_CACHE != data_dir_candidates()[-1]  # the real one


def _all_missing(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_mnist(data_dir=tmp_path, download=False)
    return str(err.value)


def test_the_missing_data_message_names_every_missing_file_at_once(tmp_path, site):
    message = _all_missing(tmp_path)
    for filename, spec in REGISTRY["mnist"]["files"].items():
        assert filename in message and spec.sha256 in message
    assert "4 of them are not on this machine" in message and str(tmp_path / "mnist") in message
    # with one file there, the other three are named, and it is not
    (tmp_path / "mnist").mkdir()
    shutil.copy(site / LABELS, tmp_path / "mnist" / LABELS)
    message = _all_missing(tmp_path)
    assert "3 of them" in message and LABELS not in message
    assert "train-images-idx3-ubyte.gz" in message


def test_a_failed_download_also_names_the_other_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPECTRAL_MIRROR", "http://127.0.0.1:9/{dataset}/")  # a closed port
    with pytest.raises(DatasetError) as err:
        load_mnist(data_dir=tmp_path)
    message = str(err.value)
    assert "could not download mnist/" in message
    assert all(name in message for name in REGISTRY["mnist"]["files"]) and "4 of them" in message


def test_unpacked_idx_files_are_read_and_verified(shared_data, tmp_path):
    _needs(shared_data, "mnist")
    (tmp_path / "mnist").mkdir()
    for name in REGISTRY["mnist"]["files"]:
        with gzip.open(shared_data / "mnist" / name) as packed:
            (tmp_path / "mnist" / name.removesuffix(".gz")).write_bytes(packed.read())
    unpacked = load_mnist(data_dir=tmp_path, download=False)
    packed = load_mnist(data_dir=shared_data, download=False)
    np.testing.assert_array_equal(unpacked.x_test, packed.x_test)
    np.testing.assert_array_equal(unpacked.y_train, packed.y_train)
    # an unpacked file is checked against the unpacked bytes' checksum, as a packed one is
    labels = tmp_path / "mnist" / LABELS.removesuffix(".gz")
    labels.write_bytes(labels.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DatasetError, match="SHA-256.*delete it"):
        fetch("mnist", LABELS, data_dir=tmp_path, download=False)


def test_a_data_dir_one_level_too_deep_is_named_as_the_mistake(site, tmp_path):
    deep = tmp_path / "data" / "mnist"
    deep.mkdir(parents=True)
    shutil.copy(site / LABELS, deep / LABELS)
    with pytest.raises(DatasetError, match=r"holds t10k-labels-idx1-ubyte\.gz itself.*pass the folder above it"):
        load_mnist(data_dir=deep, download=False)
    with pytest.raises(DatasetError, match="pass the folder above it"):  # not a download into data/mnist/mnist
        fetch("mnist", LABELS, data_dir=deep, mirrors="http://127.0.0.1:9/")
    assert fetch("mnist", LABELS, data_dir=tmp_path / "data", download=False) == deep / LABELS


def test_a_dataset_error_shows_in_jupyter_as_its_message_alone():
    """IPython renders an exception through _render_traceback_ when it has one: no frames, no colour."""
    error = DatasetError("mnist needs 4 files\n    train-images-idx3-ubyte.gz")
    assert error._render_traceback_() == ["DatasetError: mnist needs 4 files", "    train-images-idx3-ubyte.gz"]


def test_a_lesson_without_data_shows_the_message_not_a_traceback(tmp_path, monkeypatch):
    """In a notebook, a missing dataset reads as its message: no screen of ANSI-coloured frames first."""
    import nbformat
    from nbclient import NotebookClient

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    cell = nbformat.v4.new_code_cell(f"from minispectral.datasets import load_mnist\n"
                                     f"load_mnist(data_dir={str(tmp_path)!r}, download=False)")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120).execute()
    (error,) = [out for out in cell.outputs if out.output_type == "error"]
    assert error.traceback[0].startswith("DatasetError: mnist needs 4 files")
    assert not [line for line in error.traceback if "\x1b[" in line or "File " in line]
