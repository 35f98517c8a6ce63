"""Optimised twins of the spectral kernels, used by the ``Spectral`` layer on its training path.

The textbook kernels in ``spectral.py`` follow the derivation step by step and are the ones to
read (lessons 05–06).  The kernels here return the same arrays with less work, and
``tests/test_fast_paths.py`` checks them against the textbook ones:

* **No temporaries for W and its gradients.**  The textbook forward builds the matrix
  ``lam_diff = lam_in_j − lam_out_i`` and then ``W = phi ⊙ lam_diff``: two (n_out, n_in) arrays.
  Here ``lam_diff`` is built in W's own memory and multiplied by phi in place.  The backward pass
  owns ``dW = dyᵀx`` (nobody else holds it), so ``dW ⊙ phi`` is formed in place too.
* **lam_diff as a matrix product, for large layers on the CPU.** ``lam_diff_ij = lam_in_j −
  lam_out_i = [1, lam_out_i] · [lam_in_j, −1]``: an (n_out, 2) by (2, n_in) product. BLAS writes
  it on every core at memory speed, where NumPy's broadcast subtraction runs on one core, a row at
  a time: 180 µs against 587 µs on a 784 → 1000 layer, which makes 784 → 1000 → 10 epochs at batch
  200 7–9 % faster, "spectral" and "full" alike (``benchmarks/bench_hot_paths.py``). Below
  ``GEMM_LAM_DIFF_ENTRIES`` entries the subtraction wins where it counts, in whole epochs: on a
  784 → 100 layer the product alone is faster in a loop (31 against 46 µs), yet 784 → 100 → 10
  epochs at batch 200 run 2–6 % slower with it (why is not pinned down; waking BLAS's threads for
  so little work is a suspect).  On a GPU the subtraction is one fast kernel already (and a
  GPU's matrix product may run in reduced precision, TF32). Each entry adds two exact products (a
  factor is ±1), rounded once, as the subtraction is: both give the same numbers
  (``eigenvalue_differences``).
* **One kernel for lam_diff ⊙ phi on a GPU.**  On CuPy, where each call is a kernel launch, W and
  dphi are each formed in one element-wise kernel (``times_lam_diff``) instead of two calls.
* **Fused eigenvalue reductions.**  ``dlam_in`` and ``dlam_out`` are the column and row sums of
  the *same* product ``dW ⊙ phi``; it is computed once, in place, and reduced twice by
  matrix-vector products with a vector of ones.
* **W is never recomputed**: the forward pass caches it for ``dx = dy W``.
* **No fresh (n_out, n_in) arrays per step.**  The ``Spectral`` layer lends the kernels two
  buffers of its own (``W_out``, ``dW_out``) that W and ``dW = dyᵀx`` are written into, step
  after step.  A freshly allocated 3 MB matrix is fresh memory: the allocator hands pages back
  to the system and the next step faults them in again: ~1,700 page faults per step on a
  784 → 1000 network at batch 1000, against 11 for dense training, whose weights stay put.
* **One matrix product fewer when lam_in = 0** (the "nc" variant, where lam_in is frozen at zero).
  Then ``W = −diag(lam_out) phi`` and ``y = −(x phiᵀ) ⊙ lam_out + b``: the forward pass keeps
  ``z = x phiᵀ``, which is all that ``dlam_out_i = −Σ_n dy_ni z_ni`` needs, so the backward pass
  skips ``dW = dyᵀx`` unless phi or lam_in is trained.  On a first layer (no ``dx``) the layer
  then costs one matrix product per step instead of the two of a dense layer.

Like every kernel, these never mutate their inputs and take the namespace from them.
"""
from __future__ import annotations

import functools
import sys

from array_api_compat import device, is_cupy_array, is_numpy_array

from ..backend import namespace
from ._checks import check_matrix, check_same_dtype, check_vector


