"""Solutions to the exercises of lesson 12 (the same code on the GPU).

They run on every backend this machine has: "numpy" and "strict" always, "cupy" when a GPU works.
"""
import os
import time

import numpy as np

import minispectral as ms
from minispectral.datasets import load_mnist
from minispectral.functional import softmax_cross_entropy

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
backends = ["numpy", "strict"] + (["cupy"] if ms.available("cupy")[0] else [])
data = load_mnist(val_split=1 / 12, seed=0)
x_host, y_host = data.x_train[:2048], data.y_train[:2048]

# --- Exercise 1: a better timer -----------------------------------------------------------------------
# The median and the interquartile range (IQR) of the synchronised repeats. Two timings differ
# clearly when their IQR intervals do not overlap.


def time_it(fns, backend, *, warmup=2, repeats=9):
    """{key: (median, q25, q75)} of each callable's wall time in seconds, measured in turns after a
    warm-up, synchronising the backend around each run (the lesson's timer, with the quartiles)."""
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
    return {key: tuple(float(q) for q in np.percentile(t, [50, 25, 75])) for key, t in times.items()}


def make_parts(backend, batch_size, dtype="float32"):
    """The four parts of a training step of a 784-100-10 QR model, as separate callables."""
    with ms.use_backend(backend):
        model = ms.mlp((784, 100, 10), model="qr", seed=0, dtype=dtype)
    optimizer = ms.Adamax(model, lr=0.005)
    xb = ms.from_numpy(x_host[:batch_size], dtype, backend=backend)
    yb = ms.from_numpy(y_host[:batch_size], backend=backend)
    state = {}

    def forward():
        state["logits"] = model.forward(xb)

    def loss():
        state["loss"], state["dlogits"] = softmax_cross_entropy(state["logits"], yb)

    def backward():
        model.backward(state["dlogits"])

    def step():
        optimizer.step()

    def whole():
        forward()
        loss()
        backward()
        step()

    return {"forward": forward, "loss": loss, "backward": backward, "optimizer": step, "whole step": whole}


# Both are CPU backends, whose synchronize is a no-op, so one call can time them in turns.
stats = time_it({name: make_parts(name, 256)["whole step"] for name in ("numpy", "strict")}, "numpy")
for name, (med, q25, q75) in stats.items():
    print(f"exercise 1: {name:>6}, batch 256: median {med * 1e3:.2f} ms, IQR [{q25 * 1e3:.2f}, {q75 * 1e3:.2f}] ms")
clearly_slower = stats["strict"][1] > stats["numpy"][2]
print("exercise 1: strict is clearly slower than numpy (IQRs do not overlap):", clearly_slower)

# --- Exercise 2: float32 against float64 ----------------------------------------------------------------
# On a CPU, float64 moves twice the bytes and fits half as many numbers per SIMD register: expect about
# 2x. Consumer GPUs have far fewer float64 units, so there the factor can be 30x or more.
for name in backends:
    t = time_it({dtype: make_parts(name, 1024, dtype)["whole step"] for dtype in ("float32", "float64")}, name)
    t32, t64 = t["float32"][0], t["float64"][0]
    print(f"exercise 2: {name:>6}: float32 {t32 * 1e3:.2f} ms, float64 {t64 * 1e3:.2f} ms, ratio {t64 / t32:.1f}")

# --- Exercise 3: where is the time? ---------------------------------------------------------------------
# The dict of parts is in step order, so the warm-up runs forward before loss before backward, and each
# round of the timer runs the four parts and then the whole step. The parts' medians add up to the
# whole step's median within timing noise (on NumPy, eight runs: within ±3 %, higher in about half of
# them). That need not hold: a part repeated on its own finds the CPU caches holding its own data, which
# inside a whole step the other parts would have evicted, so timing pieces in isolation can flatter
# them. The whole step is the number to report.
for name in backends:
    parts = make_parts(name, 1024)
    medians = {key: t[0] for key, t in time_it(parts, name, repeats=15).items()}
    whole = medians.pop("whole step")
    total = sum(medians.values())
    print(f"exercise 3: {name:>6}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in medians.items())
          + f"; sum {total * 1e3:.2f} ms vs whole step {whole * 1e3:.2f} ms")
