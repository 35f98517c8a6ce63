"""Activation layers: stateless wrappers around the activation kernels."""
from __future__ import annotations

from ..functional import ACTIVATIONS
from ..functional import fused
from .module import Module


class Activation(Module):
    """f applied element-wise; ``name`` is one of relu, tanh, elu, sigmoid."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
        self.name = name
        # the backward pass is one fused kernel on a GPU, the plain one elsewhere (functional/fused.py)
        self._forward, self._backward = ACTIVATIONS[name][0], fused.backward(name)

    def forward(self, x):
        out, self._cache = self._forward(x)
        return out

    def backward(self, dy):
        return self._backward(dy, self._forward_cache())

    def config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if type(self) is not Activation else f"Activation({self.name!r})"


class ReLU(Activation):
    def __init__(self):
        super().__init__("relu")


class Tanh(Activation):
    def __init__(self):
        super().__init__("tanh")


class ELU(Activation):
    def __init__(self):
        super().__init__("elu")


class Sigmoid(Activation):
    def __init__(self):
        super().__init__("sigmoid")
