# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 12 — The same code on the GPU
#
# **Why this lesson.** Every kernel in `minispectral` asks its inputs for their array library
# and calls that library's functions, so the code of lessons 02–11 runs unchanged on an NVIDIA GPU
# through CuPy. What changes is everything *around* the kernels: where the arrays live, when data
# crosses between host and device, when the work actually happens, and therefore how to time it
# without fooling yourself. This lesson covers
#
# 1. checking for a GPU, with a clear message when there is none;
# 2. switching the backend, and getting the same numbers on each;
# 3. explicit transfers, and what they cost;
# 4. asynchronous execution and honest timing (warm-up, then `synchronize`);
# 5. CuPy's memory pool;
# 6. the synchronisations you do not see.
#
# It runs on any machine. Without a GPU it runs the same code on `"numpy"` and `"strict"`
# (array-api-strict, the CPU stand-in from appendix A) and says what would differ on a GPU.

# %%
import os
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.functional import softmax_cross_entropy
from minispectral.functional.losses import check_labels
from minispectral.train import fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"

gpu_ok, gpu_reason = ms.available("cupy")
print(f"This run: {platform.machine()} CPU with {os.cpu_count()} cores, "
      + ("with a GPU (CuPy works)." if gpu_ok else
         "CPU only: no usable GPU, so the GPU parts below are skipped and every output is a CPU backend's."))

# %% [markdown]
# ## 1. Is there a GPU?
#
# `ms.available("cupy")` (called in the first cell) imports CuPy and then runs what training needs on
# the device: an allocation (which needs a GPU and its driver), an element-wise kernel (compiled at run
# time by NVRTC) and a matrix product (cuBLAS). Importing succeeds on machines without a GPU, and each
# of the three can fail on its own, so the reason names the step that failed and the fix. It never
# raises; it returns `(False, reason)`.

# %%
if gpu_ok:
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    print(f"GPU found: {props['name'].decode()}, CuPy {cupy.__version__}")
else:
    print("No usable GPU here, so this lesson runs on the CPU backends only.")
    print("Reason:", gpu_reason)
backends = ["numpy", "strict"] + (["cupy"] if gpu_ok else [])
print("backends used below:", backends)
assert gpu_ok or gpu_reason  # "unavailable" always comes with a reason

# %% [markdown]
# ## 2. Switching the backend
#
# The backend is chosen once — `ms.set_backend(name)`, a `with ms.use_backend(name):` block,
# or the environment variable `MINISPECTRAL_BACKEND` — and layers create their parameters there.
# Initial values are drawn on the host from a seeded NumPy generator and then copied, so a given
# seed starts from the *same* numbers on every backend. `fit` moves the (host) data to the model's
# backend once, before the first epoch.
#
# The code below is the whole point: one function, no `if backend == ...` anywhere.

# %%
data = load_mnist(val_split=1 / 12, seed=0)
n_train = 2_000 if FAST else 10_000
x_host, y_host = data.x_train[:n_train], data.y_train[:n_train]


def train_once(backend, epochs=2):
    with ms.use_backend(backend):
        model = ms.mlp((784, 100, 10), model="qr", seed=0)
    history = fit(model, x_host, y_host, epochs=epochs, batch_size=200, optimizer="adamax", lr=0.005,
                  seed=0, progress=False)
    return model, history


trained = {}
for name in backends:
    model, history = train_once(name)
    trained[name] = model
    lam = model.layers[0].params["lam_in"].value
    print(f"{name:>6}: parameters are {type(lam).__module__.split('.')[0]} arrays, "
          f"final loss {history['loss'][-1]:.6f}, {sum(history.epoch_seconds):.2f} s")

# %% [markdown]
# The results agree across backends. They need not agree *bit for bit*: a GPU sums in a different
# order from NumPy's (its libraries choose their summation order by the GPU and the array shapes), and a
# hundred optimizer steps let
# those last-digit differences grow, so the comparison uses a tolerance. (`"strict"` runs NumPy
# underneath and agrees exactly.) Every comparison goes through `ms.to_numpy`, the explicit copy to the
# host.

