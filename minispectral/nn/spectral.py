"""The Spectral layer: every variant of the three papers, chosen by ``variant``.

==========  ===========================  ========================  ==============================
variant     trained                      frozen                    paper
==========  ===========================  ========================  ==============================
"nc"        lam_out (+ b)                phi; lam_in = 0           Nat. Commun. 2021 (one set)
"spectral"  lam_in, lam_out (+ b)        phi                       Phys. Rev. E 2021 (two sets)
"full"      phi, lam_in, lam_out (+ b)   —                         both sets and the eigenvectors
"ssvd"      s, lam_in, lam_out (+ b)     U, V; phi = U diag(s) V   Phys. Rev. E, S-SVD
"qr"        R, lam_in, lam_out (+ b)     Q; phi = R Q              Phys. Rev. E, QR
==========  ===========================  ========================  ==============================

``trainable={"phi": True}`` and the like override the table (for instance an "nc" layer
whose eigenvectors are trained too, as in Sci. Rep. 2022).
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ..backend import backend_of, get_backend, namespace, resolve_dtype
from ..functional import (masked_spectral_backward, masked_spectral_forward, qr_backward, qr_forward,
                          ssvd_backward, ssvd_forward)
# Training runs on the optimised twins of functional.spectral_forward/backward: the same results
# with fewer temporaries, and one matrix product fewer for the "nc" variant (functional/fast.py).
from ..functional.fast import forms_weight_gradient, spectral_backward, spectral_forward
from ..functional.spectral import spectral_weight_forward
from .init import PHI_INITS, check_phi_init, default_phi_init, draw, glorot_uniform, layer_rng, qr_factors, ssvd_factors
from .module import Module, Parameter
from .shapes import check_flag, check_input, check_layer_args

VARIANTS = ("nc", "spectral", "full", "ssvd", "qr")

_TRAINABLE = {
    "nc": {"lam_in": False, "lam_out": True, "phi": False},
    "spectral": {"lam_in": True, "lam_out": True, "phi": False},
    "full": {"lam_in": True, "lam_out": True, "phi": True},
    "ssvd": {"lam_in": True, "lam_out": True, "s": True},
    "qr": {"lam_in": True, "lam_out": True, "R": True},
}

# The papers' initialisations (paper.md §4, §5, §7): (lam_in, lam_out)
_LAM_INIT = {
    "nc": (0.0, (-0.5, 0.5)),
    "spectral": ((-0.97, 0.97), (-0.13, 0.13)),
    "full": ((-0.97, 0.97), (-0.13, 0.13)),
    "ssvd": (0.0, 1.0),
    "qr": ((-0.97, 0.97), (-0.13, 0.13)),
}


class Spectral(Module):
    """A layer n_in -> n_out with weights ``W_ij = phi_ij (lam_in_j − lam_out_i)``.

    Parameters
    ----------
    n_in, n_out : widths
    variant : one of ``VARIANTS`` (see the module docstring); default "spectral" (two sets)
    bias : train a direct-space bias b (n_out,)
    trainable : overrides of the variant's trainable flags, e.g. ``{"phi": True}``
    triangular : for "qr", keep R (n_out, m) lower-triangular: its entries above the diagonal stay
        zero.  With n_out <= n_in (m = n_out) that leaves m(m+1)/2 free entries, the paper's count;
        with n_out > n_in, R is a lower trapezoid, with (n_out − m)·m free entries more.  False
        trains the full R, as the authors' code does
    sparsity : fraction of the smallest |W| zeroed at every forward pass (paper.md §6); 0 = off
    phi_init : how phi starts: a recipe's name, "papers" (each variant's recipe from the authors'
        code, paper.md §4, §5, §7) or "glorot" (Glorot-uniform, the authors' later layers, paper.md
        §10); None gives the variant's default, ``nn.init.DEFAULT_PHI_INIT`` (the better of the two
        in ``minispectral reproduce init``).  For "ssvd" the recipe draws U and V, for "qr" the
        block B = R Q (``nn.init`` lists both recipes for every variant).  The variants that
        hold phi itself ("nc", "spectral", "full") also take any initialiser spec (``nn.init``).
        ``layer.phi_init`` says which recipe started the layer ("custom" for a spec)
    lam_in_init, lam_out_init, b_init : initialiser specs (``minispectral.nn.init``); None gives the
        papers' recipe for the variant
    seed, dtype, backend : as for ``Dense``
    """

    def __init__(self, n_in: int, n_out: int, *, variant: str = "spectral", bias: bool = True,
                 trainable: dict | None = None, triangular: bool = True, sparsity: float = 0.0,
                 phi_init=None, lam_in_init=None, lam_out_init=None, b_init=None,
                 seed=None, dtype="float32", backend=None):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        n_in, n_out, sparsity = check_layer_args(n_in, n_out, sparsity)  # the checked values from here on
        self.n_in, self.n_out, self.sparsity = n_in, n_out, sparsity
        self.held_mask = None  # with sparsity: a mask to use instead of recomputing it (gradient checks)
        self.variant, self.bias = variant, check_flag("bias", bias)
        if b_init is not None and not self.bias:  # it would be ignored, silently
            raise ValueError("b_init is given, but bias=False: the layer has no bias to initialise")
        self.triangular = check_flag("triangular", triangular)
        flags = dict(_TRAINABLE[variant])
        if trainable is not None and not isinstance(trainable, Mapping):
            raise ValueError(f"trainable must be a mapping of parameter names to flags, got {trainable!r}")
        for name, value in (trainable or {}).items():
            if name not in flags:
                raise ValueError(f"variant {variant!r} can train only {sorted(flags)}, got {name!r}")
            flags[name] = check_flag(f"trainable[{name!r}]", value)  # "no" would be a true string
        self._buffers = {}  # work arrays reused from step to step (see _buffer)
        dtype = resolve_dtype(dtype)  # None would keep the initial values' float64, silently
        rng = layer_rng(seed)
        be = get_backend(backend)
        add = lambda name, value, train, mask=None: self.params.__setitem__(  # noqa: E731
            name, Parameter(be.asarray(value, dtype), train, None if mask is None else be.asarray(mask, dtype)))

        shape = (n_out, n_in)
        if phi_init is None:
            phi_init = default_phi_init(variant)
        named = isinstance(phi_init, str)
        if named:
            check_phi_init(phi_init)
        # what the layer was started from: a recipe's name, or "custom" for the user's own values
        self.phi_init = phi_init if named else "custom"
        if variant in ("nc", "spectral", "full"):
            if named:
                phi_init = _PHI_RECIPES[phi_init](variant)
            add("phi", draw(phi_init, None, rng, shape, "phi"), flags["phi"])
        elif not named:
            raise ValueError(f"variant {variant!r} builds phi from its factors; phi_init takes only a recipe's "
                             f"name, one of {PHI_INITS}, got {type(phi_init).__name__}")
        elif variant == "ssvd":
            U, s, V = ssvd_factors(rng, n_out, n_in, recipe=phi_init)
            add("U", U, False), add("s", s, flags["s"]), add("V", V, False)
        else:
            R, Q = qr_factors(rng, n_out, n_in, recipe=phi_init)
            mask = np.tril(np.ones_like(R)) if triangular else None
            add("R", R, flags["R"], mask), add("Q", Q, False)
        lam_in_default, lam_out_default = _LAM_INIT[variant]
        lam_in = draw(lam_in_init, lam_in_default, rng, (n_in,), "lam_in")
        add("lam_in", lam_in, flags["lam_in"])
        # the lam_in = 0 flag, from the host values at hand: no read from a GPU (_lam_in_zero)
        self._lam_in_memo = (self.params["lam_in"].value, not np.any(np.asarray(lam_in, dtype=dtype) != 0))
        add("lam_out", draw(lam_out_init, lam_out_default, rng, (n_out,), "lam_out"), flags["lam_out"])
        if self.bias:
            add("b", draw(b_init, 0.0, rng, (n_out,), "b"), True)

    @property
    def trainable(self) -> Mapping[str, bool]:
        """{name: trained?} for the variant's parameters, read from the Parameters themselves, and
        read-only: ``layer.params["phi"].trainable = True`` is what unfreezes phi."""
        return MappingProxyType(self._flags())

    def _flags(self) -> dict[str, bool]:
        """The trainable flags as a plain dict, for the layer's own use at every backward pass."""
        return {name: bool(self.params[name].trainable) for name in _TRAINABLE[self.variant]}

    # --- the eigenvector block -------------------------------------------------------------
    def _phi_forward(self):
        """phi (n_out, n_in) and the cache of its factorisation (None when phi is a parameter)."""
        p = self.params
        if self.variant == "ssvd":
            return ssvd_forward(p["U"].value, p["s"].value, p["V"].value)
        if self.variant == "qr":
            return qr_forward(p["R"].value, p["Q"].value)
        return p["phi"].value, None

    def phi(self):
        """A copy of the eigenvector block phi (n_out, n_in): a snapshot for every variant (for
        "ssvd" and "qr" it is built from the factors anyway), which training leaves alone."""
        phi, cache = self._phi_forward()
        return phi if cache is not None else namespace(phi).asarray(phi, copy=True)

    def weight(self):
        """The direct-space weights W (n_out, n_in), ``W_ij = phi_ij (lam_in_j − lam_out_i)``."""
        W, _ = spectral_weight_forward(self._phi_forward()[0], self.params["lam_in"].value,
                                       self.params["lam_out"].value)
        return W

    def transfer_operator(self):
        """The square operator A = Φ Λ Φ⁻¹ ((n_in+n_out) × (n_in+n_out)), built from its definition.

        Φ = [[I, 0], [phi, I]] and, because the off-diagonal block squares to zero, Φ⁻¹ = 2I − Φ.
        Its eigenvalues are (lam_in, lam_out) and its lower-left block is W.
        """
        phi = self._phi_forward()[0]
        xp = namespace(phi)
        n_in, n_out, dt = self.n_in, self.n_out, phi.dtype
        eye = xp.eye(n_in + n_out, dtype=dt)
        Phi = xp.concat([xp.concat([xp.eye(n_in, dtype=dt), xp.zeros((n_in, n_out), dtype=dt)], axis=1),
                         xp.concat([phi, xp.eye(n_out, dtype=dt)], axis=1)], axis=0)
        lam = xp.concat([self.params["lam_in"].value, self.params["lam_out"].value])
        Lam = eye * lam[None, :]
        Phi_inv = 2 * eye - Phi
        return Phi @ Lam @ Phi_inv

    # --- forward / backward ------------------------------------------------------------------
    def forward(self, x):
        check_input(self, x)
        p = self.params
        phi, phi_cache = self._phi_forward()
        b = p["b"].value if self.bias else None
        if self.sparsity:
            y, cache = masked_spectral_forward(x, phi, p["lam_in"].value, p["lam_out"].value, b, self.sparsity,
                                               mask=self.held_mask)
        else:
            lam_in_zero = self._lam_in_zero()
            y, cache = spectral_forward(x, phi, p["lam_in"].value, p["lam_out"].value, b, lam_in_zero=lam_in_zero,
                                        W_out=None if lam_in_zero else self._buffer("W", phi))
        self._cache = (cache, phi_cache)
        return y

    def _buffer(self, name: str, like):
        """A work array of ``like``'s shape, dtype and backend that this layer reuses from step to step.

        The training kernels write W and dW into these instead of allocating them anew at every
        step (why: functional/fast.py).  W's buffer is held by the cache until the backward pass.
        """
        buffers = self._buffers
        buf = buffers.get(name)
        if type(buf) is not type(like) or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = buffers[name] = namespace(like).empty_like(like)
        return buf

    def _lam_in_zero(self) -> bool:
        """True for a frozen lam_in of zeros (the "nc" variant), which spares the kernel a matrix product.

        The answer is a host flag.  On the host it is read at every pass (free); on a GPU, where the
        read would wait for the GPU at every forward pass, it is read once per lam_in array: a
        frozen lam_in changed in place there is seen after ``layer.params["lam_in"].value`` is
        assigned an array (the same one will do after ``forget_lam_in()``), and a lam_in trained
        for a while (updated in place) is read again once it is frozen.
        """
        lam_in = self.params["lam_in"]
        if lam_in.trainable:  # trained in place: once frozen again, its values are read afresh
            self._lam_in_memo = None
            return False
        memo = getattr(self, "_lam_in_memo", None)
        if memo is None or memo[0] is not lam_in.value or not backend_of(lam_in.value).on_device:
            memo = self._lam_in_memo = (lam_in.value, not bool(namespace(lam_in.value).any(lam_in.value != 0)))
        return memo[1]

    def forget_lam_in(self) -> None:
        """Read a frozen lam_in's values again at the next forward pass (after changing it in place on a GPU)."""
        self._lam_in_memo = None

    def backward(self, dy):
        cache, phi_cache = self._forward_cache()
        flags = self._flags()
        frozen_by_design = [n for n in ("U", "V", "Q") if n in self.params and self.params[n].trainable]
        if frozen_by_design:  # no gradient path exists for them: training would silently skip them
            trained = "s" if self.variant == "ssvd" else "R"
            raise ValueError(f"{self!r}: {', '.join(frozen_by_design)} cannot be trained (the {self.variant} "
                             f"variant's gradient reaches only {trained}); set its trainable flag back to False")
        need_dphi = flags.get("phi", False) or flags.get("s", False) or flags.get("R", False)
        if self.sparsity:
            dx, dphi, dlam_in, dlam_out, db = masked_spectral_backward(
                dy, cache, need_dx=self.input_grad, need_dphi=need_dphi,
                need_dlam=flags["lam_in"] or flags["lam_out"])
        else:
            needs = {"need_dphi": need_dphi, "need_dlam_in": flags["lam_in"], "need_dlam_out": flags["lam_out"]}
            phi = cache[1]  # the fast kernel caches (x, phi, lam_in, lam_out, W, z, has_bias); dW has phi's shape
            dW_out = self._buffer("dW", phi) if forms_weight_gradient(cache, **needs) else None
            dx, dphi, dlam_in, dlam_out, db = spectral_backward(dy, cache, need_dx=self.input_grad, dW_out=dW_out,
                                                                **needs)
        self._set_grad("lam_in", dlam_in)
        self._set_grad("lam_out", dlam_out)
        if self.bias:
            self._set_grad("b", db)
        if self.variant == "ssvd" and flags["s"]:
            self._set_grad("s", ssvd_backward(dphi, phi_cache))
        elif self.variant == "qr" and flags["R"]:
            self._set_grad("R", qr_backward(dphi, phi_cache, self.params["R"].mask))
        elif "phi" in self.params:
            self._set_grad("phi", dphi)
        return dx

    def config(self) -> dict:
        cfg = {"n_in": self.n_in, "n_out": self.n_out, "variant": self.variant, "bias": self.bias,
               "trainable": {k: v for k, v in self.trainable.items() if v != _TRAINABLE[self.variant][k]},
               "triangular": self.triangular, "sparsity": self.sparsity}
        if not cfg["trainable"]:
            del cfg["trainable"]
        return cfg


def _ssvd_phi(rng, shape):
    """The PRE code's frozen phi (n_out, n_in): U diag(s) V with Gaussian(0.04) U, V and s ~ U(0, 3)."""
    U, s, V = ssvd_factors(rng, *shape)
    return (U * s) @ V


# The initialiser spec of phi for the variants that hold phi itself (nn/init.py lists the recipes).
_PHI_RECIPES = {
    "papers": lambda variant: (-0.2, 0.2) if variant == "nc" else _ssvd_phi,  # NC code; PRE code
    "glorot": lambda variant: glorot_uniform,  # the authors' later layers (paper.md §10)
}
