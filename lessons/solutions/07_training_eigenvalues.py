"""Solutions to the exercises of lesson 07 (training eigenvalues only)."""
import json
from pathlib import Path

import numpy as np

import minispectral as ms

# --- Exercise 1: deeper counts ------------------------------------------------------------------
# n1 -> n2 -> n2 -> 10, biases everywhere:
#   dense: n1 n2 + n2 + n2² + n2 + 10 n2 + 10
#   NC:    one eigenvalue per receiving node, plus its bias: 2 (n2 + n2 + 10)
#   PRE:   (n1 + n2) + (n2 + n2) + (n2 + 10) eigenvalues + (2 n2 + 10) biases = n1 + 6 n2 + 20


def counts_two_hidden(n1, n2):
    return {"dense": n1 * n2 + n2 + n2 * n2 + n2 + 10 * n2 + 10,
            "nc": 2 * (2 * n2 + 10),
            "spectral": n1 + 6 * n2 + 20}


for n2 in (50, 100, 200):
    built = {kind: ms.mlp((784, n2, n2, 10), model=kind, seed=0).num_parameters() for kind in ("dense", "nc", "spectral")}
    assert built == counts_two_hidden(784, n2), (n2, built)
ratio = {n2: counts_two_hidden(784, n2)["spectral"] / counts_two_hidden(784, n2)["dense"] for n2 in range(1, 400)}
first = min(n2 for n2, r in ratio.items() if r <= 0.01)
print(f"exercise 1: counts match mlp(); PRE/dense drops to 1 % at n2 = {first} (ratio {ratio[first]:.4f})")
assert ratio[first] <= 0.01 < ratio[first - 1]

# --- Exercise 2: reading the curves ---------------------------------------------------------------------
# lessons/data/curves.json holds every epoch's test accuracy of runs trained until early stopping.
curves = json.loads((Path(__file__).resolve().parents[1] / "data" / "curves.json").read_text())["curves"]
kinds = ("dense", "nc", "spectral")
within = {}
for kind in kinds:
    acc = np.array(curves[kind]["test_accuracy"])
    within[kind] = int(np.argmax(np.abs(acc - acc[-1]) <= 0.01)) + 1  # first epoch within a point of the end
    print(f"exercise 2: {kind:>8} within 0.01 of its final {acc[-1]:.4f} from epoch {within[kind]} "
          f"of {len(acc)}")
final_gap = curves["dense"]["test_accuracy"][-1] - curves["spectral"]["test_accuracy"][-1]
longest = max(len(curves[k]["test_accuracy"]) for k in kinds)
# a run that early stopping ended keeps its last weights: pad each curve with its last value
padded = {k: np.pad(curves[k]["test_accuracy"], (0, longest - len(curves[k]["test_accuracy"])), mode="edge")
          for k in kinds}
ranked = [e for e in range(1, longest + 1) if padded["dense"][e - 1] > padded["spectral"][e - 1] > padded["nc"][e - 1]]
gap_ok = [e for e in range(1, longest + 1) if abs(padded["dense"][e - 1] - padded["spectral"][e - 1] - final_gap) <= 0.02]
print(f"exercise 2: the ranking dense > two sets > one set holds from epoch {ranked[0]}; the two-set model's gap to "
      f"dense ({final_gap:.3f} at the end) is within 0.02 of its final value from epoch {gap_ok[0]}")
assert within["dense"] < within["spectral"]  # the spectral model converges more slowly
assert ranked[0] == 1 and gap_ok[0] > 5  # a 5-epoch snapshot ranks right but overstates the gap
