"""A stand-in for CuPy over NumPy, so that CI (no GPU) runs the CuPy code path.

``install()`` puts it in ``sys.modules["cupy"]``: ``array_api_compat`` then sees its arrays as
CuPy's (``is_cupy_array`` is true, ``array_namespace`` gives ``array_api_compat.cupy`` built on
it), and minispectral takes every branch it takes on a GPU.  Like CuPy it

- refuses implicit conversion to the host: ``np.asarray(x)`` raises CuPy's TypeError, and so does
  mixing a NumPy array into an operation (``x + np_array``, ``cupy.matmul(x, np_array)``);
- returns 0-d arrays from reductions, never host scalars.

And it counts, in ``COUNTS``:

- ``reads``: values brought back to the host, each a device synchronisation on a GPU:
  ``float(x)``, ``int(x)``, ``bool(x)``, ``x.item()``, ``x.get()``, ``cupy.asnumpy``, ``x.tolist()``,
  ``repr``, and indexing with a boolean mask (the result's size depends on the data);
- ``calls``: library calls that would launch a kernel (an operator, a ufunc, a reduction, a
  product, a copy; a fused or elementwise kernel counts once); views (slices, reshapes,
  transposes) and ``empty`` launch nothing and are not counted;
- ``uploads``: host arrays sent to the device (``cupy.asarray`` of a NumPy array).

``cupy.ElementwiseKernel`` runs its C operation by translating it to NumPy (assignments,
``+ - * /``, comparisons, one ``c ? a : b`` per statement, ``max``, ``min`` (as CUDA's, which drop a
NaN), ``fabs``, ``sqrt``,
``exp``, ``log``, ``tanh``, ``abs`` and parameters), so a
test checks the very source a GPU compiles; ``cupy.fuse`` runs its function on the stand-in's arrays.
It is not CuPy: rounding in a fused kernel may differ in the last bit, and no timing means anything.
"""
from __future__ import annotations

import builtins  # the namespace below shadows abs, all, any, bool, divmod, max, min, pow, round, sum
import contextlib
import re
import sys
import types

import numpy as np

__version__ = "0.0+standin"
STANDIN = True  # how a test tells the stand-in from real CuPy


class Counts:
    def __init__(self):
        self.reads = self.calls = self.uploads = 0

    def reset(self):
        self.reads = self.calls = self.uploads = 0

    def snapshot(self) -> dict:
        return {"reads": self.reads, "calls": self.calls, "uploads": self.uploads}


COUNTS = Counts()


@contextlib.contextmanager
def counting():
    """Counts from zero inside the block: ``with counting() as c: ...; c.reads``."""
    COUNTS.reset()
    yield COUNTS


_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


def _refuse_host(a):
    raise TypeError(f"Unsupported type {type(a)}")


def _unwrap(obj, *, allow_host=False):
    """Our arrays -> their NumPy arrays, in nested lists and tuples; a NumPy array is refused."""
    if type(obj) is ndarray:
        return obj._a
    if isinstance(obj, np.ndarray):
        if allow_host:
            return obj
        _refuse_host(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o, allow_host=allow_host) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v, allow_host=allow_host) for k, v in obj.items()}
    return obj


def _wrap(res):
    if isinstance(res, np.ndarray):
        return ndarray(res)
    if isinstance(res, np.generic):  # CuPy gives 0-d arrays, never host scalars
        return ndarray(np.asarray(res))
    if isinstance(res, tuple):
        return tuple(_wrap(r) for r in res)
    if isinstance(res, list):
        return [_wrap(r) for r in res]
    return res


class Device:
    def __init__(self, device=None):
        self.id = 0 if device is None or isinstance(device, Device) else int(device)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"

    def synchronize(self):
        pass


