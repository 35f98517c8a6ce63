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
GPU_INSTALL_HINT = 'pip install "minispectral[gpu]" (CUDA 12; "minispectral[gpu-cuda13]" for CUDA 13)'
GPU_EXTRAS_HINT = ('Install CuPy with its CUDA libraries: pip install "minispectral[gpu]" (CUDA 12) or '
                   '"minispectral[gpu-cuda13]" (CUDA 13); see the README, "The GPU switch"')
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
        if _is_cupy_array(a):  # np.asarray would raise CuPy's own TypeError about implicit conversion
            if self.name != "cupy":
                raise TypeError(f"expected a host array (NumPy) or a nested list, got a CuPy array, which lives on "
                                f"the GPU: bring it to the host with minispectral.to_numpy(x), or move it with "
                                f"minispectral.to_backend(x, {self.name!r})")
            a = self.xp.asarray(a)
            a = a if a.flags.c_contiguous else __import__("cupy").ascontiguousarray(a)
            return a if dtype is None else self.xp.astype(a, self.dtype(resolve_dtype(dtype).name), copy=False)
        a = np.asarray(a, order="C")
        if dtype is not None:
            a = a.astype(resolve_dtype(dtype), copy=False)
        if self.name == "numpy":
            return a
        return self.xp.asarray(a)

    @property
    def on_device(self) -> bool:
        """Whether arrays live in a GPU's memory, where each read on the host waits for the GPU."""
        return self.name == "cupy"

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
    """Import CuPy, then run what training needs on the GPU; say which step failed, and how to fix it.

    Three steps, because each needs a different part of CUDA: an allocation needs the driver and a
    GPU; an element-wise kernel is compiled at run time by NVRTC (libnvrtc); a matrix product calls
    cuBLAS (libcublas).  CuPy imports without any of them, and a memset alone would pass on a machine
    where the first product fails.
    """
    try:
        import cupy
    except Exception as exc:
        raise BackendUnavailableError(
            f"the 'cupy' backend needs CuPy, which is not installed ({exc}); "
            f"install it with: {GPU_INSTALL_HINT}"
        ) from exc

    def sync():
        cupy.cuda.get_current_stream().synchronize()

    steps = (
        ("no usable NVIDIA GPU was found: CuPy is installed, but it could not allocate memory on a GPU. "
         "On a machine without an NVIDIA GPU use the 'numpy' backend; on one with a GPU, check that "
         "`nvidia-smi` lists it and that the CUDA version it prints is at least the one CuPy was built for",
         lambda: cupy.zeros(4, dtype=cupy.float32)),
        ("CuPy found the GPU but cannot compile its element-wise kernels: the CUDA runtime compiler "
         f"NVRTC (libnvrtc) is missing or does not match the driver. {GPU_EXTRAS_HINT}",
         lambda: probe + 1),
        ("CuPy found the GPU but cannot multiply matrices: the CUDA BLAS library cuBLAS (libcublas) is "
         f"missing or does not match the driver. {GPU_EXTRAS_HINT}",
         lambda: cupy.ones((2, 2), dtype=cupy.float32) @ cupy.ones((2, 2), dtype=cupy.float32)),
    )
    probe = None
    for words, run in steps:
        try:
            out = run()
            sync()
        except Exception as exc:
            detail = " ".join(str(exc).split())[:300]
            raise BackendUnavailableError(f"{words} (CUDA said: {type(exc).__name__}: {detail})") from exc
        probe = out if probe is None else probe
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


def _is_cupy_array(x) -> bool:
    return type(x).__module__.partition(".")[0] == "cupy"


_NAMESPACE_OF_TYPE: dict = {}  # array type -> its namespace, for arrays that all share one type


