"""The Dense layer: a thin stateful wrapper around ``dense_forward`` / ``dense_backward``."""
from __future__ import annotations

from ..backend import get_backend, namespace, resolve_dtype
from ..functional import dense_backward, dense_forward, masked_dense_backward, masked_dense_forward
from .init import layer_rng, draw, glorot_uniform
from .module import Module, Parameter
from .shapes import check_flag, check_input, check_layer_args


class Dense(Module):
    """y = x Wᵀ + b, with W (n_out, n_in) trained in direct space.

    Parameters
    ----------
    n_in, n_out : widths
    bias : train a bias b (n_out,)
    sparsity : fraction of the smallest |W| zeroed at every forward pass (paper.md §6); 0 = off
    W_init, b_init : initialiser specs (see ``minispectral.nn.init``); default Glorot-uniform and 0
    seed : int or numpy Generator for the initial values; None draws from the generator that every
        layer built without a seed shares, in turn (``minispectral.nn.init.layer_rng``)
    dtype, backend : where the parameters live (default float32 on the current backend)
    """

    def __init__(self, n_in: int, n_out: int, *, bias: bool = True, sparsity: float = 0.0,
                 W_init=None, b_init=None, seed=None, dtype="float32", backend=None):
        super().__init__()
        n_in, n_out, sparsity = check_layer_args(n_in, n_out, sparsity)  # the checked values from here on
        self.n_in, self.n_out, self.sparsity = n_in, n_out, sparsity
        self.held_mask = None  # with sparsity: a mask to use instead of recomputing it (gradient checks)
        self.bias = check_flag("bias", bias)
        if b_init is not None and not self.bias:  # it would be ignored, silently
            raise ValueError("b_init is given, but bias=False: the layer has no bias to initialise")
        dtype = resolve_dtype(dtype)  # None would keep the initial values' float64, silently
        rng = layer_rng(seed)
        be = get_backend(backend)
        self.params["W"] = Parameter(be.asarray(draw(W_init, glorot_uniform, rng, (n_out, n_in), "W"), dtype))
        if self.bias:
            self.params["b"] = Parameter(be.asarray(draw(b_init, 0.0, rng, (n_out,), "b"), dtype))

    def weight(self):
        """A copy of the direct-space weights W (n_out, n_in): a snapshot, as ``Spectral.weight()`` is,
        which the optimizer's in-place updates leave alone."""
        W = self.params["W"].value
        return namespace(W).asarray(W, copy=True)

    def forward(self, x):
        check_input(self, x)
        W, b = self.params["W"].value, self.params.get("b")
        b = None if b is None else b.value
        if self.sparsity:
            y, self._cache = masked_dense_forward(x, W, b, self.sparsity, mask=self.held_mask)
        else:
            y, self._cache = dense_forward(x, W, b)
        return y

    def backward(self, dy):
        kernel = masked_dense_backward if self.sparsity else dense_backward
        dx, dW, db = kernel(dy, self._forward_cache(), need_dx=self.input_grad)
        self._set_grad("W", dW)
        if self.bias:
            self._set_grad("b", db)
        return dx

    def config(self) -> dict:
        return {"n_in": self.n_in, "n_out": self.n_out, "bias": self.bias, "sparsity": self.sparsity}
