"""Array backends: NumPy (default), CuPy (GPU) and array-api-strict (a CPU stand-in).

Kernels never import NumPy. They ask their inputs for the namespace
(``array_api_compat.array_namespace``), so the same code runs on every backend.
This module is the one place that knows the concrete libraries: it picks the
current backend, creates arrays on it, and moves arrays between host and device.

Selecting a backend::

    minispectral.set_backend("cupy")          # for the rest of the program
    with minispectral.use_backend("strict"):  # temporarily
        ...
    MINISPECTRAL_BACKEND=cupy python train.py # from the environment

Transfers are always explicit: ``to_numpy(x)`` brings an array to the host,
``from_numpy(a)`` sends a host array to the current backend.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from array_api_compat import array_namespace

BACKENDS = ("numpy", "cupy", "strict")
GPU_INSTALL_HINT = 'pip install "minispectral[gpu]"'
DEFAULT_DTYPE = "float32"
_FLOAT_DTYPES = ("float32", "float64")


class BackendUnavailableError(RuntimeError):
    """The requested backend exists but cannot run here (library missing or no GPU)."""


@dataclass(frozen=True)
class Backend:
    """One array library, with the few helpers the Array API standard lacks."""

    name: str
    xp: Any  # the array namespace (array-api-compat wrapped where needed)

    def asarray(self, a, dtype=None):
        """Host array (or nested list) -> C-ordered array on this backend, as ``dtype``."""
        # C order everywhere: an update mixes a parameter with its gradient and optimizer state, and
        # matrix products return C order; element-wise work on mixed layouts runs several times
        # slower (an F-ordered R from np.linalg.qr made an Adamax step on it 4x slower: bench_hot_paths.py).
        a = np.asarray(a, order="C")
        if dtype is not None:
            a = a.astype(resolve_dtype(dtype), copy=False)
        if self.name == "numpy":
            return a
        return self.xp.asarray(a)

    def dtype(self, name):
        """The backend's dtype object for ``"float32"``/``"float64"``/``"int64"``..."""
        return getattr(self.xp, np.dtype(name).name)

    def synchronize(self) -> None:
        """Wait until queued device work is done, so that a timer measures it."""
        if self.name == "cupy":
            import cupy

            cupy.cuda.get_current_stream().synchronize()

    def owns(self, x) -> bool:
        """True if ``x`` is an array of this backend."""
        return backend_of(x) is self


def resolve_dtype(dtype) -> np.dtype:
    """Normalise a float dtype given as a string or any library's dtype to NumPy's.

    Raises ValueError unless it is float32 or float64.
    """
    if isinstance(dtype, type):  # np.float32, the usual NumPy spelling, is a scalar type, not a dtype
        name = dtype.__name__
    else:
        name = getattr(dtype, "name", None) or str(dtype)
    name = name.rsplit(".", 1)[-1]  # "array_api_strict.float32" -> "float32"
    if name not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {_FLOAT_DTYPES}, got {dtype!r}")
    return np.dtype(name)


