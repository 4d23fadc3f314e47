"""Every operation's forward value against NumPy and its backward rule against
finite differences, on random shapes (broadcasting included)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hellograd import Tensor, gradcheck

SETTINGS = settings(max_examples=25, deadline=None)


def arrays(shape, low=-2.0, high=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)

# name: (hellograd op, NumPy reference, domain of the input)
UNARY = {
    "neg": (lambda x: -x, np.negative, (-2, 2)),
    "exp": (Tensor.exp, np.exp, (-2, 2)),
    "log": (Tensor.log, np.log, (0.2, 3)),
    "sqrt": (Tensor.sqrt, np.sqrt, (0.2, 3)),
    "sin": (Tensor.sin, np.sin, (-3, 3)),
    "cos": (Tensor.cos, np.cos, (-3, 3)),
    "tanh": (Tensor.tanh, np.tanh, (-3, 3)),
    "sigmoid": (Tensor.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-5, 5)),
    "relu": (Tensor.relu, lambda a: np.maximum(a, 0), (-2, 2)),
    "abs": (Tensor.abs, np.abs, (-2, 2)),
    "square": (lambda x: x ** 2, np.square, (-2, 2)),
    "reciprocal": (lambda x: 1 / x, np.reciprocal, (0.5, 2)),
    "rpow": (lambda x: 2 ** x, lambda a: 2.0 ** a, (-2, 2)),
}


def away_from_kinks(a):
    """relu and abs have no derivative at 0: keep finite differences off it."""
    return np.where(np.abs(a) < 1e-3, 0.5, a)


@pytest.mark.parametrize("name", UNARY)
@SETTINGS
@given(data=st.data())
def test_unary(name, data):
    op, reference, (low, high) = UNARY[name]
    a = away_from_kinks(data.draw(arrays(data.draw(shapes), low, high)))
    np.testing.assert_allclose(op(Tensor(a)).data, reference(a), rtol=1e-12, atol=1e-12)
    assert gradcheck(op, a)


BINARY = {
    "add": (lambda x, y: x + y, np.add, (-2, 2)),
    "sub": (lambda x, y: x - y, np.subtract, (-2, 2)),
    "mul": (lambda x, y: x * y, np.multiply, (-2, 2)),
    "div": (lambda x, y: x / y, np.divide, (0.5, 2)),
    "pow": (lambda x, y: x ** y, np.power, (0.5, 2)),
}


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(data=st.data())
def test_binary_with_broadcasting(name, data):
    op, reference, (low, high) = BINARY[name]
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    a = data.draw(arrays(shape_a, low, high))
    b = data.draw(arrays(shape_b, low, high))
    np.testing.assert_allclose(op(Tensor(a), Tensor(b)).data, reference(a, b), rtol=1e-12)
    assert gradcheck(op, a, b)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_with_python_numbers_both_sides(name):
    op, reference, _ = BINARY[name]
    a = np.array([0.5, 1.5, 2.0])
    np.testing.assert_allclose(op(Tensor(a), 3).data, reference(a, 3.0))
    np.testing.assert_allclose(op(3, Tensor(a)).data, reference(3.0, a))
    np.testing.assert_allclose(op(a, Tensor(a)).data, reference(a, a))  # ndarray on the left
    assert gradcheck(lambda x: op(x, 3) + op(3, x), a)


@SETTINGS
@given(data=st.data())
def test_matmul_shapes(data):
    n, k, m, batch = (data.draw(st.integers(1, 4)) for _ in range(4))
    cases = [((n, k), (k, m)), ((k,), (k, m)), ((n, k), (k,)), ((k,), (k,)), ((batch, n, k), (k, m))]
    for shape_a, shape_b in cases:
        a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
        np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-12, atol=1e-12)
        assert gradcheck(lambda x, y: x @ y, a, b)


REDUCTIONS = {
    "sum": (Tensor.sum, np.sum),
    "mean": (Tensor.mean, np.mean),
    "max": (Tensor.max, np.max),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@SETTINGS
@given(data=st.data())
def test_reductions(name, keepdims, data):
    op, reference = REDUCTIONS[name]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    # distinct values, far apart compared with the finite-difference step
    a = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-40, 40), unique=True)) / 20.0
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1)
                     | st.just(tuple(range(len(shape)))[:2]))
    result = op(Tensor(a), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(result.data, reference(a, axis=axis, keepdims=keepdims), rtol=1e-12)
    assert gradcheck(lambda x: op(x, axis=axis, keepdims=keepdims), a)


def test_max_splits_the_gradient_between_ties():
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])


@SETTINGS
@given(data=st.data())
def test_reshape_and_transpose(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    a = data.draw(arrays(shape))
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    np.testing.assert_array_equal(Tensor(a).transpose(*axes).data, a.transpose(axes))
    np.testing.assert_array_equal(Tensor(a).T.data, a.T)
    np.testing.assert_array_equal(Tensor(a).reshape(-1).data, a.reshape(-1))
    assert gradcheck(lambda x: x.transpose(*axes) * np.arange(a.size).reshape(a.transpose(axes).shape), a)
    assert gradcheck(lambda x: x.reshape(a.size, 1) * np.arange(a.size).reshape(-1, 1), a)
    assert gradcheck(lambda x: x.T.reshape(-1)[::2], a)


def test_broadcast_to():
    assert gradcheck(lambda x: x.broadcast_to((2, 3, 4)) * np.arange(24.0).reshape(2, 3, 4), np.ones((3, 1)))


@pytest.mark.parametrize("index", [
    (slice(None), 1),
    (slice(1, None), slice(None, None, 2)),
    np.array([0, 2, 2]),  # a row picked twice gets both gradients
    (np.arange(3), np.array([4, 0, 4])),  # the cross-entropy pattern
    (Ellipsis, None, 0),
])
def test_indexing(index, rng):
    a = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(Tensor(a)[index].data, a[index])
    weights = rng.standard_normal(np.shape(a[index]))
    assert gradcheck(lambda x: x[index] * weights, a)


def test_picking_an_element_twice_adds_its_gradients():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 1.0])


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_and_softmax(axis, rng):
    a = rng.standard_normal((4, 5))
    shifted = a - a.max(axis=axis, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(Tensor(a).log_softmax(axis).data, expected, rtol=1e-12)
    np.testing.assert_allclose(Tensor(a).softmax(axis).data.sum(axis=axis), 1.0)
    weights = rng.standard_normal((4, 5))
    assert gradcheck(lambda x: x.log_softmax(axis) * weights, a)
    assert gradcheck(lambda x: x.softmax(axis) * weights, a)


def test_log_softmax_is_stable_for_huge_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32), requires_grad=True)
    out = x.log_softmax()
    assert np.all(np.isfinite(out.data)) and out.data[0, 0] == 0.0
    out[:, 0].sum().backward()
    assert np.all(np.isfinite(x.grad))


def test_sigmoid_does_not_overflow():
    x = Tensor(np.array([-1000.0, 0.0, 1000.0], dtype=np.float32), requires_grad=True)
    with np.errstate(all="raise"):
        y = x.sigmoid()
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [0.0, 0.5, 1.0])


def test_astype_round_trip():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64) * Tensor(np.array([3.0, 4.0]))
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