# %%
reference = {name: ms.to_numpy(p.value) for name, p in trained["numpy"].named_parameters()}
for backend in backends[1:]:
    worst = max(float(np.max(np.abs(ms.to_numpy(p.value) - reference[name])) / (np.max(np.abs(reference[name])) + 1e-12))
                for name, p in trained[backend].named_parameters())
    print(f"{backend} vs numpy: largest relative difference of any parameter {worst:.1e}")

# %% [markdown]
# **Exercise: a kernel of your own that runs everywhere.** Every kernel of the library starts by asking
# its inputs for their array namespace, `xp = ms.backend.namespace(x)` (NumPy's module for NumPy arrays,
# CuPy's for CuPy arrays, array-api-strict's for strict ones), and from then on calls `xp.exp`, `xp.max`,
# `xp.sum`, never `np.*`: a NumPy call on a GPU array would copy it to the host, or fail. Write the
# row-wise softmax of lesson 03 that way,
# $$p_{nc} = \frac{e^{z_{nc} - m_n}}{\sum_{c'} e^{z_{nc'} - m_n}}, \qquad m_n = \max_c z_{nc},$$
# for `z` of shape $(N, C)$. The check runs your function on NumPy in float64 and on array-api-strict in
# float32: it must return an array of the input's backend and dtype, and survive a row near 1000.

# %%
def my_softmax(z):
    """z (N, C) of any backend -> p (N, C), the row-wise softmax, same backend and dtype."""
    ### BEGIN SOLUTION
    xp = ms.backend.namespace(z)
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))  # the largest exponent is 0: no overflow
    p = e / xp.sum(e, axis=1, keepdims=True)
    ### END SOLUTION
    return p


# %%
from minispectral.exercises.lesson_12 import check_softmax

check_softmax(my_softmax)

# %% [markdown]
# ## 3. Transfers are explicit
#
# An array lives on one device. `ms.from_numpy(a, backend=...)` sends a host array there and
# `ms.to_numpy(x)` brings it back; mixing arrays of two backends in one kernel raises a `TypeError`
# instead of copying behind your back. On the CPU backends a "transfer" costs nothing: NumPy
# returns the very same array, and array-api-strict wraps the same memory. On a GPU it is a real
# copy over the PCIe bus, at roughly
#
# $$t_\text{copy} \approx \frac{\text{bytes}}{\text{bandwidth}},\qquad \text{bytes} = 4\,N\,D \text{ for } N \text{ float32 rows of } D,$$
#
# with a bandwidth of the order of 10–25 GB/s — much slower than the GPU's own memory (1–5 TB/s).
# That is why `fit` moves the training set once, and why plots and prints copy back only small
# results.

# %%
a = data.x_train[:20_000]
expected_bytes = 4 * a.shape[0] * a.shape[1]
assert a.nbytes == expected_bytes
assert ms.from_numpy(a, backend="numpy") is a
assert np.shares_memory(ms.to_numpy(ms.from_numpy(a, backend="strict")), a)
print(f"{expected_bytes / 1e6:.1f} MB: numpy and strict share the host memory, no copy")

if gpu_ok:
    ms.synchronize("cupy")
    start = time.perf_counter()
    a_gpu = ms.from_numpy(a, backend="cupy")
    ms.synchronize("cupy")
    up = time.perf_counter() - start
    start = time.perf_counter()
    back = ms.to_numpy(a_gpu)  # .get() blocks until the copy has arrived
    down = time.perf_counter() - start
    assert np.array_equal(back, a)
    print(f"host -> GPU {expected_bytes / up / 1e9:.1f} GB/s, GPU -> host {expected_bytes / down / 1e9:.1f} GB/s")
    del a_gpu

try:
    ms.backend.namespace(data.x_train[:2], ms.from_numpy(data.x_train[:2], backend="strict"))
except TypeError as exc:
    print("mixing backends:", exc)

