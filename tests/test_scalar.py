"""The teaching engine `Scalar` (chapter "Building the graph") against the Tensor engine."""

import math

import numpy as np
import pytest

from hellograd import Scalar, Tensor


def test_running_example_of_the_book():
    x, z = Scalar(2.0, name="x"), Scalar(0.0, name="z")
    y = 3 * x * x * x + 4 * x + 1 + x * z
    y.backward()
    assert (y.value, x.grad, z.grad) == (33.0, 40.0, 2.0)


def test_parents_are_a_tuple_in_argument_order():
    a, b = Scalar(1.0), Scalar(2.0)
    c = a * b
    assert c._parents == (a, b) and c._op == "*"


def test_a_node_used_twice_adds_its_gradients():
    x = Scalar(3.0)
    y = x * x + x
    y.backward()
    assert x.grad == 7.0  # 2x + 1


def test_backward_starts_from_zero_each_call():
    x = Scalar(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 6.0


@pytest.mark.parametrize("fn", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: 2 - a / 3 + 1 / b - (-a), lambda a, b: a ** 3 * b ** -2 + b ** 0.5,
    lambda a, b: (a * b).exp() + a.tanh() * b.sin(), lambda a, b: (a - b).relu() + (b - a).relu(),
])
def test_values_and_gradients_match_the_tensor_engine(fn):
    for a0, b0 in [(0.7, 1.3), (-0.4, 2.1), (1.9, 0.6)]:
        sa, sb = Scalar(a0), Scalar(b0)
        ta, tb = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
        sy, ty = fn(sa, sb), fn(ta, tb)
        sy.backward()
        ty.backward()
        assert math.isclose(sy.value, ty.item(), rel_tol=1e-12)
        assert math.isclose(sa.grad, float(ta.grad), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(sb.grad, float(tb.grad), rel_tol=1e-12, abs_tol=1e-15)


def test_a_long_chain_needs_no_recursion():
    x = Scalar(1.0)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_bad_input_gets_a_clear_error():
    with pytest.raises(TypeError, match="value must be a real number"):
        Scalar("2")
    with pytest.raises(TypeError, match="exponent must be a plain number"):
        Scalar(2.0) ** Scalar(3.0)
    with pytest.raises(TypeError):
        Scalar(2.0) + "1"
    assert isinstance(Scalar(2.0) * np.float64(3.0), Scalar)
