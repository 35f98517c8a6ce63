"""Training throughput: seconds per epoch of minispectral, against PyTorch in the same run.

One *epoch* is a full pass of ``minispectral.train.fit`` over 60,000 MNIST-shaped samples: the
shuffle, and for every mini-batch the forward pass, the loss, the backward pass and the optimizer
step (Adamax, lr 0.002).  For every (network, model, batch size) the script reports the median
seconds per epoch, samples per second, and achieved GFLOP/s, with the FLOPs counted from the
textbook algorithm (matrix products only, see ``nominal_flops``) so that every implementation is
measured against the same work.  In the same run it measures the machine's peak: a large float32
matrix product on the same backend.

With ``--torch`` it runs each configuration a second time in PyTorch: the same network, the same
initial values (copied from minispectral), the same frozen/trainable split, the same optimizer
(``torch.optim.Adamax``) and the same batches (the same permutations), and reports the ratio
minispectral / PyTorch of the seconds per epoch (below 1: minispectral is faster).  The two
sides' epochs alternate, and the ratio is the median of the ratios of neighbouring epochs
(``paired_ratio``): a virtual machine can change speed by 30 % between one minute and the next,
and a pair of neighbours sees the same machine where the two medians may not.

Peak memory: the resident-set high-water mark (VmHWM) is reset before every timed epoch and read
after it, so each epoch reports its own peak; a flat list means no growth from epoch to epoch.

Examples (from the repository root)::

    python benchmarks/bench_train.py --torch                       # the full grid, 20-30 min on 2 cores
    python benchmarks/bench_train.py --nets 784-300-10 --models dense,spectral --batch-sizes 200 --torch
    python benchmarks/bench_train.py --backend cupy --torch --nets 784-2000-2000-10 --batch-sizes 1000
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import minispectral as ms  # noqa: E402
from minispectral.allocator import keep_freed_memory  # noqa: E402
from minispectral.backend import from_numpy, get_backend, to_numpy  # noqa: E402
from minispectral.cli import non_negative_int, number_type, positive_int  # noqa: E402  (argparse types)
from minispectral.datasets import DatasetError  # noqa: E402
from minispectral.experiment import source_commit, write_json  # noqa: E402
from minispectral.nn import MODELS, mlp  # noqa: E402
from minispectral.optim import Adamax  # noqa: E402
from minispectral.train import GPU_LOSS_READ_EVERY  # noqa: E402
from minispectral.train import fit  # noqa: E402

NETS = ("784-100-10", "784-300-10", "784-1000-10", "784-500-500-10")
BATCH_SIZES = (32, 200, 1000)
LR = 0.002
N_SAMPLES = 60_000


# --- work and machine ---------------------------------------------------------------------------
def nominal_flops(sizes, model: str, batch_size: int, n_samples: int) -> float:
    """FLOPs of one epoch of the textbook algorithm, counting matrix products only (2 per multiply-add).

    Per layer and step: the forward product x Wᵀ, the weight gradient dyᵀ x, and dy W for every
    layer but the first; for "ssvd"/"qr" also the product that builds phi and the one that
    brings dphi back to the trained factor.  Element-wise work is not counted.
    """
    steps_full, rest = divmod(n_samples, batch_size)
    total = 0.0
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        products = 2 if i == 0 else 3
        total += 2.0 * n_samples * n_in * n_out * products
        if model in ("ssvd", "qr"):
            total += 2 * (2.0 * n_out * min(n_in, n_out) * n_in) * (steps_full + (rest > 0))
    return total


def matmul_peak(backend: str, n: int = 4096, repeats: int = 3, timer=time.perf_counter) -> float:
    """GFLOP/s of the best of ``repeats`` float32 products (n×n)(n×n) on ``backend``."""
    be = get_backend(backend)
    rng = np.random.default_rng(0)
    a = be.asarray(rng.random((n, n), dtype=np.float32))
    b = be.asarray(rng.random((n, n), dtype=np.float32))
    c = a @ b  # warm-up: thread pool, page faults, GPU handles
    be.synchronize()
    best = math.inf
    for _ in range(repeats):
        start = timer()
        c = a @ b
        be.synchronize()
        best = min(best, timer() - start)
    del c
    return 2.0 * n**3 / best / 1e9


def torch_matmul_peak(torch, device: str, n: int = 4096, repeats: int = 3, timer=time.perf_counter) -> float:
    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)
    a @ b
    _torch_sync(torch, device)
    best = math.inf
    for _ in range(repeats):
        start = timer()
        a @ b
        _torch_sync(torch, device)
        best = min(best, timer() - start)
    return 2.0 * n**3 / best / 1e9


def machine_info(backend: str) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__, "minispectral": ms.__version__
        if hasattr(ms, "__version__") else "", "backend": backend,
        "blas": _blas_name(), "numpy_blas_threads": numpy_blas_threads(), "blas_threads_env": {k: os.environ[k] for k in
                                                   ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                                                   if k in os.environ},
        "load_average_at_start": os.getloadavg(), "git_commit": _git_commit(),
        "command": "python " + " ".join(sys.argv),  # main(argv) in a script: measure() adds "arguments"
    }
    if backend == "cupy":
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["cupy"] = cupy.__version__
        # TF32 float32 products on the tensor cores: faster, ~1e-3 relative error. PyTorch's float32 products
        # are full float32 by default, so a comparison with it wants this unset (README, "TF32").
        info["CUPY_TF32"] = os.environ.get("CUPY_TF32")
        if os.environ.get("CUPY_TF32") == "1":
            print("warning: CUPY_TF32=1: CuPy's float32 products run in TF32, PyTorch's in float32; unset it to "
                  "compare like with like", file=sys.stderr)
    return info


def numpy_blas_threads(set_to: int = 0) -> int | None:
    """NumPy's BLAS thread count (after setting it to ``set_to`` when > 0), or None if unknown.

    NumPy has no API for it; wheels bundle OpenBLAS, whose own functions are reached through
    ctypes.  Elsewhere set ``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` before starting Python.
    """
    import ctypes

    libs = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(str(path))
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if get is None:
                    continue
                if set_to > 0:
                    getattr(lib, f"{prefix}_set_num_threads{suffix}")(ctypes.c_int(set_to))
                return int(get())
    return None


def _blas_name() -> str:
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (AttributeError, KeyError, TypeError):
        return "unknown"


def _git_commit() -> str:
    return source_commit(("minispectral", "benchmarks/*.py"))


# --- peak memory --------------------------------------------------------------------------------
class PeakRSS:
    """The process's resident-set high-water mark, resettable on Linux (``/proc/self/clear_refs``)."""

    def __init__(self):
        self.resettable = self._try_reset()

    @staticmethod
    def _try_reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # 5 = reset the peak RSS to the current RSS
            return True
        except OSError:
            return False

    def reset(self) -> None:
        if self.resettable:
            self._try_reset()

    def read_mib(self) -> float:
        try:
            with open("/proc/self/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
            return kib / 1024
        except (OSError, StopIteration):
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
            return peak / 1024 ** (2 if sys.platform == "darwin" else 1)


class CupyPoolPeak:
    """On a GPU the host's RSS says nothing of the arrays: the memory CuPy's pool holds after an epoch
    (emptied before it, so it grows to that epoch's peak; the pool keeps freed blocks)."""

    resettable = True

    def reset(self) -> None:
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()

    def read_mib(self) -> float:
        import cupy

        return cupy.get_default_memory_pool().total_bytes() / 2 ** 20


class TorchCudaPeak:
    """PyTorch's peak of GPU memory reserved by its caching allocator, per epoch."""

    resettable = True

    def __init__(self, torch):
        self.torch = torch

    def reset(self) -> None:
        self.torch.cuda.reset_peak_memory_stats()

    def read_mib(self) -> float:
        return self.torch.cuda.max_memory_reserved() / 2 ** 20


# --- data ---------------------------------------------------------------------------------------
def make_data(kind: str, n: int):
    """(x (n, 784) float32 in [0, 1), y (n,) int64 labels 0..9) on the host."""
    if kind == "mnist":
        from minispectral.datasets import load_dataset

        data = load_dataset("mnist", download=False)
        x, y = np.asarray(data.x_train[:n], dtype=np.float32), np.asarray(data.y_train[:n], dtype=np.int64)
        if x.shape[0] < n:
            raise SystemExit(f"MNIST has {x.shape[0]} training samples, fewer than --samples {n}")
        return x, y
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, size=n, dtype=np.int64)


# --- minispectral -------------------------------------------------------------------------------
def run_minispectral(sizes, model_name, batch_size, x, y, args, rss: PeakRSS):
    """The model (and a copy of its initial state), and a generator of timed epochs of ``fit``.

    The generator warms up on its first ``next()``, then yields ``(seconds, peak_rss_mib, loss)``
    for one timed epoch per ``next()``.
    """
    backend = get_backend(args.backend)
    model = mlp(sizes, model_name, seed=0, backend=backend.name)
    initial = model.copy()
    optimizer = Adamax(model, lr=LR, flush_subnormals=args.flush_subnormals)

    def epochs():
        n_warm = min(x.shape[0], args.warmup_steps * batch_size)
        if n_warm:
            # every axis indexed: the Array API (the strict backend) wants it
            fit(model, x[:n_warm, :], y[:n_warm], epochs=1, batch_size=batch_size, optimizer=optimizer, seed=0,
                check_finite=False, progress=False)
        for epoch in itertools.count(1):
            rss.reset()
            backend.synchronize()
            start = args.timer()
            # check_finite=False: each timed epoch is one fit call, and the pass over x_train that fit makes
            # per call is no part of an epoch (PyTorch's side makes none); MNIST or noise, x is finite
            history = fit(model, x, y, epochs=1, batch_size=batch_size, optimizer=optimizer, seed=epoch,
                          check_finite=False, progress=False)
            backend.synchronize()
            yield args.timer() - start, rss.read_mib(), history["loss"][0]

    return model, initial, epochs()


def in_turns(sides: dict, round_: int) -> list:
    """The (name, side) pairs in round ``round_``'s order: each side goes first every other round."""
    return list(sides.items())[::1 if round_ % 2 == 0 else -1]


def timed_epochs(sides: dict, args) -> dict:
    """Interleave the timed epochs of the sides (ours, PyTorch's, PyTorch's, ours, ...), so that a
    slow spell of the machine falls on both alike, until --epochs or --max-seconds; per side, the
    lists of seconds, peak RSS and mean losses.

    The sides take turns to go first, so that neither always runs in the other's wake.

    Before each epoch the process sleeps ``--settle-seconds``, until the threads of the previous
    epoch's library have stopped spinning. After its last matrix product OpenBLAS keeps a worker
    thread spinning on one core for ~130 ms here (PyTorch's threads: ~10 ms; ``bench_hot_paths.py
    --only spin``), and an epoch that starts meanwhile runs on one core: a 0.2 s PyTorch epoch right
    after one of ours loses a good part of it. Without the pause, the ratios of short epochs
    flattered minispectral (RESULTS.md, *Fair turns*).
    """
    runs = {name: {"seconds": [], "peak_rss_mib": [], "loss": []} for name in sides}
    for round_ in itertools.count():
        for name, epochs in in_turns(sides, round_):
            time.sleep(args.settle_seconds)
            seconds, peak, loss = next(epochs)
            runs[name]["seconds"].append(seconds)
            runs[name]["peak_rss_mib"].append(peak)
            runs[name]["loss"].append(loss)
        if not all(_another_epoch(run["seconds"], args) for run in runs.values()):
            return runs


def paired_ratio(seconds, reference_seconds) -> float:
    """The median of ``seconds[i] / reference_seconds[i]`` over the interleaved epochs.

    Epoch i of both sides ran back to back, so their ratio is measured under one machine state;
    the ratio of the two sides' medians can mix a fast spell on one side with a slow one on the other.
    """
    if len(seconds) != len(reference_seconds) or not seconds:
        raise ValueError(f"expected two equally long, non-empty lists of epochs, got {len(seconds)} and "
                         f"{len(reference_seconds)}")
    return statistics.median(a / b for a, b in zip(seconds, reference_seconds))


def _another_epoch(seconds, args) -> bool:
    """Stop early when the next epoch would push this configuration past --max-seconds."""
    return len(seconds) < args.epochs and sum(seconds) + statistics.median(seconds) <= args.max_seconds


# --- PyTorch ------------------------------------------------------------------------------------
def _torch_sync(torch, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def torch_model(torch, ms_model, device: str):
    """The PyTorch twin of a minispectral Sequential: same layers, values, trainable split."""
    nn, F = torch.nn, torch.nn.functional

    class Layer(nn.Module):
        """Holds one minispectral layer's parameters: trainable ones as Parameters, frozen ones as buffers."""

        def __init__(self, layer):
            super().__init__()
            self.kind = type(layer).__name__
            self.variant = getattr(layer, "variant", None)
            self.names = list(layer.params)
            for name, p in layer.params.items():
                value = torch.tensor(to_numpy(p.value), device=device)
                if p.trainable:
                    setattr(self, name, nn.Parameter(value))
                    if p.mask is not None:  # minispectral masks dR (dR *= R_mask); same here
                        mask = torch.tensor(to_numpy(p.mask), device=device)
                        getattr(self, name).register_hook(lambda g, mask=mask: g * mask)
                else:
                    self.register_buffer(name, value)

        def weight(self):
            if self.kind == "Dense":
                return self.W
            if self.variant == "ssvd":
                phi = (self.U * self.s) @ self.V
            elif self.variant == "qr":
                phi = self.R @ self.Q
            else:
                phi = self.phi
            return phi * (self.lam_in[None, :] - self.lam_out[:, None])

        def forward(self, x):
            return F.linear(x, self.weight(), getattr(self, "b", None))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            mods = []
            for layer in ms_model.layers:
                if hasattr(layer, "params") and layer.params:
                    mods.append(Layer(layer))
                elif getattr(layer, "name", None) == "relu":
                    mods.append(nn.ReLU())
                else:
                    raise ValueError(f"no PyTorch twin for {layer!r}")
            self.seq = nn.Sequential(*mods)

        def forward(self, x):
            return self.seq(x)

    return Net().to(device)


def run_torch(torch, initial, batch_size, x_t, y_t, args, rss: PeakRSS, device: str):
    """A generator of timed PyTorch epochs, as ``run_minispectral``'s: the same warm-up samples,
    then the same epochs (the same batches), yielding ``(seconds, peak_rss_mib, loss)``."""
    F = torch.nn.functional
    net = torch_model(torch, initial, device)
    optimizer = torch.optim.Adamax([p for p in net.parameters() if p.requires_grad], lr=LR)
    n = x_t.shape[0]

    def epoch(n_used: int, seed: int) -> float:
        # the permutation fit draws for this seed, so the batches are the same
        order = torch.from_numpy(np.random.default_rng(seed).permutation(n_used)).to(device)
        # as fit: the step losses stay on the device and are read every `every` steps (each step on the
        # CPU, GPU_LOSS_READ_EVERY on a GPU), with the non-finite check; the hits once per epoch
        every = 1 if device == "cpu" else GPU_LOSS_READ_EVERY
        loss_sum, hits, pending = 0.0, 0.0, []
        for step, start in enumerate(range(0, n_used, batch_size)):
            idx = order[start:start + batch_size]
            xb, yb = x_t.index_select(0, idx), y_t.index_select(0, idx)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if every == 1:
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"PyTorch loss is {loss_value}")
                loss_sum += loss_value * idx.shape[0]
            else:
                pending.append(loss.detach() * idx.shape[0])
            if pending and ((step + 1) % every == 0 or start + batch_size >= n_used):
                for loss_value in torch.stack(pending).tolist():  # one read
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(f"PyTorch loss is {loss_value}")
                    loss_sum += loss_value
                pending = []
            hits = hits + (logits.argmax(1) == yb).sum()  # on the device until the epoch ends, as in fit
        float(hits)
        return loss_sum / n_used

    if args.warmup_steps:
        epoch(min(n, args.warmup_steps * batch_size), 0)
    for e in itertools.count(1):
        rss.reset()
        _torch_sync(torch, device)
        start = args.timer()
        loss = epoch(n, e)
        _torch_sync(torch, device)
        yield args.timer() - start, rss.read_mib(), loss


def import_torch(args):
    """(torch, device, threads) or (None, reason) when PyTorch is absent or the device is missing."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed (pip install torch, or pip install -e '.[bench]'); skipped"
    device = args.torch_device
    if device == "auto":
        device = "cuda" if args.backend == "cupy" and torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return None, "PyTorch has no CUDA device here; skipped"
    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    return torch, device


def torch_device(text: str) -> str:
    """An argparse type: 'cpu', 'cuda', 'cuda:N' or 'auto' (checked here, before any data is loaded)."""
    name, _, index = text.partition(":")
    if text in ("auto", "cpu", "cuda") or (name == "cuda" and index.isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or auto, got {text!r}")


# --- the grid -----------------------------------------------------------------------------------
def parse_list(text: str, cast=str) -> list:
    return [cast(t) for t in text.split(",") if t.strip()]


positive_seconds = number_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")


def net_list(text: str) -> list:
    """'784-300-10,784-500-500-10' -> [(784, 300, 10), (784, 500, 500, 10)]: MNIST-shaped networks."""
    nets = []
    for spec in parse_list(text):
        try:
            widths = tuple(int(w) for w in spec.split("-"))
        except ValueError:
            widths = ()
        if len(widths) < 2 or min(widths) < 1 or widths[0] != 784 or widths[-1] != 10:
            raise argparse.ArgumentTypeError(f"expected networks like 784-300-10 (784 inputs, 10 classes, positive "
                                             f"widths), got {spec!r}")
        nets.append(widths)
    if not nets:
        raise argparse.ArgumentTypeError(f"expected at least one network, got {text!r}")
    return nets


def batch_size_list(text: str) -> list:
    sizes = parse_list(text, positive_int)
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return sizes


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy", "strict"))
    p.add_argument("--nets", type=net_list, default=",".join(NETS), help="comma-separated widths like 784-300-10")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {MODELS}")
    p.add_argument("--batch-sizes", type=batch_size_list, default=",".join(map(str, BATCH_SIZES)))
    p.add_argument("--epochs", type=positive_int, default=3, help="timed epochs per configuration (median reported)")
    p.add_argument("--max-seconds", type=positive_seconds, default=40.0,
                   help="stop timing a configuration after the epoch that brings it near this many seconds "
                        "(at least one epoch is always timed)")
    p.add_argument("--warmup-steps", type=non_negative_int, default=20, help="untimed steps before the timed epochs")
    p.add_argument("--settle-seconds", type=float, default=0.3,
                   help="pause before each timed epoch, until the other side's idle threads stop spinning "
                        "(OpenBLAS spins ~130 ms after its last matrix product; timed_epochs)")
    p.add_argument("--samples", type=positive_int, default=N_SAMPLES, help="training samples per epoch")
    p.add_argument("--peak-size", type=positive_int, default=4096, help="n of the n×n matrix product that measures the peak")
    p.add_argument("--data", default="random", choices=("random", "mnist"),
                   help="MNIST-shaped uniform noise with labels 0..9, or real MNIST (needs the local files)")
    p.add_argument("--torch", action="store_true", help="also run PyTorch and report minispectral/PyTorch")
    p.add_argument("--versus-dense", action="store_true",
                   help="instead of the grid: time each model against dense of the same shape, their epochs "
                        "interleaved, and report model/dense (the spectral-against-dense target)")
    p.add_argument("--torch-device", type=torch_device, default="auto",
                   help="cpu, cuda, cuda:N, or auto (cuda with --backend cupy)")
    p.add_argument("--threads", type=non_negative_int, default=0,
                   help="threads of PyTorch and of NumPy's OpenBLAS (default: all cores)")
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="wall: elapsed seconds (the result); cpu: this process's CPU seconds, steadier on a "
                        "shared machine but meaningful only single-threaded (--threads 1: idle BLAS threads spin)")
    p.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="as the minispectral command does, keep freed memory in the process for the next step "
                        "(minispectral/allocator.py; process-wide, so PyTorch's side runs under it too)")
    p.add_argument("--flush-subnormals", action=argparse.BooleanOptionalAction, default=True,
                   help="as minispectral's optimizers do by default, zero the decayed optimizer state before it "
                        "turns subnormal (slow on many CPUs; minispectral/optim_fast.py)")
    p.add_argument("--torch-flush-denormal", action="store_true",
                   help="call torch.set_flush_denormal(True) (off by default, as in PyTorch): the CPU's flush-to-zero "
                        "mode for the main thread, so minispectral's element-wise work runs under it too")
    p.add_argument("--out", default="bench_train.json", help="JSON results file")
    p.add_argument("--markdown", action="store_true", help="print the results as a Markdown table at the end")
    args = p.parse_args(argv)
    args.timer = time.perf_counter if args.clock == "wall" else time.process_time
    if args.clock == "cpu" and args.backend == "cupy":
        p.error("--clock cpu does not measure GPU work; use the wall clock with --backend cupy")
    args.models = parse_list(args.models)
    bad = [m for m in args.models if m not in MODELS]
    if bad or not args.models:
        p.error(f"unknown model(s) {bad}; expected some of {MODELS}")
    if Path(args.out).is_dir():
        p.error(f"--out must name a file, got the folder {args.out}")
    if not 0 <= args.settle_seconds <= 60:
        p.error(f"--settle-seconds must be between 0 and 60, got {args.settle_seconds}")
    if args.versus_dense and args.torch:
        p.error("--versus-dense times minispectral's models against its dense one; it runs no PyTorch (drop --torch)")
    if args.versus_dense and not [m for m in args.models if m != "dense"]:
        p.error("--versus-dense needs a model other than dense in --models")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return measure(args)
    finally:
        if args.torch_flush_denormal and "torch" in sys.modules:
            sys.modules["torch"].set_flush_denormal(False)  # the CPU mode would outlive an in-process call


def measure(args) -> dict:
    """Run the grid (or ``--versus-dense``) that ``args`` describes; write and return the results."""
    ok, reason = ms.available(args.backend)
    if not ok:
        raise SystemExit(f"backend {args.backend!r} is not available: {reason}")
    try:
        x, y = make_data(args.data, args.samples)  # first: a missing dataset fails before the peak is measured
    except DatasetError as exc:
        raise SystemExit(f"bench_train.py: error: {' '.join(str(exc).split())}") from None
    if args.threads and numpy_blas_threads(args.threads) is None:
        print("NumPy's BLAS thread count cannot be set from here; use OPENBLAS_NUM_THREADS or MKL_NUM_THREADS")
    info = machine_info(args.backend)
    info["arguments"] = {k: v for k, v in vars(args).items() if k != "timer"}  # the settings, however it was called
    torch = device = None
    if args.torch:
        got = import_torch(args)
        if got[0] is None:
            print(got[1])
            info["torch"] = got[1]
        else:
            torch, device = got
            info.update(torch=torch.__version__, torch_device=device, torch_threads=torch.get_num_threads())
            info["torch_flush_denormal"] = bool(args.torch_flush_denormal and torch.set_flush_denormal(True))
    rss = PeakRSS()
    torch_rss = rss
    if args.backend == "cupy":  # the arrays live on the GPU: its memory, not the host's RSS
        rss = CupyPoolPeak()
        info["peak_memory"] = "GPU: CuPy's memory pool after each epoch (peak_rss_mib)"
        if torch is not None and device == "cuda":
            torch_rss = TorchCudaPeak(torch)
            info["torch_peak_memory"] = "GPU: torch.cuda.max_memory_reserved per epoch (torch_peak_rss_mib)"
    info["peak_rss_resettable"] = rss.resettable
    info["clock"] = args.clock
    info["keep_freed_memory"] = keep_freed_memory() if args.keep_freed_memory else False
    info["flush_subnormals"] = args.flush_subnormals
    info["settle_seconds"] = args.settle_seconds
    info["matmul_peak_gflops"] = matmul_peak(args.backend, args.peak_size, timer=args.timer)
    if torch is not None:
        info["torch_matmul_peak_gflops"] = torch_matmul_peak(torch, device, args.peak_size, timer=args.timer)
    print(json.dumps(info, indent=1), flush=True)
    busy = info["load_average_at_start"][0]
    if busy > 0.5:
        print(f"warning: the load average is {busy:.1f} before the first run; other processes compete for "
              "the cores and multi-threaded timings can be many times slower (see load_average_1min per row)")

    x_dev, y_dev = from_numpy(x, backend=args.backend), from_numpy(y, backend=args.backend)
    if args.versus_dense:
        return versus_dense(args, info, x_dev, y_dev, rss)
    if torch is not None:
        x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    rows = []
    # written after every row, atomically: a late crash of a 30-minute grid keeps the rows already timed
    result = {"machine": info, "nominal_flops": nominal_flops.__doc__.split("\n\n")[0], "results": rows,
              "finished": False}
    for sizes in args.nets:
        for model_name in args.models:
            for batch_size in args.batch_sizes:
                # other processes on the machine distort the timings: keep the load next to them
                row = {"net": "-".join(map(str, sizes)), "model": model_name, "batch_size": batch_size,
                       "load_average_1min": os.getloadavg()[0]}
                flops = nominal_flops(sizes, model_name, batch_size, args.samples)
                model, initial, ms_epochs = run_minispectral(sizes, model_name, batch_size, x_dev, y_dev, args, rss)
                sides = {"minispectral": ms_epochs}
                if torch is not None:
                    sides["torch"] = run_torch(torch, initial, batch_size, x_t, y_t, args, torch_rss, device)
                runs = timed_epochs(sides, args)
                res = runs["minispectral"]
                sec = statistics.median(res["seconds"])
                row.update(trainable_parameters=model.num_parameters(), seconds=res["seconds"],
                           seconds_per_epoch=sec, samples_per_second=args.samples / sec,
                           gflops=flops / sec / 1e9, fraction_of_peak=flops / sec / 1e9 / info["matmul_peak_gflops"],
                           peak_rss_mib=res["peak_rss_mib"], loss=res["loss"])
                if torch is not None:
                    tres = runs["torch"]
                    tsec = statistics.median(tres["seconds"])
                    row.update(torch_seconds=tres["seconds"], torch_seconds_per_epoch=tsec,
                               torch_gflops=flops / tsec / 1e9, torch_peak_rss_mib=tres["peak_rss_mib"],
                               torch_loss=tres["loss"], ratio=paired_ratio(res["seconds"], tres["seconds"]),
                               # same batches, same start: the first epoch's mean losses must agree
                               loss_rel_diff=abs(res["loss"][0] - tres["loss"][0]) / abs(tres["loss"][0]))
                rows.append(row)
                print(_line(row), flush=True)
                write_json(args.out, result)
    info["load_average_at_end"] = os.getloadavg()
    result["finished"] = True
    write_json(args.out, result)
    print(f"wrote {args.out}")
    if args.markdown:
        print("\n\n".join(filter(None, (summary_tables(result), markdown_table(result)))))
    return result


def versus_dense(args, info, x, y, rss) -> dict:
    """Each model against dense of the same shape, epochs interleaved (dense, model, dense, ...).

    The grid times models minutes apart, and a virtual machine's speed drifts by 10 % or more
    over minutes; interleaving puts the two sides of each ratio under the same conditions.
    """
    rows = []
    result = {"machine": info, "versus_dense": rows, "finished": False}  # written after every row
    for sizes in args.nets:
        for model_name in (m for m in args.models if m != "dense"):
            for batch_size in args.batch_sizes:
                sides = {name: run_minispectral(sizes, name, batch_size, x, y, args, rss)[2]
                         for name in ("dense", model_name)}
                runs = timed_epochs(sides, args)
                dense_s, model_s = (statistics.median(runs[k]["seconds"]) for k in ("dense", model_name))
                row = {"net": "-".join(map(str, sizes)), "model": model_name, "batch_size": batch_size,
                       "seconds": runs[model_name]["seconds"], "dense_seconds": runs["dense"]["seconds"],
                       "ratio_to_dense": paired_ratio(runs[model_name]["seconds"], runs["dense"]["seconds"]),
                       "load_average_1min": os.getloadavg()[0]}
                rows.append(row)
                print(f"{row['net']:>15} {model_name:>8} bs={batch_size:<5} {model_s:7.3f} s/epoch, dense "
                      f"{dense_s:7.3f} s/epoch, ratio {row['ratio_to_dense']:.2f}", flush=True)
                write_json(args.out, result)
    info["load_average_at_end"] = os.getloadavg()
    result["finished"] = True
    write_json(args.out, result)
    print(f"wrote {args.out}")
    if args.markdown:
        print(grid_table(rows, lambda r, dense: r["ratio_to_dense"]))
    return result


def _line(row) -> str:
    text = (f"{row['net']:>15} {row['model']:>8} bs={row['batch_size']:<5} {row['seconds_per_epoch']:7.3f} s/epoch "
            f"{row['samples_per_second']:9.0f} samples/s {row['gflops']:6.1f} GFLOP/s "
            f"({100 * row['fraction_of_peak']:4.1f}% of peak)")
    if "ratio" in row:
        text += f"  torch {row['torch_seconds_per_epoch']:7.3f} s  ratio {row['ratio']:.2f}"
    return text


def markdown_table(result: dict) -> str:
    """Every measured number, one row per configuration."""
    rows = result["results"]
    has_torch = any("ratio" in r for r in rows)
    head = ["net", "model", "batch", "s/epoch", "samples/s", "GFLOP/s", "% peak", "peak RSS MiB (per epoch)"]
    if has_torch:
        head += ["torch s/epoch", "ratio ms/torch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["net"].replace("-", "→"), r["model"], str(r["batch_size"]), f"{r['seconds_per_epoch']:.3f}",
                 f"{r['samples_per_second']:,.0f}", f"{r['gflops']:.1f}", f"{100 * r['fraction_of_peak']:.0f}%",
                 " / ".join(f"{m:.0f}" for m in r["peak_rss_mib"])]
        if has_torch:
            cells += [f"{r['torch_seconds_per_epoch']:.3f}", f"**{r['ratio']:.2f}**"] if "ratio" in r else ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid_table(rows: list[dict], value) -> str:
    """A Markdown grid, net × model by batch size, of ``value(row, dense_row_of_the_same_cell)``."""
    batches = sorted({r["batch_size"] for r in rows})
    cell = {(r["net"], r["model"], r["batch_size"]): r for r in rows}
    lines = ["| net | model | " + " | ".join(f"batch {b}" for b in batches) + " |", "|---|---|" + "---|" * len(batches)]
    for net in dict.fromkeys(r["net"] for r in rows):
        for model in dict.fromkeys(r["model"] for r in rows):
            values = []
            for b in batches:
                r = cell.get((net, model, b))
                v = value(r, cell.get((net, "dense", b))) if r else None
                values.append("" if v is None else f"{v:.2f}")
            if any(values):
                lines.append(f"| {net.replace('-', '→')} | {model} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def summary_tables(result: dict) -> str:
    """Two grids (net × model by batch size): minispectral/PyTorch, and seconds relative to dense; a grid
    with nothing to show (no PyTorch run, no dense row) is left out."""
    rows = result["results"]
    tables = []
    for title, value in (("minispectral / PyTorch, seconds per epoch", lambda r, d: r.get("ratio")),
                         ("seconds per epoch relative to dense of the same shape (minispectral)",
                          lambda r, d: r["seconds_per_epoch"] / d["seconds_per_epoch"] if d else None)):
        table = grid_table(rows, value)
        if table.count("\n") > 1:  # more than its header
            tables.append(f"**{title}**\n\n{table}")
    return "\n\n".join(tables)

if __name__ == "__main__":
    main()
