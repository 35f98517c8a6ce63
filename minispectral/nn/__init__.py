"""Stateful layers on top of the pure kernels in ``minispectral.functional``."""
from .activation import ELU, Activation, ReLU, Sigmoid, Tanh
from .dense import Dense
from .module import Module, Parameter
from .sequential import MODELS, Sequential, from_config, mlp
from .spectral import VARIANTS, Spectral

__all__ = ["Activation", "Dense", "ELU", "MODELS", "Module", "Parameter", "ReLU", "Sequential",
           "Sigmoid", "Spectral", "Tanh", "VARIANTS", "from_config", "mlp"]
