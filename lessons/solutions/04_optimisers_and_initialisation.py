"""Solutions to the exercises of lesson 04 (optimisers and initialisation)."""
import os

import numpy as np

import minispectral as ms
from minispectral.datasets import load_dataset
from minispectral.experiment import RunConfig
from minispectral.nn.init import glorot_uniform
from minispectral.nn.module import Parameter
from minispectral.train import fit

FAST = os.environ.get("MINISPECTRAL_FAST") == "1"
rng = np.random.default_rng(4)

# --- Exercise 1: Adam without its bias corrections ---------------------------------------------------
# m_1 = (1 − β₁) g and v_1 = (1 − β₂) g², so the uncorrected step is η (1 − β₁)|g| / (√(1 − β₂)|g| + ε)
# ≈ η (1 − β₁)/√(1 − β₂) = 3.16 η; the corrections divide m by 1 − β₁ and v by 1 − β₂, which leaves η g/(|g| + ε).
lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
g = rng.standard_normal(5)
m1, v1 = (1 - beta1) * g, (1 - beta2) * g**2
uncorrected = lr * m1 / (np.sqrt(v1) + eps)
corrected = lr * (m1 / (1 - beta1)) / (np.sqrt(v1 / (1 - beta2)) + eps)
assert np.allclose(uncorrected, lr * (1 - beta1) / np.sqrt(1 - beta2) * np.sign(g), rtol=1e-5)
assert np.allclose(corrected, lr * np.sign(g), rtol=1e-5)
p = Parameter(np.zeros(5))
adam = ms.Adam([("theta", p)], lr=lr, betas=(beta1, beta2), eps=eps)
p.grad = g
adam.step()
assert np.allclose(-p.value, corrected, rtol=1e-12)
print(f"exercise 1: first step without corrections {np.abs(uncorrected).mean() / lr:.3f} η, with them "
      f"{np.abs(corrected).mean() / lr:.3f} η (ms.Adam agrees)")

# --- Exercise 2: which optimisers keep Σλ? -------------------------------------------------------------
# Momentum's velocity is a sum of past gradients, each summing to zero over the eigenvalues of the layer, so
# its steps sum to zero too: Σλ is kept.  Adam divides each coordinate by its own √v̂: the steps do not sum to zero.
t_in, t_out, n_samples = 12, 6, 400
phi_t = rng.uniform(-1, 1, size=(t_out, t_in))
teacher = ms.Spectral(t_in, t_out, phi_init=phi_t, lam_in_init=(-2, 2), lam_out_init=(-2, 2), bias=False,
                      seed=1, dtype="float64")
X = rng.standard_normal((n_samples, t_in))
T = teacher.forward(X)


def train(make_optimizer, steps=300):
    student = ms.Spectral(t_in, t_out, phi_init=phi_t, lam_in_init=1.0, lam_out_init=1.0, bias=False,
                          dtype="float64")
    opt = make_optimizer(student)
    total = lambda: student.params["lam_in"].value.sum() + student.params["lam_out"].value.sum()  # noqa: E731
    start, losses = total(), []
    for _ in range(steps):
        Y = student.forward(X)
        losses.append(np.sum((Y - T) ** 2) / (2 * n_samples))
        student.backward((Y - T) / n_samples)
        opt.step()
    return total() - start, losses


drift_momentum, losses_momentum = train(lambda s: ms.SGD(s, lr=0.02, momentum=0.9))
drift_adam, losses_adam = train(lambda s: ms.Adam(s, lr=0.02))
print(f"exercise 2: S − S(0) after 300 steps: momentum {drift_momentum:+.1e}, Adam {drift_adam:+.1e}; "
      f"losses {losses_momentum[0]:.2f} -> {losses_momentum[-1]:.1e} and {losses_adam[0]:.2f} -> {losses_adam[-1]:.1e}")
assert abs(drift_momentum) < 1e-11 and abs(drift_adam) > 1e-2
assert losses_momentum[-1] < 1e-3 * losses_momentum[0] and losses_adam[-1] < 1e-2 * losses_adam[0]

# --- Exercise 3: scale or shape? ------------------------------------------------------------------------
# Rescale each layer's papers' phi = U diag(s) V to Glorot's std, sqrt(2 / (n_in + n_out)), keeping its shape of a
# product, and train as many steps as the lesson's FAST measurement.
recipe = RunConfig(model="spectral", dataset="mnist", hidden=(100,), phi_init="papers").resolved()  # the papers' phi
data = load_dataset("mnist", val_split=recipe.val_split, seed=recipe.seed, dtype=recipe.dtype)
epochs = 2


def two_set_model(phi_of):
    net = ms.mlp((784, 100, 10), recipe.model, activation=recipe.activation, seed=0, dtype=recipe.dtype,
                 phi_init=recipe.phi_init)
    phi_rng = np.random.default_rng(0)
    for i in (0, 2):
        phi = net.layers[i].params["phi"]
        phi.value[...] = phi_of(phi.value, phi_rng)
    return net


def rescaled(phi, phi_rng):
    n_out, n_in = phi.shape
    return phi * (np.sqrt(2 / (n_in + n_out)) / (0.04**2 * np.sqrt(3 * min(n_in, n_out))))


losses = {}
for name, phi_of in (("papers' φ", lambda phi, r: phi), ("papers' φ at Glorot's std", rescaled),
                     ("Glorot φ", lambda phi, r: glorot_uniform(r, phi.shape))):
    net = two_set_model(phi_of)
    history = fit(net, data.x_train, data.y_train, epochs=epochs, batch_size=recipe.batch_size,
                  optimizer=recipe.optimizer, lr=recipe.lr, seed=0, progress=False)
    losses[name] = history["loss"][-1]
    print(f"exercise 3: {name:<27} training loss after {epochs} epochs {losses[name]:.4f}")
# the scale is what matters: the rescaled product trains like Glorot's phi, far from the papers' phi
assert abs(np.log(losses["papers' φ at Glorot's std"] / losses["Glorot φ"])) < 0.25
assert losses["papers' φ"] > 1.5 * losses["papers' φ at Glorot's std"]
