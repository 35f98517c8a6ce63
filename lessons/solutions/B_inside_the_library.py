"""Solutions to the exercises of appendix B (inside the library)."""
import numpy as np

import minispectral as ms
from minispectral.functional import dense_backward, dense_forward

u = np.finfo(np.float64).eps / 2

# --- Exercise 1: the step taken, for a function of small values --------------------------------------
# sin(θ) is at most 1, so its values are rounded by ~u, and their difference over the step errs by
# ~u / h. The stored θ ± h is rounded by ~u|θ|, a relative error of ~u|θ| / h in the step: dividing by
# 2h keeps it, dividing by the step actually taken removes it. Near θ = 1000 the first is ~1000 times
# larger. Round-off scatters from one θ to the next, so take the median over many θ, each with its own
# step between h and 2h (one step for all would round the same way at every θ of one binade).
rng = np.random.default_rng(1)
thetas = rng.uniform(1000.0, 1001.0, 201)
exact = np.cos(thetas)
medians = {}
for h in 10.0 ** -np.arange(4, 10):
    steps = h * rng.uniform(1.0, 2.0, thetas.shape)
    plus, minus = thetas + steps, thetas - steps
    difference = np.sin(plus) - np.sin(minus)
    by_2h = np.median(np.abs(difference / (2 * steps) - exact))
    by_taken = np.median(np.abs(difference / (plus - minus) - exact))
    medians[h] = (by_2h, by_taken)
    print(f"exercise 1: h={h:.0e}: median error divided by 2h {by_2h:.1e}, by the step taken {by_taken:.1e} "
          f"(u|θ|/h = {u * 1000 / h:.1e}, u/h = {u / h:.1e})")
for h, (by_2h, by_taken) in medians.items():
    if h <= 1e-6:  # where round-off, not truncation, dominates
        assert by_2h > 100 * by_taken
        assert by_2h < 10 * u * 1000 / h and by_taken < 10 * u / h

# --- Exercise 2: where a layer's check needs the round-off rule --------------------------------------
rng = np.random.default_rng(0)
x, W, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
offsets = 10.0 ** np.arange(0, 7)
rel = {}
first_roundoff = None
for offset in offsets:
    report = ms.gradcheck(dense_forward, dense_backward, {"x": x, "W": W, "b": b + offset})
    assert report.passed
    rel[offset] = report["W"].rel_error
    if first_roundoff is None and report["W"].rel_error > report.tol:
        first_roundoff = offset
print(f"exercise 2: the W row first needs the round-off rule at a bias of {first_roundoff:.0e}")
print("exercise 2: W's relative error by bias:", {f"{k:.0e}": f"{v:.1e}" for k, v in rel.items()})
assert first_roundoff is not None and 1e2 <= first_roundoff <= 1e5
# in proportion to the bias, once the bias dominates S: a factor 10 per decade, within the scatter of round-off
large = [o for o in offsets if o >= 1e3]
ratios = [rel[o * 10] / rel[o] for o in large[:-1]]
assert all(2 < r < 50 for r in ratios), ratios
assert rel[1e6] / rel[1e3] > 100
