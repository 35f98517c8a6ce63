"""Sequential: a chain of layers, and the MLP builder used by the CLI and the studies."""
from __future__ import annotations

from ..backend import namespace
from .activation import Activation
from .dense import Dense
from .init import as_rng
from .module import Module, Parameter
from .shapes import check_layer_args
from .spectral import VARIANTS, Spectral

MODELS = ("dense",) + VARIANTS


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    The first layer is told that its input needs no gradient, which saves one matrix
    product per step (the same thing frameworks do for inputs that do not require grad).
    """

    def __init__(self, *layers: Module):
        super().__init__()
        self.layers = list(layers)
        if self.layers:
            self.layers[0].input_grad = False

    @property
    def input_grad(self) -> bool:
        """Whether backward returns dx; it is the first layer's flag."""
        return self.layers[0].input_grad if getattr(self, "layers", None) else True

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        if getattr(self, "layers", None):
            self.layers[0].input_grad = value

    def children(self) -> list[Module]:
        return self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def named_parameters(self, prefix: str = ""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"{prefix}{i}.")

    def to(self, backend=None, dtype=None) -> "Sequential":
        for layer in self.layers:
            layer.to(backend, dtype)
        return self

    def copy(self) -> "Sequential":
        return Sequential(*[layer.copy() for layer in self.layers])._keep_input_grad(self)

    def _keep_input_grad(self, other) -> "Sequential":
        for mine, theirs in zip(self.layers, other.layers):
            mine.input_grad = theirs.input_grad
        return self

    def predict(self, x):
        """Class predictions (N,) for inputs x (N, n_in)."""
        logits = self.forward(x)  # first: it names a non-array input clearly
        return namespace(logits).argmax(logits, axis=1)

    def layer_of(self, param_name: str) -> str:
        """'layer 0 (Spectral 784→100)' for a qualified parameter name like '0.lam_in'."""
        i = int(param_name.split(".", 1)[0])
        layer = self.layers[i]
        return f"layer {i} ({type(layer).__name__} {layer.n_in}→{layer.n_out})"

    def config(self) -> dict:
        return {"layers": [{"type": type(l).__name__, **l.config()} for l in self.layers]}

    def __repr__(self) -> str:
        return "Sequential(\n" + "".join(f"  ({i}) {l!r}\n" for i, l in enumerate(self.layers)) + ")"


_LAYER_TYPES = {"Dense": Dense, "Spectral": Spectral}


# The keys ``config()`` writes, per layer type, and the ones that must be booleans: a description
# read from a file is checked against them, so that a corrupt one fails instead of building a
# different network ("false" would be a true string).
_CONFIG_KEYS = {"Dense": {"n_in", "n_out", "bias", "sparsity"},
                "Spectral": {"n_in", "n_out", "variant", "bias", "trainable", "triangular", "sparsity"}}
_BOOL_KEYS = ("bias", "triangular")


def from_config(config: dict, *, dtype="float32", backend=None) -> Sequential:
    """Rebuild a Sequential from ``Sequential.config()`` (values are initialised; load weights after)."""
    specs = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"a model description needs a non-empty list of layers, got {config!r}")
    layers, width = [], None
    for spec in specs:
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind in _LAYER_TYPES:
            unknown = set(spec) - _CONFIG_KEYS[kind]
            if not isinstance(spec.get("trainable", {}), dict):
                raise ValueError(f"{kind} layer description {spec}: trainable must be a mapping of names to flags")
            bad = [k for k in _BOOL_KEYS if k in spec and not isinstance(spec[k], bool)]
            bad += [f"trainable.{k}" for k, v in spec.get("trainable", {}).items() if not isinstance(v, bool)]
            if unknown or bad:
                raise ValueError(f"{kind} layer description {spec}: unknown keys {sorted(unknown)}, "
                                 f"non-boolean flags {bad}")
            if width is not None and spec.get("n_in") != width:
                raise ValueError(f"{kind} layer takes {spec.get('n_in')} inputs, but the layer before gives {width}")
            layers.append(_LAYER_TYPES[kind](**spec, dtype=dtype, backend=backend))
            width = layers[-1].n_out
        elif kind in ("Activation", "ReLU", "Tanh", "ELU", "Sigmoid"):
            if set(spec) != {"name"} or (kind != "Activation" and spec["name"] != kind.lower()):
                expected = "an activation's name" if kind == "Activation" else repr(kind.lower())
                raise ValueError(f"{kind} layer description {spec}: expected only its name, {expected}")
            layers.append(Activation(spec["name"]))
        else:
            raise ValueError(f"unknown layer type {kind!r} in the model description")
    return Sequential(*layers)


def mlp(sizes, model: str = "spectral", *, activation: str = "relu", bias: bool = True, seed=0,
        dtype="float32", backend=None, **layer_kw) -> Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` of one layer kind.

    Parameters
    ----------
    sizes : widths, e.g. (784, 100, 10)
    model : "dense" or a Spectral variant (``VARIANTS``)
    activation : hidden activation (the output layer stays linear: the loss applies softmax)
    seed : one NumPy Generator draws every layer's initial values in order
    layer_kw : passed to every layer (``sparsity``, ``triangular``, initialiser specs, ...)
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least two positive widths, got {sizes}")
    for i, pair in enumerate(zip(sizes[:-1], sizes[1:])):  # each width as a layer checks it: 2.5 and True too
        try:
            check_layer_args(*pair, 0.0)
        except ValueError:
            raise ValueError(f"sizes must hold positive integer widths, got {sizes!r}") from None
    sizes = [int(s) for s in sizes]
    rng = as_rng(seed)
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if model == "dense":
            layers.append(Dense(n_in, n_out, bias=bias, seed=rng, dtype=dtype, backend=backend, **layer_kw))
        else:
            layers.append(Spectral(n_in, n_out, variant=model, bias=bias, seed=rng, dtype=dtype,
                                   backend=backend, **layer_kw))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
    return Sequential(*layers)


__all__ = ["MODELS", "Parameter", "Sequential", "from_config", "mlp"]
