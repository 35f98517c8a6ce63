"""The backend layer: choosing a backend, transfers, clear errors, and moving models."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minispectral
from minispectral import backend as backend_module
from minispectral.backend import (BACKENDS, GPU_INSTALL_HINT, BackendUnavailableError, backend_of,
                                  from_numpy, get_backend, kth_smallest, namespace, resolve_dtype,
                                  set_backend, to_backend, to_numpy, use_backend)

from conftest import dtype_name, host, make, randn

REPO = Path(__file__).resolve().parents[1]


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter with the checkout importable; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=60)


# ------------------------------------------------------------------ choosing a backend

def test_default_backend_is_numpy(monkeypatch):
    monkeypatch.delenv("MINISPECTRAL_BACKEND", raising=False)
    monkeypatch.setattr(backend_module, "_base", None)
    assert get_backend().name == "numpy"


def test_set_backend_changes_the_current_backend():
    assert set_backend("strict").name == "strict"
    assert get_backend().name == "strict"
    assert backend_of(from_numpy(np.ones(2))).name == "strict"
    set_backend("numpy")
    assert get_backend().name == "numpy"


def test_use_backend_is_scoped_nests_and_restores_on_error():
    set_backend("numpy")
    with use_backend("strict") as b:
        assert b.name == "strict" and get_backend().name == "strict"
        with use_backend("numpy"):
            assert get_backend().name == "numpy"
        assert get_backend().name == "strict"
    assert get_backend().name == "numpy"
    with pytest.raises(RuntimeError, match="boom"):
        with use_backend("strict"):
            raise RuntimeError("boom")
    assert get_backend().name == "numpy"


def test_set_backend_inside_use_backend_lasts_after_the_block():
    set_backend("numpy")
    with use_backend("numpy"):
        with use_backend("numpy"):
            assert set_backend("strict").name == "strict"
            assert get_backend().name == "strict"  # at once
    assert get_backend().name == "strict"  # and for the rest of the program (the conftest fixture restores it)


def test_backend_names_are_case_insensitive_and_backend_objects_pass_through():
    b = get_backend("STRICT")
    assert b.name == "strict"
    assert get_backend(b) is b


def test_env_variable_selects_the_backend(monkeypatch):
    monkeypatch.setenv("MINISPECTRAL_BACKEND", "strict")
    monkeypatch.setattr(backend_module, "_base", None)
    assert get_backend().name == "strict"
    assert backend_of(from_numpy([1.0, 2.0])).name == "strict"


def test_env_variable_with_unknown_name_raises(monkeypatch):
    monkeypatch.setenv("MINISPECTRAL_BACKEND", "tpu")
    monkeypatch.setattr(backend_module, "_base", None)
    with pytest.raises(ValueError, match="tpu"):
        get_backend()


def test_an_unusable_env_backend_does_not_block_choosing_another(monkeypatch):
    monkeypatch.setenv("MINISPECTRAL_BACKEND", "tpu")
    monkeypatch.setattr(backend_module, "_base", None)
    with use_backend("strict"):
        assert get_backend().name == "strict"
    assert set_backend("numpy").name == "numpy"
    assert get_backend().name == "numpy"


def test_env_variable_in_a_fresh_process():
    result = run_python("import minispectral; print(minispectral.get_backend().name)",
                        MINISPECTRAL_BACKEND="strict")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "strict"


def test_unknown_backend_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        get_backend("tensorflow")
    message = str(info.value)
    assert "tensorflow" in message
    for name in BACKENDS:
        assert name in message
    with pytest.raises(ValueError):
        set_backend("tensorflow")
    assert minispectral.available("tensorflow")[0] is False


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="str"):
        get_backend(3)


# ------------------------------------------------------------------ CuPy unavailable

def test_missing_cupy_names_the_install_command(monkeypatch):
    # A None entry in sys.modules makes ``import cupy`` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(BackendUnavailableError) as info:
        backend_module._probe_cupy()
    assert 'pip install "minispectral[gpu]"' in str(info.value)


def test_missing_cupy_in_a_fresh_process():
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import minispectral\n"
            "ok, reason = minispectral.available('cupy')\n"
            "assert ok is False\n"
            "try:\n"
            "    minispectral.get_backend('cupy')\n"
            "except minispectral.BackendUnavailableError as exc:\n"
            "    assert str(exc) == reason\n"
            "else:\n"
            "    raise SystemExit('no error')\n"
            "print(reason)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr + result.stdout
    assert 'pip install "minispectral[gpu]"' in result.stdout


def test_available_reports_why_cupy_cannot_run_here(no_cupy):
    ok, reason = minispectral.available("cupy")
    assert ok is False
    assert GPU_INSTALL_HINT in reason
    with pytest.raises(BackendUnavailableError, match="minispectral\\[gpu\\]"):
        get_backend("cupy")


def test_available_backends_report_no_reason():
    assert minispectral.available("numpy") == (True, "")
    assert minispectral.available("strict") == (True, "")


# ------------------------------------------------------------------ transfers

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_numpy_to_numpy_round_trip_is_exact(backend, dtype):
    a = np.random.default_rng(1).standard_normal((3, 4)).astype(dtype)
    x = from_numpy(a, backend=backend)
    assert backend_of(x) is backend
    assert dtype_name(x) == dtype
    back = to_numpy(x)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, a)


def _c_ordered(x) -> bool:
    return bool(x.flags.c_contiguous) if hasattr(x, "flags") else bool(to_numpy(x).flags.c_contiguous)


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_from_numpy_gives_c_ordered_arrays(backend, layout):
    """Element-wise updates of a parameter with its C-ordered gradient are several times slower when
    the parameter is F-ordered (np.linalg.qr returns such arrays): every array arrives C-ordered."""
    a = np.arange(24.0).reshape(4, 6)
    host_array = np.asfortranarray(a) if layout == "fortran" else np.arange(48.0).reshape(4, 12)[:, ::2]
    assert not host_array.flags.c_contiguous
    x = from_numpy(host_array, "float64", backend=backend)  # no cast, whose copy would hide the layout
    assert _c_ordered(x)
    np.testing.assert_array_equal(to_numpy(x), host_array)
    assert from_numpy(np.float64(2.5), backend=backend).shape == ()  # a scalar stays 0-d


def test_from_numpy_casts_and_uses_the_current_backend():
    a = np.arange(6.0).reshape(2, 3)
    with use_backend("strict"):
        x = from_numpy(a, "float32")
    assert backend_of(x).name == "strict"
    assert dtype_name(x) == "float32"
    np.testing.assert_array_equal(to_numpy(x), a.astype(np.float32))


def test_from_numpy_rejects_non_float_dtypes():
    with pytest.raises(ValueError, match="float32"):
        from_numpy(np.ones(2), "int32")
    with pytest.raises(ValueError, match="float16"):
        resolve_dtype("float16")


def test_resolve_dtype_accepts_any_library_spelling():
    strict = get_backend("strict")
    assert resolve_dtype(strict.dtype("float32")) == np.float32
    assert resolve_dtype("float64") == np.float64
    assert resolve_dtype(np.dtype("float32")) == np.float32
    assert resolve_dtype(np.float32) == np.float32  # the scalar type, as in dtype=np.float32
    assert dtype_name(minispectral.Dense(2, 3, dtype=np.float64).weight()) == "float64"
    with pytest.raises(ValueError, match="float"):
        resolve_dtype(float)


def test_to_backend_moves_between_backends_and_keeps_same_backend_arrays():
    a = np.array([[1.5, -2.0]], dtype=np.float32)
    x = to_backend(a, "strict")
    assert backend_of(x).name == "strict"
    assert to_backend(x, "strict") is x
    y = to_backend(x, "numpy")
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, a)
    assert to_backend(None, "strict") is None


def test_backend_of_rejects_non_arrays():
    with pytest.raises(TypeError, match="expected an array"):
        backend_of([1.0, 2.0])


def test_namespace_rejects_mixed_backends_with_a_clear_message():
    with pytest.raises(TypeError) as info:
        namespace(np.ones(2), make("strict", [1.0, 2.0]))
    message = str(info.value)
    assert "different backends" in message
    assert "numpy" in message and "array_api_strict" in message


def test_namespace_ignores_none():
    assert namespace(np.ones(2), None) is namespace(np.ones(2))


@pytest.mark.parametrize("k", [1, 3, 7])
def test_kth_smallest(backend, k):
    a = np.random.default_rng(k).standard_normal(7)
    got = kth_smallest(make(backend, a), k)
    assert float(got) == np.sort(a)[k - 1]


def test_kth_smallest_rejects_k_out_of_range():
    with pytest.raises(ValueError, match="k must be in"):
        kth_smallest(np.ones(3), 4)
    with pytest.raises(ValueError, match="k must be in"):
        kth_smallest(np.ones(3), 0)


# ------------------------------------------------------------------ moving models

@pytest.mark.parametrize("model", ["dense", "spectral", "ssvd", "qr"])
def test_module_to_moves_a_model_and_outputs_agree(model):
    net = minispectral.mlp((6, 5, 3), model, seed=3, dtype="float64", backend="numpy")
    x = np.random.default_rng(0).standard_normal((4, 6))
    expected = host(net.forward(x))
    assert net.to(backend="strict") is net
    for name, p in net.named_parameters():
        assert backend_of(p.value).name == "strict", name
        if p.mask is not None:
            assert backend_of(p.mask).name == "strict", name
    assert net.backend.name == "strict"
    on_strict = host(net.forward(make("strict", x)))
    np.testing.assert_allclose(on_strict, expected, rtol=1e-12, atol=1e-12)
    net.to(backend="numpy")
    np.testing.assert_allclose(host(net.forward(x)), expected, rtol=1e-12, atol=1e-12)


def test_module_to_casts_dtype_and_clears_grads():
    net = minispectral.mlp((4, 3, 2), "spectral", seed=0)
    x = randn("numpy", (2, 4), "float32")
    net.backward(net.forward(x))
    assert any(p.grad is not None for p in net.parameters())
    net.to(dtype="float64")
    assert net.dtype == np.float64
    assert all(dtype_name(p.value) == "float64" for p in net.parameters())
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["dense", "spectral", "qr"])
def test_module_to_cupy_and_back(cupy_backend, model):
    net = minispectral.mlp((6, 5, 3), model, seed=3, dtype="float64")
    x = np.random.default_rng(0).standard_normal((4, 6))
    expected = host(net.forward(x))
    net.to(backend=cupy_backend)
    assert all(backend_of(p.value) is cupy_backend for p in net.parameters())
    np.testing.assert_allclose(host(net.forward(make(cupy_backend, x))), expected, rtol=1e-10, atol=1e-12)
    net.to(backend="numpy")
    np.testing.assert_allclose(host(net.forward(x)), expected, rtol=1e-10, atol=1e-12)


def test_a_bad_backend_in_the_environment_names_the_variable():
    code = "import minispectral as ms; ms.mlp((3, 2), 'dense')"
    done = run_python(code, MINISPECTRAL_BACKEND="gpu")
    assert "MINISPECTRAL_BACKEND='gpu' in the environment: unknown backend 'gpu'" in done.stderr
    done = run_python(code, MINISPECTRAL_BACKEND="")
    assert done.returncode == 0, done.stderr  # set but empty: the default


def test_to_backend_points_a_model_to_its_own_to_method():
    with pytest.raises(TypeError, match=r"to move a Sequential, call its .to\('strict'\)"):
        minispectral.to_backend(minispectral.mlp((4, 3, 2)), "strict")


def test_use_backend_in_one_thread_leaves_the_others_alone():
    # the blocks shared one stack: a block in one thread switched every thread, and blocks ending out of
    # order restored the wrong backend
    import threading

    entered, leave = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with use_backend("strict"):
            entered.set()
            leave.wait(5)
            seen["worker"] = get_backend().name
        seen["worker after"] = get_backend().name

    set_backend("numpy")
    thread = threading.Thread(target=worker)
    thread.start()
    entered.wait(5)
    with use_backend("numpy"):
        seen["main inside"] = get_backend().name
        leave.set()
        thread.join(5)
        seen["main after the worker left"] = get_backend().name
    assert seen == {"worker": "strict", "worker after": "numpy", "main inside": "numpy",
                    "main after the worker left": "numpy"}


def test_kth_smallest_returns_a_0d_array_on_every_backend(backend):
    from minispectral.backend import kth_smallest

    r = kth_smallest(from_numpy(np.array([3.0, 1.0, 2.0]), backend=backend), 2)
    assert r.shape == () and backend_of(r).name == backend.name and float(to_numpy(r)) == 2.0


# ------------------------------------------------------------------ CuPy's failures, in our words (on the stand-in)

@pytest.mark.gpu
@pytest.mark.parametrize("where, cuda_says, ours, names", [
    ("zeros", "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version",
     "no usable NVIDIA GPU was found", "nvidia-smi"),
    ("__add__", "nvrtc: error: failed to open libnvrtc.so.12", "cannot compile its element-wise kernels", "NVRTC"),
    ("__matmul__", "CUBLAS_STATUS_NOT_INITIALIZED: libcublas.so.12 not found", "cannot multiply matrices", "cuBLAS"),
])
def test_the_probe_names_the_cuda_part_that_failed_in_our_words_first(standin, monkeypatch, where, cuda_says, ours,
                                                                        names):
    def fail(*args, **kwargs):
        raise RuntimeError(cuda_says)

    monkeypatch.setattr(standin.ndarray if where.startswith("__") else standin, where, fail)
    with pytest.raises(BackendUnavailableError) as info:
        backend_module._probe_cupy()
    message = str(info.value)
    assert ours in message.split("(CUDA said")[0] and names in message
    assert message.index(cuda_says) > message.index(names)  # CUDA's words come last, as a detail
    if where != "zeros":
        assert 'minispectral[gpu-cuda13]' in message


@pytest.mark.gpu
def test_a_cupy_array_given_to_from_numpy_or_as_an_initial_value_gets_our_words(cupy_backend):
    x = minispectral.from_numpy(np.arange(6.0).reshape(2, 3), backend="cupy")
    with pytest.raises(TypeError, match="got a CuPy array, which lives on the GPU.*to_numpy"):
        minispectral.from_numpy(x, backend="numpy")
    again = minispectral.from_numpy(x, "float32", backend="cupy")  # already there: converted on the device
    assert backend_of(again) is cupy_backend and str(again.dtype) == "float32"
    np.testing.assert_array_equal(minispectral.to_numpy(again), np.arange(6.0).reshape(2, 3))
    layer = minispectral.Dense(3, 2, W_init=x, backend="numpy")  # an initial value of any backend
    np.testing.assert_array_equal(layer.params["W"].value, np.arange(6.0).reshape(2, 3))


@pytest.mark.gpu
def test_namespace_answers_cupy_arrays_by_their_type(cupy_backend):
    a = minispectral.from_numpy(np.ones(3), backend="cupy")
    assert backend_module.namespace(a, a) is cupy_backend.xp
    with pytest.raises(TypeError, match="different backends"):
        backend_module.namespace(a, np.ones(3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_radix_select_finds_the_kth_smallest(dtype):
    """backend._radix_select (CuPy's selection past partition's k < 1024) on NumPy arrays: signs, ±0, ±inf,
    ties, subnormals and NaN (last, as sort puts it), at every k of a small array and some of a large one."""
    from minispectral.backend import _radix_select
    tiny = np.finfo(dtype).smallest_subnormal
    a = np.array([3.5, -2.0, 0.0, -0.0, np.inf, -np.inf, tiny, -tiny, 3.5, -2.0, 1e-30, np.nan, 7.0], dtype=dtype)
    want = np.sort(a)
    for k in range(1, a.size + 1):
        got = _radix_select(a, k)
        assert got.shape == () and got.dtype == a.dtype
        np.testing.assert_array_equal(got, want[k - 1])
    big = np.random.default_rng(0).standard_normal(5000).astype(dtype) * np.float32(1e3)
    big[::7] = big[3]  # ties
    want = np.sort(big)
    for k in (1, 2, 1023, 1024, 2500, 4999, 5000):
        assert _radix_select(big, k) == want[k - 1]


@pytest.mark.gpu
def test_kth_smallest_on_cupy_past_partitions_reach_selects_on_the_device(standin, monkeypatch):
    from minispectral import backend as bk
    monkeypatch.setattr(bk, "CUPY_RADIX_FROM", 1000)
    a = np.random.default_rng(1).standard_normal(3000).astype(np.float32)
    d = from_numpy(a, backend="cupy")
    with standin.counting() as counts:
        got = kth_smallest(d, 2000)
    assert counts.reads == 0 and counts.calls < 60  # no read, and no sort of the whole array
    assert float(got) == np.sort(a)[1999]
