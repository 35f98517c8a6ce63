# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Appendix A — Array backends and precision
#
# **Why this appendix.** Every layer in `minispectral` is a pair of plain functions,
# `forward(...) -> (out, cache)` and `backward(dout, cache) -> grads`, written once and run
# on three array libraries:
#
# | backend | library | what it is for |
# |---|---|---|
# | `"numpy"` | NumPy | the default; runs everywhere |
# | `"cupy"` | CuPy | the same code on an NVIDIA GPU |
# | `"strict"` | array-api-strict | a CPU stand-in that *refuses* NumPy-only idioms, so CI (which has no GPU) catches code that would break on CuPy |
#
# The kernels never import NumPy. They ask their inputs which library they belong to and use
# that library's functions. This lesson shows how a backend is chosen, what happens when it is
# missing, why dtypes matter (float32 for training, float64 for checking gradients), and why
# moving data between host and device is always written out explicitly.
#
# Run this notebook with `minispectral` importable (from the repository root:
# `pip install -e .`, or `PYTHONPATH=..` from this folder). `MINISPECTRAL_FAST=1` shrinks the
# sizes for CI.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.functional import dense_forward

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(0)
print("minispectral", ms.__version__, "| numpy", np.__version__, "| FAST =", FAST)

# %% [markdown]
# ## 1. Which backends work here?
#
# `ms.available(name)` never raises: it returns `(True, "")` or `(False, reason)`, and the
# reason says what to install or check. On a machine without a GPU the `"cupy"` row says so;
# nothing else in the lessons needs it.

# %%
for name in ms.BACKENDS:
    ok, reason = ms.available(name)
    print(f"{name:>7}: {'available' if ok else 'unavailable'}{'' if ok else ' — ' + reason}")

assert ms.available("numpy") == (True, "")
ok_cupy, reason_cupy = ms.available("cupy")
assert ok_cupy or reason_cupy  # unavailable always comes with a reason

# %% [markdown]
# The *current* backend is NumPy unless the environment variable `MINISPECTRAL_BACKEND` says
# otherwise. `ms.set_backend(name)` changes it for the rest of the program and
# `with ms.use_backend(name):` changes it inside a block. Asking for an unavailable backend
# raises `ms.BackendUnavailableError` with the same reason as above.

# %%
print("current backend:", ms.get_backend().name)
with ms.use_backend("strict") as backend:
    print("inside the block:", ms.get_backend().name, "| namespace:", backend.xp.__name__)
print("after the block:", ms.get_backend().name)
assert ms.get_backend().name == os.environ.get("MINISPECTRAL_BACKEND", "numpy")

if not ok_cupy:
    try:
        ms.get_backend("cupy")
    except ms.BackendUnavailableError as exc:
        print("get_backend('cupy') raised:", type(exc).__name__)

# %% [markdown]
# ## 2. Explicit transfers
#
# An array lives on one backend. `ms.from_numpy(a, dtype, backend=...)` sends a host (NumPy)
# array there and `ms.to_numpy(x)` brings it back. On a GPU these are real copies across the
# PCIe bus, which is why the library never does them behind your back: CuPy itself refuses
# `np.asarray(gpu_array)`. `ms.backend_of(x)` tells where an array lives.
#
# The round trip host → backend → host must give back exactly the same numbers:
# $$\texttt{to\_numpy}(\texttt{from\_numpy}(a)) = a .$$

# %%
a = rng.standard_normal((3, 4)).astype(np.float32)
x_strict = ms.from_numpy(a, backend="strict")
print(type(x_strict).__module__, "| backend_of:", ms.backend_of(x_strict).name, "| dtype:", x_strict.dtype)

back = ms.to_numpy(x_strict)
assert isinstance(back, np.ndarray) and back.dtype == np.float32
assert np.array_equal(back, a)

# %% [markdown]
# Arrays from two libraries never mix silently. Every kernel first asks
# `ms.backend.namespace(*inputs)` for the one library its inputs share; given a NumPy `x` and a
# strict `W` it raises a `TypeError`, so a forgotten transfer shows up as a clear error rather
# than as a slow implicit copy (or a wrong result).

# %%
W_host = rng.standard_normal((2, 4)).astype(np.float32)
W_strict = ms.from_numpy(W_host, backend="strict")
try:
    ms.backend.namespace(a, W_strict)
    mixed_error = None
except TypeError as exc:
    mixed_error = exc
print("mixing numpy and strict arrays:", mixed_error)
assert isinstance(mixed_error, TypeError)