def spectral_forward(x, phi, lam_in, lam_out, b=None, *, lam_in_zero=False, W_out=None):
    """Forward pass of a spectral layer; the same ``y`` as ``functional.spectral_forward``.

    Parameters
    ----------
    x : (N, n_in) array
    phi : (n_out, n_in) array
    lam_in : (n_in,) array
    lam_out : (n_out,) array
    b : (n_out,) array or None
    lam_in_zero : the caller guarantees ``lam_in == 0`` (a frozen zero lam_in): compute
        ``y = −(x phiᵀ) ⊙ lam_out + b`` and keep ``z = x phiᵀ`` instead of building W
    W_out : (n_out, n_in) array or None, a buffer of the caller's to build W in (overwritten, then
        held by the cache until the backward pass); None allocates a new one

    Returns
    -------
    y : (N, n_out) array, ``y = x @ W.T + b`` with ``W_ij = phi_ij (lam_in_j − lam_out_i)``
    cache : what ``spectral_backward`` of this module needs
    """
    check_matrix(phi, "phi")
    n_out, n_in = phi.shape
    check_matrix(x, "x", (None, n_in))
    check_vector(lam_in, "lam_in", n_in)
    check_vector(lam_out, "lam_out", n_out)
    check_vector(b, "b", n_out)
    check_same_dtype("phi", phi, x=x, lam_in=lam_in, lam_out=lam_out, b=b)
    namespace(x, phi, lam_in, lam_out, b)  # raises on mixed backends
    check_buffer(W_out, "W_out", phi, x=x, lam_in=lam_in, lam_out=lam_out, b=b)
    if lam_in_zero:
        z = x @ phi.T
        y = z * (-lam_out)
        W = None
    else:
        # lam_diff is written into W's memory and multiplied in place: one (n_out, n_in) array, not two
        W = times_lam_diff(phi, lam_in, lam_out, out=W_out)
        y = x @ W.T
        z = None
    if b is not None:
        y += b  # y is our own fresh array
    return y, (x, phi, lam_in, lam_out, W, z, b is not None)


def spectral_backward(dy, cache, *, need_dx=True, need_dphi=True, need_dlam_in=True, need_dlam_out=True,
                      dW_out=None):
    """Backward pass of a spectral layer; the same gradients as ``functional.spectral_backward``.

    Parameters
    ----------
    dy : (N, n_out) array, ∂L/∂y
    cache : from this module's ``spectral_forward``
    need_dx, need_dphi, need_dlam_in, need_dlam_out : skip gradients nobody uses (returned as None)
    dW_out : (n_out, n_in) array or None, a buffer of the caller's for ``dW`` (overwritten; no
        returned gradient shares its memory); None allocates a new one

    Returns
    -------
    dx : (N, n_in) array, ``dy @ W``
    dphi : (n_out, n_in) array, ``dW ⊙ (lam_in_j − lam_out_i)``
    dlam_in : (n_in,) array, ``Σ_i dW_ij phi_ij``
    dlam_out : (n_out,) array, ``−Σ_j dW_ij phi_ij``
    db : (n_out,) array or None, ``Σ_n dy_n``

    with ``dW = dyᵀ x``, formed only when a gradient needs it.
    """
    x, phi, lam_in, lam_out, W, z, has_bias = cache
    check_matrix(dy, "dy", (x.shape[0], phi.shape[0]))
    check_same_dtype("x", x, dy=dy)
    check_buffer(dW_out, "dW_out", phi, dy=dy, x=x, lam_in=lam_in, lam_out=lam_out, W=W, z=z)
    xp = namespace(dy, x)
    db = xp.sum(dy, axis=0) if has_bias else None
    dx = dphi = dlam_in = dlam_out = None
    if z is not None:  # lam_in = 0: W = −diag(lam_out) phi
        if need_dx:
            dx = (dy * (-lam_out)) @ phi
        if need_dlam_out:
            dlam_out = -xp.sum(dy * z, axis=0)  # −Σ_n dy_ni (x phiᵀ)_ni = −Σ_j dW_ij phi_ij
            need_dlam_out = False
    elif need_dx:
        dx = dy @ W
    if forms_weight_gradient(cache, need_dphi=need_dphi, need_dlam_in=need_dlam_in, need_dlam_out=need_dlam_out):
        dW = dy.T @ x if dW_out is None else matmul_into(dy.T, x, out=dW_out)
        if need_dphi:
            dphi = times_lam_diff(dW, lam_in, lam_out)
        if need_dlam_in or need_dlam_out:
            dW *= phi  # dW is ours and no longer needed: dW ⊙ phi in place, shared by both sums
            # The column and row sums as products with a vector of ones: BLAS streams the matrix
            # at full speed (on every core), where xp.sum(..., axis=1) runs a slower loop per row.
            # On CuPy a sum is one kernel, where the product is two (and the ones a third).
            n_out, n_in = phi.shape
            on_gpu = is_cupy_array(dW)
            if need_dlam_in:
                dlam_in = xp.sum(dW, axis=0) if on_gpu else xp.ones(n_out, dtype=dW.dtype, device=device(dW)) @ dW
            if need_dlam_out:
                dlam_out = -(xp.sum(dW, axis=1) if on_gpu else dW @ xp.ones(n_in, dtype=dW.dtype, device=device(dW)))
    return dx, dphi, dlam_in, dlam_out, db


GEMM_LAM_DIFF_ENTRIES = 2 ** 17  # from this many entries up, lam_diff is a matrix product on the CPU


