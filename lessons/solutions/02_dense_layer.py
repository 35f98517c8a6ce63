"""Solutions to the exercises of lesson 02 (a dense layer)."""
import numpy as np

from minispectral.functional import dense_backward, dense_forward
from minispectral.gradient_check import numerical_gradient, rel_error

rng = np.random.default_rng(2)
N, D_in, D_out = 6, 4, 3
x = rng.standard_normal((N, D_in))
W = rng.standard_normal((D_out, D_in))
b = rng.standard_normal(D_out)
dy = rng.standard_normal((N, D_out))

# --- Exercise 1: the bias trick ---------------------------------------------------------------
# [x, 1] [W, b]ᵀ = x Wᵀ + 1·bᵀ, and the gradient of the extra column is Σ_n dy_n · 1 = db.
x1 = np.hstack([x, np.ones((N, 1))])
Wb = np.hstack([W, b[:, None]])
y, cache = dense_forward(x, W, b)
y1, cache1 = dense_forward(x1, Wb)
assert np.allclose(y1, y, rtol=1e-13, atol=1e-13)
_, dW, db = dense_backward(dy, cache)
_, dWb, db_none = dense_backward(dy, cache1)
assert db_none is None
assert np.allclose(dWb[:, :-1], dW) and np.allclose(dWb[:, -1], db)
print("exercise 1: the last column of dW acts as db")

# --- Exercise 2: a sum of outer products ----------------------------------------------------------
dW_loop = sum(np.outer(dy[n], x[n]) for n in range(N))
assert np.allclose(dW_loop, dW, rtol=1e-13)
x2, dy2 = np.vstack([x, x]), np.vstack([dy, dy])
dx2, dW2, db2 = dense_backward(dy2, dense_forward(x2, W, b)[1])
dx, _, _ = dense_backward(dy, cache)
assert np.allclose(dW2, 2 * dW) and np.allclose(db2, 2 * db)
assert np.allclose(dx2[:N], dx) and np.allclose(dx2[N:], dx)  # dx is per sample: unchanged
print("exercise 2: dW is a sum over samples; duplicating the batch doubles it")

# --- Exercise 3: weight decay ---------------------------------------------------------------------
# L = 1/(2N) Σ (y − t)² + μ/2 ‖W‖²  ⇒  dW = dyᵀ x + μ W with dy = (y − t)/N.
mu = 0.3
t = rng.standard_normal((N, D_out))


def loss_with_decay():
    y, _ = dense_forward(x, W, b)
    return np.sum((y - t) ** 2) / (2 * N) + mu / 2 * np.sum(W**2)


y, cache = dense_forward(x, W, b)
_, dW_data, _ = dense_backward((y - t) / N, cache)
dW_total = dW_data + mu * W
err = rel_error(dW_total, numerical_gradient(loss_with_decay, W))
print(f"exercise 3: weight-decay gradient, rel error {err:.1e}")
assert err < 1e-8