# %% [markdown]
# ## 3. What "strict" catches
#
# The [Array API standard](https://data-apis.org/array-api/) is the subset of NumPy that
# NumPy, CuPy, PyTorch and others all implement. NumPy has many extras outside it — methods
# such as `x.astype(...)`, `x.reshape(...)`, functions such as `np.dot`. Code that uses them runs
# on NumPy and breaks elsewhere. array-api-strict has *only* the standard, so such code fails
# on the CPU, in CI, before anyone tries a GPU.
#
# The portable pattern is to take the namespace `xp` from the inputs and call functions on it:
# `xp.astype(x, xp.float64)` instead of `x.astype(np.float64)`.

# %%
def normalise_numpy_only(x):
    """Zero-mean rows, written with NumPy-only idioms."""
    x = x.astype("float64")
    return x - np.mean(x, axis=1, keepdims=True)


def normalise_portable(x):
    """The same, written against the array namespace of x."""
    xp = ms.backend.namespace(x)
    x = xp.astype(x, xp.float64)
    return x - xp.mean(x, axis=1, keepdims=True)


try:
    normalise_numpy_only(x_strict)
    strict_error = None
except AttributeError as exc:
    strict_error = exc
print("NumPy-only code on strict:", type(strict_error).__name__, "-", strict_error)
assert strict_error is not None

expected = normalise_numpy_only(a)
assert np.allclose(ms.to_numpy(normalise_portable(x_strict)), expected, rtol=0, atol=1e-12)
assert np.allclose(normalise_portable(a), expected, rtol=0, atol=1e-12)

# %% [markdown]
# The library's own kernels are written this way, so one call gives the same numbers on every
# available backend. Here is the dense layer $y = xW^\top + b$ (lesson 02) on each of them.

# %%
x_host = rng.standard_normal((5, 4)).astype(np.float32)
b_host = rng.standard_normal(2).astype(np.float32)
reference, _ = dense_forward(x_host, W_host, b_host)
for name in ms.BACKENDS:
    if not ms.available(name)[0]:
        print(f"{name:>7}: skipped (unavailable)")
        continue
    x_b, W_b, b_b = (ms.from_numpy(v, backend=name) for v in (x_host, W_host, b_host))
    y_b, _ = dense_forward(x_b, W_b, b_b)
    ms.synchronize(name)  # a no-op on the CPU; on a GPU it waits for the kernel to finish
    y_back = ms.to_numpy(y_b)
    print(f"{name:>7}: y has dtype {y_back.dtype}, max |y - y_numpy| = {np.max(np.abs(y_back - reference)):.1e}")
    assert y_back.dtype == np.float32
    assert np.allclose(y_back, reference, rtol=1e-6, atol=1e-6)

# %% [markdown]
# Layers and models move as a whole: `model.to(backend=..., dtype=...)` converts every
# parameter in place. Their initial values are drawn on the host from a seeded NumPy generator,
# so the same seed gives the same model on every backend.

# %%
model = ms.mlp((4, 8, 3), model="spectral", seed=1)
y_numpy = model.forward(x_host)
model.to(backend="strict")
y_on_strict = model.forward(ms.from_numpy(x_host, backend="strict"))
print("model on:", model.backend.name, "| output type:", type(y_on_strict).__name__)
assert model.backend.name == "strict"
assert np.allclose(ms.to_numpy(y_on_strict), y_numpy, rtol=1e-6, atol=1e-7)
_ = model.to(backend="numpy")  # to() returns the model, which the notebook would print

# %% [markdown]
# ## 4. dtypes: float32 to train, float64 to check
#
# A float with $p$ mantissa bits has machine epsilon $\varepsilon = 2^{-p}$, the gap between
# 1 and the next float; rounding to nearest makes a relative error of at most the unit
# round-off $u = \varepsilon/2$:
# $$\varepsilon_{32} = 2^{-23} \approx 1.2\times10^{-7}, \qquad \varepsilon_{64} = 2^{-52} \approx 2.2\times10^{-16}.$$
# So $1 + \varepsilon \ne 1$ but $1 + \varepsilon/2$ rounds back to $1$ (ties go to even).

# %%
for dtype, p in ((np.float32, 23), (np.float64, 52)):
    eps = np.finfo(dtype).eps
    one = dtype(1)
    print(f"{np.dtype(dtype).name}: eps = {eps:.3e}")
    assert eps == 2.0 ** -p
    assert one + dtype(eps) != one and one + dtype(eps / 2) == one

# %% [markdown]
# Kernels keep the dtype they are given (float32 in, float32 out) and refuse to mix float32 with
# float64; layers and models default to float32 (half the memory and about twice the speed of
# float64 on most hardware).