class ndarray:
    """A device array: a NumPy array that the host may not read without saying so."""

    __slots__ = ("_a", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our operators, which refuse NumPy operands
    __hash__ = None

    def __init__(self, a):
        self._a = a

    # --- metadata: no device work
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    base = property(lambda self: None if self._a.base is None else ndarray(self._a.base))
    device = property(lambda self: Device(0))
    T = property(lambda self: ndarray(self._a.T))
    mT = property(lambda self: ndarray(np.swapaxes(self._a, -1, -2)))

    def __len__(self):
        return len(self._a)

    # --- host reads: each a synchronisation on a GPU
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def _read(self):
        COUNTS.reads += 1
        return self._a

    def get(self, stream=None, order="C", out=None):
        return np.array(self._read(), order=order, copy=True)

    def item(self, *args):
        return self._read().item(*args)

    def tolist(self):
        return self._read().tolist()

    def __float__(self):
        return float(self._read())

    def __int__(self):
        return int(self._read())

    def __index__(self):
        return self._read().__index__()

    def __complex__(self):
        return complex(self._read())

    def __bool__(self):
        return builtins.bool(self._read())

    def __repr__(self):
        return f"array({np.array2string(self._read(), separator=', ')})"

    __str__ = __repr__

    def __iter__(self):
        for i in range(len(self._a)):
            yield self[i]

    # --- indexing
    def __getitem__(self, key):
        key = _index(key)
        keys = key if isinstance(key, tuple) else (key,)
        if not builtins.any(k is Ellipsis for k in keys):
            keys += (Ellipsis,)  # so that x[0] is a 0-d view, as on CuPy, not a host scalar
        out = self._a[keys]
        if out.size and not np.may_share_memory(out, self._a):
            COUNTS.calls += 1  # a gather (integer or boolean index): a kernel
        return ndarray(out)

    def __setitem__(self, key, value):
        COUNTS.calls += 1
        self._a[_index(key)] = _unwrap(value)

    # --- methods that compute
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and self._a.dtype == np.dtype(dtype):
            return self
        COUNTS.calls += 1
        return ndarray(self._a.astype(dtype, order=order, copy=True))

    def view(self, dtype=None):
        return ndarray(self._a.view(dtype) if dtype is not None else self._a.view())

    def reshape(self, *shape, order="C"):
        out = self._a.reshape(*shape, order=order)
        if out.size and not np.may_share_memory(out, self._a):
            COUNTS.calls += 1
        return ndarray(out)

    def __getattr__(self, name):  # sum, max, copy, fill, ravel, transpose, ...: one call each
        if name.startswith("__"):  # NumPy would build an array from __array_interface__ and the like
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kw):
            if name not in _VIEWS:
                COUNTS.calls += 1
            with _quiet():
                return _wrap(attr(*_unwrap(args), **_unwrap(kw)))
        return method

    def __dlpack__(self, *args, **kw):
        raise TypeError("the CuPy stand-in has no DLPack export; use .get()")


_VIEWS = {"ravel", "transpose", "swapaxes", "squeeze", "view"}


def _index(key):
    """An index with our arrays unwrapped; a boolean mask is a host read (its count decides the size)."""
    keys = key if isinstance(key, tuple) else (key,)
    for k in keys:
        if isinstance(k, np.ndarray):
            _refuse_host(k)
        if type(k) is ndarray and k.dtype == np.bool_:
            COUNTS.reads += 1
    return _unwrap(key)


def _quiet():  # CuPy never warns about inf or NaN; NumPy would, and pytest fails on it
    return np.errstate(all="ignore")


def _operator(name, *, inplace=False, reflected=False):
    fn = getattr(np.ndarray, name)

    def op(self, other):
        if isinstance(other, np.ndarray):
            _refuse_host(other)
        if not isinstance(other, (ndarray, int, float, complex, np.generic)):  # a Python bool is an int
            return NotImplemented
        COUNTS.calls += 1
        with _quiet():
            res = fn(self._a, _unwrap(other))
        if res is NotImplemented or type(res) is builtins.bool:
            return res
        return self if inplace else _wrap(res)
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _operator(f"__r{_name}__"))
    setattr(ndarray, f"__i{_name}__", _operator(f"__i{_name}__", inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))


def _unary(name):
    fn = getattr(np.ndarray, name)

    def op(self):
        COUNTS.calls += 1
        with _quiet():
            return _wrap(fn(self._a))
    return op


for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _name, _unary(_name))
ndarray.__module__ = "cupy"  # array_api_compat and minispectral tell CuPy's arrays by their module


# --------------------------------------------------------------------------- the namespace
# NumPy functions that launch nothing on a GPU: allocations without a fill, and views.
_NO_LAUNCH = {"empty", "empty_like", "reshape", "transpose", "permute_dims", "matrix_transpose", "expand_dims",
              "squeeze", "broadcast_to", "broadcast_arrays", "shares_memory", "may_share_memory", "ndim",
              "shape", "size", "result_type", "can_cast", "isdtype", "swapaxes", "moveaxis", "atleast_1d",
              "atleast_2d", "ravel"}


