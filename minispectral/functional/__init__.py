"""Pure kernels: ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) -> grads``.

They never mutate their inputs, keep the dtype they are given, and take the array
namespace from their inputs, so they run on NumPy, CuPy and array-api-strict alike.
"""
from .activations import (ACTIVATIONS, elu_backward, elu_forward, relu_backward, relu_forward,
                          sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .decompositions import qr_backward, qr_forward, ssvd_backward, ssvd_forward
from .dense import dense_backward, dense_forward
from .losses import accuracy, one_hot, softmax_cross_entropy
from .sparse import (magnitude_mask, masked_dense_backward, masked_dense_forward,
                     masked_spectral_backward, masked_spectral_forward)
from .spectral import (spectral_backward, spectral_forward, spectral_weight_backward,
                       spectral_weight_forward)

__all__ = [
    "ACTIVATIONS", "accuracy", "dense_backward", "dense_forward", "elu_backward", "elu_forward",
    "magnitude_mask", "masked_dense_backward", "masked_dense_forward", "masked_spectral_backward",
    "masked_spectral_forward", "one_hot", "qr_backward", "qr_forward", "relu_backward",
    "relu_forward", "sigmoid_backward", "sigmoid_forward", "softmax_cross_entropy",
    "spectral_backward", "spectral_forward", "spectral_weight_backward", "spectral_weight_forward",
    "ssvd_backward", "ssvd_forward", "tanh_backward", "tanh_forward",
]