# %%
y32, _ = dense_forward(x_host, W_host)
y64, _ = dense_forward(x_host.astype(np.float64), W_host.astype(np.float64))
assert y32.dtype == np.float32 and y64.dtype == np.float64
assert ms.Dense(4, 2).params["W"].value.dtype == np.float32
try:
    dense_forward(x_host.astype(np.float64), W_host)
except TypeError as exc:
    print("mixed float64/float32:", exc)

# %% [markdown]
# How much does float32 round-off cost in a layer? Each output $y_k = \sum_{j=1}^{D} x_j W_{kj}$ is a
# sum of $D$ rounded products. The classical bound (Higham, *Accuracy and Stability of Numerical
# Algorithms*, §3.1) holds for any summation order:
# $$|\,\mathrm{fl}(y_k) - y_k\,| \;\le\; \gamma_D \sum_j |x_j W_{kj}|, \qquad \gamma_D = \frac{D u}{1 - D u}.$$
# Relative to $\sum_j |x_j W_{kj}|$, the worst case therefore grows like $D u$ (relative to $|y_k|$ it
# is larger still: for random signs $|y_k|$ grows like $\sqrt{D}$ while that sum grows like $D$, so the
# bound grows like $D^{3/2}u$). In practice the rounding errors
# are random and partly cancel: summed one term after another they grow like a random walk,
# about $\sqrt{D}\,u$. Optimised BLAS libraries sum in blocks, which does better still. We measure
# the relative error against a float64 reference computed from the very same float32 inputs,
# and check the rigorous bound entry by entry.

# %%
u32 = np.finfo(np.float32).eps / 2
widths = np.unique(np.logspace(1, 3.5 if FAST else 4.5, 8 if FAST else 12).astype(int))
median_rel = []
for D in widths:
    x = rng.standard_normal((64, D)).astype(np.float32)
    W = rng.standard_normal((16, D)).astype(np.float32)
    y32, _ = dense_forward(x, W)
    x64, W64 = x.astype(np.float64), W.astype(np.float64)
    y_ref, _ = dense_forward(x64, W64)
    scale, _ = dense_forward(np.abs(x64), np.abs(W64))  # Σ_j |x_j W_kj|
    gamma = D * u32 / (1 - D * u32)
    assert np.all(np.abs(y32 - y_ref) <= gamma * scale)
    median_rel.append(np.median(np.abs(y32 - y_ref) / np.abs(y_ref)))
median_rel = np.array(median_rel)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(widths, median_rel, "o-", label="measured (median over outputs)")
ax.loglog(widths, np.sqrt(widths) * u32, "--", label=r"$\sqrt{D}\,u$ (random walk)")
ax.loglog(widths, widths * u32, ":", label=r"$D\,u$ (worst case, relative to $\sum_j|x_jW_{kj}|$)")
ax.set_xlabel("input width D")
ax.set_ylabel(r"$|y_{32} - y| \,/\, |y|$")
ax.set_title("float32 round-off in a dense layer")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# the typical error stays below the random-walk estimate, itself far below the worst case
assert np.all(median_rel < np.sqrt(widths) * u32)

# %% [markdown]
# A relative error near $10^{-7}$–$10^{-5}$ is harmless for training: the gradient's own noise
# from mini-batching is far larger. It is fatal for *checking* gradients by finite differences,
# where we divide a difference of two nearly equal losses by a tiny step. Lesson 01 shows this,
# and why `ms.gradcheck` always works in float64 on a copy of the model.
#
# ## Summary
#
# * `ms.available(name)` says whether a backend works and, if not, why.
# * `from_numpy` / `to_numpy` are the only ways across the host–device border; mixing backends is an error.
# * Kernels take the namespace from their inputs, so one implementation serves NumPy, CuPy and strict.
# * float32 is the default; dtypes are preserved and never mixed; float64 is for gradient checks.
#
# ## Exercises
#
# Solutions: `lessons/solutions/A_backends_and_precision.py`.
#
# 1. **A portable softplus.** Write `softplus(x)` $= \log(1 + e^{x})$ using only the namespace of
#    `x`, stable for large $|x|$ (hint: $\max(x, 0) + \log(1 + e^{-|x|})$, and `xp.log1p`). Check that it
#    gives the same numbers on `"numpy"` and `"strict"`, and that `softplus(1000.)` is finite.
# 2. **Round trip of a model.** Build `ms.mlp((6, 5, 3), model="dense", seed=0)`, copy it with
#    `.copy()`, move the copy to `"strict"` in float64 with `.to(...)`, and check that its outputs
#    match the float32 NumPy model's to float32 accuracy.
# 3. **Where float32 runs out of integers.** Find the smallest positive integer $n$ that float32
#    cannot represent exactly, explain it with $\varepsilon_{32}$, and show what `np.float32(n)` becomes.