def _function(name, fn, *, allow_host=False):
    def f(*args, **kw):
        out = kw.get("out")
        args, kw = _unwrap(args, allow_host=allow_host), _unwrap(kw, allow_host=allow_host)
        if name not in _NO_LAUNCH:
            COUNTS.calls += 1
        with _quiet():
            res = fn(*args, **kw)
        return out if out is not None else _wrap(res)
    f.__name__ = f.__qualname__ = name
    f.__module__ = "cupy"
    if isinstance(fn, np.ufunc):
        f.nin, f.nout = fn.nin, fn.nout  # minispectral passes out= to ufuncs only
    return f


def _populate(module, source, skip=()):
    for name in dir(source):
        if name.startswith("_") or name in skip:
            continue
        obj = getattr(source, name)
        if isinstance(obj, types.ModuleType):
            continue
        if isinstance(obj, type) or not callable(obj):  # dtypes, finfo, constants: CuPy uses NumPy's
            setattr(module, name, obj)
        else:
            setattr(module, name, _function(name, obj))


_this = sys.modules[__name__]
_populate(_this, np, skip={"ndarray", "asarray", "array", "asnumpy", "get_include", "show_config", "info",
                           "test", "ascontiguousarray"})


def asarray(a, dtype=None, order=None, *, blocking=False):
    if type(a) is ndarray:
        same_order = order in (None, "K", "A") or (order == "C" and a._a.flags.c_contiguous)
        if (dtype is None or np.dtype(dtype) == a.dtype) and same_order:
            return a
        COUNTS.calls += 1
        return ndarray(np.asarray(a._a, dtype=dtype, order=order))
    COUNTS.uploads += 1
    return ndarray(np.array(_unwrap(a, allow_host=True), dtype=dtype, order=order or "K", copy=True))


