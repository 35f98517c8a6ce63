"""Shared fixtures for the engine tests: the backend matrix, array helpers, and the hypothesis profile."""
import contextlib
import os
from pathlib import Path

# Tiny matrices: multithreaded BLAS only adds thread hand-offs, and on a busy CI runner its
# spinning threads make the training tests 10x slower. Must be set before NumPy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# CI reads MNIST from the checkout's sibling folder; a value set by the user wins.
os.environ.setdefault("MINISPECTRAL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import minispectral  # noqa: E402
from minispectral import backend as backend_module  # noqa: E402
from minispectral.backend import namespace  # noqa: E402
from minispectral.nn.init import manual_seed  # noqa: E402
import minispectral.cli as cli_module  # noqa: E402


def _choose_cupy() -> str:
    """Which CuPy the GPU-marked tests run on: the real one where it works, else the stand-in.

    The stand-in (tests/cupy_standin.py) is CuPy's interface over NumPy: it sends every GPU-marked
    test down the CuPy code path on a machine without a GPU, refuses implicit host conversion as
    CuPy does, and counts host reads and calls.  ``MINISPECTRAL_TEST_CUPY=real`` or ``standin``
    forces one (``real`` then skips the GPU tests, saying why, where CuPy cannot run).
    """
    choice = os.environ.get("MINISPECTRAL_TEST_CUPY", "auto")
    if choice not in ("auto", "real", "standin"):
        raise ValueError(f"MINISPECTRAL_TEST_CUPY must be auto, real or standin, got {choice!r}")
    if choice == "real" or (choice == "auto" and minispectral.available("cupy")[0]):
        return "real"
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    import cupy_standin
    cupy_standin.install()
    backend_module._make.cache_clear()
    return "standin"


CUPY = _choose_cupy()


def pytest_report_header(config):
    return f"cupy: {'the stand-in over NumPy (tests/cupy_standin.py)' if CUPY == 'standin' else 'real CuPy'}"


@pytest.fixture
def standin():
    """The CuPy stand-in (its ``COUNTS``); skipped where the tests run on real CuPy."""
    if CUPY != "standin":
        pytest.skip("host reads and calls are counted by the CuPy stand-in; this run uses real CuPy")
    import cupy
    return cupy


@pytest.fixture
def no_cupy(monkeypatch):
    """CuPy made unimportable for one test, as on a machine without it."""
    import functools
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)
    # a fresh cache of backends for the test; the session's (and its Backend objects) come back after it
    monkeypatch.setattr(backend_module, "_make", functools.lru_cache(maxsize=None)(backend_module._make.__wrapped__))


settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKEND_NAMES = ["numpy", "strict", pytest.param("cupy", marks=pytest.mark.gpu)]


