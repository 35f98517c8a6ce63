"""Optimizers: SGD (with momentum), Adam and Adamax (the authors' optimizer).

Each takes ``model.trainable_parameters()`` (or any list of (name, Parameter)), keeps state
only for those, preallocates it once, and updates values in place, in their own dtype;
Adam and Adamax also write their intermediates into a preallocated buffer, so a step
allocates no arrays.
The update rules follow PyTorch's documentation, so that the benchmark against PyTorch
compares like with like.
"""
from __future__ import annotations

import math

from .backend import namespace
from .functional.fast import write_into


class Optimizer:
    def __init__(self, params, lr: float):
        if hasattr(params, "trainable_parameters"):
            params = params.trainable_parameters()
        self.params = [(name, p) for name, p in params if p.trainable]
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive finite number, got {lr}")
        self.lr = float(lr)
        self.t = 0  # steps taken

    def zeros_like(self):
        return [namespace(p.value).zeros_like(p.value) for _, p in self.params]

    def step(self) -> None:
        """Apply one update from each parameter's ``grad``; parameters without a grad are skipped."""
        self.t += 1
        for i, (name, p) in enumerate(self.params):
            if p.grad is None:
                continue
            if p.grad.shape != p.value.shape or p.grad.dtype != p.value.dtype:
                raise ValueError(f"gradient of {name} has shape {tuple(p.grad.shape)} and dtype {p.grad.dtype}, "
                                 f"expected {tuple(p.value.shape)} and {p.value.dtype}")
            self.update(i, p.value, p.grad)

    def update(self, i, value, grad) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """v ← μ v + g;  θ ← θ − lr v   (plain SGD when μ = 0)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = float(momentum)
        self.velocity = self.zeros_like() if momentum else None

    def update(self, i, value, grad):
        if self.velocity is None:
            value -= self.lr * grad
            return
        v = self.velocity[i]
        v *= self.momentum
        v += grad
        value -= self.lr * v


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr · m̂ / (√v̂ + ε), with bias-corrected m̂, v̂."""

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = float(betas[0]), float(betas[1]), float(eps)
        self.m, self.v = self.zeros_like(), self.zeros_like()
        # One work buffer per parameter: every intermediate of a step is written there, so a
        # step allocates nothing (on a 784×1000 layer each temporary would be a fresh 3 MB).
        self.scratch = self.zeros_like()

    def update(self, i, value, grad):
        xp = namespace(value)
        m, v, tmp = self.m[i], self.v[i], self.scratch[i]
        m *= self.beta1
        m += write_into(xp.multiply, grad, 1.0 - self.beta1, out=tmp)
        v *= self.beta2
        tmp = write_into(xp.multiply, grad, grad, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        denom = write_into(xp.sqrt, v, out=tmp)
        denom /= math.sqrt(1.0 - self.beta2 ** self.t)
        denom += self.eps
        step = write_into(xp.divide, m, denom, out=tmp)
        step *= step_size
        value -= step


class Adamax(Adam):
    """m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − lr/(1−β₁ᵗ) · m / u   (Kingma & Ba, §7.1)."""

    def __init__(self, params, lr: float = 0.002, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr, betas, eps)

    def update(self, i, value, grad):
        xp = namespace(value)
        m, u, tmp = self.m[i], self.v[i], self.scratch[i]
        m *= self.beta1
        m += write_into(xp.multiply, grad, 1.0 - self.beta1, out=tmp)
        abs_grad = write_into(xp.abs, grad, out=tmp)
        abs_grad += self.eps
        u *= self.beta2
        write_into(xp.maximum, u, abs_grad, out=u)
        step = write_into(xp.divide, m, u, out=tmp)
        step *= self.lr / (1.0 - self.beta1 ** self.t)
        value -= step


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamax": Adamax}


def make_optimizer(name: str, params, lr: float, **kw) -> Optimizer:
    """Build an optimizer by name ('sgd', 'adam', 'adamax')."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](params, lr=lr, **kw)