def namespace(*arrays):
    """The array namespace shared by ``arrays``; a clear TypeError if they mix libraries."""
    present = [a for a in arrays if a is not None]
    # The common case answered directly: array_namespace inspects every argument (~8 µs a call,
    # a dozen calls a layer step), which is a measurable share of a small network's step.
    if present and all(type(a) is np.ndarray for a in present):
        return _numpy_namespace()
    if not present:
        raise TypeError("namespace() needs at least one array, got none")
    kind = type(present[0])
    if all(type(a) is kind for a in present):  # CuPy's and strict's arrays: the same shortcut, by type
        xp = _NAMESPACE_OF_TYPE.get(kind)
        if xp is None:
            try:
                xp = _NAMESPACE_OF_TYPE[kind] = array_namespace(present[0])
            except TypeError:
                xp = None  # not an array: the error below says so
        if xp is not None:
            return xp
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

    The Array API has no partial sort, so each library gets its cheapest exact selection:
    NumPy's ``partition`` is O(n) where a full sort is O(n log n), which matters when a layer
    re-prunes at every step.  CuPy's ``partition`` is O(n) only for k < 1024 and sorts the whole
    array otherwise, so on CuPy a float32/float64 array is searched digit by digit instead
    (``_radix_select``: a few O(n) passes, no host read).
    """
    if a.ndim != 1:
        raise ValueError(f"kth_smallest needs a 1-D array, got shape {tuple(a.shape)}")
    if not 1 <= k <= a.shape[0]:
        raise ValueError(f"k must be in [1, {a.shape[0]}], got {k}")
    b = backend_of(a)
    if b.name == "numpy" or (b.name == "cupy" and (k - 1 < CUPY_PARTITION_MAX_K or a.shape[0] < CUPY_RADIX_FROM)):
        module = np if b.name == "numpy" else __import__("cupy")
        # a slice reshaped to 0-d: indexing would give NumPy a scalar, which is no array of any backend
        return module.reshape(module.partition(a, k - 1)[k - 1:k], ())
    if b.name == "cupy" and str(a.dtype) in ("float32", "float64"):
        return _radix_select(a, k)
    return namespace(a).sort(a)[k - 1]


CUPY_PARTITION_MAX_K = 1024  # CuPy's partition selects in O(n) below this kth; from it on, it sorts
# From this many entries on, the radix select's ~25 launches cost less than CuPy's sort (an estimate:
# ``python -m minispectral.gpucheck`` times both, and its report is where to set it from).
CUPY_RADIX_FROM = 1 << 16


def _radix_select(a, k: int):
    """The k-th smallest entry (1-based) of a 1-D float32/float64 CuPy (or NumPy) array, in O(n) passes.

    Floats are mapped to unsigned integers of the same order (flip every bit of a negative number,
    only the sign bit of a positive one); then, 16 bits at a time from the top, a histogram of the
    next digit among the entries that share the digits chosen so far says which digit the k-th
    smallest has.  2 passes for float32, 4 for float64; every step stays on the device.
    """
    xp = namespace(a)
    bits, width = (32 if str(a.dtype) == "float32" else 64), 16
    utype = xp.uint32 if bits == 32 else xp.uint64
    top = utype(1 << (bits - 1))
    u = a.view(utype)
    u = xp.where(u >= top, ~u, u | top)  # order-preserving: a < b  <=>  u(a) < u(b)
    prefix = xp.zeros((), dtype=utype)
    remaining = xp.full((), k, dtype=xp.int64)  # made on the device: no upload
    n_digits = 1 << width
    for shift in range(bits - width, -1, -width):
        digit = xp.astype((u >> utype(shift)) & utype(n_digits - 1), xp.int64)
        if shift != bits - width:  # only the entries whose higher digits are the ones chosen so far
            same = (u >> utype(shift + width)) == (prefix >> utype(shift + width))
            digit = xp.where(same, digit, n_digits)
        below = xp.cumulative_sum(xp.bincount(digit, minlength=n_digits + 1)[:n_digits])
        chosen = xp.searchsorted(below, remaining)  # the first digit whose running count reaches k
        remaining = remaining - xp.where(chosen > 0, below[xp.maximum(chosen - 1, 0)], 0)
        prefix = prefix | (xp.astype(chosen, utype) << utype(shift))
    value = xp.where(prefix >= top, prefix ^ top, ~prefix)  # the inverse of the mapping above
    return xp.reshape(value.view(a.dtype), ())
