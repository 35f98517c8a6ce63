"""Sequential: a chain of layers, and the MLP builder used by the CLI and the studies."""
from __future__ import annotations

from ..backend import namespace
from .activation import ELU, Activation, ReLU, Sigmoid, Tanh
from .dense import Dense
from .init import layer_rng
from .module import Module, Parameter
from .shapes import check_layer_args
from .spectral import VARIANTS, Spectral

MODELS = ("dense",) + VARIANTS


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    The input of a Sequential is data: by default (``input_grad = False``) its first layer skips
    dx, which saves one matrix product per step (what frameworks do for inputs that do not
    require grad).  The choice is made at each backward pass, not stored in the layers, so the
    same layer objects can sit in several models (a slice of a trained model, a new head).  Set
    ``model.input_grad = True`` for dx; inside a Sequential the layers' own flags are not read.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                hint = f"; write {layer.__name__}()" if isinstance(layer, type) and issubclass(layer, Module) else ""
                raise TypeError(f"Sequential takes layers (Module instances), got {layer!r} at position {i}{hint}")
        self.layers = list(layers)
        self.input_grad = False

    def children(self) -> list[Module]:
        return self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for i in range(len(self.layers) - 1, -1, -1):
            dy = _backward(self.layers[i], dy, need_dx=self.input_grad if i == 0 else True)
        return dy

    def named_parameters(self, prefix: str = ""):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"{prefix}{i}.")

    def to(self, backend=None, dtype=None) -> "Sequential":
        for layer in self.layers:
            layer.to(backend, dtype)
        return self

    def copy(self) -> "Sequential":
        twin = Sequential(*[layer.copy() for layer in self.layers])
        twin.input_grad = self.input_grad
        return twin

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


def _backward(layer: Module, dy, *, need_dx: bool):
    """``layer.backward(dy)``, returning dx only if ``need_dx``; the layer's own flag is left as it was."""
    if layer.input_grad == need_dx:
        return layer.backward(dy)
    saved, layer.input_grad = layer.input_grad, need_dx
    try:
        return layer.backward(dy)
    finally:
        layer.input_grad = saved


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
            # seed 0: the values are placeholders, and drawing them must not advance the shared generator
            # of unseeded layers (nn.init.layer_rng), which save and load would otherwise do
            layers.append(_LAYER_TYPES[kind](**spec, seed=0, dtype=dtype, backend=backend))
            width = layers[-1].n_out
        elif kind in ("Activation", "ReLU", "Tanh", "ELU", "Sigmoid"):
            if set(spec) != {"name"} or (kind != "Activation" and spec["name"] != kind.lower()):
                expected = "an activation's name" if kind == "Activation" else repr(kind.lower())
                raise ValueError(f"{kind} layer description {spec}: expected only its name, {expected}")
            kinds = {"ReLU": ReLU, "Tanh": Tanh, "ELU": ELU, "Sigmoid": Sigmoid}  # the class it was saved as
            layers.append(kinds[kind]() if kind in kinds else Activation(spec["name"]))
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
    seed : one NumPy Generator draws every layer's initial values in order: an int or a Generator;
        None draws from the generator that layers built without a seed share (``nn.init.layer_rng``),
        as a layer's own ``seed=None`` does
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
    rng = layer_rng(seed)
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
