"""The measurements behind this project's hot-path choices, each an A/B in one process (the matrix
products: in fresh processes, one library each).

* ``matmul``    NumPy's BLAS against PyTorch's on the training step's matrix products;
* ``step_ops``  NumPy against PyTorch on the step's other work at batch 1000: the thin products of a
                10-wide output layer, the bias, its gradient's column sums, ReLU forward and backward;
* ``spin``      CPU time a process burns after a matrix product while its main thread sleeps: the
                library's idle threads spinning (why ``bench_train`` pauses between epochs);
* ``threads``   an Adamax step right after a matrix product, on one Python thread or split over two,
                with OpenBLAS's idle threads spinning (its default) or sleeping at once
                (``OPENBLAS_THREAD_TIMEOUT=4``): why the element-wise work stays on one thread;
* ``adamax``    an Adamax step on a 1000 × 784 matrix, updated whole or a block of rows at a time
                (``Optimizer.block_entries``);
* ``lam_diff``  ``lam_in_j − lam_out_i`` as a broadcast subtraction or as a matrix product
                (``fast.eigenvalue_differences``, switched by ``fast.GEMM_LAM_DIFF_ENTRIES``);
* ``layout``    an Adamax step on a 500 × 500 parameter stored C-ordered or Fortran-ordered, with a
                C-ordered gradient (why ``Backend.asarray`` makes every array C-ordered);
* ``transposes`` the wide layer's two big products, ``x Wᵀ`` and ``dyᵀ x``, with their operands and
                results stored either way round (why no layer keeps a transposed copy of W);
* ``epochs``    whole training epochs with each of the first two choices on and off, interleaved,
                at two widths (``--narrow-rows`` below the thresholds, ``--rows`` above them).

    python benchmarks/bench_hot_paths.py [--only adamax,lam_diff] [--out bench_hot_paths.json]

Each A/B alternates its two sides call by call (epoch by epoch for ``epochs``), the sides taking
turns to go first, and reports medians, so a change of the machine's speed falls on both.
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_train, beside this file

from minispectral.allocator import keep_freed_memory  # noqa: E402
from minispectral.experiment import write_json  # noqa: E402
from minispectral.functional import fast  # noqa: E402
from minispectral.nn import Parameter, mlp  # noqa: E402
from minispectral.optim import Adamax, Optimizer  # noqa: E402
from minispectral.train import fit  # noqa: E402
from bench_train import in_turns, machine_info, positive_int  # noqa: E402

SECTIONS = ("matmul", "step_ops", "spin", "threads", "adamax", "lam_diff", "layout", "transposes", "epochs")

# Each child builds ``ops``, {name: callable}, for one library; CHILD_TIMING then times them alike.
CHILD_TIMING = r"""
result = {}
for name, op in ops.items():
    op()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        op()
        times.append(time.perf_counter() - start)
    result[name] = statistics.median(times) * 1e6
print(json.dumps(result))
"""

MATMUL_CHILD = r"""
import json, statistics, sys, time
import numpy as np
library, calls, shapes = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
if library == "torch":
    import torch
ops = {}
for m, k, n in shapes:
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
    if library == "torch":
        a, b = torch.from_numpy(a), torch.from_numpy(b)
    ops[f"{m}x{k}@{k}x{n}"] = lambda a=a, b=b: a @ b
""" + CHILD_TIMING

STEP_OPS_CHILD = r"""
import json, statistics, sys, time
import numpy as np
library, calls, batch, width, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, root)
from minispectral.allocator import keep_freed_memory
keep_freed_memory()  # as in training (bench_train, the minispectral command): fresh arrays reuse freed memory
rng = np.random.default_rng(0)
h, W2 = rng.standard_normal((batch, width), dtype=np.float32), rng.standard_normal((10, width), dtype=np.float32)
dy, b = rng.standard_normal((batch, 10), dtype=np.float32), rng.standard_normal(width, dtype=np.float32)
dh = rng.standard_normal((batch, width), dtype=np.float32)
if library == "torch":
    import torch
    h, W2, dy, b, dh = map(torch.from_numpy, (h, W2, dy, b, dh))
    relu, relu_backward = torch.relu, lambda: torch.ops.aten.threshold_backward(dh, h, 0)
