"""What ``minispectral.allocator.keep_freed_memory`` changes: the same work in two fresh processes.

Each process times ``dy @ W`` (a 784 → 100 layer's ``dx`` at batch 200, a fresh 627 kB result per
call) and a dense 784→100→10 training epoch at batch 200 on MNIST-shaped noise; one process runs
with glibc's default malloc settings, the other after ``keep_freed_memory()``.

    python benchmarks/bench_allocator.py [--repeats 3] [--out bench_allocator.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, statistics, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from minispectral.allocator import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "keep" else False
from minispectral.nn import mlp
from minispectral.optim import Adamax
from minispectral.train import fit
rng = np.random.default_rng(0)
dy = rng.standard_normal((200, 100), dtype=np.float32)
W = rng.standard_normal((100, 784), dtype=np.float32)
for _ in range(200):
    dy @ W
start = time.perf_counter()
for _ in range(2000):
    dy @ W
matmul_us = (time.perf_counter() - start) / 2000 * 1e6
x = rng.random((60000, 784), dtype=np.float32)
y = rng.integers(0, 10, 60000)
model = mlp((784, 100, 10), "dense", seed=0)
opt = Adamax(model, lr=0.002)
fit(model, x[:4000], y[:4000], epochs=1, batch_size=200, optimizer=opt, progress=False)
epochs = [fit(model, x, y, epochs=1, batch_size=200, optimizer=opt, seed=e, progress=False).epochs[0]["seconds"]
          for e in range(3)]
print(json.dumps({"keep_freed_memory": took, "dy_at_W_us": matmul_us, "dense_epoch_s": statistics.median(epochs)}))
"""


def run_child(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(ROOT)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per setting")
    p.add_argument("--out", default="bench_allocator.json", help="JSON results file")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be a positive integer, got {args.repeats}")
    runs = {mode: [] for mode in ("default", "keep")}
    for _ in range(args.repeats):
        for mode in runs:  # alternate, so that a slow spell of the machine falls on both
            runs[mode].append(run_child(mode))
            r = runs[mode][-1]
            print(f"{mode:>8}: dy @ W {r['dy_at_W_us']:6.0f} us, dense 784-100-10 epoch {r['dense_epoch_s']:.3f} s",
                  flush=True)
    result = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
              "runs": runs}
    sys.path.insert(0, str(ROOT))
    from minispectral.experiment import write_json

    write_json(args.out, result)  # atomic
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
