"""The CuPy stand-in is only as good as its refusals and its counts: each is checked here."""
import numpy as np
import pytest
from array_api_compat import array_namespace, is_cupy_array

pytestmark = pytest.mark.gpu


def test_array_api_compat_sees_cupy(standin):
    a = standin.asarray(np.arange(3.0))
    assert is_cupy_array(a) and array_namespace(a).__name__ == "array_api_compat.cupy"


def test_implicit_host_conversion_and_numpy_operands_are_refused(standin):
    a = standin.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        standin.matmul(a, np.ones(3))
    assert float((a * 2.0).sum()) == 6.0  # Python and NumPy scalars are fine, as on CuPy


def test_reads_calls_and_uploads_are_counted(standin):
    with standin.counting() as counts:
        a = standin.asarray(np.arange(6.0).reshape(2, 3))  # an upload
        b = a[0, :]  # a view: nothing
        c = a @ a.T + 1.0  # two launches
        s = standin.sum(c)  # a launch, and a 0-d array, not a host scalar
        assert counts.snapshot() == {"reads": 0, "calls": 3, "uploads": 1}
        assert s.shape == () and b.shape == (3,)
        float(s), bool(s > 0), s.item(), a.get()  # four reads (and a launch for the comparison)
        a[a > 2.0]  # a boolean mask: a read (its size depends on the data), a comparison and a gather
    assert counts.reads == 5 and counts.calls == 6


def test_elementwise_kernel_runs_its_c_source(standin):
    kernel = standin.ElementwiseKernel("T x, T y", "T z, T w", """
        T d = max(x, y) - fabs(y);
        z = x > 0 ? d : (T)0;
        w += d * 2;""", "k")
    x, y = standin.asarray(np.array([1.0, -2.0, 3.0])), standin.asarray(np.array([-1.0, 4.0, 2.0]))
    w = standin.asarray(np.ones(3))
    with standin.counting() as counts:
        z, w2 = kernel(x, y, standin.empty(3), w)
    assert counts.calls == 1 and w2 is w
    d = np.maximum([1.0, -2.0, 3.0], [-1.0, 4.0, 2.0]) - np.abs([-1.0, 4.0, 2.0])
    np.testing.assert_array_equal(z.get(), np.where(np.array([1.0, -2.0, 3.0]) > 0, d, 0))
    np.testing.assert_array_equal(w.get(), 1 + 2 * d)
    with pytest.raises(ValueError, match="cannot run the statement"):
        standin.ElementwiseKernel("T x", "T z", "z = x > 0 ? (x > 1 ? 1 : 2) : 3;")


def test_c_max_and_min_in_a_kernel_drop_a_nan_as_cuda_does(standin):
    """In a CUDA kernel max(a, b) and min(a, b) on floats are fmaxf and fminf: between a NaN and a number
    they give the number (cupy.maximum propagates NaN only because CuPy writes the NaN test out)."""
    kernel = standin.ElementwiseKernel("T x, T y", "T hi, T lo", "hi = max(x, y); lo = min(x, y);", "k")
    hi, lo = kernel(standin.asarray(np.array([np.nan, 1.0, np.nan])), standin.asarray(np.array([2.0, np.nan, np.nan])))
    np.testing.assert_array_equal(hi.get(), [2.0, 1.0, np.nan])
    np.testing.assert_array_equal(lo.get(), [2.0, 1.0, np.nan])


def test_a_kernel_refuses_arrays_of_two_dtypes_for_one_type_parameter(standin):
    """As CuPy does ("Type is mismatched"): T stands for one dtype, so a float64 gradient cannot update
    float32 state; a scalar takes T's dtype."""
    kernel = standin.ElementwiseKernel("T x, T y", "T z", "z = x + y;", "k")
    x32, x64 = standin.asarray(np.ones(3, np.float32)), standin.asarray(np.ones(3, np.float64))
    with pytest.raises(TypeError, match="Type is mismatched"):
        kernel(x32, x64)
    with pytest.raises(TypeError, match="Type is mismatched"):
        kernel(x32, x32, standin.empty(3, dtype=np.float64))
    assert kernel(x32, np.float32(2.0)).dtype == np.float32 and kernel(x32, 2.0).dtype == np.float32