else:
    zero = np.zeros(width, dtype=np.float32)
    relu, relu_backward = (lambda a: np.maximum(a, zero)), lambda: dh * (h > 0).astype(np.float32)
ops = {"h @ W2.T": lambda: h @ W2.T, "dy @ W2": lambda: dy @ W2, "dy.T @ h": lambda: dy.T @ h,
       "h + b": lambda: h + b, "column sums of h": lambda: h.sum(0), "relu(h)": lambda: relu(h),
       "relu backward": relu_backward}
""" + CHILD_TIMING


SPIN_CHILD = r"""
import json, sys, time
import numpy as np
library, calls = sys.argv[1], int(sys.argv[2])
a = np.random.default_rng(0).random((1000, 1000), dtype=np.float32)
if library == "torch":
    import torch
    a = torch.from_numpy(a)
result = {}
for run in range(calls):
    a @ a
    cpu, wall = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < 0.6:
        time.sleep(0.01)  # the main thread idles; what the process still burns is its idle threads' spin
    result[f"run {run}"] = (time.process_time() - cpu) * 1e3
print(json.dumps(result))
"""


THREADS_CHILD = r"""
import json, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
calls, rows, batch, root = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, root)
from minispectral.allocator import keep_freed_memory
from minispectral.nn import Parameter
from minispectral.optim import Adamax
keep_freed_memory()
rng = np.random.default_rng(0)
dy_t, x = rng.random((rows, batch), dtype=np.float32), rng.random((batch, 784), dtype=np.float32)
halves = []  # a rows x 784 layer's update as two halves, the same work on either side
for half_rows in (rows // 2, rows - rows // 2):
    p = Parameter(rng.standard_normal((half_rows, 784), dtype=np.float32))
    p.grad = rng.standard_normal((half_rows, 784), dtype=np.float32)
    halves.append(Adamax([("W", p)]))
pool = ThreadPoolExecutor(1)
def two_threads():
    other = pool.submit(halves[1].step)
    halves[0].step()
    other.result()
sides = {"one thread": lambda: [opt.step() for opt in halves], "two threads": two_threads}
times = {name: [] for name in sides}
for call in range(calls + 1):
    for name, step in list(sides.items())[::1 if call % 2 == 0 else -1]:
        dy_t @ x  # as in training, the update follows the weight gradient's product
        start = time.perf_counter()
        step()
        if call:  # the first round warms up
            times[name].append(time.perf_counter() - start)
print(json.dumps({name: statistics.median(t) * 1e6 for name, t in times.items()}))
"""


def threads(args) -> dict:
    """Microseconds of an Adamax step of a ``--rows`` × 784 layer (as two halves) right after its weight
    gradient's product at ``--batch``, on one Python thread or split over two, in fresh processes with
    OpenBLAS's default idle-thread spin and with ``OPENBLAS_THREAD_TIMEOUT=4`` (its threads sleep at
    once)."""
    variants = {"OpenBLAS default": {}, "OPENBLAS_THREAD_TIMEOUT=4": {"OPENBLAS_THREAD_TIMEOUT": "4"}}
    return in_fresh_processes(THREADS_CHILD, [args.rows, args.batch, ROOT], args, variants=variants)


def spin(args) -> dict:
    """CPU milliseconds each library's process burns in the 0.6 s after a matrix product while its main
    thread sleeps: its idle threads spinning (why ``bench_train`` pauses between the sides' epochs)."""
    return in_fresh_processes(SPIN_CHILD, [], args)


def in_fresh_processes(child: str, child_args: list, args, variants: dict | None = None) -> dict:
    """Run ``child`` in fresh processes, ``--repeats`` times per variant, the variants alternating;
    {variant: {op: [result per run]}}.

    The variants are NumPy and PyTorch (where installed), passed to the child as its first argument;
    or ``variants``, {name: environment variables to add}, for settings read when a library loads.
    """
    if variants is None:
        libraries = ["numpy"] + (["torch"] if importlib.util.find_spec("torch") is not None else [])
        variants = {lib: {} for lib in libraries}
    runs = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, env in variants.items():
            out = subprocess.run([sys.executable, "-c", child, name, str(args.calls), *map(str, child_args)],
                                 capture_output=True, text=True, check=True, env={**os.environ, **env}).stdout
            runs[name].append(json.loads(out))
    return {name: {op: [r[op] for r in rs] for op in rs[0]} for name, rs in runs.items()}


def ab(sides: dict, calls: int) -> dict:
    """Median microseconds of each side's callable, the sides alternating call by call (and taking
    turns to go first, as the epochs do)."""
    times = {name: [] for name in sides}
    for f in sides.values():
        f()
    for call in range(calls):
        for name, f in in_turns(sides, call):
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e6 for name, t in times.items()}