# %% [markdown]
# ## 4. Asynchronous execution and honest timing
#
# A CuPy call such as `x @ W.T` does not compute anything before it returns: it *enqueues* a kernel
# on the GPU's stream and hands back an array whose values will exist later. The CPU runs ahead,
# queueing more work, until something needs a value on the host — `float(loss)`, `to_numpy`,
# a `print`, an `if` on an array — and then it waits. Two consequences for timing:
#
# * a CPU timer around GPU calls measures the time to *launch* them, not to run them, unless
#   the timed region ends with `ms.synchronize()` (a no-op on the CPU backends);
# * the first calls are slow for reasons that have nothing to do with the steady state: CuPy
#   compiles kernels, cuBLAS creates its handle, the memory pool grows. So warm up first.
#
# The helper below does both. It also takes the things to compare *together* and runs them in
# turns, so that a slow spell of the machine (another program, a CPU clocking down) hits all of them
# alike instead of whichever happened to run then; and it reports the median of the repeats, which
# shrugs off a stray slow run better than the mean.

# %%
def time_it(fns, backend, *, warmup=2, repeats=9):
    """Median wall time in seconds of each callable in the dict ``fns``, measured in turns after a
    warm-up, synchronising the backend around each run."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    ms.synchronize(backend)
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            ms.synchronize(backend)
            times[key].append(time.perf_counter() - start)
    return {key: float(np.median(t)) for key, t in times.items()}


def make_step(backend, batch_size):
    """One training step (forward, loss, backward, optimizer) of a 784-100-10 QR model on a fixed batch."""
    with ms.use_backend(backend):
        model = ms.mlp((784, 100, 10), model="qr", seed=0)
    optimizer = ms.Adamax(model, lr=0.005)
    xb = ms.from_numpy(x_host[:batch_size], backend=backend)
    yb = ms.from_numpy(y_host[:batch_size], backend=backend)

    def step():
        loss, dlogits = softmax_cross_entropy(model.forward(xb), yb)
        model.backward(dlogits)
        optimizer.step()
        return loss

    return step


batch_sizes = [16, 64, 256, 1024] if FAST else [16, 64, 256, 1024, 2000]
timings = {}
for name in backends:
    medians = time_it({bs: make_step(name, bs) for bs in batch_sizes}, name)
    timings[name] = [medians[bs] for bs in batch_sizes]
for name, ts in timings.items():
    print(f"{name:>6}: " + ", ".join(f"batch {bs}: {t * 1e3:.2f} ms" for bs, t in zip(batch_sizes, ts)))

if gpu_ok:
    # A forward pass reads nothing back, so it runs fully asynchronously: queue twenty of them.
    with ms.use_backend("cupy"):
        gpu_model = ms.mlp((784, 100, 10), model="qr", seed=0)
    xb_gpu = ms.from_numpy(x_host, backend="cupy")
    gpu_model.forward(xb_gpu)
    ms.synchronize("cupy")
    start = time.perf_counter()
    for _ in range(20):
        gpu_model.forward(xb_gpu)
    launched = time.perf_counter() - start
    ms.synchronize("cupy")
    finished = time.perf_counter() - start
    print(f"cupy, 20 forward passes of {x_host.shape[0]:,} images: {launched * 1e3:.2f} ms to launch, "
          f"{finished * 1e3:.2f} ms to finish")

# %% [markdown]
# A simple model of a step's time is a fixed cost plus a cost per sample,
#
# $$t(B) \approx t_0 + c\,B .$$
#
# $t_0$ is whatever a step costs regardless of the batch: the Python overhead of its few dozen array
# operations (on a GPU, one kernel launch each, several microseconds apiece), plus the work on the
# parameters alone — here building $\phi = RQ$ and $W$, and $dR = d\phi\,Q^\top$ in the backward pass,
# about sixteen million multiply-adds, and the optimizer update. $c$ is the arithmetic per sample. On a GPU, $c$ is tiny and $t_0$ dominates small
# batches, which is why GPUs want big batches. A least-squares fit of the measured times gives both
# numbers (on a GPU, $c$ can come out as noise around zero).

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
fits = {}
for name, ts in timings.items():
    c, t0 = np.polyfit(batch_sizes, ts, 1)
    fits[name] = (t0, c)
    ax1.loglog(batch_sizes, np.array(ts) * 1e3, "o-", label=name)
    ax2.loglog(batch_sizes, np.array(ts) / np.array(batch_sizes) * 1e6, "o-", label=name)
    predicted = t0 + c * np.array(batch_sizes)
    print(f"{name:>6}: t0 = {t0 * 1e3:6.3f} ms, c = {c * 1e6:6.2f} us per sample; "
          f"fit vs measured at batch {batch_sizes[-1]}: {predicted[-1] * 1e3:.2f} vs {ts[-1] * 1e3:.2f} ms")
for ax in (ax1, ax2):
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
ax1.set_xlabel("batch size")
ax1.set_ylabel("time per step (ms)")
ax1.legend(fontsize=8)
ax2.set_xlabel("batch size")
ax2.set_ylabel("time per sample (us)")
ax2.legend(fontsize=8)
fig.suptitle("one training step, 784-100-10 QR model, after warm-up", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# `"strict"` computes with NumPy underneath, so its cost per sample is close to NumPy's (the same arithmetic);
# what it adds is a larger fixed cost $t_0$, because its wrapper checks every operation against the standard. It is a
# correctness tool for CI, not a fast path.
#
# ## 5. The memory pool
#
# Allocating GPU memory with `cudaMalloc` is slow and synchronising, so CuPy keeps a *memory pool*:
# when an array is freed its block goes back to the pool, not to the driver, and the next array of a
# similar size reuses it. Two visible effects:
#
# * `nvidia-smi` shows the pool's total, which only grows, so a running program seems to "leak";
# * `pool.used_bytes()` is what live arrays occupy, `pool.total_bytes()` what the pool holds, and
#   `pool.free_all_blocks()` hands unused blocks back (useful between benchmarks, or when another
#   library needs the memory).
#
# A model's parameters take exactly $4\times$(number of stored entries) bytes in float32 — frozen
# factors included — so the live bytes must be at least that:

# %%
model = ms.mlp((784, 100, 10), model="qr", seed=0)
entries = sum(int(np.prod(p.shape)) for _, p in model.named_parameters())
param_bytes = sum(p.value.nbytes for _, p in model.named_parameters())
print(f"QR 784-100-10: {entries:,} stored entries ({model.num_parameters():,} trained), {param_bytes / 1e6:.2f} MB of parameters")
assert param_bytes == 4 * entries

if gpu_ok:
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    gpu_model = model.copy().to(backend="cupy")
    print(f"pool: {pool.used_bytes() / 1e6:.2f} MB used, {pool.total_bytes() / 1e6:.2f} MB held")
    assert pool.used_bytes() >= param_bytes
    del gpu_model
    print(f"after del: {pool.used_bytes() / 1e6:.2f} MB used, {pool.total_bytes() / 1e6:.2f} MB still held by the pool")
    pool.free_all_blocks()
    print(f"after free_all_blocks: {pool.total_bytes() / 1e6:.2f} MB held")
else:
    print("(no GPU: the pool statistics are printed here when CuPy can run)")

# %% [markdown]
# ## 6. Synchronisations you do not see
#
# Anything that needs a value on the host waits for the GPU: `float(x)`, `x.item()`, `if x > 0:`,
# printing an array, boolean-mask indexing (the result's size depends on the data). Called on its own,
# `softmax_cross_entropy` has one: it checks that the labels lie in $[0, C)$ (an out-of-range label
# would otherwise get an all-zero one-hot row and add nothing to the loss, silently), which reads one
# boolean back. `fit` moves that check out of the
# loop: it checks all the labels once, then calls the loss with `check_labels_range=False`. The loss
# itself stays on the device too: `fit` writes each step's loss into a device array and reads the
# array back every `check_every` steps (every step on the CPU, where a read costs nothing; every 50
# on a GPU), to stop with a clear message naming the step of a first NaN. The hit count comes back once
# per epoch, and `evaluate` reads once per call. (The tests pin these counts on a CuPy stand-in:
# `tests/test_gpu_budgets.py`.) Here is one epoch of `fit` written out with the running sum on the
# device, read once at the end (the labels checked once, as `fit` does); it must give the parameters
# that `fit` gives — exactly on the CPU, and on a GPU up to the last digits that its summation order
# may change.

# %%
def one_epoch_device_sum(model, x, y, *, batch_size=200, lr=0.005, seed=0):
    """fit's epoch (same shuffle, same updates), with the loss summed on the device instead of read
    back at every step: no wait inside the loop."""
    backend = model.backend
    optimizer = ms.make_optimizer("adamax", model, lr)
    x, y = ms.from_numpy(x, backend=backend), ms.from_numpy(y, backend=backend)
    xp = backend.xp
    order = ms.from_numpy(np.random.default_rng(seed).permutation(x.shape[0]), backend=backend)
    x, y = xp.take(x, order, axis=0), xp.take(y, order, axis=0)
    n, loss_sum = x.shape[0], None
    check_labels(y, n, model.layers[-1].n_out)  # once: the one wait before the epoch
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)  # "strict" insists: every axis indexed, no stop past the end
        xb, yb = x[start:stop, :], y[start:stop]
        loss, dlogits = softmax_cross_entropy(model.forward(xb), yb, check_labels_range=False)
        model.backward(dlogits)
        optimizer.step()
        batch_loss = loss * yb.shape[0]
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
    return float(loss_sum) / n  # the loss comes back once per epoch


for name in backends:
    with ms.use_backend(name):
        by_hand, by_fit = ms.mlp((784, 100, 10), model="qr", seed=0), ms.mlp((784, 100, 10), model="qr", seed=0)
    loss_hand = one_epoch_device_sum(by_hand, x_host, y_host)
    loss_fit = fit(by_fit, x_host, y_host, epochs=1, batch_size=200, optimizer="adamax", lr=0.005, seed=0,
                   progress=False)["loss"][0]
    diff = max(float(np.max(np.abs(ms.to_numpy(p.value) - ms.to_numpy(q.value))))
               for (_, p), (_, q) in zip(by_hand.named_parameters(), by_fit.named_parameters()))
    print(f"{name:>6}: epoch loss {loss_hand:.6f} (device sum) vs {loss_fit:.6f} (fit); largest parameter difference {diff:.1e}")
    tol = 1e-3 if name == "cupy" else 1e-6
    assert abs(loss_hand - loss_fit) < tol * loss_fit and diff < tol

# %% [markdown]
# ## Summary
#
# * `ms.available("cupy")` says whether a GPU can be used and, if not, why; the backend is then a
#   one-word switch and the kernels do not change.
# * Transfers are explicit: `ms.from_numpy` and `ms.to_numpy`. On the CPU backends they are free,
#   on a GPU they cross the PCIe bus, so data moves once and results come back small.
# * GPU calls are asynchronous. Time with a warm-up, then `ms.synchronize()` inside the timed region,
#   and report a median.
# * CuPy's memory pool keeps freed blocks; `used_bytes`, `total_bytes` and `free_all_blocks` tell
#   the story that `nvidia-smi` does not.
# * Every `float(...)` on a device array is a synchronisation; keep running sums on the device.
# * On a GPU machine, `python -m minispectral.gpucheck` runs this lesson, the GPU tests and a timing of
#   `fit` against NumPy and PyTorch, and writes one report.
#
# ## Exercises
#
# Solutions: `lessons/solutions/12_gpu.py`.
#
# 1. **A better timer.** Extend `time_it` to return the median and the interquartile range, and use
#    it to decide whether `"strict"` is significantly slower than `"numpy"` for a batch of 256.
# 2. **float32 against float64.** Time the training step of section 4 with the model moved to float64
#    (`model.to(dtype="float64")`, and float64 inputs). How much slower is it on this machine? (On
#    many consumer GPUs float64 runs at 1/32 or 1/64 of the float32 rate.)
# 3. **Where is the time?** For a batch of 1024, time the forward pass, the loss, the backward pass and
#    the optimizer step separately (with `synchronize` after each), and check that the parts add up to
#    the whole step (within the timing noise).
