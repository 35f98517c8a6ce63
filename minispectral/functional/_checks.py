"""Input checks shared by the kernels: a clear error instead of a silent broadcast."""
from __future__ import annotations

from ..backend import namespace


def check_matrix(a, name: str, shape=None) -> None:
    """Raise ValueError unless ``a`` is 2-D (and matches ``shape``, where an entry of None is free)."""
    _check_float(a, name)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(a.shape)}")
    _check_shape(a, name, shape)


def check_vector(a, name: str, length=None) -> None:
    """Raise ValueError unless ``a`` is 1-D with ``length`` entries."""
    if a is None:
        return
    _check_float(a, name)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(a.shape)}")
    _check_shape(a, name, (length,))


def check_like(a, name: str, ref, ref_name: str) -> None:
    """Raise unless ``a`` is a float array of ``ref``'s shape and dtype (an upstream gradient and the
    forward pass's array it belongs to): a mismatch would broadcast or promote silently."""
    _check_float(a, name)
    if a.shape != ref.shape:
        raise ValueError(f"{name} must have the shape of {ref_name}, {tuple(ref.shape)}, got {tuple(a.shape)}")
    if type(a) is not type(ref):
        namespace(ref, a)  # raises on mixed backends, which would read as "float64 but float64"
    if a.dtype != ref.dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but {ref_name} has dtype {ref.dtype}; "
                        "cast them to one float dtype")


def check_same_dtype(name_ref: str, ref, **others) -> None:
    """Raise TypeError if the arrays mix backends or any in ``others`` has another dtype than ``ref``."""
    ref_type, ref_dtype = type(ref), ref.dtype
    for a in others.values():
        if a is not None and type(a) is not ref_type:  # one library is the common case, and cheap to see
            namespace(ref, *(b for b in others.values() if b is not None))  # raises on mixed backends,
            break  # which would read as "float64 but float64"
    for name, a in others.items():
        if a is not None and a.dtype != ref_dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but {name_ref} has dtype {ref.dtype}; "
                            "cast them to one float dtype")


def _check_shape(a, name, shape) -> None:
    if shape is None:
        return
    for want, got in zip(shape, a.shape):  # a loop, not any(genexpr): this runs a dozen times a step
        if want is not None and want != got:
            want_txt = "(" + ", ".join("*" if w is None else str(w) for w in shape) + ")"
            raise ValueError(f"{name} must have shape {want_txt}, got {tuple(a.shape)}")


# (dtype's type, dtype) -> is it float32 or float64?  str(dtype) costs microseconds, and the
# kernels check a dozen arrays per layer step.  The type comes first in the key so that a NumPy
# dtype is never compared with another library's (which array-api-strict warns about).
_IS_FLOAT: dict = {}


_IS_INTEGER: dict = {}


def is_integer_dtype(dtype) -> bool:
    """Whether ``dtype`` (of any backend) is an integer type; cached like ``_IS_FLOAT``, for the same reason."""
    key = (type(dtype), dtype)
    ok = _IS_INTEGER.get(key)
    if ok is None:
        ok = _IS_INTEGER[key] = "int" in str(dtype)
    return ok


def _check_float(a, name) -> None:
    if not hasattr(a, "dtype") or not hasattr(a, "ndim"):
        raise TypeError(f"{name} must be an array, got {type(a).__name__}")
    key = (type(a.dtype), a.dtype)
    ok = _IS_FLOAT.get(key)
    if ok is None:
        ok = _IS_FLOAT[key] = str(a.dtype).rsplit(".", 1)[-1] in ("float32", "float64")
    if not ok:
        raise TypeError(f"{name} must be float32 or float64, got dtype {a.dtype}")