@functools.lru_cache(maxsize=None)
def _make(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", array_namespace(np.empty(0)))
    if name == "strict":
        try:
            import array_api_strict
        except ImportError as exc:  # pragma: no cover - the test extra installs it
            raise BackendUnavailableError(
                "the 'strict' backend needs array-api-strict, which is not installed; "
                'install it with: pip install "minispectral[test]"'
            ) from exc
        return Backend("strict", array_api_strict)
    if name == "cupy":
        return Backend("cupy", _probe_cupy())
    raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")


def _probe_cupy():
    """Import CuPy and allocate on the GPU; say which of the two failed, and how to fix it."""
    try:
        import cupy
    except Exception as exc:
        raise BackendUnavailableError(
            f"the 'cupy' backend needs CuPy, which is not installed ({exc}); "
            f"install it with: {GPU_INSTALL_HINT}"
        ) from exc
    try:
        probe = cupy.zeros(1, dtype=cupy.float32)  # importing works without a GPU; allocating does not
        cupy.cuda.get_current_stream().synchronize()
    except Exception as exc:
        raise BackendUnavailableError(
            f"CuPy is installed but no working GPU was found ({type(exc).__name__}: {exc}); "
            "check the NVIDIA driver and CUDA runtime, or use the 'numpy' backend"
        ) from exc
    return array_namespace(probe)


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name``, or the current one when ``name`` is None."""
    if name is None:
        return _current()
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__}")
    return _make(name.lower())


def available(name: str) -> tuple[bool, str]:
    """(True, "") if backend ``name`` works here, else (False, the reason)."""
    try:
        get_backend(name)
    except (BackendUnavailableError, ValueError) as exc:
        return False, str(exc)
    return True, ""


_base: Backend | None = None  # the program's backend: set_backend, else MINISPECTRAL_BACKEND, else numpy
# The backend of the innermost open ``with use_backend(...)`` block, or None: a context variable, so
# that a block in one thread (or one asyncio task) never changes another's backend, and each block
# restores exactly what was there when it began, whatever order blocks in other threads end in.
_block: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("minispectral_backend", default=None)


def _current() -> Backend:
    global _base
    block = _block.get()
    if block is not None:
        return block
    if _base is None:
        env = os.environ.get("MINISPECTRAL_BACKEND") or "numpy"  # set but empty: unset
        try:
            _base = get_backend(env)
        except (ValueError, BackendUnavailableError) as exc:  # say where the name came from
            raise type(exc)(f"MINISPECTRAL_BACKEND={env!r} in the environment: {exc}") from None
    return _base


def set_backend(name: str) -> Backend:
    """Make ``name`` the current backend for the rest of the program.

    Called inside ``with use_backend(...)`` blocks, it takes effect at once and stays after they
    end: it replaces the innermost block's backend and the program's own, which the last block
    returns to.
    """
    global _base
    backend = get_backend(name)
    # Not through _current(): an unusable MINISPECTRAL_BACKEND must not block choosing another one.
    _base = backend
    if _block.get() is not None:
        _block.set(backend)
    return backend


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Context manager: switch the current backend inside a ``with`` block, in this thread only."""
    backend = get_backend(name)
    token = _block.set(backend)
    try:
        yield backend
    finally:
        _block.reset(token)


def backend_of(x) -> Backend:
    """The backend an array lives on. Raises TypeError for non-arrays."""
    if isinstance(x, np.ndarray):
        return _make("numpy")
    module = type(x).__module__.split(".")[0]
    if module == "array_api_strict":
        return _make("strict")
    if module == "cupy":
        return _make("cupy")
    raise TypeError(f"expected an array of one of the backends {BACKENDS}, got {type(x).__name__}")


@functools.cache
def _numpy_namespace():
    return array_namespace(np.empty(0))


def namespace(*arrays):
    """The array namespace shared by ``arrays``; a clear TypeError if they mix libraries."""
    present = [a for a in arrays if a is not None]
    # The common case answered directly: array_namespace inspects every argument (~8 µs a call,
    # a dozen calls a layer step), which is a measurable share of a small network's step.
    if present and all(type(a) is np.ndarray for a in present):
        return _numpy_namespace()
    if not present:
        raise TypeError("namespace() needs at least one array, got none")
    try:
        return array_namespace(*present)
    except TypeError as exc:
        odd = [type(a).__name__ for a in present if not (hasattr(a, "dtype") and hasattr(a, "shape"))]
        if odd:
            raise TypeError(f"expected arrays, got {', '.join(odd)}; convert with minispectral.from_numpy "
                            "or the backend's asarray first") from exc
        kinds = sorted({type(a).__module__.split(".")[0] for a in present})
        raise TypeError(
            f"arrays from different backends were mixed ({', '.join(kinds)}); "
            "move them to one backend first with minispectral.from_numpy/to_numpy or Module.to()"
        ) from exc


def to_numpy(x) -> np.ndarray:
    """Any backend's array as a NumPy array on the host (explicit transfer).

    A NumPy array comes back as it is, and a strict array as a view of the same memory;
    a CuPy array is copied from the device.  Copy the result before changing it.
    """
    if isinstance(x, np.ndarray):
        return x
    b = backend_of(x)
    if b.name == "cupy":
        return x.get()
    return np.from_dlpack(x)


def from_numpy(a, dtype=None, backend: str | Backend | None = None):
    """Send a host array to ``backend`` (default: the current one), optionally as ``dtype``."""
    return get_backend(backend).asarray(a, dtype)


def to_backend(x, backend: str | Backend | None = None):
    """Move an array of any backend to ``backend`` (through the host when they differ)."""
    target = get_backend(backend)
    if hasattr(x, "named_parameters"):  # a model or a layer: it moves its own parameters, in place
        raise TypeError(f"to_backend moves arrays; to move a {type(x).__name__}, call its .to({target.name!r})")
    if x is None or target.owns(x):
        return x
    return target.asarray(to_numpy(x))


def synchronize(backend: str | Backend | None = None) -> None:
    """Block until the backend's queued work is finished (a no-op on the CPU)."""
    get_backend(backend).synchronize()


def kth_smallest(a, k: int):
    """The k-th smallest entry (1-based) of a 1-D array, as a 0-d array.

    The Array API has no partial sort; NumPy and CuPy's ``partition`` is O(n) where a
    full sort is O(n log n), which matters when a layer re-prunes at every step.
    """
    if a.ndim != 1:
        raise ValueError(f"kth_smallest needs a 1-D array, got shape {tuple(a.shape)}")
    if not 1 <= k <= a.shape[0]:
        raise ValueError(f"k must be in [1, {a.shape[0]}], got {k}")
    b = backend_of(a)
    if b.name in ("numpy", "cupy"):
        module = np if b.name == "numpy" else __import__("cupy")
        # a slice reshaped to 0-d: indexing would give NumPy a scalar, which is no array of any backend
        return module.reshape(module.partition(a, k - 1)[k - 1:k], ())
    return namespace(a).sort(a)[k - 1]
