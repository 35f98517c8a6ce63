"""Solutions to the exercises of lesson 01 (derivatives and gradient checking)."""
import numpy as np

import minispectral as ms
from minispectral.functional import (dense_backward, dense_forward, elu_backward, elu_forward, tanh_backward,
                                     tanh_forward)
from minispectral.gradient_check import numerical_gradient, rel_error

rng = np.random.default_rng(1)

# --- Exercise 1: ELU by hand -----------------------------------------------------------------
# d/dx α(eˣ − 1) = α eˣ = α(eˣ − 1) + α = elu(x) + α for x ≤ 0, and 1 for x > 0.
alpha = 1.0
x = rng.standard_normal(50)
x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep clear of the kink at 0
out, cache = elu_forward(x, alpha)
d_hand = np.where(x > 0, 1.0, alpha * np.exp(x))
assert np.allclose(np.where(x > 0, 1.0, out + alpha), d_hand, rtol=1e-12)
assert np.allclose(elu_backward(np.ones_like(x), cache), d_hand, rtol=1e-12)
# the derivative of a sum of independent element-wise terms is the element-wise derivative
d_num = numerical_gradient(lambda: np.sum(elu_forward(x, alpha)[0]), x)
assert rel_error(d_hand, d_num) < 1e-8
report = ms.gradcheck(elu_forward, elu_backward, {"x": x.reshape(5, 10)})
assert report.passed
print("exercise 1: ELU derivative matches the kernel and the numerical one\n", report, sep="")

# --- Exercise 2: the best step for exp ----------------------------------------------------------
# Round-off makes the error curve jagged near its bottom, so a single x gives a noisy arg-min.
# For exp the relative error behaves the same at every x (f''' / f = 1), so averaging it over
# many points near x = 1 smooths the curve without moving its minimum.
steps = np.logspace(-10, -1, 91)
points = np.linspace(0.5, 1.5, 201)[:, None]
central = (np.exp(points + steps) - np.exp(points - steps)) / (2 * steps)
errors = np.mean(np.abs(central / np.exp(points) - 1), axis=0)
h_best = steps[np.argmin(errors)]
u = np.finfo(np.float64).eps / 2
h_star = (3 * u) ** (1 / 3)
print(f"exercise 2: best h = {h_best:.1e}, predicted h* = {h_star:.1e}, best mean error = {errors.min():.1e}")
assert h_star / 5 < h_best < h_star * 5
assert errors.min() < 1e-10

# --- Exercise 3: a forward-difference checker ------------------------------------------------------


def forward_difference_gradient(f, x, h):
    """(f(x + h e_i) − f(x)) / h for every entry i of x (x is nudged in place and restored)."""
    grad = np.zeros_like(x)
    base = f()
    for idx in np.ndindex(*x.shape):
        original = x[idx]
        x[idx] = original + h
        grad[idx] = (f() - base) / h
        x[idx] = original
    return grad


x = rng.standard_normal((4, 3))
W = rng.standard_normal((2, 3))
b = rng.standard_normal(2)


def loss_of_W():
    return np.sum(tanh_forward(dense_forward(x, W, b)[0])[0] ** 2)


z, dense_cache = dense_forward(x, W, b)
a, tanh_cache = tanh_forward(z)
dW = dense_backward(tanh_backward(2 * a, tanh_cache), dense_cache)[1]
forward_errors = {h: rel_error(dW, forward_difference_gradient(loss_of_W, W, h))
                  for h in 10.0 ** -np.arange(3, 11)}
central_error = rel_error(dW, numerical_gradient(loss_of_W, W, h=1e-6))
for h, e in forward_errors.items():
    print(f"exercise 3: forward difference, h={h:.0e}: rel error {e:.1e}")
print(f"exercise 3: central difference, h=1e-06: rel error {central_error:.1e}")
# At gradcheck's step the forward difference misses the tolerance that the central one meets.
assert forward_errors[1e-6] > 1e-7 > central_error
# Even at its best step (about sqrt(u), where truncation h|f''|/2 meets round-off 2u|f|/h) it
# stays far less accurate than the central difference.
h_best_forward = min(forward_errors, key=forward_errors.get)
print(f"exercise 3: best forward step {h_best_forward:.0e} (sqrt(u) = {np.sqrt(u):.0e})")
assert 1e-9 <= h_best_forward <= 1e-7
assert min(forward_errors.values()) > 10 * central_error
