"""minispectral: spectral learning of neural networks, from scratch, with hand-written gradients.

Each layer n_in -> n_out is the off-diagonal block of a transfer operator A = Φ Λ Φ⁻¹, so its
weights are ``W_ij = phi_ij (lam_in_j − lam_out_i)``; training acts on the eigenvalues
(and optionally on phi) instead of on W.
"""
from .backend import (BACKENDS, Backend, BackendUnavailableError, available, backend_of, from_numpy,
                      get_backend, set_backend, synchronize, to_backend, to_numpy, use_backend)
from .gradient_check import GradcheckReport, check_kernel, check_layer, check_model, gradcheck
from .nn import (ELU, MODELS, VARIANTS, Activation, Dense, Module, Parameter, ReLU, Sequential, Sigmoid,
                 Spectral, Tanh, mlp)
from .optim import SGD, Adam, Adamax, make_optimizer

__version__ = "0.1.0"

from . import datasets, functional, io, nn, optim, pruning, train  # noqa: E402  (after __version__: io reads it)

__all__ = [
    "BACKENDS", "Backend", "BackendUnavailableError", "available", "backend_of", "from_numpy",
    "get_backend", "set_backend", "synchronize", "to_backend", "to_numpy", "use_backend",
    "GradcheckReport", "check_kernel", "check_layer", "check_model", "gradcheck",
    "ELU", "MODELS", "VARIANTS", "Activation", "Dense", "Module", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Spectral", "Tanh", "mlp", "SGD", "Adam", "Adamax", "make_optimizer", "__version__",
]
