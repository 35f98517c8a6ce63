"""Checks for lesson 12, the same code on the GPU: a kernel that runs on every backend."""
import numpy as np

from ..backend import from_numpy, to_numpy
from . import ExerciseFailed, compare, exercise


@exercise("12", "my_softmax")
def check_softmax(my_softmax):
    """``my_softmax(z) -> p``, row-wise softmax of z (N, C), on NumPy float64 and on array-api-strict float32.

    On each backend the result must be an array of that backend, of the input's dtype, equal to
    exp(z − max) / Σ exp(z − max) computed in float64 from the same inputs (rows that reach 1000 included: no overflow).
    """
    rng = np.random.default_rng(12)
    z = rng.standard_normal((6, 4)) * 3
    z[0] += 1000.0  # exp(1000) overflows: the row maximum must come off first

    def softmax64(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p_numpy = my_softmax(z.copy())
    z_strict = from_numpy(z.astype(np.float32), backend="strict")
    try:
        p_strict = my_softmax(z_strict)
    except (TypeError, AttributeError, ValueError) as exc:  # np.exp(z), z.max(...): NumPy on a strict array
        raise ExerciseFailed(f"my_softmax works on NumPy arrays but failed on an array-api-strict array "
                             f"({type(exc).__name__}: {exc}): a NumPy function (np.*) or a NumPy-only method "
                             "met it. Take the namespace from the input, xp = ms.backend.namespace(z), and call "
                             "xp.exp, xp.max and xp.sum") from exc
    if type(p_strict) is not type(z_strict):
        raise ExerciseFailed(f"given an array-api-strict array, my_softmax returned a {type(p_strict).__module__}."
                             f"{type(p_strict).__name__}: take the namespace from the input (xp = namespace(z)) "
                             "and call xp.exp, xp.max, xp.sum, never np.*")
    if p_strict.dtype != z_strict.dtype:
        raise ExerciseFailed(f"given float32, my_softmax returned {p_strict.dtype}: a kernel keeps its input's dtype")
    compare("my_softmax on NumPy (float64)", {"p": (p_numpy, softmax64(z))})
    # against the float64 softmax of the same float32 inputs: what is left is float32 arithmetic (~1e-7)
    return compare("my_softmax on array-api-strict (float32, so a float32 tolerance)",
                   {"p": (to_numpy(p_strict), softmax64(to_numpy(z_strict).astype(np.float64)))}, tol=1e-5)
