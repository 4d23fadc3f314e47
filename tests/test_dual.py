"""Forward mode with `Dual` (chapter "The chain rule, and forward mode"): values and
derivatives against the Tensor engine (reverse mode) and against finite differences."""

import math

import numpy as np
import pytest

from hellograd import Dual, Tensor
from hellograd.gradcheck import numeric_gradient

# Each function is written once and runs on floats, Duals and Tensors alike.
FUNCTIONS = {
    "polynomial": lambda a, b: 3 * a * a * a + 4 * a + 1 + a * b,
    "quotient": lambda a, b: (a - 2) / (b * b + 1) - 1 / a,
    "powers": lambda a, b: a ** 3 * b ** -2 + b ** 0.5 + 2 ** a,
    "dual_exponent": lambda a, b: a ** b,
    "exp_log": lambda a, b: (a * b).exp() + (a + b).log(),
    "trig": lambda a, b: (2 * a ** 3 + 4 * a ** 2 + 3 * a + 2).sin() * b.cos(),
    "tanh_sqrt": lambda a, b: (a - b).tanh() + (a * b).sqrt(),
    "sigmoid": lambda a, b: 1 / (1 + (-(a * b)).exp()),
}
POINTS = [(0.7, 1.3), (1.9, 0.6), (0.3, 2.2)]


def dual_partials(fn, a0, b0):
    a, b = Dual(a0, [1.0, 0.0]), Dual(b0, [0.0, 1.0])
    return fn(a, b)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_mode_matches_reverse_mode(name):
    fn = FUNCTIONS[name]
    for a0, b0 in POINTS:
        y = dual_partials(fn, a0, b0)
        a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
        t = fn(a, b)
        t.backward()
        assert math.isclose(y.value, t.item(), rel_tol=1e-12)
        np.testing.assert_allclose(y.derivatives, [a.grad, b.grad], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_mode_matches_finite_differences(name):
    fn = FUNCTIONS[name]
    for a0, b0 in POINTS:
        y = dual_partials(fn, a0, b0)
        inputs = [Tensor(np.array(a0)), Tensor(np.array(b0))]
        numeric = [numeric_gradient(fn, inputs, i) for i in range(2)]
        np.testing.assert_allclose(y.derivatives, numeric, rtol=1e-6, atol=1e-8)


def test_sigmoid_of_the_book():
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    y = sigmoid(Dual(2.0, 1.0))
    assert round(y.value, 4) == 0.8808 and round(y.derivatives[0], 5) == 0.10499
    assert sigmoid(2.0) == y.value  # the same function on a float


def test_numpy_ufuncs_and_numpy_scalars():
    d = Dual(0.8, [1.0, -2.0])
    for ufunc in (np.exp, np.log, np.sin, np.cos, np.tanh, np.sqrt):
        method = getattr(d, ufunc.__name__)()
        y = ufunc(d)
        assert isinstance(y, Dual) and y.value == method.value
        np.testing.assert_array_equal(y.derivatives, method.derivatives)
    y = np.float64(3.0) * d - np.float64(1.0) + np.power(d, 2)
    np.testing.assert_allclose(y.derivatives, (3 + 2 * 0.8) * np.array([1.0, -2.0]))
    mixed = np.array([1.0, 2.0]) * d  # an array meeting a Dual: an object array of Duals
    assert mixed.dtype == object and mixed[1].value == 1.6


def test_dense_layer_jacobian_with_respect_to_all_weights_in_one_pass(rng):
    X, W0, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    W = Dual.variables(W0)
    Y = np.tanh(X @ W + b)
    jac = Dual.jacobian(Y)  # (4, 2) outputs x 6 weights
    assert jac.shape == (4, 2, 6)
    np.testing.assert_allclose(Dual.values_of(Y), np.tanh(X @ W0 + b), rtol=1e-12)
    # Reverse mode gives one row of the Jacobian per backward pass.
    for i, j in np.ndindex(4, 2):
        Wt = Tensor(W0, requires_grad=True)
        (Tensor(X) @ Wt + b).tanh()[i, j].backward()
        np.testing.assert_allclose(jac[i, j], Wt.grad.ravel(), rtol=1e-10, atol=1e-12)


def test_variables_seed_one_hot_vectors_in_row_major_order():
    V = Dual.variables([[1.0, 2.0], [3.0, 4.0]])
    assert V.shape == (2, 2) and V[1, 0].value == 3.0
    np.testing.assert_array_equal(V[1, 0].derivatives, [0, 0, 1, 0])


def test_comparisons_use_the_value():
    d = Dual(-1.0, 1.0)
    relu = max(d, 0.0)
    assert relu == 0.0 and d < 0 and not d > 0 and d <= -1 and d >= -1


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="lengths 2 and 3"):
        Dual(1.0, [1, 0]) + Dual(2.0, [0, 1, 0])
    with pytest.raises(TypeError, match="value must be a real number"):
        Dual("1", 1.0)
    with pytest.raises(ValueError, match="1-D"):
        Dual(1.0, np.eye(2))
    with pytest.raises(ValueError, match="Dual.log"):
        Dual(-1.0, 1.0).log()
    with pytest.raises(TypeError):
        Dual(1.0, 1.0) + "x"
    with pytest.raises(TypeError, match="all Duals"):
        Dual.jacobian(np.array([1.0, 2.0]))