def skip_without_data(reason: str) -> None:
    """A test whose offline data is missing: skipped, saying why, except under .ci/run
    (``MINISPECTRAL_REQUIRE_DATA=1``), where CI has the data and a skip would hide its loss."""
    if os.environ.get("MINISPECTRAL_REQUIRE_DATA"):
        pytest.fail(f"{reason} (MINISPECTRAL_REQUIRE_DATA is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKEND_NAMES)
def backend(request):
    """Each backend in turn; CuPy is skipped with the reason it cannot run here."""
    ok, reason = minispectral.available(request.param)
    if not ok:
        pytest.skip(reason)
    return minispectral.get_backend(request.param)


@pytest.fixture(scope="session")
def cupy_backend():
    """The CuPy backend, or a skip that says why it is unusable here."""
    ok, reason = minispectral.available("cupy")
    if not ok:
        pytest.skip(reason)
    return minispectral.get_backend("cupy")


@pytest.fixture(autouse=True)
def _restore_current_backend():
    """A test that switches the current backend must not leak the switch into the next test."""
    saved = backend_module._base
    token = backend_module._block.set(None)
    yield
    backend_module._block.reset(token)
    backend_module._base = saved


BLAS_THREAD_ADVICE = cli_module.blas_thread_advice  # the real one, for the test that checks it


@pytest.fixture(autouse=True)
def _no_busy_machine_note(monkeypatch):
    """The command's note about a busy machine (cli.blas_thread_advice) depends on what else runs on
    the machine: kept out of the stderr that tests read, except where a test puts it back."""
    monkeypatch.setattr(cli_module, "blas_thread_advice", lambda: None)


@pytest.fixture(autouse=True)
def _restart_the_layer_generator():
    """Layers built without a seed draw from a shared generator: each test starts it afresh, so that
    its values do not depend on which tests ran before."""
    manual_seed(0)


@contextlib.contextmanager
def umask(mask: int):
    """The process's umask set to ``mask`` inside the block, and restored after it, even on error."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def make(backend, a, dtype="float64"):
    """Host data (array or nested list) -> array on ``backend`` as ``dtype`` (a float dtype name)."""
    # A copy: on NumPy from_numpy shares memory, and the tests update parameters in place.
    return minispectral.from_numpy(np.array(a), dtype, backend)


def make_labels(backend, labels):
    """Host integer labels -> int64 array on ``backend``."""
    return minispectral.from_numpy(np.asarray(labels, dtype=np.int64), backend=backend)


def randn(backend, shape, dtype="float64", seed=0, scale=1.0):
    """Standard-normal array (times ``scale``) of ``shape`` on ``backend``, reproducible by ``seed``."""
    return make(backend, scale * np.random.default_rng(seed).standard_normal(shape), dtype)


def host(x):
    """An independent float64 host copy, for comparing values across backends and over time."""
    return np.array(minispectral.to_numpy(x), dtype=np.float64, copy=True)


def dtype_name(x) -> str:
    """'float32' / 'float64' / 'int64' for an array of any backend."""
    return str(x.dtype).rsplit(".", 1)[-1]


# Unit-scale initial values: with the papers' tiny initialisations the deep gradients are
# within finite-difference noise, so a relative error of 1e-7 would be meaningless there.
UNIT_INIT = {"phi_init": (-1.0, 1.0), "lam_in_init": (-2.0, 2.0), "lam_out_init": (-2.0, 2.0),
             "b_init": (-0.5, 0.5)}


def unit_scale(model):
    """Rescale S-SVD and QR factors (drawn by the papers' recipe, ``spectral_kwargs``: Gaussians of std
    0.04 and 0.036) so that phi is of order one, in place."""
    layers = getattr(model, "layers", [model])
    for layer in layers:
        params = getattr(layer, "params", {})
        for name, factor in (("U", 25.0), ("V", 25.0), ("R", 25.0)):
            if name in params:
                params[name].value = params[name].value * factor
    return model


def spectral_kwargs(variant, bias=True):
    """Unit-scale initialiser specs a Spectral ``variant`` accepts (for ssvd/qr phi_init names only a
    recipe: the papers', whose scale ``unit_scale`` knows; no b_init without a bias)."""
    kw = dict(UNIT_INIT)
    if variant in ("ssvd", "qr"):
        kw["phi_init"] = "papers"
    if not bias:
        del kw["b_init"]
    return kw


# ------------------------------------------------------------------ kernel cases
# Each case is a forward/backward pair in the form gradient_check.check_kernel takes: ``backward``
# returns one gradient per input, None for inputs that get none (frozen factors, the QR's Q).

def _away_from_zero(a):
    """Keep activations' inputs off the ReLU/ELU kink, where the derivative is undefined."""
    return np.where(np.abs(a) < 1e-2, a + np.copysign(0.05, a), a)


def _lower_mask(n_out, m):
    return np.tril(np.ones((n_out, m)))


def kernel_case(name, backend, dtype="float64", shape=(3, 4, 2), seed=0):
    """``(forward, backward, inputs, kwargs)`` for kernel ``name``; ``shape`` is (N, n_in, n_out)."""
    from minispectral import functional as F

    n, n_in, n_out = shape
    m = min(n_in, n_out)
    rng = np.random.default_rng(seed)

    def arr(*dims, scale=1.0):
        return make(backend, scale * rng.standard_normal(dims), dtype)

    if name in ("dense", "dense_no_bias", "masked_dense"):
        inputs = {"x": arr(n, n_in), "W": arr(n_out, n_in), "b": None if name == "dense_no_bias" else arr(n_out)}
        if name == "masked_dense":
            return F.masked_dense_forward, F.masked_dense_backward, inputs, {"sparsity": 0.4}
        return F.dense_forward, F.dense_backward, inputs, {}
    if name in ("spectral", "masked_spectral"):
        inputs = {"x": arr(n, n_in), "phi": arr(n_out, n_in), "lam_in": arr(n_in), "lam_out": arr(n_out),
                  "b": arr(n_out)}
        if name == "masked_spectral":
            return F.masked_spectral_forward, F.masked_spectral_backward, inputs, {"sparsity": 0.4}
        return F.spectral_forward, F.spectral_backward, inputs, {}
    if name == "spectral_weight":
        inputs = {"phi": arr(n_out, n_in), "lam_in": arr(n_in), "lam_out": arr(n_out)}
        return F.spectral_weight_forward, F.spectral_weight_backward, inputs, {}
    if name == "ssvd":
        inputs = {"U": arr(n_out, m), "s": arr(m), "V": arr(m, n_in)}
        return (F.ssvd_forward, lambda dphi, cache: (None, F.ssvd_backward(dphi, cache), None), inputs, {})
    if name == "qr":
        inputs = {"R": arr(n_out, m), "Q": arr(m, n_in)}
        return F.qr_forward, lambda dphi, cache: (F.qr_backward(dphi, cache), None), inputs, {}
    if name == "qr_masked":
        # Only the lower triangle of R is free: phi = (R ⊙ mask) Q, whose gradient is dphi Qᵀ ⊙ mask.
        mask = make(backend, _lower_mask(n_out, m), dtype)
        inputs = {"R": arr(n_out, m), "Q": arr(m, n_in)}
        like = lambda a: namespace(a).astype(mask, a.dtype)  # noqa: E731  (gradcheck runs in float64)
        return (lambda R, Q: F.qr_forward(R * like(R), Q),
                lambda dphi, cache: (F.qr_backward(dphi, cache, R_mask=like(dphi)), None), inputs, {})
    if name in F.ACTIVATIONS:
        forward, backward = F.ACTIVATIONS[name]
        x = make(backend, _away_from_zero(rng.standard_normal((n, n_in))), dtype)
        return forward, backward, {"x": x}, {}
    raise KeyError(name)


KERNELS = ["dense", "dense_no_bias", "spectral_weight", "spectral", "ssvd", "qr", "qr_masked",
           "relu", "tanh", "elu", "sigmoid", "masked_dense", "masked_spectral"]


def run_kernel(name, backend, dtype="float64", shape=(3, 4, 2), seed=0):
    """Forward then backward with a random ``dout``: (inputs, out, dout, grads as a tuple)."""
    forward, backward, inputs, kwargs = kernel_case(name, backend, dtype, shape, seed)
    out, cache = forward(*inputs.values(), **kwargs)
    dout = randn(backend, tuple(out.shape), dtype, seed=seed + 1)
    grads = backward(dout, cache)
    return inputs, out, dout, grads if isinstance(grads, tuple) else (grads,)
