"""Draw the README's picture of the transfer operator: python docs/make_figures.py"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import minispectral as ms
from minispectral.experiment import save_figure

layer = ms.Spectral(8, 5, variant="spectral", seed=3, dtype="float64",
                    phi_init=(-1, 1), lam_in_init=(-1, 1), lam_out_init=(-1, 1))
A = ms.to_numpy(layer.transfer_operator())
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
lim = np.abs(A).max()
axes[0].imshow(A, cmap="RdBu_r", vmin=-lim, vmax=lim)
axes[0].axhline(7.5, color="k", lw=0.8), axes[0].axvline(7.5, color="k", lw=0.8)
axes[0].set_title("A = Φ Λ Φ⁻¹  (8 → 5)", fontsize=10)
for (r, c), text in {(3.5, 3.5): "Λ_in", (10, 10): "Λ_out", (10, 3.5): "W", (3.5, 10): "0"}.items():
    axes[0].text(c, r, text, ha="center", va="center", fontsize=12, color="k",
                 bbox=dict(facecolor="white", alpha=0.7, lw=0))
axes[0].set_xticks([]), axes[0].set_yticks([])
eig = np.sort(np.linalg.eigvals(A).real)
lam = np.sort(np.r_[ms.to_numpy(layer.params["lam_in"].value), ms.to_numpy(layer.params["lam_out"].value)])
axes[1].plot(lam, "o", ms=9, mfc="none", label="(λ_in, λ_out)")
axes[1].plot(eig, "x", ms=7, label="eigenvalues of A")
axes[1].set_title("A's spectrum is exactly the trained eigenvalues", fontsize=10)
axes[1].legend(fontsize=9)
fig.tight_layout()
out = Path(__file__).with_name("transfer_operator.png")
save_figure(fig, out, dpi=110)  # atomic: the README's image is never half-written
print(out)