def array(a, dtype=None, copy=True, order="K", ndmin=0, *, blocking=False):
    if type(a) is ndarray:
        if not copy and (dtype is None or np.dtype(dtype) == a.dtype):
            return a
        COUNTS.calls += 1
        return ndarray(np.array(a._a, dtype=dtype, copy=True, order=order, ndmin=ndmin))
    COUNTS.uploads += 1
    return ndarray(np.array(_unwrap(a, allow_host=True), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def ascontiguousarray(a, dtype=None):
    return asarray(a, dtype=dtype, order="C")


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    return a.get() if type(a) is ndarray else np.asarray(a, order=order)


def get_array_module(*args):
    return _this


def fuse(*args, **kw):
    """``cupy.fuse``: one kernel on a GPU; here the function runs on NumPy, counted as one call."""
    def decorate(fn):
        def fused(*a, **k):
            before = COUNTS.calls
            out = fn(*a, **k)
            COUNTS.calls = before + 1
            return out
        fused.__name__ = getattr(fn, "__name__", "fused")
        return fused
    if len(args) == 1 and callable(args[0]) and not kw:
        return decorate(args[0])
    return decorate


# CUDA's max and min of two floats are fmaxf and fminf: a NaN against a number gives the number
_C_FUNCS = {"max": np.fmax, "min": np.fmin, "fmax": np.fmax, "fmin": np.fmin, "fabs": np.abs,
            "abs": np.abs, "sqrt": np.sqrt, "exp": np.exp, "expm1": np.expm1, "tanh": np.tanh, "log": np.log,
            "where": np.where}


class ElementwiseKernel:
    """``cupy.ElementwiseKernel`` for simple C operations: ``a = expr;`` and ``a op= expr;`` statements
    over the parameters, numbers, + − * / and the functions in ``_C_FUNCS``; ``T`` and ``float``
    casts are ignored.  Each parameter is read as an array, so a statement computes on whole arrays,
    entry by entry, as the kernel does."""

    def __init__(self, in_params, out_params, operation, name="kernel", **kw):
        self.in_names = [p.split()[-1] for p in in_params.split(",") if p.strip()]
        self.out_names = [p.split()[-1] for p in out_params.split(",") if p.strip()]
        # a one-letter type is a placeholder (T): every array given for it must have one dtype, as on CuPy
        self.types = {p.split()[-1]: p.split()[-2] for p in f"{in_params},{out_params}".split(",") if p.strip()}
        self.name = name
        body = re.sub(r"//[^\n]*", "", operation)
        body = re.sub(r"\((?:T|float|double|const T|const float)\)", "", body)
        self.statements = []
        for stmt in body.split(";"):
            stmt = " ".join(stmt.split())
            if not stmt:
                continue
            m = re.fullmatch(r"(?:(?:const )?(?:T|float|double) )?(\w+) ?([-+*/]?=) ?(.+)", stmt)
            if not m or stmt.count("?") > 1:
                raise ValueError(f"the CuPy stand-in cannot run the statement {stmt!r} of kernel {name}")
            expr = m.group(3)
            ternary = re.fullmatch(r"(.+?) \? (.+?) : (.+)", expr)  # one "c ? a : b", the whole right side
            if ternary:
                expr = "where({}, {}, {})".format(*ternary.groups())
            elif "?" in expr:
                raise ValueError(f"the CuPy stand-in cannot run the statement {stmt!r} of kernel {name}")
            self.statements.append((m.group(1), m.group(2), compile(expr, f"<{name}>", "eval")))

    def __call__(self, *args, **kw):
        if len(args) not in (len(self.in_names), len(self.in_names) + len(self.out_names)):
            raise TypeError(f"kernel {self.name} takes {len(self.in_names)} inputs (+ outputs), got {len(args)}")
        COUNTS.calls += 1
        values = dict(zip(self.in_names + self.out_names, args))
        placeholders = {}
        for nm, v in values.items():
            if type(v) is ndarray and len(self.types[nm]) == 1:
                placeholders.setdefault(self.types[nm], set()).add(v.dtype)
        for t, dtypes in placeholders.items():
            if len(dtypes) > 1:
                raise TypeError(f"Type is mismatched. {self.name} {t} {' '.join(sorted(map(str, dtypes)))}")
        arrays = [v for v in values.values() if type(v) is ndarray]
        shape = np.broadcast_shapes(*(v.shape for v in arrays))
        dtype = next((v.dtype for v in arrays if np.issubdtype(v.dtype, np.floating)), np.float64)
        outs = {}
        for nm in self.out_names:
            if nm not in values:  # CuPy allocates missing outputs
                values[nm] = outs[nm] = ndarray(np.empty(shape, dtype))
        env = {k: (v._a if type(v) is ndarray else dtype.type(v) if isinstance(v, float) else v)
               for k, v in values.items()}
        local = {k: (np.array(v, copy=True) if k in self.out_names else v) for k, v in env.items()}
        with _quiet():
            self._run(values, local)
        results = tuple(values[nm] for nm in self.out_names)
        return results[0] if len(results) == 1 else results

    def _run(self, values, local):
        for target, op, expr in self.statements:
            value = eval(expr, dict(_C_FUNCS), local)
            if op == "=":
                new = value
            else:
                new = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.divide}[op](local[target], value)
            if target in self.out_names:
                local[target] = np.asarray(new, dtype=values[target].dtype).copy() if np.ndim(new) else \
                    np.broadcast_to(np.asarray(new, dtype=values[target].dtype), values[target].shape).copy()
            else:
                local[target] = new
        for nm in self.out_names:
            values[nm]._a[...] = local[nm]


class _MemoryPool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


def get_default_pinned_memory_pool():
    return _POOL


class _Stream:
    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _submodule(name, source=None):
    mod = types.ModuleType(f"cupy.{name}")
    if source is not None:
        _populate(mod, source)
    setattr(_this, name, mod)
    return mod


linalg = _submodule("linalg", np.linalg)
fft = _submodule("fft", np.fft)
random = _submodule("random", np.random)
cuda = _submodule("cuda")
cuda.Device = Device
cuda.Stream = _Stream
cuda.ExternalStream = lambda ptr: _Stream()
cuda.get_current_stream = lambda: _Stream()
cuda.runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 0, driverGetVersion=lambda: 0,
    getDeviceProperties=lambda i: {"name": b"CuPy stand-in (NumPy on the CPU)", "totalGlobalMem": 0})
cuda.__path__ = []  # a package, so that ``from cupy.cuda.device import Device`` works
cuda.device = types.ModuleType("cupy.cuda.device")
cuda.device.Device = Device


def install():
    """Make ``import cupy`` give this stand-in (and its submodules); returns the module."""
    sys.modules["cupy"] = _this
    for sub in ("linalg", "fft", "random", "cuda"):
        sys.modules[f"cupy.{sub}"] = getattr(_this, sub)
    sys.modules["cupy.cuda.device"] = cuda.device
    return _this
