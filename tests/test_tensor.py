"""The Tensor's attributes, dtypes and error messages."""

import numpy as np
import pytest

from hellograd import Tensor
from hellograd.tensor import AxisError


def test_numbers_and_lists_are_converted():
    assert Tensor(3).dtype == np.float64 and Tensor(3).shape == ()
    t = Tensor([[1, 2], [3, 4]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.dtype == np.float64
    assert Tensor(2.5).item() == 2.5
    assert isinstance(t.numpy(), np.ndarray)
    assert t.grad is None and not t.requires_grad


def test_float32_stays_float32_everywhere():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3), dtype=np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2), dtype=np.float32), requires_grad=True)
    y = ((x @ w).relu() * 2.5 + 1 - np.ones(2) / 3).sigmoid().exp().log().tanh()
    y = (y ** 2).sqrt().abs().sin().cos().log_softmax().mean(axis=0).max()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_mixing_dtypes_of_two_tensors_is_an_error():
    with pytest.raises(TypeError, match=r"add: dtypes float32 and float64 differ"):
        Tensor(np.ones(2, dtype=np.float32)) + Tensor(np.ones(2))


@pytest.mark.parametrize("bad", ["abc", {"a": 1}, [1, "x"], object(), 1 + 2j])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError, match="Tensor data must be"):
        Tensor(bad)


def test_operand_of_unknown_type_is_a_type_error():
    with pytest.raises(TypeError, match="mul: unsupported operand of type str"):
        Tensor(1.0) * "x"


def test_matmul_shape_mismatch_names_op_and_both_shapes():
    a, b = Tensor(np.ones((3, 4)), requires_grad=True), Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\)"):
        a @ b


def test_broadcast_mismatch_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(3,\) and \(4,\) cannot be broadcast"):
        Tensor(np.ones(3)) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(2,\)"):
        Tensor(np.ones((2, 3))) * np.ones(2)


def test_reshape_and_transpose_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape shape \(2, 3\) into \(4,\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match="transpose"):
        Tensor(np.ones((2, 3))).transpose(0, 0)
    with pytest.raises(AxisError, match="sum: axis 2 is out of bounds for array of dimension 2"):
        Tensor(np.ones((2, 3))).sum(axis=2)


def test_repr_is_readable():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], dtype=float32, requires_grad=True)"
    assert repr(x * 2) == "Tensor([2., 4.], dtype=float32, requires_grad=True, op='mul')"
    assert repr(Tensor(3.0)) == "Tensor(3.)"


def test_detach_cuts_the_history():
    x = Tensor(2.0, requires_grad=True)
    y = (x * 3).detach()
    assert not y.requires_grad and y._parents == ()