def matmul(args) -> dict:
    """Each library in its own fresh process (their thread pools never meet), alternately."""
    shapes = [(args.batch, 784, 500), (args.batch, 500, 500), (args.batch, 784, 1000)]
    return in_fresh_processes(MATMUL_CHILD, [json.dumps(shapes)], args)


def step_ops(args) -> dict:
    """The step's work outside the big matrix products, at the batch × width of a hidden layer feeding
    a 10-wide output layer: the output layer's three thin products, the bias, the bias gradient's
    column sums and ReLU both ways. NumPy against PyTorch, each in fresh processes as for ``matmul``."""
    return in_fresh_processes(STEP_OPS_CHILD, [args.batch, args.rows, ROOT], args)


def adamax(args) -> dict:
    rng = np.random.default_rng(0)
    sides = {}
    for name, blocks in (("blocks", Optimizer.block_entries), ("whole", None)):
        p = Parameter(rng.standard_normal((args.rows, 784)).astype(np.float32))
        p.grad = rng.standard_normal(p.value.shape).astype(np.float32)
        opt = Adamax([("W", p)])
        opt.block_entries = blocks
        sides[name] = opt.step
    return ab(sides, args.calls)


def lam_diff(args) -> dict:
    rng = np.random.default_rng(0)
    result = {}
    for n_out in (args.narrow_rows, args.rows):
        lam_in, lam_out = rng.standard_normal(784).astype(np.float32), rng.standard_normal(n_out).astype(np.float32)
        out = np.empty((n_out, 784), dtype=np.float32)

        def side(threshold):
            def run():
                fast.GEMM_LAM_DIFF_ENTRIES = threshold
                fast.eigenvalue_differences(lam_in, lam_out, out=out)
            return run

        saved = fast.GEMM_LAM_DIFF_ENTRIES
        try:
            result[f"{n_out}x784"] = ab({"product": side(0), "subtraction": side(10**12)}, args.calls)
        finally:
            fast.GEMM_LAM_DIFF_ENTRIES = saved
    return result


def layout(args) -> dict:
    rng = np.random.default_rng(0)
    value, grad = rng.standard_normal((500, 500)).astype(np.float32), rng.standard_normal((500, 500)).astype(np.float32)
    sides = {}
    for name, order in (("C-ordered", np.ascontiguousarray), ("Fortran-ordered", np.asfortranarray)):
        p = Parameter(order(value.copy()))  # straight in: Backend.asarray would make it C-ordered
        p.grad = grad
        sides[name] = Adamax([("R", p)]).step
    return ab(sides, args.calls)


def transposes(args) -> dict:
    """Median µs of ``x Wᵀ`` and ``dyᵀ x`` (batch × 784 by 784 × rows, and back) with each operand in
    each layout. OpenBLAS packs its operands into its own blocks first, so the layout should not
    matter, and on the project's machine it did not: at batch 1000 on a 784 → 1000 layer the six
    took 7.5–8.1 ms, within 4 % of one another in each of two runs (``cpu-transposes.json``)."""
    rng = np.random.default_rng(0)
    n, n_in, n_out = args.batch, 784, args.rows
    x = rng.standard_normal((n, n_in)).astype(np.float32)
    W = rng.standard_normal((n_out, n_in)).astype(np.float32)
    dy = rng.standard_normal((n, n_out)).astype(np.float32)
    W_t, x_f, dy_f = np.ascontiguousarray(W.T), np.asfortranarray(x), np.asfortranarray(dy)
    y, y_t = np.empty((n, n_out), np.float32), np.empty((n_out, n), np.float32)
    dW, dW_t = np.empty((n_out, n_in), np.float32), np.empty((n_in, n_out), np.float32)
    return ab({"x @ W.T": lambda: np.matmul(x, W.T, out=y),
               "x @ W_t (W stored transposed)": lambda: np.matmul(x, W_t, out=y),
               "W @ x.T (y stored transposed)": lambda: np.matmul(W, x.T, out=y_t),
               "dy.T @ x": lambda: np.matmul(dy.T, x, out=dW),
               "x.T @ dy (dW stored transposed)": lambda: np.matmul(x.T, dy, out=dW_t),
               "dy.T @ x, Fortran-ordered dy and x": lambda: np.matmul(dy_f.T, x_f, out=dW)}, args.calls)


