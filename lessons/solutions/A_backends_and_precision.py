"""Solutions to the exercises of appendix A (setup and the array backend)."""
import numpy as np

import minispectral as ms

# --- Exercise 1: a portable, stable softplus ------------------------------------------------
# log(1 + e^x) = max(x, 0) + log(1 + e^{-|x|}): the exponent is never positive, so it cannot
# overflow, and log1p keeps precision when e^{-|x|} is tiny.


def softplus(x):
    xp = ms.backend.namespace(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


x_host = np.linspace(-30.0, 30.0, 61)
naive = np.log1p(np.exp(x_host))  # fine on this range, so it serves as the reference
on_numpy = softplus(x_host)
on_strict = ms.to_numpy(softplus(ms.from_numpy(x_host, backend="strict")))
assert np.allclose(on_numpy, naive, rtol=1e-12, atol=0)
assert np.allclose(on_strict, on_numpy, rtol=1e-12, atol=0)
big = softplus(np.array([1000.0, -1000.0]))
assert np.all(np.isfinite(big)) and big[0] == 1000.0 and big[1] >= 0.0
print("exercise 1: softplus agrees on numpy and strict; softplus(1000) =", big[0])

# --- Exercise 2: a model moved to strict and float64 ----------------------------------------
model = ms.mlp((6, 5, 3), model="dense", seed=0)
twin = model.copy().to(backend="strict", dtype="float64")
x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
y32 = model.forward(x)
y64 = ms.to_numpy(twin.forward(ms.from_numpy(x, "float64", backend="strict")))
assert twin.backend.name == "strict" and y64.dtype == np.float64
assert model.backend.name == "numpy"  # the copy moved, not the original
assert np.allclose(y32, y64, rtol=1e-5, atol=1e-6)
print("exercise 2: max |y32 - y64| =", float(np.max(np.abs(y32 - y64))))

# --- Exercise 3: the first integer float32 cannot hold ---------------------------------------
# float32 has 24 significant bits (23 stored + the implicit 1). Every integer up to 2^24 fits;
# above it the spacing between floats is 2 (= 2^24 · eps32), so 2^24 + 1 falls between two
# floats and rounds to the even one, 2^24.
# Between 2^k and 2^(k+1) the spacing of float32 values is 2^k · eps32 = 2^(k-23), so the first
# gap in the integers opens just after the first power of two whose spacing exceeds 1.
n = next(2**k + 1 for k in range(64) if int(np.float32(2**k + 1)) != 2**k + 1)
window = np.arange(2**24 - 4096, 2**24 + 1, dtype=np.int64)  # the integers just below the gap
assert np.array_equal(window.astype(np.float32).astype(np.int64), window)
assert n == 2**24 + 1
assert np.spacing(np.float32(2**24)) == 2.0 == 2**24 * np.finfo(np.float32).eps
assert int(np.float32(n)) == 2**24
print(f"exercise 3: n = 2^24 + 1 = {n}; np.float32(n) = {int(np.float32(n))}")
