"""Derivatives of derivatives: hellograd.grad(..., create_graph=True) against finite
differences of gradients (second derivatives of each op, Hessian-vector products)."""

import numpy as np
import pytest

from hellograd import Tensor, grad


def gradient(f, *arrays):
    """The first derivatives of the scalar f at the given points, as arrays (float64)."""
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    return [g.data for g in grad(f(*xs), xs)]


def hvp(f, arrays, vectors):
    """Hessian-vector product by reverse-over-reverse: d/dx <grad f(x), v>."""
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    gs = grad(f(*xs), xs, create_graph=True)
    inner = sum((g * v).sum() for g, v in zip(gs, vectors))
    return [h.data for h in grad(inner, xs)]


def hvp_by_finite_differences(f, arrays, vectors, eps=1e-5):
    """(grad f(x + eps v) - grad f(x - eps v)) / (2 eps): no second-order machinery."""
    plus = gradient(f, *[a + eps * v for a, v in zip(arrays, vectors)])
    minus = gradient(f, *[a - eps * v for a, v in zip(arrays, vectors)])
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def hessian(f, a):
    """The full Hessian of f at the array a, one Hessian-vector product per column."""
    columns = []
    for k in range(a.size):
        e = np.zeros(a.size)
        e[k] = 1.0
        columns.append(hvp(f, [a], [e.reshape(a.shape)])[0].ravel())
    return np.stack(columns, axis=1)


def assert_hvp_matches_finite_differences(f, arrays, rng, atol):
    vectors = [rng.standard_normal(np.shape(a)) for a in arrays]
    for exact, numeric in zip(hvp(f, arrays, vectors), hvp_by_finite_differences(f, arrays, vectors)):
        np.testing.assert_allclose(exact, numeric, rtol=1e-6, atol=atol)


def test_second_derivative_of_x_cubed_at_2_is_12():
    x = Tensor(2.0, requires_grad=True)
    (dy,) = grad(x ** 3, [x], create_graph=True)
    (d2y,) = grad(dy, [x], create_graph=True)
    (d3y,) = grad(d2y, [x])
    assert (dy.item(), d2y.item(), d3y.item()) == (12.0, 12.0, 6.0)


# name: (function of one tensor, its elementwise second derivative or None, domain)
OPS = {
    "exp": (Tensor.exp, np.exp, (-2, 2)),
    "sin": (Tensor.sin, lambda a: -np.sin(a), (-3, 3)),
    "cos": (Tensor.cos, lambda a: -np.cos(a), (-3, 3)),
    "tanh": (Tensor.tanh, lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2), (-2, 2)),
    "sigmoid": (Tensor.sigmoid, None, (-3, 3)),
    "log": (Tensor.log, lambda a: -1 / a ** 2, (0.5, 3)),
    "sqrt": (Tensor.sqrt, lambda a: -0.25 * a ** -1.5, (0.5, 3)),
    "reciprocal": (lambda x: 1 / x, lambda a: 2 / a ** 3, (0.5, 2)),
    "pow": (lambda x: x ** 3.5, lambda a: 8.75 * a ** 1.5, (0.5, 2)),
    "rpow": (lambda x: 2 ** x, lambda a: np.log(2) ** 2 * 2 ** a, (-2, 2)),
    "log_softmax": (lambda x: x.log_softmax(axis=-1), None, (-2, 2)),
    "softmax": (lambda x: x.softmax(axis=0), None, (-2, 2)),
    "sum_squared": (lambda x: x.sum(axis=1, keepdims=True) ** 2, None, (-2, 2)),
    "mean_then_exp": (lambda x: x.mean(axis=0).exp(), None, (-2, 2)),
    "max_times_x": (lambda x: x.max(axis=1, keepdims=True) * x, None, (-2, 2)),
    "getitem_product": (lambda x: x[np.array([0, 0, 2])] * x[1:].sum(), None, (-2, 2)),
    "matmul_with_itself": (lambda x: x @ x.T, None, (-2, 2)),
}


@pytest.mark.parametrize("name", OPS)
def test_hessian_of_each_op_against_finite_differences(name, rng):
    op, second, (low, high) = OPS[name]
    a = rng.uniform(low, high, size=(3, 4))
    weights = rng.standard_normal(op(Tensor(a)).shape)

    def f(x):
        return (op(x) * weights).sum()

    h = hessian(f, a)
    identity = np.eye(a.size)
    numeric = np.stack([hvp_by_finite_differences(f, [a], [identity[:, k].reshape(a.shape)])[0].ravel()
                        for k in range(a.size)], axis=1)
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)  # second derivatives commute
    if second is not None:  # elementwise ops: a diagonal Hessian with known entries
        np.testing.assert_allclose(h, np.diag((weights * second(a)).ravel()), rtol=1e-10, atol=1e-12)


def test_mixed_second_derivatives_of_matmul(rng):
    """A dense layer with a sine activation: d/dX of d(loss)/dW, both ways."""
    X, W = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))

    def loss(X, W):
        return ((X @ W).sin() ** 2).sum()

    assert_hvp_matches_finite_differences(loss, [X, W], rng, atol=1e-7)


def test_hessian_vector_product_of_a_small_network(rng):
    X = rng.standard_normal((5, 4))
    labels = np.array([0, 2, 1, 2, 0])
    W1, W2 = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))

    def loss(W1, W2):
        logits = (X @ W1).tanh() @ W2
        return -logits.log_softmax()[np.arange(5), labels].mean()

    assert_hvp_matches_finite_differences(loss, [W1, W2], rng, atol=1e-8)


def test_hessian_of_a_quadratic_is_its_matrix(rng):
    A = rng.standard_normal((4, 4))
    A = A + A.T
    h = hessian(lambda x: 0.5 * (x @ (A @ x)), rng.standard_normal(4))
    np.testing.assert_allclose(h, A, rtol=1e-12, atol=1e-12)


def test_second_order_graph_of_broadcasting(rng):
    """Un-broadcasting (the engine's sum) must itself be differentiable."""
    a, b = rng.uniform(0.5, 2, size=(3, 1)), rng.uniform(0.5, 2, size=(4,))

    def f(x, y):
        return ((x * y).sin() * (x / y)).sum()

    assert_hvp_matches_finite_differences(f, [a, b], rng, atol=1e-8)