def epochs(args) -> dict:
    """Interleaved epochs of two identical models, one with the choice on, one with it off."""
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    saved = Optimizer.block_entries, fast.GEMM_LAM_DIFF_ENTRIES
    # lam_diff: the product forced on (threshold 0) or off, at both widths, so that the narrow
    # network, where fast.GEMM_LAM_DIFF_ENTRIES picks the subtraction, tests that threshold
    cases = {"blocks/whole, dense": ("dense", {"on": (saved[0], saved[1]), "off": (None, saved[1])}),
             "lam_diff product/subtraction, spectral": ("spectral", {"on": (saved[0], 0), "off": (saved[0], 10**12)}),
             "lam_diff product/subtraction, full": ("full", {"on": (saved[0], 0), "off": (saved[0], 10**12)})}
    result = {}
    try:
        for (case, (model_name, settings)), rows in itertools.product(cases.items(), (args.narrow_rows, args.rows)):
            sides = {side: (mlp((784, rows, 10), model_name, seed=0), setting) for side, setting in settings.items()}
            optimizers = {side: Adamax(model) for side, (model, _) in sides.items()}
            seconds = {side: [] for side in sides}
            for epoch in range(args.epochs):
                # the sides take turns to go first: a pair's first epoch can run a few % slower
                for side, (model, (blocks, threshold)) in in_turns(sides, epoch):
                    Optimizer.block_entries, fast.GEMM_LAM_DIFF_ENTRIES = blocks, threshold
                    history = fit(model, x, y, epochs=1, batch_size=200, optimizer=optimizers[side], seed=epoch,
                                  check_finite=False, progress=False)
                    seconds[side].append(history.epoch_seconds[0])
            ratios = [on / off for on, off in zip(seconds["on"], seconds["off"])]
            result[f"{case}, 784-{rows}-10"] = {"net": f"784-{rows}-10", "batch_size": 200, "seconds": seconds,
                                                "ratio_on_to_off": statistics.median(ratios)}
    finally:
        Optimizer.block_entries, fast.GEMM_LAM_DIFF_ENTRIES = saved
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated, from {SECTIONS}")
    p.add_argument("--rows", type=positive_int, default=1000, help="the wide layer's width (n_out)")
    p.add_argument("--narrow-rows", type=positive_int, default=100,
                   help="a narrow layer's width (n_out), below fast.GEMM_LAM_DIFF_ENTRIES (lam_diff, epochs)")
    p.add_argument("--batch", type=positive_int, default=1000, help="rows of the matrix products' left factor")
    p.add_argument("--calls", type=positive_int, default=60, help="timed calls per side")
    p.add_argument("--repeats", type=positive_int, default=3, help="fresh processes per library (matmul)")
    p.add_argument("--samples", type=positive_int, default=30000, help="training samples per epoch (epochs)")
    p.add_argument("--epochs", type=positive_int, default=7, help="timed epochs per side (epochs)")
    p.add_argument("--out", default="bench_hot_paths.json")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {bad}; expected some of {SECTIONS}")
    keep_freed_memory()
    sections = {"matmul": matmul, "step_ops": step_ops, "spin": spin, "threads": threads, "adamax": adamax, "lam_diff": lam_diff, "layout": layout, "transposes": transposes, "epochs": epochs}
    # the machine, versions, BLAS thread variables and commit: the spin, for one, depends on the threads
    result = {"arguments": vars(args), "machine": machine_info("numpy")}
    for name in only:
        result[name] = sections[name](args)
        print(name, json.dumps(result[name], indent=1), flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
