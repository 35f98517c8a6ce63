"""Check a GPU machine end to end, in one command that writes one report:

    python -m minispectral.gpucheck                 # the report goes to benchmarks/ in a checkout
    python -m minispectral.gpucheck --out DIR

In order, each part with its own time limit (the whole takes under 8 minutes, and nothing is
downloaded: a GPU machine may have no network):

1. versions: Python, NumPy, CuPy, CUDA, the GPU, PyTorch where it is installed;
2. the CuPy probe (``available("cupy")``: an allocation, an element-wise kernel, a matrix product);
3. the GPU-marked tests on real CuPy (``pytest -m gpu``, from a checkout), then the float32 kernel
   comparison again with ``CUPY_TF32=1``, which says what TensorFloat-32 products do to it;
4. milliseconds per step of ``fit`` on 784-2000-2000-10 at batch 1000 (random MNIST-shaped data),
   for dense, spectral, nc and qr on CuPy, and on NumPy on this machine's CPU for the speed-up;
5. PyTorch CUDA on the same nets and batches, beside it (``benchmarks/bench_train.py --torch``),
   where torch and the checkout are there;
6. ``kth_smallest`` on CuPy: its partition (or sort) against the radix select, by size, to set
   ``backend.CUPY_RADIX_FROM``;
7. lesson 12 in FAST mode.

Without a GPU it writes the report with the probe's reason and stops (exit status 1).
``--standin`` runs every part on the tests' CuPy stand-in instead, on the CPU, at toy sizes: a check
of this script itself (``tests/test_gpucheck.py``); its timings mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout, when there is one
BUDGET_SECONDS = 8 * 60
MODELS = ("dense", "spectral", "nc", "qr")
PARTS = ("gpu_tests", "fit", "torch", "selection", "lesson_12")


class Report:
    def __init__(self, deadline: float):
        self.parts: dict = {}
        self.deadline = deadline

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, fn, *, needs: float = 20.0):
        """Run one part, keeping its result or its error; skipped when less than ``needs`` seconds are left."""
        if self.left() < needs:
            self.parts[name] = {"skipped": f"less than {needs:.0f} s of the {BUDGET_SECONDS} s budget left"}
            return None
        start = time.monotonic()
        try:
            result = fn()
        except Exception as exc:  # a part's failure is a finding for the report, not the end of the check
            result = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:600]}"}
        result = result if isinstance(result, dict) else {"result": result}
        result["seconds"] = round(time.monotonic() - start, 1)
        self.parts[name] = result
        print(f"[gpucheck] {name}: done in {result['seconds']} s", flush=True)
        return result


def _subprocess(cmd, timeout: float, env=None) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout, 1), env=env, cwd=ROOT)
    tail = (done.stdout + done.stderr).strip().splitlines()
    return {"command": " ".join(map(str, cmd)), "returncode": done.returncode, "tail": tail[-15:]}


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.update(extra)
    return env


def versions() -> dict:
    import numpy

    info = {"python": platform.python_version(), "numpy": numpy.__version__, "machine": platform.machine(),
            "cpu_count": os.cpu_count()}
    try:
        import cupy

        info["cupy"] = cupy.__version__
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        info["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
        props = cupy.cuda.runtime.getDeviceProperties(0)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        info["gpu_memory_gib"] = round(props.get("totalGlobalMem", 0) / 2 ** 30, 1)
    except Exception as exc:
        info["cupy"] = f"unusable: {type(exc).__name__}: {exc}"
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda"] = bool(torch.cuda.is_available())
    except Exception:
        info["torch"] = None
    info["CUPY_TF32"] = os.environ.get("CUPY_TF32")
    return info


def gpu_tests(timeout: float, standin: bool) -> dict:
    if not (ROOT / "tests" / "conftest.py").exists():
        return {"skipped": "no tests/ beside the package (run from a checkout)"}
    env = _env(MINISPECTRAL_TEST_CUPY="standin" if standin else "real", MINISPECTRAL_FAST="1")
    result = _subprocess([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"], timeout, env)
    tf32 = _subprocess([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_kernels.py",
                        "-k", "cupy_kernels_agree"], min(timeout, 60), {**env, "CUPY_TF32": "1"})
    result["with_CUPY_TF32=1"] = tf32
    return result


def time_fit(model: str, backend: str, sizes, batch: int, n: int, steps: int | None = None) -> dict:
    """Milliseconds per step of ``fit`` (an epoch of n samples, or ``steps`` steps), after a warm-up."""
    import numpy as np

    import minispectral
    from minispectral.train import fit

    be = minispectral.get_backend(backend)
    rng = np.random.default_rng(0)
    n_used = n if steps is None else min(n, steps * batch)
    x = minispectral.from_numpy(rng.random((n_used, sizes[0]), dtype=np.float32), backend=backend)
    y = minispectral.from_numpy(rng.integers(0, sizes[-1], n_used), backend=backend)
    net = minispectral.mlp(sizes, model, seed=0, backend=backend)
    opt = minispectral.Adamax(net, lr=0.002)
    fit(net, x[:2 * batch, :], y[:2 * batch], epochs=1, batch_size=batch, optimizer=opt, progress=False,
        check_finite=False)  # warm-up: kernels compiled, the memory pool grown
    be.synchronize()
    start = time.perf_counter()
    history = fit(net, x, y, epochs=1, batch_size=batch, optimizer=opt, progress=False, check_finite=False)
    be.synchronize()
    seconds = time.perf_counter() - start
    n_steps = -(-n_used // batch)
    return {"ms_per_step": round(1e3 * seconds / n_steps, 3), "steps": n_steps,
            "epoch_seconds_60000": round(seconds / n_steps * -(-60000 // batch), 3), "loss": history["loss"][0]}


def fit_timings(sizes, batch: int, n: int, cpu_steps: int) -> dict:
    out = {"net": "-".join(map(str, sizes)), "batch_size": batch, "cupy": {}, "numpy": {}}
    for model in MODELS:
        out["cupy"][model] = time_fit(model, "cupy", sizes, batch, n)
        out["numpy"][model] = time_fit(model, "numpy", sizes, batch, n, steps=cpu_steps)
        gpu, cpu = out["cupy"][model]["ms_per_step"], out["numpy"][model]["ms_per_step"]
        out["cupy"][model]["speedup_over_numpy"] = round(cpu / gpu, 1) if gpu else None
    return out


def torch_beside(sizes, batch: int, timeout: float, standin: bool) -> dict:
    script = ROOT / "benchmarks" / "bench_train.py"
    if standin:
        return {"skipped": "the stand-in has no PyTorch counterpart"}
    if not script.exists():
        return {"skipped": "benchmarks/bench_train.py is not here (run from a checkout)"}
    try:
        import torch
    except ImportError:
        return {"skipped": "PyTorch is not installed"}
    if not torch.cuda.is_available():
        return {"skipped": "PyTorch is installed without CUDA"}
    import tempfile

    out = Path(tempfile.mkdtemp()) / "bench_train.json"  # its rows go into this report: one report
    result = _subprocess([sys.executable, str(script), "--backend", "cupy", "--torch", "--nets", "-".join(map(str, sizes)),
                          "--models", ",".join(MODELS), "--batch-sizes", str(batch), "--epochs", "2",
                          "--max-seconds", "20", "--out", str(out), "--markdown"], timeout, _env())
    if out.exists():
        rows = json.loads(out.read_text())["results"]
        result["rows"] = [{k: r.get(k) for k in ("model", "seconds_per_epoch", "torch_seconds_per_epoch", "ratio",
                                                  "loss_rel_diff", "peak_rss_mib", "torch_peak_rss_mib")} for r in rows]
    return result


def selection_timings(sizes_log2) -> dict:
    import numpy as np

    import minispectral
    from minispectral import backend as bk

    be = minispectral.get_backend("cupy")
    rows = []
    for p in sizes_log2:
        a = minispectral.from_numpy(np.random.default_rng(p).random(2 ** p, dtype=np.float32), backend="cupy")
        k = 2 ** (p - 1)
        timings = {}
        for name, fn in (("partition_or_sort", lambda: be.xp.sort(a)[k - 1]), ("radix_select", lambda: bk._radix_select(a, k))):
            fn()
            be.synchronize()
            start = time.perf_counter()
            for _ in range(5):
                fn()
            be.synchronize()
            timings[name] = round((time.perf_counter() - start) / 5 * 1e3, 3)
        rows.append({"entries": 2 ** p, "ms": timings})
    return {"rows": rows, "CUPY_RADIX_FROM": bk.CUPY_RADIX_FROM,
            "note": "CuPy's partition sorts from k = 1024 on; sort stands for it here"}


def lesson(timeout: float) -> dict:
    path = ROOT / "lessons" / "12_gpu.py"
    if not path.exists():
        return {"skipped": "lessons/12_gpu.py is not here (run from a checkout)"}
    return _subprocess([sys.executable, str(path)], timeout, _env(MINISPECTRAL_FAST="1", MPLBACKEND="Agg"))


def markdown(report: dict) -> str:
    lines = ["# GPU check", "", f"Command: `{report['command']}`", ""]
    v = report["parts"].get("versions", {})
    lines += ["## Machine", "", *(f"- {k}: {val}" for k, val in v.items() if k != "seconds"), ""]
    probe = report["parts"].get("probe", {})
    lines += ["## Probe", "", f"- available: {probe.get('available')}", f"- reason: {probe.get('reason') or '-'}", ""]
    fits = report["parts"].get("fit", {})
    if "cupy" in fits:
        lines += ["## fit, ms per step", "", f"{fits['net']}, batch {fits['batch_size']}, Adamax, random data", "",
                  "| model | CuPy ms/step | NumPy ms/step | speed-up | CuPy s/epoch (60,000) |", "|---|---|---|---|---|"]
        for model in MODELS:
            g, c = fits["cupy"].get(model, {}), fits["numpy"].get(model, {})
            lines.append(f"| {model} | {g.get('ms_per_step')} | {c.get('ms_per_step')} | {g.get('speedup_over_numpy')} "
                         f"| {g.get('epoch_seconds_60000')} |")
        lines.append("")
    for name in ("gpu_tests", "torch", "selection", "lesson_12"):
        part = report["parts"].get(name)
        if part is not None:
            lines += [f"## {name}", "", "```", json.dumps(part, indent=1)[:4000], "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minispectral.gpucheck", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for gpu-report.json and gpu-report.md "
                        "(default: benchmarks/ in a checkout, else the current folder)")
    parser.add_argument("--standin", action="store_true", help="run on the tests' CuPy stand-in, at toy sizes")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {','.join(PARTS)} (default: all)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",")]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; expected a comma-separated subset of {','.join(PARTS)}")
    out = args.out or (ROOT / "benchmarks" if (ROOT / "benchmarks").is_dir() else Path.cwd())
    if args.standin:
        sys.path.insert(0, str(ROOT / "tests"))
        import cupy_standin

        cupy_standin.install()
    report = Report(time.monotonic() + BUDGET_SECONDS)
    started = time.monotonic()
    report.run("versions", versions, needs=0)

    import minispectral

    ok, reason = minispectral.available("cupy")
    report.parts["probe"] = {"available": ok, "reason": reason}
    if ok:
        toy = args.standin
        sizes, batch, n = ((64, 32, 32, 10), 50, 500) if toy else ((784, 2000, 2000, 10), 1000, 60000)
        steps = {
            "gpu_tests": (lambda: gpu_tests(min(180, report.left() - 200), args.standin), 230),
            "fit": (lambda: fit_timings(sizes, batch, n, cpu_steps=2 if toy else 3), 60),
            "torch": (lambda: torch_beside(sizes, batch, min(150, report.left() - 80), args.standin), 100),
            "selection": (lambda: selection_timings(range(10, 14) if toy else range(12, 24, 2)), 30),
            "lesson_12": (lambda: lesson(report.left() - 5), 60),
        }
        for name in PARTS:
            if name in parts:
                report.run(name, steps[name][0], needs=steps[name][1])
    command = "python -m minispectral.gpucheck" + (" --standin" if args.standin else "")
    command += f" --parts {args.parts}" if args.parts != ",".join(PARTS) else ""
    result = {"command": command,
              "standin": args.standin, "total_seconds": round(time.monotonic() - started, 1), "parts": report.parts}
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu-report-standin" if args.standin else "gpu-report"
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{name}.md").write_text(markdown(result) + "\n")
    print(f"[gpucheck] report: {out / (name + '.md')} ({result['total_seconds']} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
