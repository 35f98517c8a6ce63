"""Host reads and library calls per training step, counted on the CuPy stand-in (no GPU needed).

On a GPU every host read (``float(loss)``, ``bool(x)``, a boolean mask) waits for all queued work,
and every library call is a kernel launch of ~5-10 µs, so a step's counts bound its speed when the
arithmetic is small.  This runs ``fit`` through the real CuPy code path on ``tests/cupy_standin.py``
and counts, per step of one epoch after a first one, the reads and calls of each model, and the
reads of one ``evaluate``.

    python benchmarks/bench_host_reads.py --markdown

The library measured is the one Python imports: ``PYTHONPATH=<a checkout of another commit>`` counts
that commit's code on this stand-in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import cupy_standin  # noqa: E402

cupy_standin.install()

import numpy as np  # noqa: E402

import minispectral  # noqa: E402
from minispectral.train import evaluate, fit  # noqa: E402

# (label, mlp model, layer options)
MODELS = [("dense", "dense", {}), ("spectral", "spectral", {}), ("nc", "nc", {}), ("full", "full", {}),
          ("ssvd", "ssvd", {}), ("qr", "qr", {}), ("sparse (spectral, sparsity 0.5)", "spectral", {"sparsity": 0.5})]


def count(model: str, layer_kw: dict, *, sizes=(64, 48, 32, 10), n=800, batch=20, optimizer="adamax") -> dict:
    """Reads and calls per step of one ``fit`` call of one epoch (40 steps, after a first call), and the
    reads of one ``evaluate`` (4 batches).  Each fit call builds its optimizer and checks its data once:
    those calls and reads are counted too, spread over the epoch's steps."""
    rng = np.random.default_rng(0)
    x = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    net = minispectral.mlp(sizes, model, seed=0, backend="cupy", **layer_kw)
    xd, yd = minispectral.from_numpy(x, backend="cupy"), minispectral.from_numpy(y, backend="cupy")
    fit(net, xd, yd, epochs=1, batch_size=batch, optimizer=optimizer, progress=False)
    steps = -(-n // batch)
    with cupy_standin.counting() as c:
        fit(net, xd, yd, epochs=1, batch_size=batch, optimizer=optimizer, progress=False)
        train = c.snapshot()
    with cupy_standin.counting() as c:
        evaluate(net, xd, yd, batch_size=n // 4)
        ev = c.snapshot()
    return {"reads_per_step": train["reads"] / steps, "calls_per_step": train["calls"] / steps,
            "evaluate_reads": ev["reads"], "steps": steps}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--out", type=Path, help="write the counts as JSON here")
    args = parser.parse_args(argv)
    rows = {label: count(model, kw) for label, model, kw in MODELS}
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    if args.markdown:
        print("| model | host reads / step | calls / step | reads / evaluate (4 batches) |")  # noqa: T201
        print("|---|---|---|---|")
        for label, r in rows.items():
            print(f"| {label} | {r['reads_per_step']:.2f} | {r['calls_per_step']:.1f} | {r['evaluate_reads']} |")
    else:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