def eigenvalue_differences(lam_in, lam_out, *, out=None):
    """``lam_diff_ij = lam_in_j − lam_out_i``: a matrix product for large CPU layers (module docstring).

    Parameters
    ----------
    lam_in : (n_in,) array
    lam_out : (n_out,) array
    out : (n_out, n_in) array or None, a buffer to write into (its contents are ignored); None
        allocates a new array

    Returns
    -------
    lam_diff : (n_out, n_in) array, the same numbers as ``lam_in[None, :] − lam_out[:, None]``
    """
    xp = namespace(lam_in, lam_out)
    if lam_in.shape[0] * lam_out.shape[0] < GEMM_LAM_DIFF_ENTRIES or is_cupy_array(lam_in):
        if out is None:
            return lam_in[None, :] - lam_out[:, None]
        return write_into(xp.subtract, lam_in[None, :], lam_out[:, None], out=out)
    left = xp.stack([xp.ones_like(lam_out), lam_out], axis=1)  # (n_out, 2): rows [1, lam_out_i]
    right = xp.stack([lam_in, -xp.ones_like(lam_in)], axis=0)  # (2, n_in): columns [lam_in_j, −1]
    return left @ right if out is None else matmul_into(left, right, out=out)


def times_lam_diff(a, lam_in, lam_out, *, out=None):
    """``a ⊙ (lam_in_j − lam_out_i)`` for an (n_out, n_in) array a (phi, or dW), into ``out`` if given.

    lam_diff is built in the result's memory and multiplied in place; on CuPy both in one kernel,
    which rounds the difference, then the product, as the two steps do.
    """
    if is_cupy_array(a):
        kernel = _times_lam_diff_kernel()
        return kernel(a, lam_in[None, :], lam_out[:, None]) if out is None else \
            kernel(a, lam_in[None, :], lam_out[:, None], out)
    result = eigenvalue_differences(lam_in, lam_out, out=out)
    result *= a
    return result


@functools.lru_cache(maxsize=None)
def _times_lam_diff_kernel():
    import cupy

    return cupy.ElementwiseKernel("T a, T lam_in, T lam_out", "T out", "out = (lam_in - lam_out) * a;",
                                  "minispectral_times_lam_diff")


def check_buffer(buffer, name: str, phi, **inputs) -> None:
    """Raise unless a caller's buffer (``W_out``, ``dW_out``) is None or an array of phi's shape and
    dtype that shares no memory with phi or with any of ``inputs`` (the kernel overwrites it).

    The overlap check runs on NumPy and CuPy (a cheap comparison of memory bounds); the Array API
    has no way to ask, so elsewhere only ``buffer is phi`` is refused.
    """
    if buffer is None:
        return
    check_matrix(buffer, name, tuple(phi.shape))
    check_same_dtype("phi", phi, **{name: buffer})
    inputs = {"phi": phi, **inputs}
    if is_numpy_array(buffer) or is_cupy_array(buffer):
        library = _library(buffer)
        shared = [k for k, a in inputs.items() if a is not None and type(a) is type(buffer)
                  and library.may_share_memory(buffer, a)]
    else:
        shared = [k for k, a in inputs.items() if a is buffer]
    if shared:  # writing W or dW there would destroy what the kernel is still reading
        raise ValueError(f"{name} must be a buffer of its own, got one that shares memory with {', '.join(shared)}")


def forms_weight_gradient(cache, *, need_dphi, need_dlam_in, need_dlam_out) -> bool:
    """Whether ``spectral_backward`` forms ``dW = dyᵀx`` (and so writes into ``dW_out``).

    Every gradient but ``dx`` and ``db`` needs it, except ``dlam_out`` when ``lam_in = 0``: the
    forward pass then kept ``z = x phiᵀ``, from which ``dlam_out`` follows directly.
    """
    z = cache[5]
    return need_dphi or need_dlam_in or (need_dlam_out and z is None)


def matmul_into(a, b, *, out):
    """``out[...] = a @ b`` without a temporary on NumPy and CuPy; returns ``out``.

    The Array API's matmul has no ``out=``, but NumPy's and CuPy's own do, and BLAS then writes
    the product straight into ``out``.  Elsewhere the product is computed, then copied in.
    """
    if is_numpy_array(out) or is_cupy_array(out):
        _library(out).matmul(a, b, out=out)
    else:
        out[...] = a @ b
    return out


def _library(a):
    """numpy or cupy itself, for an array of either: the module its class comes from."""
    return sys.modules[type(a).__module__.partition(".")[0]]


def write_into(fn, *args, out):
    """``out[...] = fn(*args)``, without a temporary where the library allows it; returns ``out``.

    NumPy's and CuPy's element-wise functions are ufuncs that write straight into ``out``.
    The Array API has no ``out=`` argument, so elsewhere the result is computed, then copied in.
    The optimizers use this to update their preallocated state without allocating.
    """
    if getattr(fn, "nin", None) is not None:  # a NumPy or CuPy ufunc
        fn(*args, out=out)
    else:
        out[...] = fn(*args)
    return out
